"""GroupCommitter: several requests share one commit; failures stay with their request; the
queue is bounded.

The committer is driven with an in-memory ``append`` function. A gate (a threading.Event) holds
the writer inside its first commit so that later submissions are known to be queued together;
the queue's ages are read from a hand-moved clock; nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from winback.clock import FrozenClock
from winback.events.ingest import (
    GroupCommitter,
    GroupOutcome,
    IngestClosed,
    IngestOverloaded,
    QueueLoad,
)
from winback.events.schema import IncomingEvent

WAIT = 10.0  # seconds: only reached if the code under test is broken


def incoming(event_id: str) -> IncomingEvent:
    return IncomingEvent(
        event_id=event_id,
        type="complaint",
        customer_id="cus-1",
        occurred_at=None,
        payload={"id": event_id, "type": "complaint", "customer": {"id": "cus-1"}},
        content_hash=f"hash-{event_id}",
    )


class FakeLog:
    """An in-memory ``append``: records each call; holds the first call until released."""

    def __init__(self, *, fail_when: str | None = None) -> None:
        self.calls: list[list[list[str]]] = []
        self.stored: list[str] = []
        self.times: list[datetime] = []
        self.fail_when = fail_when
        self.entered = threading.Event()
        self.gate = threading.Event()

    def append(self, groups: list[list[IncomingEvent]], now: datetime) -> list[GroupOutcome]:
        ids = [[e.event_id for e in group] for group in groups]
        self.calls.append(ids)
        self.times.append(now)
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        if self.fail_when is not None and any(self.fail_when in group for group in ids):
            raise RuntimeError(f"cannot store {self.fail_when}")
        self.stored.extend(i for group in ids for i in group)
        return [GroupOutcome(statuses=["accepted"] * len(group)) for group in groups]


@pytest.fixture
def committers() -> Iterator[list[GroupCommitter]]:
    """Committers a test creates are stopped afterwards, even if it fails."""
    made: list[GroupCommitter] = []
    yield made
    for committer in made:
        committer.stop()


def make(
    committers: list[GroupCommitter], log: FakeLog, clock: FrozenClock, **kwargs: Any
) -> GroupCommitter:
    committer = GroupCommitter(log.append, clock, **kwargs)
    committers.append(committer)
    return committer


def hold_first_commit(committer: GroupCommitter, log: FakeLog) -> Any:
    """Submit one request and wait until the writer is inside its commit (and held there)."""
    first = committer.submit([incoming("first")])
    assert log.entered.wait(WAIT)
    return first


def test_requests_queued_during_a_commit_share_the_next_commit(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    committer = make(committers, log, frozen_clock)
    first = hold_first_commit(committer, log)

    queued = [committer.submit([incoming(f"r{i}-a"), incoming(f"r{i}-b")]) for i in range(3)]
    log.gate.set()

    assert first.result(WAIT).statuses == ["accepted"]
    for future in queued:
        assert future.result(WAIT).statuses == ["accepted", "accepted"]
    assert log.calls == [
        [["first"]],
        [["r0-a", "r0-b"], ["r1-a", "r1-b"], ["r2-a", "r2-b"]],
    ]
    assert committer.groups_committed == 2
    assert log.times == [frozen_clock.now(), frozen_clock.now()]


def test_a_group_stops_growing_at_the_event_limit(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    committer = make(committers, log, frozen_clock, max_group_events=4)
    hold_first_commit(committer, log)

    queued = [committer.submit([incoming(f"r{i}-a"), incoming(f"r{i}-b")]) for i in range(3)]
    log.gate.set()
    for future in queued:
        future.result(WAIT)

    assert log.calls[1:] == [[["r0-a", "r0-b"], ["r1-a", "r1-b"]], [["r2-a", "r2-b"]]]


def test_an_idle_committer_commits_a_single_request_at_once(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    log.gate.set()
    committer = make(committers, log, frozen_clock)

    outcome = committer.append_now([incoming("alone")])

    assert outcome.statuses == ["accepted"]
    assert log.calls == [[["alone"]]]


def test_the_outcome_of_each_request_goes_to_that_request(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    def append(groups: list[list[IncomingEvent]], now: datetime) -> list[GroupOutcome]:
        return [GroupOutcome(statuses=[e.event_id for e in group]) for group in groups]

    committer = GroupCommitter(append, frozen_clock)
    committers.append(committer)

    futures = [committer.submit([incoming(f"{i}-a"), incoming(f"{i}-b")]) for i in range(20)]

    for i, future in enumerate(futures):
        assert future.result(WAIT).statuses == [f"{i}-a", f"{i}-b"]


def test_stop_commits_everything_already_queued_then_refuses_more(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    committer = make(committers, log, frozen_clock)
    first = hold_first_commit(committer, log)
    queued = [committer.submit([incoming(f"q{i}")]) for i in range(4)]

    stopper = threading.Thread(target=committer.stop)
    stopper.start()
    deadline = time.monotonic() + WAIT
    while not committer._closed:  # stop() has begun (the writer is still held in "first")
        assert time.monotonic() < deadline, "stop() never began"
    with pytest.raises(IngestClosed):  # new work is refused at once, before the drain
        committer.submit([incoming("late")])
    log.gate.set()
    stopper.join(WAIT)

    assert not stopper.is_alive()
    assert first.result(0).statuses == ["accepted"]
    assert [f.result(0).statuses for f in queued] == [["accepted"]] * 4
    assert log.stored == ["first", "q0", "q1", "q2", "q3"]


def test_a_failing_group_is_retried_request_by_request_so_only_the_bad_one_fails(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog(fail_when="bad")
    committer = make(committers, log, frozen_clock)
    hold_first_commit(committer, log)

    good_1 = committer.submit([incoming("good-1")])
    bad = committer.submit([incoming("bad"), incoming("innocent-neighbour")])
    good_2 = committer.submit([incoming("good-2")])
    log.gate.set()

    assert good_1.result(WAIT).statuses == ["accepted"]
    assert good_2.result(WAIT).statuses == ["accepted"]
    with pytest.raises(RuntimeError, match="cannot store bad"):
        bad.result(WAIT)
    assert log.calls[1:] == [
        [["good-1"], ["bad", "innocent-neighbour"], ["good-2"]],
        [["good-1"]],
        [["bad", "innocent-neighbour"]],
        [["good-2"]],
    ]
    assert log.stored == ["first", "good-1", "good-2"]
    assert committer.groups_committed == 3  # first, good-1, good-2


def test_on_commit_is_told_how_many_events_each_commit_stored(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    sizes: list[int] = []
    committer = make(committers, log, frozen_clock, on_commit=sizes.append)
    first = hold_first_commit(committer, log)
    queued = [committer.submit([incoming(f"r{i}-a"), incoming(f"r{i}-b")]) for i in range(3)]
    log.gate.set()
    for future in [first, *queued]:
        future.result(WAIT)
    committer.stop()

    assert sizes == [1, 6]


def test_on_commit_is_not_called_for_a_commit_that_failed(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog(fail_when="bad")
    log.gate.set()
    sizes: list[int] = []
    committer = make(committers, log, frozen_clock, on_commit=sizes.append)

    with pytest.raises(RuntimeError):
        committer.append_now([incoming("bad")])
    committer.append_now([incoming("good")])

    assert sizes == [1]


def test_a_failing_on_commit_hook_does_not_fail_the_acknowledged_commit(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    log.gate.set()

    def broken_hook(size: int) -> None:
        raise RuntimeError("wake-up failed")

    committer = make(committers, log, frozen_clock, on_commit=broken_hook)

    assert committer.append_now([incoming("a")]).statuses == ["accepted"]
    assert committer.append_now([incoming("b")]).statuses == ["accepted"]
    assert log.stored == ["a", "b"]


async def _submit_async(committer: GroupCommitter) -> GroupOutcome:
    return await committer.submit_async([incoming("async")])


def test_submit_async_resolves_with_the_commit_outcome(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    log.gate.set()
    committer = make(committers, log, frozen_clock)

    outcome = asyncio.run(_submit_async(committer))

    assert outcome.statuses == ["accepted"]
    assert log.stored == ["async"]


# -- the bounded queue -----------------------------------------------------------------------


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_request_that_would_pass_the_queued_event_bound_is_refused_and_not_queued(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    committer = make(committers, log, frozen_clock, max_queued_events=4, monotonic=Ticker())
    first = hold_first_commit(committer, log)  # taken by the writer: no longer waiting
    queued = [committer.submit([incoming(f"r{i}-a"), incoming(f"r{i}-b")]) for i in range(2)]

    with pytest.raises(IngestOverloaded) as refused:
        committer.submit([incoming("one-too-many")])

    assert refused.value.reason == "queue_full"
    assert "4 events are waiting" in refused.value.message
    assert committer.check(1) is not None  # still full: a probe queues nothing either
    assert committer.load() == QueueLoad(4, 2, 0.0)
    log.gate.set()
    for future in [first, *queued]:
        assert future.result(WAIT).statuses.count("accepted") >= 1
    assert committer.load().waiting_events == 0
    assert committer.submit([incoming("after-drain")]).result(WAIT).statuses == ["accepted"]
    assert "one-too-many" not in log.stored
    assert log.stored == ["first", "r0-a", "r0-b", "r1-a", "r1-b", "after-drain"]


def test_an_empty_queue_takes_a_request_larger_than_the_bound(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    log.gate.set()
    committer = make(committers, log, frozen_clock, max_queued_events=2)

    future = committer.submit([incoming(f"big-{i}") for i in range(5)])

    assert future.result(WAIT).statuses == ["accepted"] * 5


def test_a_request_is_refused_once_the_oldest_unacknowledged_one_waited_too_long(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    ticker = Ticker()
    committer = make(committers, log, frozen_clock, max_queue_wait_seconds=0.5, monotonic=ticker)
    first = hold_first_commit(committer, log)  # enqueued at 100.0, held inside its commit

    ticker.now = 100.4
    second = committer.submit([incoming("in-time")])
    assert committer.load() == QueueLoad(1, 1, pytest.approx(0.4))
    ticker.now = 100.6
    with pytest.raises(IngestOverloaded) as refused:
        committer.submit([incoming("too-late")])

    assert refused.value.reason == "queue_wait"
    assert "waited 0.60 s" in refused.value.message
    log.gate.set()
    assert first.result(WAIT).statuses == ["accepted"]
    assert second.result(WAIT).statuses == ["accepted"]
    assert committer.load() == QueueLoad(0, 0, 0.0)  # nothing waits: ages start again
    assert committer.submit([incoming("later")]).result(WAIT).statuses == ["accepted"]
    assert log.stored == ["first", "in-time", "later"]


def test_the_wait_bound_counts_the_group_being_committed(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    """A slow commit (a stalled disk, a lock) makes new requests wait even with nothing queued."""
    log = FakeLog()
    ticker = Ticker()
    committer = make(committers, log, frozen_clock, max_queue_wait_seconds=1.0, monotonic=ticker)
    hold_first_commit(committer, log)
    ticker.now = 102.0

    assert committer.load() == QueueLoad(0, 0, 2.0)
    refusal = committer.check(1)
    assert refusal is not None
    assert refusal.reason == "queue_wait"
    log.gate.set()


def test_imports_are_never_shed(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    committer = make(committers, log, frozen_clock, max_queued_events=1)
    hold_first_commit(committer, log)
    committer.submit([incoming("fills-the-queue")])
    assert committer.check(1) is not None

    unshed = committer.submit([incoming("import")], shed=False)
    log.gate.set()

    assert unshed.result(WAIT).statuses == ["accepted"]
    assert log.stored == ["first", "fills-the-queue", "import"]


def test_without_bounds_the_queue_takes_everything(
    committers: list[GroupCommitter], frozen_clock: FrozenClock
) -> None:
    log = FakeLog()
    ticker = Ticker()
    committer = make(committers, log, frozen_clock, monotonic=ticker)
    hold_first_commit(committer, log)
    ticker.now = 10_000.0

    queued = [committer.submit([incoming(f"q{i}")]) for i in range(50)]

    assert committer.check(1) is None
    assert committer.load().waiting_events == 50
    log.gate.set()
    assert all(f.result(WAIT).statuses == ["accepted"] for f in queued)
