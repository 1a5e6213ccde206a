"""Throughput of several `winback worker` processes on a partitioned PostgreSQL log.

    .venv/bin/python bench/partitions.py                         # 1, 2 and 4 workers, 16 partitions
    .venv/bin/python bench/partitions.py --workers 1 2 --events 10000 --repeats 1

For each worker count (and repeat) it makes a fresh PostgreSQL schema (``--url``, default
``$WINBACK_TEST_POSTGRES_URL`` or ``postgresql://postgres@127.0.0.1:5432/test``), migrates it,
sets ``--partitions`` (16), starts that many real ``winback worker`` processes (default
settings: playbooks, the shipped text model, cold-start churn, SLA timers on) and waits until
they have split the partitions between them. Then it appends ``--events`` events of
``bench/processor_cost.py``'s ``mixed`` mix (3,000 customers) in *one* transaction, so every
worker sees the whole backlog at the same instant, and times from that commit until every
partition's lag is zero.

Reported per run: events/s (backlog / drain time), the workers' CPU (user + system from
``/proc/<pid>/stat``, over the drain), so **worker CPU ms per event** (what one more core buys:
a machine with C free cores for workers should drain about C / (CPU per event) events a second,
PostgreSQL permitting), and PostgreSQL's CPU over the drain (every ``postgres`` process on the
machine: on a shared machine this includes other people's queries, so read it as an upper
bound). Results: a table on stdout and ``bench/results/partitions-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from processor_cost import mixed  # noqa: E402
from winback.events.schema import parse_event  # noqa: E402
from winback.store import migrate  # noqa: E402
from winback.store.engine import make_engine  # noqa: E402
from winback.store.eventlog import append_groups  # noqa: E402
from winback.store.partitions import partition_lags, set_partition_count  # noqa: E402
from winback.store.tables import processor_members  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WINBACK = Path(sys.executable).parent / "winback"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def run_once(base: str, workers: int, events: int, partitions: int, seed: int) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, pool_size=1)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = schema_url(base, schema)
    engine = make_engine(url)
    procs: list[subprocess.Popen[bytes]] = []
    logs = Path(f"/tmp/winback-bench-partitions-{schema}")
    logs.mkdir()
    try:
        migrate.upgrade(engine)
        set_partition_count(engine, partitions)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
        # This checkout's code, whatever the console script was installed from.
        path = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
        env |= {"WINBACK_DATABASE_URL": url, "WINBACK_LOG_LEVEL": "warning", "PYTHONPATH": path}
        for i in range(workers):
            with (logs / f"worker-{i}.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [str(WINBACK), "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 180
        while True:  # every worker up, the partitions split between them
            with engine.connect() as conn:
                members = conn.execute(sa.select(sa.func.count()).select_from(processor_members))
                owners = conn.execute(sa.text("SELECT count(DISTINCT owner) FROM log_partitions"))
                ready = members.scalar_one() == workers and owners.scalar_one() == workers
            if ready:
                break
            assert time.monotonic() < deadline, f"workers did not start: see {logs}"
            assert all(p.poll() is None for p in procs), f"a worker died: see {logs}"
            time.sleep(0.2)
        bodies = mixed(events, 3_000, seed)
        groups = [[parse_event(b) for b in bodies[i : i + 500]] for i in range(0, events, 500)]
        now = datetime.now(UTC)
        cpu_before = [cpu_seconds(p.pid) for p in procs]
        pg_before = postgres_cpu()
        append_groups(engine, groups, now)  # one transaction: the backlog appears at once
        started = time.monotonic()
        while True:
            with engine.connect() as conn:
                lag = sum(partition_lags(conn).values())
            if lag == 0:
                break
            time.sleep(0.05)
        drain = time.monotonic() - started
        cpu = sum(cpu_seconds(p.pid) - b for p, b in zip(procs, cpu_before, strict=True))
        pg = postgres_cpu() - pg_before
        return {
            "workers": workers,
            "partitions": partitions,
            "events": events,
            "drain_seconds": round(drain, 3),
            "events_per_second": round(events / drain, 1),
            "worker_cpu_seconds": round(cpu, 3),
            "worker_cpu_ms_per_event": round(1000 * cpu / events, 4),
            "postgres_cpu_seconds": round(pg, 3),
            "postgres_cpu_ms_per_event": round(1000 * pg / events, 4),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "WINBACK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    runs = []
    for repeat in range(args.repeats):
        for workers in args.workers:
            run = run_once(args.url, workers, args.events, args.partitions, seed=repeat)
            runs.append(run)
            print(json.dumps(run), flush=True)
    summary = []
    for workers in args.workers:
        mine = [r for r in runs if r["workers"] == workers]
        summary.append(
            {
                "workers": workers,
                "events_per_second": statistics.median(r["events_per_second"] for r in mine),
                "worker_cpu_ms_per_event": statistics.median(
                    r["worker_cpu_ms_per_event"] for r in mine
                ),
                "postgres_cpu_ms_per_event": statistics.median(
                    r["postgres_cpu_ms_per_event"] for r in mine
                ),
            }
        )
    base = summary[0]["events_per_second"]
    print(
        f"\n{'workers':>8} {'events/s':>10} {'x':>6} {'worker CPU ms/ev':>17} {'pg CPU ms/ev':>13}"
    )
    for s in summary:
        print(
            f"{s['workers']:>8} {s['events_per_second']:>10.0f} "
            f"{s['events_per_second'] / base:>6.2f} {s['worker_cpu_ms_per_event']:>17.3f} "
            f"{s['postgres_cpu_ms_per_event']:>13.3f}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"partitions-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "at": stamp,
                "cpus": os.cpu_count(),
                "args": vars(args),
                "runs": runs,
                "summary": summary,
            },
            indent=2,
        )
    )
    print(f"\nwritten {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
