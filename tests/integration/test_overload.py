"""Overload over HTTP: past a bound, ingest answers 503 + Retry-After and stores nothing;
``/readyz`` says why it is not ready; ``/metrics`` shows the queue, the lag and what was shed.

The app runs in process (``TestClient``) on a real SQLite file with the processor off. To fill
the commit queue the test holds SQLite's writer lock itself (``write_connection``), so the real
group committer, configured from settings, is stuck in its first commit while more requests
queue behind it; requests that must wait are sent from threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from winback.api.overload import Shedder
from winback.bootstrap import build_processor
from winback.clock import FrozenClock
from winback.store.engine import write_connection
from winback.store.tables import events

from .support import api_app, body, count, log_events

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
WAIT = 10.0  # seconds: only reached if the code under test is broken


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


def metric_samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def shed(name: str, reason: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (f"winback_ingest_shed_{name}_total", (("reason", reason),))


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row.event_id for row in conn.execute(events.select())}


def batch(*ids: str) -> dict[str, Any]:
    return {"events": [body(i) for i in ids]}


@contextmanager
def writer_held(engine: Engine) -> Iterator[None]:
    """Hold SQLite's writer lock: the committer's next commit blocks until the block ends."""
    with write_connection(engine) as conn, conn.begin():
        yield


def test_a_full_commit_queue_sheds_with_503_and_retry_after_and_stores_nothing(
    tmp_path: Path,
) -> None:
    client, _, engine = api_app(
        tmp_path,
        NOW,
        ingest_max_queued_events=5,
        # only the event bound, whatever the machine's speed
        ingest_max_queue_wait_seconds=0,
        ingest_max_loop_lag_seconds=0,
        ingest_retry_after_seconds=3,
    )
    with client, ThreadPoolExecutor(max_workers=4) as pool:
        committer = client.app.state.container.committer  # type: ignore[attr-defined]

        def send(payload: dict[str, Any]) -> Future[httpx.Response]:
            return pool.submit(client.post, "/v1/events", json=payload)

        def waiting(events: int) -> Callable[[], bool]:
            return lambda: committer.load().waiting_events == events

        with writer_held(engine):
            first = send(body("a"))  # taken by the writer, which then waits for the lock
            wait_until(lambda: committer.load().oldest_wait_seconds > 0, "first commit began")
            queued = [send(batch("b1", "b2", "b3"))]
            wait_until(waiting(3), "b queued")
            queued.append(send(body("c")))
            wait_until(waiting(4), "c queued")
            # 4 waiting: a batch of 2 passes the gate's check and is refused as it is queued
            overfull = client.post("/v1/events", json=batch("e1", "e2"))
            queued.append(send(body("d")))  # 4 + 1 is within the bound
            wait_until(waiting(5), "d queued")
            refused = client.post("/v1/events", json=body("f"))  # the gate sheds it
            refused_batch = client.post("/v1/events", json=batch("g1", "g2"))
            ready = client.get("/readyz")
            during = metric_samples(client)

        assert first.result(WAIT).status_code == 202
        assert [f.result(WAIT).status_code for f in queued] == [202, 202, 202]

        for response in (overfull, refused, refused_batch):
            assert response.status_code == 503
            assert response.headers["retry-after"] == "3"
            answer = response.json()
            assert answer["error"] == "overloaded"
            assert answer["reason"] == "queue_full"
            assert "nothing was stored" in answer["message"]
        assert "4 events are waiting" in overfull.json()["message"]
        assert "5 events are waiting" in refused.json()["message"]
        assert stored_ids(engine) == {"a", "b1", "b2", "b3", "c", "d"}

        assert ready.status_code == 503
        readiness = ready.json()
        assert readiness["status"] == "unavailable"
        assert readiness["ingest_queue_events"] == 5
        assert any("commit queue is full" in r for r in readiness["reasons"])

        assert during[("winback_ingest_queue_events", ())] == 5
        assert during[("winback_ingest_queue_requests", ())] == 3
        assert during[("winback_ingest_queue_oldest_seconds", ())] > 0
        assert during[shed("requests", "queue_full")] == 3
        assert during[shed("events", "queue_full")] == 5
        assert during[shed("requests", "processor_lag")] == 0
        after = metric_samples(client)
        assert after[("winback_ingest_queue_events", ())] == 0
        assert after[("winback_events_accepted_total", ())] == 6

        again = client.post("/v1/events", json=body("f"))  # the queue drained: taken now
        assert again.status_code == 202
        assert "f" in stored_ids(engine)


def test_processor_lag_over_its_bound_sheds_and_makes_readyz_not_ready(tmp_path: Path) -> None:
    client, config, engine = api_app(
        tmp_path, NOW, ingest_max_processor_lag=3, ingest_max_loop_lag_seconds=0
    )
    log_events(engine, NOW, *(body(f"old-{i}", customer=f"cus-{i}") for i in range(5)))
    with client:
        shedder: Shedder = client.app.state.shedder  # type: ignore[attr-defined]
        assert shedder.lag.refresh() == 5  # what the background reading would find

        ready = client.get("/readyz")
        refused = client.post("/v1/events", json=batch("new-1", "new-2"))
        samples = metric_samples(client)

        assert ready.status_code == 503
        assert ready.json()["processor_lag"] == 5
        assert ready.json()["reasons"] == ["the processor is 5 events behind (bound 3)"]
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"  # the default
        assert refused.json()["reason"] == "processor_lag"
        assert count(engine, events) == 5
        assert samples[("winback_processor_lag_events", ())] == 5
        assert samples[shed("requests", "processor_lag")] == 1
        assert samples[shed("events", "processor_lag")] == 2

        build_processor(config, engine, FrozenClock(NOW)).run_until_idle()
        assert shedder.lag.refresh() == 0
        accepted = client.post("/v1/events", json=batch("new-1", "new-2"))
        assert accepted.status_code == 202
        assert count(engine, events) == 7


def test_an_idle_server_is_ready_with_no_reasons_and_zero_shed_counters(tmp_path: Path) -> None:
    client, _, _ = api_app(tmp_path, NOW)
    with client:
        ready = client.get("/readyz")
        samples = metric_samples(client)

    assert ready.status_code == 200
    assert ready.json()["reasons"] == []
    assert ready.json()["ingest_queue_events"] == 0
    for reason in ("queue_full", "queue_wait", "loop_lag", "processor_lag"):
        assert samples[shed("requests", reason)] == 0
        assert samples[shed("events", reason)] == 0
    assert samples[("winback_ingest_queue_events", ())] == 0
