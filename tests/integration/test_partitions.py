"""The log partitioned by customer: stamping, processing each partition in order, leases.

On SQLite and PostgreSQL: a partitioned log processed by several workers (here in one thread,
each with its own leases) ends exactly where one processor on one log ends; a partition with a
backlog does not hold back the others; leases move when a worker dies or joins (frozen clock on
SQLite). PostgreSQL only: the same with real threads and real time (a dead worker's partitions
are taken over within 5 s), routing passes taking turns, SLA timer claims skipping locked rows.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import Clock, FrozenClock, SystemClock
from winback.errors import Conflict, InvalidInput
from winback.pipeline.partitioned import PartitionedProcessor
from winback.pipeline.processor import Processor, processor_lag
from winback.pipeline.stages import default_stages
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import partition_of
from winback.store.partitions import owners, partition_lags, set_partition_count
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customers,
    event_failures,
    events,
    log_partitions,
    outbox,
    processor_cursors,
    processor_members,
)
from winback.workers import LoopWorker

from .support import body, log_events, nps

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
N = 8


def story(seed: int, count: int, customers_: int = 30) -> list[dict[str, Any]]:
    """A mixed load: complaints, surveys good and bad, payments, usage, from a few customers."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        customer = f"cus-{rng.randrange(customers_)}"
        roll = rng.random()
        if roll < 0.25:
            out.append(body(f"e{seed}-{n}", "complaint", customer, text="Still broken, again."))
        elif roll < 0.45:
            out.append(nps(f"e{seed}-{n}", rng.choice([1, 5, 9, 10]), customer))
        elif roll < 0.5:
            out.append(body(f"e{seed}-{n}", "payment.failed", customer, amount=9.0, currency="EUR"))
        else:
            out.append(body(f"e{seed}-{n}", rng.choice(["usage", "login"]), customer))
    return out


def log_all(engine: Engine, bodies: list[dict[str, Any]], now: datetime = NOW) -> None:
    for start in range(0, len(bodies), 50):
        log_events(engine, now, *bodies[start : start + 50])


def outcome(engine: Engine) -> dict[str, Any]:
    """What processing wrote, comparable across databases (no generated ids or times)."""
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(events.c.seq, events.c.event_id)).all())
        owner = dict(conn.execute(sa.select(cases.c.id, cases.c.customer_id)).all())
        return {
            "customers": dict(
                conn.execute(sa.select(customers.c.id, customers.c.event_count)).all()
            ),
            "cases": sorted(
                tuple(r)
                for r in conn.execute(
                    sa.select(
                        cases.c.customer_id,
                        cases.c.status,
                        cases.c.signal_count,
                        cases.c.trigger_event_id,
                    )
                )
            ),
            "links": sorted(
                (owner[c], ids[s], role)
                for c, s, role in conn.execute(
                    sa.select(case_events.c.case_id, case_events.c.event_seq, case_events.c.role)
                )
            ),
            "timeline": sorted(
                (owner[c], kind, ids[s])
                for c, kind, s in conn.execute(
                    sa.select(
                        case_timeline.c.case_id, case_timeline.c.kind, case_timeline.c.event_seq
                    ).where(case_timeline.c.event_seq.is_not(None))
                )
            ),
            "outbox": Counter(conn.execute(sa.select(outbox.c.topic)).scalars()),
            "failures": conn.execute(
                sa.select(sa.func.count()).select_from(event_failures)
            ).scalar_one(),
        }


