"""The shedder's decisions from the committer's counters and the last lag reading; its memory of
the last shed request for ``/readyz``; the ASGI gate that refuses before the app. Time is a
hand-moved clock; nothing here sleeps or touches a database (the lag is set as the background
reading would set it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from winback.api.metrics import Metrics
from winback.api.overload import LagWatch, LoopLag, Shedder, SheddingGate
from winback.clock import FrozenClock
from winback.events.ingest import GroupCommitter, GroupOutcome, IngestOverloaded
from winback.events.schema import IncomingEvent

WAIT = 10.0  # seconds: only reached if the code under test is broken


class Ticker:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def incoming(event_id: str) -> IncomingEvent:
    return IncomingEvent(
        event_id=event_id,
        type="complaint",
        customer_id="cus-1",
        occurred_at=None,
        payload={"id": event_id},
        content_hash=f"hash-{event_id}",
    )


class HeldLog:
    """An ``append`` that holds every commit until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def append(self, groups: list[list[IncomingEvent]], now: datetime) -> list[GroupOutcome]:
        self.entered.set()
        assert self.gate.wait(WAIT)
        return [GroupOutcome(statuses=["accepted"] * len(g)) for g in groups]


@pytest.fixture
def held() -> Iterator[HeldLog]:
    log = HeldLog()
    yield log
    log.gate.set()


def make_shedder(
    held: HeldLog, frozen_clock: FrozenClock, ticker: Ticker, *, max_lag: int = 10
) -> Shedder:
    committer = GroupCommitter(held.append, frozen_clock, max_queued_events=2, monotonic=ticker)
    lag = LagWatch(sa.create_engine("sqlite://"), every=0.5)  # never started: no reading
    return Shedder(
        committer, lag, max_processor_lag=max_lag, retry_after_seconds=2, monotonic=ticker
    )


