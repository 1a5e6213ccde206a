"""The durable event log: idempotent group appends and sequence order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import FrozenClock
from winback.events.ingest import GroupCommitter, GroupOutcome
from winback.events.schema import parse_event
from winback.store.eventlog import append_groups, last_seq, read_after
from winback.store.tables import events

from .support import body, count, incoming

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(events.c.event_id).order_by(events.c.seq)).scalars())


def test_new_events_are_accepted_and_stored_in_order(engine: Engine) -> None:
    [outcome] = append_groups(engine, [[incoming("a"), incoming("b"), incoming("c")]], NOW)

    assert outcome.statuses == ["accepted"] * 3
    assert outcome.conflicts == []
    assert stored_ids(engine) == ["a", "b", "c"]


def test_a_stored_event_reads_back_as_logged(engine: Engine) -> None:
    sent = parse_event(
        body("e1", "payment.failed", "cus-9", amount=49.0, currency="EUR", channel="web")
        | {"occurred_at": "2026-11-20T10:00:00+01:00"}
    )
    append_groups(engine, [[sent]], NOW)

    with engine.connect() as conn:
        [logged] = read_after(conn, 0, 10)
    assert (logged.event_id, logged.type, logged.customer_id) == ("e1", "payment.failed", "cus-9")
    assert logged.occurred_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert logged.received_at == NOW
    assert logged.data == sent.payload


def test_an_event_without_occurred_at_is_stamped_with_the_time_of_receipt(engine: Engine) -> None:
    append_groups(engine, [[incoming("e1")]], NOW)

    with engine.connect() as conn:
        [logged] = read_after(conn, 0, 10)
    assert logged.occurred_at == logged.received_at == NOW


def test_the_same_id_and_content_again_is_a_duplicate_and_stores_nothing(engine: Engine) -> None:
    append_groups(engine, [[incoming("a")]], NOW)

    [outcome] = append_groups(engine, [[incoming("a"), incoming("b")]], NOW + timedelta(hours=1))

    assert outcome.statuses == ["duplicate", "accepted"]
    assert stored_ids(engine) == ["a", "b"]


def test_a_retry_without_occurred_at_still_matches_later(engine: Engine) -> None:
    append_groups(engine, [[incoming("a", text="same")]], NOW)

    [outcome] = append_groups(engine, [[incoming("a", text="same")]], NOW + timedelta(hours=5))

    assert outcome.statuses == ["duplicate"]
    assert count(engine, events) == 1


def test_the_same_id_with_other_content_is_a_conflict_and_that_group_stores_nothing(
    engine: Engine,
) -> None:
    append_groups(engine, [[incoming("a", text="original")]], NOW)

    outcomes = append_groups(
        engine,
        [
            [incoming("before")],
            [incoming("new-1"), incoming("a", text="changed"), incoming("new-2")],
            [incoming("after")],
        ],
        NOW,
    )

    assert outcomes[0].statuses == ["accepted"]
    assert outcomes[1].conflicts == [(1, "a")]
    assert outcomes[2].statuses == ["accepted"]
    assert stored_ids(engine) == ["a", "before", "after"]
    with engine.connect() as conn:
        [original] = read_after(conn, 0, 1)
    assert original.data["text"] == "original"


def test_an_id_accepted_by_an_earlier_group_of_the_same_call_is_recognised(
    engine: Engine,
) -> None:
    outcomes = append_groups(
        engine,
        [[incoming("x", text="one")], [incoming("x", text="one")], [incoming("x", text="two")]],
        NOW,
    )

    assert [o.statuses for o in outcomes[:2]] == [["accepted"], ["duplicate"]]
    assert outcomes[2].conflicts == [(0, "x")]
    assert stored_ids(engine) == ["x"]


def test_a_conflicting_group_does_not_reserve_its_new_ids(engine: Engine) -> None:
    append_groups(engine, [[incoming("a", text="original")]], NOW)

    outcomes = append_groups(
        engine,
        [[incoming("fresh"), incoming("a", text="changed")], [incoming("fresh", text="other")]],
        NOW,
    )

    assert outcomes[0].conflicts == [(1, "a")]
    assert outcomes[1].statuses == ["accepted"]
    with engine.connect() as conn:
        [_, fresh] = read_after(conn, 0, 10)
    assert fresh.data["text"] == "other"


def test_the_same_id_twice_inside_one_group_is_stored_once(engine: Engine) -> None:
    [outcome] = append_groups(engine, [[incoming("d", text="x"), incoming("d", text="x")]], NOW)

    assert outcome.statuses == ["accepted", "duplicate"]
    assert stored_ids(engine) == ["d"]


def test_the_same_id_twice_inside_one_group_with_other_content_refuses_the_group(
    engine: Engine,
) -> None:
    [outcome] = append_groups(
        engine, [[incoming("ok"), incoming("d", text="x"), incoming("d", text="y")]], NOW
    )

    assert outcome.conflicts == [(2, "d")]
    assert stored_ids(engine) == []


def test_sequence_numbers_increase_monotonically_across_appends(engine: Engine) -> None:
    for round_ in range(5):
        append_groups(
            engine,
            [[incoming(f"r{round_}-g{g}-{i}") for i in range(3)] for g in range(2)],
            NOW,
        )

    with engine.connect() as conn:
        logged = read_after(conn, 0, 1000)
        top = last_seq(conn)
    seqs = [e.seq for e in logged]
    assert len(seqs) == 30
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 30
    assert top == seqs[-1]
    assert [e.event_id for e in logged][:6] == [f"r0-g{g}-{i}" for g in range(2) for i in range(3)]


def test_read_after_returns_the_events_after_a_position_up_to_a_limit(engine: Engine) -> None:
    append_groups(engine, [[incoming(f"e{i}") for i in range(10)]], NOW)

    with engine.connect() as conn:
        everything = read_after(conn, 0, 100)
        middle = read_after(conn, everything[3].seq, 4)
        past_the_end = read_after(conn, last_seq(conn), 100)

    assert [e.event_id for e in middle] == ["e4", "e5", "e6", "e7"]
    assert past_the_end == []


def test_an_empty_log_has_last_seq_zero(engine: Engine) -> None:
    with engine.connect() as conn:
        assert last_seq(conn) == 0
        assert read_after(conn, 0, 10) == []


def test_a_large_group_is_stored_whole(engine: Engine) -> None:
    batch = [incoming(f"big-{i}") for i in range(1200)]  # more ids than one IN (...) chunk

    [outcome] = append_groups(engine, [batch], NOW)
    [again] = append_groups(engine, [batch], NOW)

    assert outcome.statuses == ["accepted"] * 1200
    assert again.statuses == ["duplicate"] * 1200
    assert count(engine, events) == 1200


def test_the_group_committer_logs_concurrent_requests_durably(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    committer = GroupCommitter(lambda groups, now: append_groups(engine, groups, now), frozen_clock)
    outcomes: dict[int, GroupOutcome] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def send(client: int) -> None:
        try:
            start.wait()
            for request in range(10):
                ids = [f"c{client}-r{request}-{i}" for i in range(3)]
                # each request also repeats the client's very first event: a duplicate
                batch = [incoming(i) for i in ids] + [incoming(f"c{client}-r0-0")]
                outcomes[client * 100 + request] = committer.append_now(batch)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(c,)) for c in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        committer.stop()

    assert errors == []
    assert len(outcomes) == 80
    assert {tuple(o.statuses) for o in outcomes.values()} == {("accepted",) * 3 + ("duplicate",)}
    assert count(engine, events) == 8 * 10 * 3


def test_unicode_text_round_trips_unchanged(engine: Engine) -> None:
    text = "Zweimal berechnet 😡 — ¿por qué? 二重請求 \u2028 tab\tand\nnewline"
    append_groups(engine, [[incoming("u", text=text)]], NOW)

    with engine.connect() as conn:
        [logged] = read_after(conn, 0, 1)
    assert logged.data["text"] == text
