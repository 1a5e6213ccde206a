"""What the audit trail costs a case action, and how fast ``winback audit verify`` walks it.

Run with ``.venv/bin/python bench/audit_cost.py`` (SQLite in a temporary file) or with
``--database-url postgresql://…`` (an empty database or schema; it is migrated and filled).

1. ``--cases`` open cases are inserted directly. Then ``--actions`` case actions (``note`` and
   ``assign``, alternating, through :func:`winback.services.cases.perform_action`, the path
   the API takes) are timed one by one, in rounds that alternate *with* the audit append and
   *without* it (``winback.store.audit.record`` replaced by a no-op), so that both see the same
   machine and the same growing database. The median wall time per action of each is reported,
   and the difference.
2. :func:`winback.store.audit.verify` walks the whole trail (the records the actions wrote plus
   ``--records`` more appended directly); its wall time and records per second are reported.

Wall time on a shared machine: preliminary figures. Results on stdout and in
``bench/results/audit-cost-latest[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.clock import FrozenClock
from winback.services.cases import perform_action
from winback.sla.config import load_sla_config
from winback.sla.engine import SlaEngine
from winback.store import audit, migrate
from winback.store.engine import make_engine, write_connection
from winback.store.tables import cases, customers

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def fill(engine: sa.Engine, n: int) -> list[int]:
    with engine.begin() as conn:
        conn.execute(
            customers.insert(),
            [
                {
                    "id": f"cus-{i}",
                    "attributes": {},
                    "field_times": {},
                    "first_seen_at": START,
                    "last_event_at": START,
                    "event_count": 1,
                    "updated_at": START,
                }
                for i in range(n)
            ],
        )
        conn.execute(
            cases.insert(),
            [
                {
                    "customer_id": f"cus-{i}",
                    "status": "new",
                    "priority": "P3",
                    "reason": "bench",
                    "trigger_event_id": f"e{i}",
                    "signal_count": 1,
                    "opened_at": START,
                    "updated_at": START,
                    "decided_by": "bench",
                    "version": 0,
                }
                for i in range(n)
            ],
        )
        return [int(i) for i in conn.execute(sa.select(cases.c.id)).scalars()]


def timed_actions(
    engine: sa.Engine, clock: FrozenClock, sla: SlaEngine, ids: list[int], start: int, n: int
) -> list[float]:
    out = []
    for k in range(start, start + n):
        case_id = ids[k % len(ids)]
        clock.advance(timedelta(seconds=1))
        if k % 2:
            action, params = "assign", {"owner": f"agent-{k % 7}"}
        else:
            action, params = "note", {"text": f"called back, attempt {k}"}
        t0 = time.perf_counter()
        perform_action(engine, clock, sla, case_id, action, "user:bench", params)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--actions", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = FrozenClock(START)
    sla = SlaEngine(load_sla_config(None))
    ids = fill(engine, args.cases)
    real_record = audit.record

    def no_audit(*_: Any, **__: Any) -> int:
        return 0

    per_round = max(1, args.actions // args.rounds)
    timings: dict[str, list[float]] = {"with": [], "without": []}
    done = 0
    for r in range(args.rounds):
        mode = "with" if r % 2 == 0 else "without"
        audit.record = real_record if mode == "with" else no_audit  # type: ignore[assignment]
        timings[mode] += timed_actions(engine, clock, sla, ids, done, per_round)
        done += per_round
    audit.record = real_record  # type: ignore[assignment]

    with write_connection(engine) as conn, conn.begin():
        for i in range(args.records):
            audit.record(
                conn,
                actor=f"user:u{i % 13}",
                credential="session",
                action="case.assign",
                subject_type="case",
                subject_id=ids[i % len(ids)],
                before={"owner": None},
                after={"owner": f"agent-{i % 7}"},
                details={"version": i},
                customer=f"cus-{i % args.cases}",
                at=START + timedelta(seconds=i),
            )
    with engine.connect() as conn:
        t0 = time.perf_counter()
        result = audit.verify(conn)
        verify_seconds = time.perf_counter() - t0
    assert result.ok, result
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    summary = {
        "database": engine.dialect.name,
        "actions_each": {k: len(v) for k, v in timings.items()},
        "median_ms_with_audit": round(med["with"], 3),
        "median_ms_without_audit": round(med["without"], 3),
        "audit_ms_per_action": round(med["with"] - med["without"], 3),
        "audit_percent": round(100 * (med["with"] / med["without"] - 1), 1),
        "verify_records": result.checked,
        "verify_seconds": round(verify_seconds, 3),
        "verify_records_per_second": round(result.checked / verify_seconds),
        "machine": platform.platform(),
        "note": "wall time on a machine shared with other work: preliminary",
    }
    print(json.dumps(summary, indent=2))
    suffix = "" if engine.dialect.name == "sqlite" else f"-{engine.dialect.name}"
    out = ROOT / "bench" / "results" / f"audit-cost-latest{suffix}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    engine.dispose()


if __name__ == "__main__":
    main()
