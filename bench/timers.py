"""SLA timer benchmark: firing delay with 1,000,000 open timers, and idle CPU.

Run with ``make bench-timers`` (``.venv/bin/python bench/timers.py``); ``--quick`` for a smaller
smoke run; ``--help`` for the knobs.

1. A fresh SQLite database (WAL, ``synchronous=FULL``; or ``--database-url``) is migrated and
   filled with ``--timers`` open (unfired) SLA timers: ``--due`` of them belong to real cases
   whose first-response deadline falls inside the measuring window (spread evenly over
   ``--window`` seconds, plus a burst of ``--burst`` timers due at the same instant); the rest
   are due days to weeks later, on background cases.
2. The real :class:`~winback.services.sla_timers.TimerService` (the one ``winback serve``
   runs) starts
   in a thread with the default poll cap, and fires every due timer with its full effects
   (claim, timeline entry, outbox message, clock state, replacement timers) on the wall clock.
3. Firing delay per timer = the moment its batch *committed* minus its ``due_at``; also reported
   is the claim time minus ``due_at``. Targets: p99 ≤ 1 s.
4. Idle: with all due timers fired and ~1,000,000 still open, the service runs ``--idle``
   seconds; its process CPU time over that span is the idle CPU.

Results: a summary on stdout, ``bench/results/timers-<UTC timestamp>.json`` and
``bench/results/timers-latest.json`` (``…-postgresql.json`` with ``--database-url`` on
PostgreSQL, ``…-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.clock import SystemClock
from winback.services.sla_timers import Fired, TimerService
from winback.sla.config import parse_sla
from winback.sla.engine import SlaEngine, SlaUpdate
from winback.sla.policy import CaseFacts
from winback.sla.tracking import SlaState
from winback.store import migrate
from winback.store.engine import make_engine, write_connection
from winback.store.sla_store import write_sla
from winback.store.tables import case_sla, cases, customers, sla_timers
from winback.workers import LoopWorker

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_P99_S = 1.0
TARGET = timedelta(seconds=60)  # the bench policy's first-response target

CONFIG = parse_sla(
    {
        "policies": [
            {
                "name": "bench",
                "targets": {"first_response": "60s"},
                "warning_at": None,
            }
        ]
    }
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _case_row(i: int, opened_at: datetime) -> dict[str, object]:
    """A new P3 case for customer ``cus-{i}``, opened at ``opened_at``."""
    return {
        "customer_id": f"cus-{i}",
        "status": "new",
        "priority": "P3",
        "reason": "bench",
        "trigger_event_id": f"bench-{i}",
        "signal_count": 1,
        "opened_at": opened_at,
        "updated_at": opened_at,
        "decided_by": "bench",
        "version": 0,
    }


def populate(
    engine: sa.Engine, total: int, due: int, burst: int, window: float, lead: float
) -> tuple[datetime, int]:
    """Fill the database; return the start of the measuring window and the background count."""
    sla = SlaEngine(CONFIG)
    now = datetime.now(UTC)
    background_cases = 1000
    n_cases = due + background_cases
    t0 = time.perf_counter()
    with write_connection(engine) as conn, conn.begin():
        conn.execute(
            customers.insert(),
            [
                {
                    "id": f"cus-{i}",
                    "attributes": {},
                    "field_times": {},
                    "first_seen_at": now,
                    "last_event_at": now,
                    "event_count": 1,
                    "updated_at": now,
                }
                for i in range(n_cases)
            ],
        )
        rows = [_case_row(i, now) for i in range(due, n_cases)]
        background = list(
            conn.execute(
                cases.insert().returning(cases.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        idle_state = SlaState(policy="bench", facts=CaseFacts("P3"), fingerprint=CONFIG.fingerprint)
        conn.execute(
            case_sla.insert(),
            [
                {
                    "case_id": cid,
                    "policy": "bench",
                    "fingerprint": CONFIG.fingerprint,
                    "state": idle_state.to_doc(),
                    "updated_at": now,
                }
                for cid in background
            ],
        )
    # The background timers: far in the future, in chunks (each its own transaction).
    rng = random.Random(11)
    remaining = total - due
    chunk = 50_000
    generation = 0
    while remaining > 0:
        size = min(chunk, remaining)
        batch = []
        for _ in range(size):
            generation += 1
            batch.append(
                {
                    "case_id": background[generation % len(background)],
                    "metric": "resolution",
                    "kind": "breach",
                    "level": 0,
                    "generation": generation,
                    "due_at": now + timedelta(days=1, seconds=rng.uniform(0, 30 * 86400)),
                    "created_at": now,
                }
            )
        with write_connection(engine) as conn, conn.begin():
            conn.execute(sla_timers.insert(), batch)
        remaining -= size
        print(f"  {total - due - remaining:>9,} background timers written", end="\r", flush=True)
    # The due cases last, so that the window starts a fixed lead after population.
    start = datetime.now(UTC) + timedelta(seconds=lead)
    with write_connection(engine) as conn, conn.begin():
        spread = due - burst
        dues = [start + timedelta(seconds=window * i / max(1, spread)) for i in range(spread)]
        dues += [start + timedelta(seconds=window / 2)] * burst
        random.Random(7).shuffle(dues)
        rows = [_case_row(i, dues[i] - TARGET) for i in range(due)]
        ids = list(
            conn.execute(
                cases.insert().returning(cases.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        items = []
        for i, case_id in enumerate(ids):
            state, timers = sla.track(
                None, CaseFacts("P3"), "new", dues[i] - TARGET, SlaUpdate(opened=True)
            )
            items.append((case_id, state, timers))
        write_sla(conn, items, now)
    print(f"\n  populated in {time.perf_counter() - t0:.1f} s")
    return start, len(background)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=1_000_000, help="open timers in total")
    parser.add_argument("--due", type=int, default=3_000, help="timers due in the window")
    parser.add_argument("--burst", type=int, default=500, help="of those, due at one instant")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the due ones span")
    parser.add_argument("--idle", type=float, default=20.0, help="idle measurement, seconds")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--quick", action="store_true", help="100,000 timers, shorter phases")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.timers, args.due, args.burst, args.window, args.idle = 100_000, 600, 100, 8.0, 8.0

    tmp = tempfile.TemporaryDirectory(prefix="winback-timers-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'timers.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    print(f"populating {args.timers:,} open timers ({args.due:,} due soon) in {url}")
    # The window starts 10 s after population, once the service has settled.
    lead = 10.0
    started_populating = time.monotonic()
    window_start, _ = populate(engine, args.timers, args.due, args.burst, args.window, lead)
    if datetime.now(UTC) > window_start - timedelta(seconds=2):
        print("population took longer than the lead time; rerun with fewer timers")
        return 2
    # Fresh planner statistics, as autovacuum keeps them in production: without them PostgreSQL
    # misjudges the partial index on a just-loaded million-row table (see docs/benchmarks.md).
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    with engine.connect() as conn:
        open_timers = conn.execute(
            sa.select(sa.func.count())
            .select_from(sla_timers)
            .where(sla_timers.c.fired_at.is_(None))
        ).scalar_one()
    print(
        f"  {open_timers:,} open timers; window starts in "
        f"{(window_start - datetime.now(UTC)).total_seconds():.1f} s"
    )

    service = TimerService(engine, SystemClock(), SlaEngine(CONFIG))
    commits: list[tuple[Fired, datetime]] = []
    original = service.fire_due

    def recording_fire_due() -> list[Fired]:
        fired = original()
        committed = datetime.now(UTC)
        commits.extend((f, committed) for f in fired)
        return fired

    service.fire_due = recording_fire_due  # type: ignore[method-assign]
    stop = threading.Event()
    worker = LoopWorker(
        "sla-timers",
        service.round,
        stop=stop,
        wait=service.wait,
        on_start=service.recompute_on_change,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    end_of_window = window_start + timedelta(seconds=args.window + 5)
    while datetime.now(UTC) < end_of_window or len(commits) < args.due:
        time.sleep(0.2)
        if datetime.now(UTC) > end_of_window + timedelta(seconds=60):
            break
    fired_due = [(f, c) for f, c in commits if f.applied]
    delays = [(c - f.due_at).total_seconds() for f, c in fired_due]
    claims = [f.delay.total_seconds() for f, _ in fired_due]

    # Idle phase: nothing due for a day; ~1M timers still open.
    time.sleep(1.0)
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    time.sleep(args.idle)
    idle_cpu = cpu_seconds() - cpu0
    idle_wall = time.monotonic() - wall0
    stop.set()
    service.wake()
    thread.join(10)
    engine.dispose()

    result: dict[str, Any] = {
        "benchmark": "winback-sla-timers",
        "started_at": datetime.fromtimestamp(
            time.time() - (time.monotonic() - started_populating), UTC
        ).isoformat(),
        "command": "python bench/timers.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_end": list(os.getloadavg()),
        },
        "database": "sqlite" if args.database_url is None else url.split(":", 1)[0],
        "open_timers": open_timers,
        "due_in_window": args.due,
        "burst_at_one_instant": args.burst,
        "window_s": args.window,
        "fired": len(fired_due),
        "firing_delay_s": {
            "p50": percentile(delays, 50),
            "p99": percentile(delays, 99),
            "max": max(delays) if delays else None,
            "mean": statistics.fmean(delays) if delays else None,
        },
        "claim_delay_s": {"p50": percentile(claims, 50), "p99": percentile(claims, 99)},
        "idle": {
            "seconds": idle_wall,
            "cpu_seconds": idle_cpu,
            "cpu_percent_of_one_core": 100 * idle_cpu / idle_wall,
            "open_timers": open_timers - len(fired_due),
        },
        "target_p99_s": TARGET_P99_S,
        "met": bool(delays)
        and len(fired_due) == args.due
        and percentile(delays, 99) <= TARGET_P99_S,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ("-quick" if args.quick else "") + (
        "" if result["database"] == "sqlite" else f"-{result['database'].split('+')[0]}"
    )
    for name in (f"timers-{stamp}{suffix}.json", f"timers-latest{suffix}.json"):
        (args.out / name).write_text(json.dumps(result, indent=2) + "\n")
    d = result["firing_delay_s"]
    print(
        f"fired {len(fired_due):,}/{args.due:,} due timers among {open_timers:,} open: "
        f"delay p50 {d['p50'] * 1000:.0f} ms, p99 {d['p99'] * 1000:.0f} ms, "
        f"max {d['max'] * 1000:.0f} ms (target p99 ≤ {TARGET_P99_S:.0f} s: "
        f"{'met' if result['met'] else 'MISSED'})"
    )
    idle = result["idle"]
    print(
        f"idle: {idle['cpu_percent_of_one_core']:.2f} % of one core over {idle['seconds']:.0f} s "
        f"with {idle['open_timers']:,} open timers"
    )
    print(f"results: {args.out / f'timers-latest{suffix}.json'}")
    tmp.cleanup()
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