def test_lag_over_the_bound_sheds_and_an_unknown_lag_does_not(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    shedder = make_shedder(held, frozen_clock, Ticker())

    assert shedder.check(1) is None  # no reading yet
    shedder.lag.value = 10
    assert shedder.check(1) is None  # at the bound: still taken
    shedder.lag.value = 11
    refusal = shedder.check(1)

    assert refusal is not None
    assert refusal.reason == "processor_lag"
    assert refusal.message == "the processor is 11 events behind (bound 10)"


def test_a_lag_bound_of_zero_is_off(held: HeldLog, frozen_clock: FrozenClock) -> None:
    shedder = make_shedder(held, frozen_clock, Ticker(), max_lag=0)
    shedder.lag.value = 1_000_000

    assert shedder.check(1) is None
    assert shedder.not_ready_reasons(1_000_000) == []


def test_a_full_commit_queue_sheds_and_is_a_reason_not_to_be_ready(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    shedder = make_shedder(held, frozen_clock, Ticker())
    shedder.committer.submit([incoming("writing")])
    assert held.entered.wait(WAIT)
    shedder.committer.submit([incoming("w1"), incoming("w2")])

    refusal = shedder.check(1)

    assert refusal is not None
    assert refusal.reason == "queue_full"
    assert shedder.not_ready_reasons(0) == [refusal.message]
    held.gate.set()
    shedder.committer.stop()


def test_readiness_stays_off_for_a_second_after_the_last_shed_request(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    ticker = Ticker()
    shedder = make_shedder(held, frozen_clock, ticker)
    assert shedder.not_ready_reasons(0) == []

    shedder.shed(IngestOverloaded("processor_lag", "the processor is 11 events behind"))
    ticker.now += 0.5
    assert shedder.not_ready_reasons(0) == [
        "shed a request 0.5 s ago: the processor is 11 events behind"
    ]
    ticker.now += 0.6
    assert shedder.not_ready_reasons(0) == []


def test_readiness_reports_the_lag_it_is_given_not_the_cached_one(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    shedder = make_shedder(held, frozen_clock, Ticker())
    shedder.lag.value = 0

    assert shedder.not_ready_reasons(25) == ["the processor is 25 events behind (bound 10)"]


# -- the event loop's lag ----------------------------------------------------------------------


class FakeLoop:
    """The two things :class:`LoopLag` asks of an event loop, on a hand-moved clock."""

    class Handle:
        def __init__(self) -> None:
            self.cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Any, FakeLoop.Handle]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> FakeLoop.Handle:
        handle = FakeLoop.Handle()
        self.timers.append((when, callback, handle))
        return handle

    def fire(self, at: float) -> None:
        """The loop gets round to its pending timer at ``at``."""
        self.now = at
        _, callback, _ = self.timers.pop(0)
        callback()


def test_loop_lag_is_seen_while_the_loop_is_stuck_and_after(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    loop = FakeLoop()
    probe = LoopLag(every=0.05)
    base = make_shedder(held, frozen_clock, Ticker())
    shedder = Shedder(
        base.committer,
        base.lag,
        max_processor_lag=0,
        retry_after_seconds=1,
        loop_lag=probe,
        max_loop_lag_seconds=0.2,
    )
    probe.start(loop)  # type: ignore[arg-type]
    assert shedder.check(1) is None

    loop.now = 0.30  # the timer was due at 0.05 and has not run: stuck for 0.25 s
    refusal = shedder.check(1)
    assert refusal is not None
    assert refusal.reason == "loop_lag"
    assert refusal.message == "the HTTP process is 0.25 s behind reading requests (bound 0.2 s)"

    loop.fire(at=0.30)  # it ran 0.25 s late; the next is due at 0.35
    loop.now = 0.31
    assert probe.seconds() == pytest.approx(0.25)  # remembered until the next timer runs
    loop.fire(at=0.36)
    assert probe.seconds() == pytest.approx(0.01)
    assert shedder.check(1) is None


def test_loop_lag_is_zero_until_started_and_after_stopping() -> None:
    loop = FakeLoop()
    probe = LoopLag()
    assert probe.seconds() == 0.0
    probe.start(loop)  # type: ignore[arg-type]
    loop.now = 5.0
    assert probe.seconds() > 4
    probe.stop()

    assert loop.timers[0][2].cancelled
    assert probe.seconds() == 0.0


# -- the gate in front of the app ------------------------------------------------------------


class Gate:
    """A :class:`SheddingGate`; notes the paths of the requests it let through to the app."""

    def __init__(self, shedder: Shedder, limit: int = 1024) -> None:
        self.shedder = shedder
        self.metrics = Metrics(sa.create_engine("sqlite://"), shedder.committer)
        self.reached: list[str] = []
        self.gate = SheddingGate(shedder=shedder, metrics=self.metrics, max_body_bytes=limit)

    def post(self, path: str, chunks: list[bytes]) -> list[dict[str, Any]]:
        """Send a body in ``chunks``; return the messages the gate answered with."""
        sent: list[dict[str, Any]] = []
        pending = list(chunks)

        async def receive() -> dict[str, Any]:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": []}
        if not asyncio.run(self.gate.refused(scope, receive, send)):
            self.reached.append(path)
        return sent

    def shed(self, what: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            f"winback_ingest_shed_{what}_total", {"reason": "processor_lag"}
        )


def test_the_gate_sheds_before_the_app_and_counts_the_events_of_a_chunked_body(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    gate = Gate(make_shedder(held, frozen_clock, Ticker()))
    gate.shedder.lag.value = 11
    events = orjson.dumps({"events": [{"id": "1"}, {"id": "2"}, {"id": "3"}]})

    sent = gate.post("/v1/events", [events[:10], events[10:]])

    assert gate.reached == []
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"2") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["reason"] == "processor_lag"
    assert gate.shed("requests") == 1
    assert gate.shed("events") == 3


def test_the_gate_counts_one_event_for_a_body_it_cannot_read(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    gate = Gate(make_shedder(held, frozen_clock, Ticker()), limit=16)
    gate.shedder.lag.value = 11

    gate.post("/v1/events", [b"{not json"])
    gate.post("/v1/events", [orjson.dumps({"events": [{"id": str(i)} for i in range(9)]})])

    assert gate.shed("requests") == 2
    assert gate.shed("events") == 2  # one each: malformed, and over the 16-byte limit


def test_the_gate_lets_everything_through_when_not_overloaded_and_other_paths_always(
    held: HeldLog, frozen_clock: FrozenClock
) -> None:
    gate = Gate(make_shedder(held, frozen_clock, Ticker()))

    assert gate.post("/v1/events", [b"{}"]) == []
    gate.shedder.lag.value = 11
    assert gate.post("/v1/cases", [b"{}"]) == []
    assert gate.reached == ["/v1/events", "/v1/cases"]
    assert gate.shed("requests") == 0
