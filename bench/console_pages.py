"""Console page loads with many open cases: server time per page, median and p95.

    .venv/bin/python bench/console_pages.py                       # SQLite, 100,000 open cases
    .venv/bin/python bench/console_pages.py --open 20000 --repeat 10
    .venv/bin/python bench/console_pages.py --database-url postgresql://…   # an empty database

The database is filled the way ``bench/case_queue.py`` fills it (open cases with eight pending
SLA timers each, a quarter of them owned by ``ana`` or ``bo``, a churn-risk row per customer,
timeline entries), then each page is requested ``--repeat`` times in process through the
ASGI app (Starlette's test client; no network): the time is the request's wall time, which
includes the database and the template, as the server would spend it. The caller is a logged-in
lead (or ``ana``, an agent, for "my cases"), set through the console's principal dependency.
Results on stdout and in ``bench/results/console-pages-latest[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_queue import populate
from winback.bootstrap import build_runtime
from winback.config import load_settings
from winback.console.app import create_app
from winback.console.auth import console_principal
from winback.identity import Principal
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.tables import cases

ROOT = Path(__file__).resolve().parent.parent
LEAD = Principal(kind="user", name="lea", role="lead", credential="session", team="team-3")
ANA = Principal(kind="user", name="ana", role="agent", credential="session", team="team-3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open cases")
    parser.add_argument("--closed", type=int, default=20_000, help="resolved or closed cases")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page")
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/console.db"
        engine = make_engine(url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        # A quarter of the open cases owned, spread over the agents (ana among them), as a
        # floor of agents with a few dozen cases each would have them.
        agents = ("ana", *(f"agent-{i}" for i in range(max(1, args.open // 4 // 40))))
        populate(engine, args.open, args.closed, seed=7, owners=agents)
        print(f"filled in {time.perf_counter() - started:.0f} s: {args.open} open cases")
        with engine.connect() as conn:
            some_case = conn.execute(sa.select(sa.func.max(cases.c.id))).scalar_one()
        (Path(tmp) / "config").mkdir()
        settings = load_settings(
            database_url=url, processor="off", config_dir=Path(tmp) / "config",
            models_dir=Path(tmp) / "models",
        )  # fmt: skip
        runtime = build_runtime(settings)
        app = create_app(runtime)
        who: dict[str, Principal] = {"p": LEAD}

        async def principal() -> Principal:
            return who["p"]

        app.dependency_overrides[console_principal] = principal
        pages = {
            "queue: all open, due first": ("/console?view=open", LEAD),
            "queue: my cases (agent)": ("/console?view=mine", ANA),
            "queue: team's waiting": ("/console?view=team", ANA),
            "queue rows (live refresh)": ("/console/rows?view=open", LEAD),
            "queue: P1 only": ("/console?view=open&priority=P1", LEAD),
            "a case": (f"/console/cases/{some_case}", LEAD),
            "approvals": ("/console/approvals", LEAD),
        }
        results: dict[str, Any] = {}
        with TestClient(app) as client:
            for name, (path, person) in pages.items():
                who["p"] = person
                client.get(path)  # warm: templates compiled, statements cached
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                times.sort()
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                results[name] = {
                    "path": path,
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(p95, 1),
                }
                print(f"{name:32} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms")
        runtime.close()
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    out = (
        ROOT
        / "bench"
        / "results"
        / (
            "console-pages-latest.json"
            if backend == "sqlite"
            else "console-pages-latest-postgresql.json"
        )
    )
    out.write_text(
        json.dumps(
            {
                "backend": backend,
                "open_cases": args.open,
                "closed_cases": args.closed,
                "repeat": args.repeat,
                "machine": platform.platform(),
                "pages": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
