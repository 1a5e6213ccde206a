"""The Redis Streams wake-up feed: it wakes idle workers at once, and losing it loses nothing.

Needs a Redis server (``WINBACK_TEST_REDIS_URL``, e.g. ``redis://127.0.0.1:6379/13``; the
feed tests are skipped, visibly, without it). The tests that Redis being absent costs only
latency need no server: they point the feed at a port nothing listens on.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from winback.bootstrap import build_runtime, build_workers
from winback.bus.redis_feed import FeedPublisher, FeedWaiter
from winback.config import Settings
from winback.events.schema import parse_event
from winback.store import migrate
from winback.store.tables import customers

REDIS_ENV = "WINBACK_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: Redis tests skipped")
    return url


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    import redis

    name = f"winback-test:{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name)
    client.close()


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # closed again: nothing listens there


def timed_wait(waiter: FeedWaiter, timeout: float) -> float:
    started = time.monotonic()
    waiter(timeout)
    return time.monotonic() - started


def test_a_commit_wakes_a_waiting_worker_at_once(redis_url: str, stream: str) -> None:
    publisher, waiter = FeedPublisher(redis_url, stream), FeedWaiter(redis_url, stream)
    try:
        assert timed_wait(waiter, 0.3) >= 0.25  # nothing published: the wait runs out
        threading.Timer(0.2, publisher.notify).start()
        took = timed_wait(waiter, 5.0)
        assert took < 2.0, took
        assert waiter.wakeups == 1
        # A commit made while the worker was busy (not waiting) is not missed either.
        publisher.notify()
        deadline = time.monotonic() + 5
        while publisher.published < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert timed_wait(waiter, 5.0) < 0.5
    finally:
        publisher.stop()
        waiter.close()


def test_without_redis_the_worker_polls_and_ingest_is_unaffected() -> None:
    url = dead_url()
    publisher, waiter = FeedPublisher(url), FeedWaiter(url)
    try:
        publisher.notify()  # returns at once; the failure is the feed thread's to log
        took = timed_wait(waiter, 0.4)
        assert 0.35 <= took < 2.0  # a plain sleep of the poll interval
        assert waiter.failures == 1
        deadline = time.monotonic() + 5
        while publisher.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert publisher.failures >= 1
    finally:
        publisher.stop()
        waiter.close()


def test_a_worker_with_a_long_poll_processes_a_new_event_at_once_through_the_feed(
    redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        models_dir=tmp_path / "models",
        redis_url=redis_url,
        processor_idle_poll_seconds=8.0,  # without the feed, a new event waits up to 8 s
        sla_timers=False,
        routing_interval_seconds=0,
        risk_rescore_interval_seconds=0,
        retention_days=0,
        outreach_relay=False,
        analytics_interval_seconds=0,
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    runtime.committer.start()
    stop = threading.Event()
    [processor] = build_workers(settings, runtime.engine, stop)
    processor.start()
    try:
        deadline = time.monotonic() + 30
        while processor.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the first round found nothing: the worker is waiting now
        time.sleep(0.3)
        event = parse_event({"id": "e-1", "type": "usage", "customer": {"id": "cus-1"}})
        sent = time.monotonic()
        runtime.committer.submit([event]).result(10)
        done = None
        while time.monotonic() - sent < 6:
            with runtime.engine.connect() as conn:
                if conn.execute(sa.select(customers.c.id)).first() is not None:
                    done = time.monotonic() - sent
                    break
            time.sleep(0.02)
        assert done is not None, "not processed within 6 s"
        assert done < 2.0, done
    finally:
        stop.set()
        processor.stop()
        runtime.close()
