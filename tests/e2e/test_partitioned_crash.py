"""Crash test on PostgreSQL with several `winback worker` processes on a partitioned log.

Three real worker processes share 12 partitions. Events are appended the way ingest appends
them (groups of one to five, mostly one customer each, in the crash test's mix) from a loader
thread; meanwhile, in each of three trials, one worker gets SIGKILL: the others must hold all
its partitions within 5 s, and a fresh worker then joins and takes its share. Once the load
is over and the lag is zero, the database must show what today's crash test demands:

- every acknowledged event is stored, and every partition's cursor is at its last event;
- every event that joins a case is linked once and has one timeline entry, and the case
  effects are queued once each; events that join nothing are linked to nothing;
- one open case per customer, one case per customer with a triggering event;
- each customer counted each of its events exactly once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import SystemClock
from winback.events.schema import parse_event
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups
from winback.store.partitions import lease_now, owners, partition_lags, set_partition_count
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customers,
    event_failures,
    events,
    outbox,
)

from ._support import log_tail, start_worker, winback_env
from .test_crash import OPEN_STATUSES, make_event, pick_customer, triggers

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PARTITIONS = 12
WORKERS = 3
TRIALS = 3
TAKEOVER_LIMIT = 5.0


class Fleet:
    """`winback worker` processes on one PostgreSQL schema."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.env = winback_env(
            database_url=url, processor_batch_size=100, log_level="info", sla_timers="true"
        )
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.workdir / f"worker-{len(self.procs)}.log"
        proc = start_worker(self.env, self.workdir, log)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def output(self) -> str:
        return "\n".join(
            f"--- worker-{i}\n{log_tail(self.workdir / f'worker-{i}.log', 2000)}"
            for i in range(len(self.procs))
        )

    def stop(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def holders(engine: Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return owners(conn, lease_now(conn, SystemClock()))


def pid_of(worker_id: str | None) -> int | None:
    return None if worker_id is None else int(worker_id.split(":")[-2])


def wait_until(predicate: Any, timeout: float, what: Any) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what()}")
        time.sleep(0.05)
    return time.monotonic() - started


class Loader:
    """Appends the crash test's mix in small groups until stopped; remembers what it logged."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stop = threading.Event()
        self.acked: set[str] = set()
        self.sent: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.n = 0

    def run(self) -> None:
        rng = random.Random(11)
        while not self.stop.is_set():
            groups = []
            for _ in range(rng.randint(1, 4)):
                focus = pick_customer(rng)
                group = []
                for _ in range(1 if rng.random() < 0.5 else rng.randint(2, 5)):
                    self.n += 1
                    customer = focus if rng.random() < 0.7 else pick_customer(rng)
                    quiet = customer.startswith("quiet-")
                    body = make_event(rng, f"e-{self.n}", customer, self.n, quiet)
                    self.sent[body["id"]] = body
                    group.append(parse_event(body))
                groups.append(group)
            try:
                outcomes = append_groups(self.engine, groups, SystemClock().now())
            except Exception as exc:  # pragma: no cover - reported by the test
                self.errors.append(repr(exc))
                return
            for group, out in zip(groups, outcomes, strict=True):
                if not out.conflicts:
                    self.acked.update(e.event_id for e in group)
            time.sleep(0.01)


def check(engine: Engine, loader: Loader) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.seq, events.c.event_id, events.c.type, events.c.customer_id)
        ).all()
        stored = {r.event_id: r for r in rows}
        assert loader.acked <= set(stored), "acknowledged events lost"
        assert set(stored) <= set(loader.sent)
        assert sum(partition_lags(conn).values()) == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(event_failures)).scalar() == 0

        def is_trigger(r: Any) -> bool:
            return triggers(r.type, loader.sent[r.event_id])

        triggering = {r.seq: r for r in rows if is_trigger(r)}
        # The default playbooks also open (or join) a case when the churn risk jumps: the risk
        # model's call, so those events are read from the store (still linked exactly once).
        jumped = set(
            conn.execute(
                sa.select(case_timeline.c.event_seq).where(
                    case_timeline.c.event_seq.is_not(None),
                    case_timeline.c.kind.in_(["case.opened", "case.attached"]),
                    sa.cast(case_timeline.c.data, sa.Text).like("%churn risk jumped%"),
                )
            ).scalars()
        )
        triggering.update({r.seq: r for r in rows if r.seq in jumped})
        with_case: set[str] = set()
        joining = {}
        for r in sorted(rows, key=lambda r: r.seq):
            if r.seq in triggering:
                with_case.add(r.customer_id)
                joining[r.seq] = r
            elif r.type == "survey.response" and r.customer_id in with_case:
                joining[r.seq] = r
        links = Counter(conn.execute(sa.select(case_events.c.event_seq)).scalars())
        timeline = Counter(
            conn.execute(
                sa.select(case_timeline.c.event_seq).where(case_timeline.c.event_seq.is_not(None))
            ).scalars()
        )
        doubled = {s: n for s, n in links.items() if n != 1}
        assert not doubled, f"events linked more than once: {doubled}"
        assert set(links) == set(joining)
        assert set(timeline) == set(joining)
        assert set(timeline.values()) == {1}
        effects = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.topic.in_(["case.opened", "case.attached", "case.reopened"]))
        ).scalar()
        assert effects == len(triggering)

        open_per_customer = Counter(
            conn.execute(
                sa.select(cases.c.customer_id).where(cases.c.status.in_(OPEN_STATUSES))
            ).scalars()
        )
        assert max(open_per_customer.values()) == 1
        signalling = {r.customer_id for r in triggering.values()}
        assert set(open_per_customer) == signalling
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar() == len(
            signalling
        )
        counted = dict(conn.execute(sa.select(customers.c.id, customers.c.event_count)).all())
        assert counted == dict(Counter(r.customer_id for r in rows))
        return {"events": len(rows), "triggering": len(triggering), "cases": len(signalling)}


def test_kill_9_workers_of_a_partitioned_log_loses_and_doubles_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    set_partition_count(engine, PARTITIONS)
    fleet = Fleet(postgres_url, tmp_path)
    loader = Loader(engine)
    takeovers: list[float] = []
    try:
        for _ in range(WORKERS):
            fleet.start()

        def spread() -> bool:
            held = holders(engine)
            live = {p.pid for p in fleet.alive()}
            return all(pid_of(w) in live for w in held.values()) and len(
                {pid_of(w) for w in held.values()}
            ) == len(live)

        wait_until(spread, 120, lambda: (holders(engine), fleet.output()))
        loader.thread.start()
        rng = random.Random(5)
        for _trial in range(TRIALS):
            time.sleep(2.0)  # load is flowing and being processed
            victim = rng.choice(fleet.alive())
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            took = wait_until(
                lambda v=victim: all(
                    w is not None and pid_of(w) != v.pid for w in holders(engine).values()
                ),
                30,
                lambda: holders(engine),
            )
            takeovers.append(took)
            fleet.start()  # a fresh worker joins and takes its share
            wait_until(spread, 60, lambda: (holders(engine), fleet.output()))
        time.sleep(1.0)
        loader.stop.set()
        loader.thread.join(30)
        assert not loader.errors, loader.errors

        def caught_up() -> bool:
            with engine.connect() as conn:
                return sum(partition_lags(conn).values()) == 0

        wait_until(caught_up, 180, fleet.output)
        figures = check(engine, loader)
        assert figures["events"] >= 500
        assert max(takeovers) < TAKEOVER_LIMIT, f"takeovers {takeovers}"
        print(f"partitioned crash test: {figures}, takeovers {[round(t, 2) for t in takeovers]} s")
    finally:
        loader.stop.set()
        fleet.stop()
        engine.dispose()
