"""The processor: the log, in order, through the stages, exactly once, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from winback.cases.model import OPEN_STATUSES
from winback.clock import FrozenClock
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Stage, Unit
from winback.pipeline.processor import Processor, RoundResult, processor_lag, read_cursor
from winback.pipeline.stages import default_stages
from winback.store.eventlog import last_seq
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customers,
    event_failures,
    events,
    outbox,
)

from .support import body, count, log_events, nps, rows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def processor(
    engine: Engine, clock: FrozenClock, stages: list[Stage] | None = None, **kwargs: Any
) -> Processor:
    return Processor(engine, default_stages() if stages is None else stages, clock, **kwargs)


@dataclass
class Snapshot:
    """Everything the processor writes, in comparable form (no generated ids or times)."""

    customers: dict[str, int]  # id -> event_count
    cases: list[tuple[str, str, str, int, str | None, str]]
    links: list[tuple[str, str, str]]  # customer, event id, role
    timeline: list[tuple[str, str, str]]  # customer, kind, event id
    outbox: list[tuple[str, str]]  # topic, key (case effects; risk.jumped is tested in test_risk)
    failures: list[tuple[str, str]]  # event id, stage
    cursor: int


def snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        event_ids = dict(conn.execute(sa.select(events.c.seq, events.c.event_id)).all())
        case_owner = dict(conn.execute(sa.select(cases.c.id, cases.c.customer_id)).all())
        return Snapshot(
            customers=dict(conn.execute(sa.select(customers.c.id, customers.c.event_count)).all()),
            cases=sorted(
                tuple(row)
                for row in conn.execute(
                    sa.select(
                        cases.c.customer_id,
                        cases.c.status,
                        cases.c.priority,
                        cases.c.signal_count,
                        cases.c.category,
                        cases.c.trigger_event_id,
                    )
                )
            ),
            links=sorted(
                (case_owner[case_id], event_ids[seq], role)
                for case_id, seq, role in conn.execute(
                    sa.select(case_events.c.case_id, case_events.c.event_seq, case_events.c.role)
                )
            ),
            timeline=sorted(
                (case_owner[case_id], kind, event_ids[seq])
                for case_id, kind, seq in conn.execute(
                    sa.select(
                        case_timeline.c.case_id, case_timeline.c.kind, case_timeline.c.event_seq
                    )
                )
            ),
            outbox=sorted(
                tuple(row)
                for row in conn.execute(
                    sa.select(outbox.c.topic, outbox.c.idempotency_key).where(
                        outbox.c.topic != "risk.jumped"
                    )
                )
            ),
            failures=sorted(
                (event_ids[seq], stage)
                for seq, stage in conn.execute(
                    sa.select(event_failures.c.event_seq, event_failures.c.stage)
                )
            ),
            cursor=read_cursor(conn),
        )


def log_story(engine: Engine) -> None:
    """Three customers: one with two signals and a usage event, one content, one billing."""
    log_events(
        engine,
        NOW,
        body("a-1", "complaint", "cus-a", customer_fields={"email": "a@example.com"}),
        body("b-1", "usage", "cus-b"),
        nps("a-2", 2, "cus-a"),
        body("c-1", "payment.failed", "cus-c", amount=49.0, currency="EUR"),
        body("a-3", "usage", "cus-a", customer_fields={"plan": "pro"}),
        body("b-2", "login", "cus-b"),
        nps("b-3", 9, "cus-b"),
    )


STORY = Snapshot(
    customers={"cus-a": 3, "cus-b": 3, "cus-c": 1},
    cases=[
        ("cus-a", "new", "P2", 2, None, "a-1"),
        ("cus-c", "new", "P3", 1, "billing", "c-1"),
    ],
    links=[("cus-a", "a-1", "trigger"), ("cus-a", "a-2", "attached"), ("cus-c", "c-1", "trigger")],
    timeline=[
        ("cus-a", "case.attached", "a-2"),
        ("cus-a", "case.opened", "a-1"),
        ("cus-c", "case.opened", "c-1"),
    ],
    outbox=[
        ("case.attached", "case.attached:a-2"),
        ("case.opened", "case.opened:a-1"),
        ("case.opened", "case.opened:c-1"),
    ],
    failures=[],
    cursor=7,
)


# -- the happy path ---------------------------------------------------------------------------
def test_events_become_customers_one_case_each_timeline_and_outbox(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)

    result = processor(engine, frozen_clock).run_once()

    assert result == RoundResult(processed=7)
    assert snapshot(engine) == STORY


def test_the_customer_profile_is_stored(engine: Engine, frozen_clock: FrozenClock) -> None:
    log_story(engine)
    processor(engine, frozen_clock).run_until_idle()

    [row] = rows(engine, sa.select(customers).where(customers.c.id == "cus-a"))
    assert (row.email, row.plan, row.event_count) == ("a@example.com", "pro", 3)
    assert row.first_seen_at == row.last_event_at == NOW
    assert row.updated_at == frozen_clock.now()


def test_outbox_effects_carry_the_case_id_the_database_assigned(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)
    processor(engine, frozen_clock).run_until_idle()

    case_ids = dict(rows(engine, sa.select(cases.c.customer_id, cases.c.id)))
    for effect in rows(engine, sa.select(outbox).where(outbox.c.topic != "risk.jumped")):
        assert effect.payload["case_id"] == case_ids[effect.payload["customer_id"]]
        assert effect.delivered_at is None
        assert effect.attempts == 0


def test_running_again_processes_nothing(engine: Engine, frozen_clock: FrozenClock) -> None:
    log_story(engine)
    first = processor(engine, frozen_clock)
    assert first.run_until_idle() == 7

    assert first.run_until_idle() == 0
    assert processor(engine, frozen_clock).run_until_idle() == 0  # a restart reads the cursor
    assert snapshot(engine) == STORY


def test_the_batch_size_does_not_change_the_outcome(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)
    rounds: list[RoundResult] = []

    total = processor(engine, frozen_clock, batch_size=2, on_round=rounds.append).run_until_idle()

    assert total == 7
    assert [r.processed for r in rounds] == [2, 2, 2, 1]
    assert snapshot(engine) == STORY


def test_a_later_signal_attaches_to_the_case_opened_in_an_earlier_round(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    work = processor(engine, frozen_clock)
    log_events(engine, NOW, nps("n-1", 5, "cus-a"))
    work.run_until_idle()
    frozen_clock.advance(timedelta(minutes=10))
    log_events(engine, NOW, body("n-2", "subscription.cancelled", "cus-a"))
    work.run_until_idle()

    [case] = rows(engine, sa.select(cases))
    assert (case.signal_count, case.priority, case.category) == (2, "P2", "account")
    assert case.version == 1
    assert case.updated_at == frozen_clock.now()
    assert case.opened_at == frozen_clock.now() - timedelta(minutes=10)


def test_a_resolved_case_takes_no_more_signals_a_new_case_opens(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    work = processor(engine, frozen_clock)
    log_events(engine, NOW, body("first", "complaint", "cus-a"))
    work.run_until_idle()
    with engine.begin() as conn:
        conn.execute(cases.update().values(status="resolved", version=cases.c.version + 1))

    log_events(engine, NOW, body("second", "complaint", "cus-a"))
    work.run_until_idle()

    assert snapshot(engine).cases == [
        ("cus-a", "new", "P3", 1, None, "second"),
        ("cus-a", "resolved", "P3", 1, None, "first"),
    ]


# -- exactly once with two processors -------------------------------------------------------
def many_signals(
    engine: Engine, customers_n: int = 6, per_customer: int = 5, event_type: str = "complaint"
) -> None:
    log_events(
        engine,
        NOW,
        *(
            body(f"e-{c}-{i}", event_type, f"cus-{c}")
            for i in range(per_customer)
            for c in range(customers_n)
        ),
    )


def assert_each_event_applied_once(
    engine: Engine, customers_n: int = 6, per_customer: int = 5, *, with_cases: bool = True
) -> None:
    state = snapshot(engine)
    total = customers_n * per_customer
    assert state.customers == {f"cus-{c}": per_customer for c in range(customers_n)}
    assert state.cursor == total
    if not with_cases:
        assert state.cases == []
        return
    assert [(c[0], c[3]) for c in state.cases] == [
        (f"cus-{c}", per_customer) for c in range(customers_n)
    ]
    assert len(state.links) == len(state.timeline) == len(state.outbox) == total


def test_two_processors_taking_turns_never_apply_a_batch_twice(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    many_signals(engine)
    first = processor(engine, frozen_clock, batch_size=4)
    second = processor(engine, frozen_clock, batch_size=7)

    processed = 0
    for _ in range(100):
        a, b = first.run_once(), second.run_once()
        processed += a.processed + b.processed
        if a == b == RoundResult():
            break

    assert processed == 30
    assert_each_event_applied_once(engine)


@pytest.mark.parametrize("event_type", ["complaint", "usage"])
def test_a_processor_that_lost_the_race_applies_nothing_and_retries(
    engine: Engine, frozen_clock: FrozenClock, event_type: str
) -> None:
    many_signals(engine, event_type=event_type)
    rival = processor(engine, frozen_clock, batch_size=4)

    class RivalRunsMeanwhile:
        """Between our read and our write, the rival processes the first four events."""

        name = "rival_runs_meanwhile"
        fired = False

        def process(self, ctx: EventContext, unit: Unit) -> None:
            if not self.fired:
                self.fired = True
                assert rival.run_once() == RoundResult(processed=4)

    slow = processor(engine, frozen_clock, [*default_stages(), RivalRunsMeanwhile()])

    assert slow.run_once() == RoundResult(retried=True)
    assert slow.run_until_idle() == 26  # from where the rival left the cursor
    assert_each_event_applied_once(engine, with_cases=event_type == "complaint")


def test_two_processors_running_concurrently_apply_each_event_once(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    many_signals(engine, customers_n=8, per_customer=25)
    workers = [processor(engine, frozen_clock, batch_size=5) for _ in range(2)]
    processed = [0, 0]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(index: int) -> None:
        try:
            start.wait()
            processed[index] = workers[index].run_until_idle()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(processed) == 200
    assert_each_event_applied_once(engine, customers_n=8, per_customer=25)


# -- failures -------------------------------------------------------------------------------
class FailOn:
    """A stage that raises on chosen events."""

    name = "flaky"

    def __init__(self, *event_ids: str) -> None:
        self.event_ids = set(event_ids)

    def process(self, ctx: EventContext, unit: Unit) -> None:
        if ctx.event.event_id in self.event_ids:
            raise RuntimeError(f"cannot handle {ctx.event.event_id}")


def test_a_stage_failure_is_recorded_and_the_rest_of_the_batch_is_processed(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)
    rounds: list[RoundResult] = []
    stages = [*default_stages(), FailOn("a-2")]

    total = processor(engine, frozen_clock, stages, on_round=rounds.append).run_until_idle()

    assert total == 7
    assert rounds == [RoundResult(processed=6, failed=1)]
    state = snapshot(engine)
    assert state.failures == [("a-2", "flaky")]
    assert state.customers == {"cus-a": 2, "cus-b": 3, "cus-c": 1}
    assert state.cases == [
        ("cus-a", "new", "P3", 1, None, "a-1"),
        ("cus-c", "new", "P3", 1, "billing", "c-1"),
    ]
    assert ("cus-a", "a-2", "attached") not in state.links
    assert state.cursor == 7
    [failure] = rows(engine, sa.select(event_failures))
    assert failure.processor == "pipeline"
    assert "RuntimeError('cannot handle a-2')" in failure.error
    assert failure.failed_at == frozen_clock.now()


class QuotesText:
    """A careless stage whose error message quotes raw personal data."""

    name = "quoting"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        if ctx.event.event_id == "a-2":
            raise ValueError("cannot parse 'mail jane.doe@example.com or 4111 1111 1111 1111'")


def test_a_recorded_failure_keeps_no_raw_personal_data(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)
    processor(engine, frozen_clock, [*default_stages(), QuotesText()]).run_until_idle()
    [failure] = rows(engine, sa.select(event_failures))
    assert "jane.doe@example.com" not in failure.error
    assert "4111" not in failure.error
    assert "[EMAIL]" in failure.error
    assert "[CARD]" in failure.error


def test_a_failed_event_is_not_retried_on_the_next_run(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_story(engine)
    stages = [*default_stages(), FailOn("a-1", "c-1")]
    processor(engine, frozen_clock, stages).run_until_idle()

    assert processor(engine, frozen_clock).run_until_idle() == 0
    assert snapshot(engine).failures == [("a-1", "flaky"), ("c-1", "flaky")]
    with engine.connect() as conn:
        assert processor_lag(conn) == 0


def test_a_failing_first_stage_leaves_no_partial_effects(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_events(engine, NOW, body("x", "complaint", "cus-x"))

    class Broken:
        name = "broken"

        def process(self, ctx: EventContext, unit: Unit) -> None:
            raise ValueError("boom")

    processor(engine, frozen_clock, [*default_stages(), Broken()]).run_until_idle()

    state = snapshot(engine)
    assert state.failures == [("x", "broken")]
    assert state.customers == {}
    assert (state.cases, state.links, state.timeline, state.outbox) == ([], [], [], [])


# -- state that moved underneath --------------------------------------------------------------
def test_a_case_changed_by_someone_else_mid_batch_is_redone_at_once_from_fresh_locked_state(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    log_events(engine, NOW, body("open", "complaint", "cus-a"))
    processor(engine, frozen_clock).run_until_idle()
    log_events(engine, NOW, nps("signal", 1, "cus-a"))

    class AgentResolvesMeanwhile:
        name = "agent_resolves_meanwhile"
        fired = False

        def process(self, ctx: EventContext, unit: Unit) -> None:
            if not self.fired:
                self.fired = True
                with engine.begin() as conn:
                    conn.execute(
                        cases.update().values(status="resolved", version=cases.c.version + 1)
                    )

    work = processor(engine, frozen_clock, [*default_stages(), AgentResolvesMeanwhile()])

    # The version check fails; the batch is redone in the same round with its cases locked.
    assert work.run_once() == RoundResult(processed=1, redone_locked=True)
    assert work.run_once() == RoundResult()
    assert snapshot(engine).cases == [
        ("cus-a", "new", "P2", 1, None, "signal"),
        ("cus-a", "resolved", "P3", 1, None, "open"),
    ]


# -- the database's own guarantees -------------------------------------------------------------
def insert_customer(conn: sa.Connection, customer_id: str) -> None:
    conn.execute(
        customers.insert().values(
            id=customer_id,
            attributes={},
            field_times={},
            first_seen_at=NOW,
            last_event_at=NOW,
            event_count=1,
            updated_at=NOW,
        )
    )


def insert_case(conn: sa.Connection, customer_id: str, status: str) -> int:
    return int(
        conn.execute(
            cases.insert()
            .values(
                customer_id=customer_id,
                status=status,
                priority="P3",
                reason="complaint",
                trigger_event_id="evt",
                signal_count=1,
                opened_at=NOW,
                updated_at=NOW,
                decided_by="test",
                version=0,
            )
            .returning(cases.c.id)
        ).scalar_one()
    )


@pytest.mark.parametrize("second_status", sorted(OPEN_STATUSES))
def test_the_database_refuses_a_second_open_case_for_a_customer(
    engine: Engine, second_status: str
) -> None:
    with engine.begin() as conn:
        insert_customer(conn, "cus-1")
        insert_case(conn, "cus-1", "new")

    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_case(conn, "cus-1", second_status)

    assert count(engine, cases) == 1


def test_the_database_allows_closed_cases_beside_the_open_one(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_customer(conn, "cus-1")
        insert_customer(conn, "cus-2")
        for status in ("resolved", "closed", "cancelled", "closed"):
            insert_case(conn, "cus-1", status)
        insert_case(conn, "cus-1", "in_progress")
        insert_case(conn, "cus-2", "new")

    assert count(engine, cases) == 6
    assert count(engine, cases, cases.c.status.in_(sorted(OPEN_STATUSES))) == 2


def test_the_database_refuses_a_second_timeline_entry_of_a_kind_for_one_event(
    engine: Engine,
) -> None:
    log_events(engine, NOW, body("e", "complaint", "cus-1"))
    with engine.begin() as conn:
        insert_customer(conn, "cus-1")
        case_id = insert_case(conn, "cus-1", "new")
    entry = {
        "case_id": case_id,
        "at": NOW,
        "kind": "case.opened",
        "actor": "test",
        "summary": "opened",
        "data": {},
        "event_seq": 1,
    }
    with engine.begin() as conn:
        conn.execute(case_timeline.insert().values(**entry))

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(case_timeline.insert().values(**entry))


# -- lag --------------------------------------------------------------------------------------
def test_processor_lag_counts_logged_events_not_yet_processed(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    def lag(name: str = "pipeline") -> int:
        with engine.connect() as conn:
            return processor_lag(conn, name)

    assert lag() == 0
    log_story(engine)
    assert lag() == 7

    work = processor(engine, frozen_clock, batch_size=3)
    work.run_once()
    assert lag() == 4
    work.run_until_idle()
    assert lag() == 0
    assert lag("another-cursor") == 7

    log_events(engine, NOW, body("late", "usage", "cus-z"))
    assert lag() == 1
    with engine.connect() as conn:
        assert read_cursor(conn) == last_seq(conn) - 1


def test_each_round_is_reported_to_on_round(engine: Engine, frozen_clock: FrozenClock) -> None:
    log_story(engine)
    seen: list[RoundResult] = []
    report: Callable[[RoundResult], None] = seen.append

    processor(engine, frozen_clock, batch_size=5, on_round=report).run_until_idle()

    assert seen == [RoundResult(processed=5), RoundResult(processed=2)]