def reference(tmp_path: Path, bodies: list[dict[str, Any]], now: datetime = NOW) -> dict[str, Any]:
    """The same events through today's single processor on one SQLite log."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        migrate.upgrade(engine)
        log_all(engine, bodies, now)
        Processor(engine, default_stages(), FrozenClock(now)).run_until_idle()
        return outcome(engine)
    finally:
        engine.dispose()


def worker(engine: Engine, name: str, clock: Clock, **kwargs: Any) -> PartitionedProcessor:
    return PartitionedProcessor(
        engine, default_stages(), clock, worker_id=name, batch_size=40, **kwargs
    )


# -- the partition count and stamping -----------------------------------------------------------
def test_one_partition_is_the_default_and_leaves_events_unstamped(engine: Engine) -> None:
    log_events(engine, NOW, body("a", "complaint", "cus-a"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(events.c.partition)).scalar_one() is None
        assert partition_lags(conn) == {0: 1}
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    with engine.connect() as conn:
        names = list(conn.execute(sa.select(processor_cursors.c.name)).scalars())
        assert names == ["pipeline"]  # today's cursor, untouched
        assert partition_lags(conn) == {0: 0}


def test_partitions_are_set_on_an_empty_log_and_stamp_each_event(engine: Engine) -> None:
    set_partition_count(engine, N)
    bodies = story(1, 60)
    log_all(engine, bodies)
    with engine.connect() as conn:
        stamped = conn.execute(sa.select(events.c.customer_id, events.c.partition)).all()
        lags = partition_lags(conn)
    assert {p for _, p in stamped} <= set(range(N))
    assert all(p == partition_of(c, N) for c, p in stamped)
    assert sum(lags.values()) == 60
    assert set(lags) == set(range(N))
    assert lags == dict(Counter(p for _, p in stamped)) | {
        p: 0 for p in range(N) if p not in {q for _, q in stamped}
    }

    with pytest.raises(Conflict, match="already holds events"):
        set_partition_count(engine, 4)
    set_partition_count(engine, N)  # the same count: nothing to change
    with pytest.raises(InvalidInput):
        set_partition_count(engine, 0)


# -- processing ---------------------------------------------------------------------------------
def test_three_workers_on_a_partitioned_log_end_where_one_processor_ends(
    engine: Engine, tmp_path: Path
) -> None:
    bodies = story(2, 400)
    expected = reference(tmp_path, bodies)
    set_partition_count(engine, N)
    clock = FrozenClock(NOW)
    team = [worker(engine, f"w{i}", clock) for i in range(3)]
    log_all(engine, bodies[:200])
    for _ in range(2):  # the first round sees fewer members than the second
        for w in team:
            w.balance()
    held = [w.held for w in team]
    assert set().union(*held) == set(range(N))
    assert sum(map(len, held)) == N
    assert max(map(len, held)) - min(map(len, held)) <= 1
    # Interleave the workers batch by batch while more events arrive.
    for w in team:
        w.run_once()
    log_all(engine, bodies[200:])
    while any(w.run_until_idle() for w in team):
        pass
    assert outcome(engine) == expected
    with engine.connect() as conn:
        assert processor_lag(conn) == 0


def test_a_partition_with_a_backlog_does_not_hold_back_the_others(engine: Engine) -> None:
    set_partition_count(engine, 4)
    other = next(f"cus-{i}" for i in range(100) if partition_of(f"cus-{i}", 4) != 0)
    busy = next(f"busy-{i}" for i in range(100) if partition_of(f"busy-{i}", 4) == 0)
    log_all(engine, [body(f"b{n}", "usage", busy) for n in range(1_000)])
    log_events(engine, NOW, body("late", "complaint", other))
    one = worker(engine, "only", FrozenClock(NOW))
    one.balance()
    assert one.held == {0, 1, 2, 3}
    one.run_once()  # one pass: one batch of each partition
    with engine.connect() as conn:
        lags = partition_lags(conn)
        opened = conn.execute(sa.select(cases.c.customer_id)).scalars().all()
    assert opened == [other]  # the late complaint is done, behind 1,000 events of another
    assert lags[partition_of(other, 4)] == 0
    assert lags[0] == 1_000 - 40


def test_a_dead_workers_leases_expire_and_a_joining_worker_gets_its_share(
    sqlite_engine: Engine,
) -> None:
    engine, clock = sqlite_engine, FrozenClock(NOW)
    set_partition_count(engine, N)
    a, b = worker(engine, "a", clock), worker(engine, "b", clock)
    for _ in range(2):
        a.balance()
        b.balance()
    assert a.held | b.held == set(range(N))
    assert len(a.held) == len(b.held) == N // 2
    before = set(b.held)

    clock.advance(timedelta(seconds=2))  # b is silent, its leases still run
    a.balance()
    assert a.held == set(range(N)) - before
    clock.advance(timedelta(seconds=1.5))  # past b's lease: a takes everything
    a.balance()
    assert a.held == set(range(N))

    c = worker(engine, "c", clock)  # joins: a gives back c's share, c takes it
    c.balance()
    assert c.held == set()  # a still holds them
    a.balance()
    c.balance()
    assert len(a.held) == len(c.held) == N // 2
    assert a.held.isdisjoint(c.held)

    a.leave()  # stopping on purpose: c takes over at its next round, no expiry to wait for
    c.balance()
    assert c.held == set(range(N))
    with engine.connect() as conn:
        assert set(owners(conn, clock.now()).values()) == {"c"}


def test_two_holders_of_one_partition_apply_each_batch_once(engine: Engine) -> None:
    """A worker whose lease expired while it was paused still holds it in memory: the
    cursor's compare-and-set, not the lease, keeps it from applying a batch twice."""
    set_partition_count(engine, 2)
    clock = FrozenClock(NOW)
    bodies = story(3, 400, customers_=10)
    log_all(engine, bodies)
    a, b = worker(engine, "a", clock), worker(engine, "b", clock)
    a.balance()
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)  # a is 'paused': its lease and heartbeat lapse
    with engine.begin() as conn:
        conn.execute(log_partitions.update().values(lease_expires_at=long_ago))
        conn.execute(processor_members.update().values(expires_at=long_ago))
    b.balance()
    assert a.held == b.held == {0, 1}
    # Both at once, in two threads: their batches race for the same cursors.
    threads = [threading.Thread(target=w.run_until_idle) for w in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    with engine.connect() as conn:
        counted = dict(conn.execute(sa.select(customers.c.id, customers.c.event_count)).all())
        links = Counter(conn.execute(sa.select(case_events.c.event_seq)).scalars())
    assert counted == dict(Counter(b_["customer"]["id"] for b_ in bodies))
    assert set(links.values()) <= {1}


# -- PostgreSQL: real threads, real time ------------------------------------------------------
def lag(engine: Engine) -> int:
    with engine.connect() as conn:
        return processor_lag(conn)


def running(engine: Engine, name: str, stop: threading.Event) -> list[LoopWorker]:
    """A worker as `winback worker` runs it: processing and balancing threads. No leave()
    on stop: stopping them is a death, not a goodbye."""
    share = worker(engine, name, SystemClock(), lease_seconds=3.0, heartbeat_seconds=1.0)
    threads = [
        LoopWorker(f"{name}-processor", lambda: share.round(0.02), stop=stop),
        LoopWorker(f"{name}-partitions", share.balance, stop=stop),
    ]
    for t in threads:
        t.start()
    return threads


@pytest.mark.postgres
@pytest.mark.slow
def test_threads_take_over_a_dead_workers_partitions_within_5_seconds(
    postgres_url: str, tmp_path: Path
) -> None:
    engines = [make_engine(postgres_url) for _ in range(4)]
    main = engines[0]
    migrate.upgrade(main)
    set_partition_count(main, 12)
    stops = [threading.Event() for _ in range(4)]
    bodies = story(4, 1_500, customers_=60)
    now = datetime.now(UTC)

    def holders() -> dict[int, str | None]:
        with main.connect() as conn:
            return owners(conn, datetime.now(UTC))

    def wait_for(predicate: Any, timeout: float) -> float:
        started = time.monotonic()
        while not predicate():
            assert time.monotonic() - started < timeout, holders()
            time.sleep(0.05)
        return time.monotonic() - started

    try:
        team = [running(engines[i], f"w{i}", stops[i]) for i in range(3)]
        wait_for(lambda: set(Counter(holders().values())) == {"w0", "w1", "w2"}, 10)
        log_all(main, bodies[:500], now)
        for t in team[2]:  # w2 dies (its threads stop; nobody tells the others)
            t.stop()
        log_all(main, bodies[500:1_000], now)
        took = wait_for(lambda: set(holders().values()) == {"w0", "w1"}, 8)
        assert took < 5.0, f"taken over in {took:.1f}s"

        team.append(running(engines[3], "w3", stops[3]))  # a worker joins
        joined = wait_for(lambda: "w3" in set(holders().values()), 8)
        assert joined < 5.0
        log_all(main, bodies[1_000:], now)
        wait_for(lambda: lag(main) == 0, 60)
        wait_for(lambda: len(set(holders().values())) == 3, 5)
        loads = Counter(holders().values())
        assert sorted(loads.values()) == [4, 4, 4], loads
    finally:
        for group in stops:
            group.set()
        time.sleep(0.2)
        for e in engines:
            e.dispose()

    expected = reference(tmp_path, bodies, now)
    got = outcome(main_check := make_engine(postgres_url))
    main_check.dispose()
    for part in ("customers", "cases", "links", "timeline", "failures"):
        assert got[part] == expected[part], part


# -- the other workers with several instances (PostgreSQL) -----------------------------------
@pytest.mark.postgres
def test_routing_passes_take_turns_across_processes(postgres_url: str) -> None:
    from winback.store.routing_store import routing_pass

    one, other = make_engine(postgres_url), make_engine(postgres_url)
    try:
        with routing_pass(one, wait=False) as first:
            assert first
            with routing_pass(other, wait=False) as second:
                assert not second  # the other instance skips its pass
        with routing_pass(other, wait=False) as again:
            assert again  # released with the pass
    finally:
        one.dispose()
        other.dispose()


@pytest.mark.postgres
def test_timer_claims_skip_rows_another_instance_is_claiming(pg_engine: Engine) -> None:
    from winback.store.sla_store import claim_timers
    from winback.store.tables import sla_timers

    log_events(pg_engine, NOW, body("t-1", "complaint", "cus-t"))
    Processor(pg_engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    with pg_engine.connect() as conn:
        ids = list(conn.execute(sa.select(sla_timers.c.id)).scalars())
    assert ids
    with pg_engine.connect() as first, pg_engine.connect() as second:
        with first.begin():
            assert claim_timers(first, ids, NOW) == set(ids)
            # Still uncommitted: the second instance does not wait for it, and gets nothing.
            with second.begin():
                second.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                assert claim_timers(second, ids, NOW) == set()
        with second.begin():
            assert claim_timers(second, ids, NOW) == set()  # committed as fired: once


# -- operating it: the command, /readyz and /metrics ------------------------------------------
def test_the_partitions_command_sets_the_count_once_and_shows_holders_and_lag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from winback.cli import app

    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("WINBACK_DATABASE_URL", url)
    engine = make_engine(url)
    migrate.upgrade(engine)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "partitions", "4"])
    assert result.exit_code == 0, result.output
    assert "4 partition(s)" in result.stderr
    log_all(engine, story(5, 20))
    result = runner.invoke(app, ["db", "partitions", "8"])
    assert result.exit_code == 2
    assert "fixed once events exist" in result.stderr
    result = runner.invoke(app, ["db", "partitions"])
    assert result.exit_code == 0
    with engine.connect() as conn:
        lags = partition_lags(conn)
    engine.dispose()
    for partition, behind in lags.items():
        assert f"{partition:>4}  lag {behind:>8}  -" in result.stderr  # held by no one


