"""Case queue benchmark: ``GET /v1/cases``'s statement on thousands of open cases.

Run with ``.venv/bin/python bench/case_queue.py`` (SQLite in a temporary file) or with
``--database-url postgresql://…`` (an empty database or schema; it is migrated and filled).

1. The database is filled directly (no processor) with ``--open`` open cases and ``--closed``
   resolved or closed ones, shaped like the processor's: every open case has the eight unfired
   SLA timers of two running metrics (warning, breach, two escalations each), every closed one
   two fired timers; each case has a ``case.opened`` entry (half of them naming a playbook team
   among eight) and three more timeline entries; every customer has a churn-risk row with three
   reasons. A quarter of the open cases have an owner.
2. Each query of :data:`QUERIES` (the route's :func:`winback.store.queries.list_cases`, the
   same statement the API runs) is run ``--repeat`` times; the median and the maximum are
   reported. On SQLite the time is the benchmark process's CPU time (``time.process_time``: the
   database runs inside it), on PostgreSQL the server's ``EXPLAIN ANALYZE`` execution time of
   the compiled statement; on a shared machine both are preliminary.

Results: a summary on stdout and ``bench/results/case-queue-latest[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.store import migrate, queries
from winback.store.engine import make_engine, write_connection
from winback.store.tables import case_timeline, cases, customer_risk, customers, sla_timers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TEAMS = [f"team-{i}" for i in range(8)]
OPEN = ["new", "acknowledged", "in_progress", "waiting_on_customer", "reopened"]

Q = queries.CaseFilters
QUERIES: dict[str, tuple[queries.CaseFilters, queries.QueueSort]] = {
    "newest first (default)": (Q(), queries.QueueSort("id", True)),
    "open, by due": (Q(open=True), queries.QueueSort("due", False)),
    "open, by -risk": (Q(open=True), queries.QueueSort("risk", True)),
    "open, by priority": (Q(open=True), queries.QueueSort("priority", False)),
    "open, unassigned, by due": (Q(open=True, owners=[None]), queries.QueueSort("due", False)),
    "open, one team, by due": (Q(open=True, teams=["team-3"]), queries.QueueSort("due", False)),
    "status new, P1/P2, by due": (
        Q(statuses=["new"], priorities=["P1", "P2"]),
        queries.QueueSort("due", False),
    ),
}


def populate(
    engine: sa.Engine,
    n_open: int,
    n_closed: int,
    seed: int,
    owners: tuple[str, ...] = ("ana", "bo"),
) -> None:
    rng = random.Random(seed)
    total = n_open + n_closed
    with write_connection(engine) as conn, conn.begin():
        conn.execute(
            customers.insert(),
            [
                {
                    "id": f"cus-{i}",
                    "attributes": {},
                    "field_times": {},
                    "first_seen_at": NOW,
                    "last_event_at": NOW,
                    "event_count": 1,
                    "updated_at": NOW,
                }
                for i in range(total)
            ],
        )
        conn.execute(
            customer_risk.insert(),
            [
                {
                    "customer_id": f"cus-{i}",
                    "probability": round(rng.random(), 6),
                    "reasons": [
                        {"feature": f"f{k}", "text": f"reason {k}", "contribution": 0.1}
                        for k in range(3)
                    ],
                    "features": {},
                    "state": {},
                    "model_version": "bench",
                    "horizon_days": 90,
                    "updated_at": NOW,
                }
                for i in range(total)
            ],
        )
        # Closed cases first (older ids), then the open ones: one case per customer.
        rows: list[dict[str, Any]] = []
        for i in range(total):
            is_open = i >= n_closed
            opened = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
            rows.append(
                {
                    "customer_id": f"cus-{i}",
                    "status": rng.choice(OPEN) if is_open else rng.choice(["resolved", "closed"]),
                    "priority": rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                    "category": rng.choice(["billing", "delivery", "technical", "account"]),
                    "reason": "bench",
                    "trigger_event_id": f"bench-{i}",
                    "signal_count": 1,
                    "opened_at": opened,
                    "updated_at": opened,
                    "decided_by": "bench",
                    "version": 0,
                    "owner": rng.choice(owners) if is_open and rng.random() < 0.25 else None,
                    # Half the cases carry a playbook team (the column and the case.opened
                    # entry below agree, as the processor writes them).
                    "team": rng.choice(TEAMS) if rng.random() < 0.5 else None,
                }
            )
        ids = list(
            conn.execute(
                cases.insert().returning(cases.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        timers, entries = [], []
        for case_id, row in zip(ids, rows, strict=True):
            is_open = row["status"] in OPEN
            opened = row["opened_at"]
            for metric, hours in (("first_response", 8), ("resolution", 120)):
                due = opened + timedelta(hours=hours)
                kinds = [("warning", 0, 0.8), ("breach", 0, 1.0)]
                kinds += [("escalation", 1, 1.0), ("escalation", 2, 1.5)]
                for kind, level, share in kinds:
                    if not is_open and kind != "breach":
                        continue
                    timers.append(
                        {
                            "case_id": case_id,
                            "metric": metric,
                            "kind": kind,
                            "level": level,
                            "generation": 0,
                            "due_at": opened + (due - opened) * share,
                            "fired_at": None if is_open else due,
                            "created_at": opened,
                        }
                    )
            playbook: dict[str, Any] = {"rules": ["bench"]}
            if row["team"] is not None:
                playbook["team"] = row["team"]
            for kind, data in (
                ("case.opened", {"playbook": playbook}),
                ("case.assigned", {"owner": "ana"}),
                ("case.status_changed", {"status": row["status"]}),
                ("case.note", {"text": "bench"}),
            ):
                entries.append(
                    {
                        "case_id": case_id,
                        "at": opened,
                        "kind": kind,
                        "actor": "bench",
                        "summary": kind,
                        "data": data,
                    }
                )
        for start in range(0, len(timers), 20_000):
            conn.execute(sla_timers.insert(), timers[start : start + 20_000])
        for start in range(0, len(entries), 20_000):
            conn.execute(case_timeline.insert(), entries[start : start + 20_000])
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))  # planner statistics, as a live database has them


def time_query(
    engine: sa.Engine, filters: queries.CaseFilters, sort: queries.QueueSort, limit: int
) -> tuple[float, int]:
    """Seconds for one page (see the module docstring for what is timed) and its row count."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sent: list[tuple[str, Any]] = []

            def capture(*args: Any) -> None:
                sent.append((args[2], args[3]))  # the SQL and parameters as the driver got them

            sa.event.listen(conn, "before_cursor_execute", capture)
            n = len(queries.list_cases(conn, filters=filters, sort=sort, limit=limit))
            sa.event.remove(conn, "before_cursor_execute", capture)
            [(sql, params)] = sent
            explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"
            plan: Any = conn.exec_driver_sql(explain, params).scalar()
            return float(plan[0]["Execution Time"]) / 1000, n
        start = time.process_time()
        n = len(queries.list_cases(conn, filters=filters, sort=sort, limit=limit))
        return time.process_time() - start, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=5_000, help="open cases")
    parser.add_argument("--closed", type=int, default=20_000, help="resolved or closed cases")
    parser.add_argument("--limit", type=int, default=50, help="rows per page")
    parser.add_argument("--repeat", type=int, default=7, help="runs per query")
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'queue.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        populate(engine, args.open, args.closed, seed=7)
        print(
            f"populated {args.open:,} open + {args.closed:,} closed cases in "
            f"{time.perf_counter() - t0:.1f} s ({engine.dialect.name})"
        )
        figures: dict[str, Any] = {}
        for name, (filters, sort) in QUERIES.items():
            runs = [time_query(engine, filters, sort, args.limit) for _ in range(args.repeat)]
            seconds = [s for s, _ in runs]
            figures[name] = {
                "median_ms": round(statistics.median(seconds) * 1000, 2),
                "max_ms": round(max(seconds) * 1000, 2),
                "rows": runs[0][1],
            }
            print(
                f"  {name:<28} median {figures[name]['median_ms']:8.2f} ms   "
                f"max {figures[name]['max_ms']:8.2f} ms   ({runs[0][1]} rows)"
            )
        engine.dispose()
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": engine.dialect.name,
        "timed": "server EXPLAIN ANALYZE execution time"
        if engine.dialect.name == "postgresql"
        else "process CPU time (time.process_time)",
        "open": args.open,
        "closed": args.closed,
        "limit": args.limit,
        "repeat": args.repeat,
        "python": platform.python_version(),
        "queries": figures,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-postgresql" if engine.dialect.name == "postgresql" else ""
    path = args.out / f"case-queue-latest{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
