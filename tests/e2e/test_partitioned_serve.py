"""Two `winback serve` and two `winback worker` processes on one partitioned PostgreSQL log,
woken through the Redis feed.

The servers ingest (processor off) and stamp each event with its customer's partition; the
workers split the partitions; with the idle poll set to 8 s, only the Redis wake-up feed can
make a complaint become a case in well under that. `/readyz` on either server reports each
partition's lag, and it goes back to zero.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import partition_of
from winback.store.partitions import set_partition_count
from winback.store.tables import cases, events

from ._support import Server, start_worker, winback_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PARTITIONS = 8
IDLE_POLL = 8.0


def test_servers_and_workers_share_a_partitioned_log_and_the_feed_wakes_workers(
    postgres_url: str, tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    redis_url = os.environ.get("WINBACK_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("WINBACK_TEST_REDIS_URL is not set: the Redis feed test is skipped")
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    set_partition_count(engine, PARTITIONS)
    settings = {
        "database_url": postgres_url,
        "redis_url": redis_url,
        "processor_idle_poll_seconds": IDLE_POLL,
    }
    servers = [start_server(processor="off", **settings) for _ in range(2)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(2):
            workers.append(
                start_worker(winback_env(**settings), tmp_path, tmp_path / f"worker-{i}.log")
            )
        deadline = time.monotonic() + 120
        while True:  # both workers hold partitions
            with engine.connect() as conn:
                holders = conn.execute(sa.text("SELECT count(DISTINCT owner) FROM log_partitions"))
                if holders.scalar_one() == 2:
                    break
            assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()[-3000:]
            time.sleep(0.2)
        time.sleep(IDLE_POLL + 1)  # every worker is idle and waiting now

        latencies = []
        for n in range(20):
            server = servers[n % 2]
            with server.client() as client:
                body = {"id": f"c-{n}", "type": "complaint", "customer": {"id": f"cus-{n}"}}
                response = client.post("/v1/events", json=body)
                acked = time.monotonic()
            assert response.status_code == 202, response.text
            while True:
                with engine.connect() as conn:
                    found = conn.execute(
                        sa.select(cases.c.id).where(cases.c.customer_id == f"cus-{n}")
                    ).first()
                if found is not None:
                    latencies.append(time.monotonic() - acked)
                    break
                assert time.monotonic() - acked < 3 * IDLE_POLL, f"c-{n} never became a case"
                time.sleep(0.01)
            time.sleep(0.3)  # let the workers go idle again between events
        # Without the feed, an event waits for the next poll: about IDLE_POLL / 2 on average.
        assert statistics.median(latencies) < 2.0, latencies

        with engine.connect() as conn:
            stamped = conn.execute(sa.select(events.c.customer_id, events.c.partition)).all()
        assert all(p == partition_of(c, PARTITIONS) for c, p in stamped)
        for server in servers:
            with server.client() as client:
                ready = client.get("/readyz").json()
            assert ready["processor_lag"] == 0
            assert ready["partition_lag"] == {str(p): 0 for p in range(PARTITIONS)}
        print(f"event to case through the feed: median {statistics.median(latencies):.3f}s")
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(20)
        engine.dispose()