def test_readyz_and_metrics_report_the_lag_of_each_partition(tmp_path: Path) -> None:
    from .support import api_app

    client, _, engine = api_app(tmp_path, NOW)
    set_partition_count(engine, 3)
    bodies = story(6, 30)
    log_all(engine, bodies)
    with engine.connect() as conn:
        lags = partition_lags(conn)
    assert sum(lags.values()) == 30
    ready = client.get("/readyz").json()
    assert ready["processor_lag"] == 30
    assert ready["partition_lag"] == {str(p): n for p, n in lags.items()}
    text = client.get("/metrics").text
    for partition, behind in lags.items():
        assert f'winback_partition_lag_events{{partition="{partition}"}} {float(behind)}' in text
    assert "winback_processor_lag_events 30.0" in text


def test_a_processor_started_before_the_log_was_partitioned_leaves_its_events_alone(
    engine: Engine,
) -> None:
    """`serve` was running (one partition) when the log was partitioned: its processor must
    not take the stamped events, or the partitions' workers would apply them a second time."""
    single = Processor(engine, default_stages(), FrozenClock(NOW))
    set_partition_count(engine, 4)
    log_all(engine, story(7, 40))
    assert single.run_until_idle() == 0
    share = worker(engine, "w", FrozenClock(NOW))
    share.balance()
    assert share.run_until_idle() == 40
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(customers.c.event_count))).scalar() == 40
