"""Cost of the risk re-score worker: CPU time to re-score every customer once.

Run with ``.venv/bin/python bench/risk_rescore.py [--customers 2000] [--events 20]``. It logs
``--events`` usage events per customer (one every 3 days, up to a fixed now) into a fresh
SQLite database in a temporary directory, runs the processor, then re-scores everyone 31 days
later (:meth:`winback.services.risk_rescore.RiskRescorer.rescore_due`, batches of 500) and
prints the process CPU time (``time.process_time``) and the wall time. CPU time is the figure
to compare: wall time includes the commits' fsync and whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from winback.clock import FrozenClock
from winback.events.schema import parse_event
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.risk.coldstart import ColdStartScorer
from winback.services.risk_rescore import RiskRescorer
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        bodies = [
            {
                "id": f"c{c}-{d}",
                "type": "usage",
                "customer": {"id": f"c{c}"},
                "occurred_at": (NOW - timedelta(days=3 * d)).isoformat(),
                "attributes": {"sessions": 2},
            }
            for c in range(args.customers)
            for d in range(args.events)
        ]
        append_groups(engine, [[parse_event(b) for b in bodies]], NOW)
        Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
        later = FrozenClock(NOW + timedelta(days=31))
        rescorer = RiskRescorer(engine, later, ColdStartScorer(), interval_seconds=300)
        cpu, wall = time.process_time(), time.perf_counter()
        done = rescorer.rescore_due()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        engine.dispose()
    print(
        f"customers={args.customers} events/customer={args.events} rescored={done.rescored} "
        f"jumped={done.jumped} cpu={cpu:.2f}s ({cpu / max(done.rescored, 1) * 1000:.2f} ms each) "
        f"wall={wall:.2f}s"
    )


if __name__ == "__main__":
    main()
