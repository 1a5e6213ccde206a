"""The shedder's decisions from the committer's counters and the last lag reading; its memory of
the last shed request for ``/readyz``. Time is a hand-moved clock; nothing here sleeps or
touches a database (the lag is set as the background reading would set it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from winback.api.overload import LagWatch, Shedder
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
