"""Durable, idempotent ingest with group commit.

Requests hand their validated events to one :class:`GroupCommitter`. Its writer thread takes
everything waiting (up to ``max_group_events``), logs it in one transaction — one commit, one
fsync — and only then completes each request's future, so an acknowledgement always means
"committed". While it commits, the next requests gather: under load, groups grow by themselves
and no artificial delay is needed; when idle, a single event is committed at once.

If a group's transaction fails, each request in it is retried alone, so one request's problem
(say a bug, or a database hiccup) cannot fail its neighbours.

The queue is bounded, so overload is refused rather than silently turned into waiting: a
submission is refused with :class:`IngestOverloaded` — before anything is queued — when the
events already waiting would pass ``max_queued_events``, or when the oldest request not yet
acknowledged has waited longer than ``max_queue_wait_seconds`` (new requests would wait at
least as long). Both checks read counters the committer keeps anyway; neither touches the
database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from winback.clock import Clock
from winback.events.schema import IncomingEvent

log = logging.getLogger(__name__)


@dataclass
class GroupOutcome:
    """Per submitted request: a status per event, or the conflicting ``(index, id)`` pairs."""

    statuses: list[str] = field(default_factory=list)
    conflicts: list[tuple[int, str]] = field(default_factory=list)


# Logs several requests' events in one transaction: (groups, now) -> an outcome per group.
AppendGroups = Callable[[list[list[IncomingEvent]], datetime], list[GroupOutcome]]


class IngestClosed(Exception):
    """The committer has stopped and accepts nothing more."""


class IngestOverloaded(Exception):
    """Ingest is over a bound; the request was refused and nothing of it was queued.

    ``reason`` is a short code (``queue_full``, ``queue_wait``, ``processor_lag``) for metrics;
    the message says what was over which bound.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class QueueLoad:
    """How loaded the commit queue is now."""

    waiting_events: int  # submitted, not yet taken by the writer
    waiting_requests: int
    oldest_wait_seconds: float  # age of the oldest request not yet acknowledged (0: none)


@dataclass
class _Pending:
    events: list[IncomingEvent]
    future: Future[GroupOutcome]
    enqueued_at: float


class GroupCommitter:
    """Group commit with a bounded queue (see the module's docstring).

    ``max_queued_events`` and ``max_queue_wait_seconds`` set the bounds (0: no bound);
    ``monotonic`` is the clock the queue's ages are measured on.
    """

    def __init__(
        self,
        append: AppendGroups,
        clock: Clock,
        *,
        max_group_events: int = 5_000,
        max_queued_events: int = 0,
        max_queue_wait_seconds: float = 0.0,
        on_commit: Callable[[int], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._append = append
        self._clock = clock
        self._max = max_group_events
        self._max_queued = max_queued_events
        self._max_wait = max_queue_wait_seconds
        self._on_commit = on_commit
        self._monotonic = monotonic
        self._waiting: deque[_Pending] = deque()
        self._waiting_events = 0
        self._committing_since: float | None = None  # enqueue time of the group being written
        self._thread: threading.Thread | None = None
        # Guards the queue and its counters; orders submit() against stop().
        self._cond = threading.Condition()
        self._closed = False
        self.groups_committed = 0

    def start(self) -> None:
        with self._cond:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed:
            raise IngestClosed("ingest has been stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="winback-ingest", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the writer thread. Later submissions are refused."""
        with self._cond:
            self._closed = True
            thread, self._thread = self._thread, None
            self._cond.notify()  # the writer drains what was accepted before this, then exits
        if thread is not None:
            thread.join()

    # -- bounds ------------------------------------------------------------------------------
    def load(self) -> QueueLoad:
        with self._cond:
            return QueueLoad(self._waiting_events, len(self._waiting), self._oldest_wait_locked())

    def check(self, events: int) -> IngestOverloaded | None:
        """Would a request of ``events`` events be refused now? (Queues nothing.)"""
        with self._cond:
            return self._overload_locked(events)

    def _oldest_wait_locked(self) -> float:
        since = self._committing_since
        if since is None and self._waiting:
            since = self._waiting[0].enqueued_at
        return 0.0 if since is None else max(0.0, self._monotonic() - since)

    def _overload_locked(self, events: int) -> IngestOverloaded | None:
        waiting = self._waiting_events
        if self._max_queued and waiting and waiting + events > self._max_queued:
            return IngestOverloaded(
                "queue_full",
                f"the commit queue is full: {waiting} events are waiting to be committed "
                f"(bound {self._max_queued})",
            )
        if self._max_wait:
            age = self._oldest_wait_locked()
            if age > self._max_wait:
                return IngestOverloaded(
                    "queue_wait",
                    f"the commit queue is too slow: its oldest request has waited {age:.2f} s "
                    f"(bound {self._max_wait:g} s)",
                )
        return None

    # -- submitting --------------------------------------------------------------------------
    def submit(self, events: list[IncomingEvent], *, shed: bool = True) -> Future[GroupOutcome]:
        """Queue ``events`` for the next commit; the future completes once they are committed.

        Raises :class:`IngestOverloaded` (queueing nothing) when a bound is passed, unless
        ``shed`` is false (imports, which wait for each commit anyway).
        """
        future: Future[GroupOutcome] = Future()
        with self._cond:
            if self._closed:
                raise IngestClosed("ingest is shutting down")
            if shed:
                refusal = self._overload_locked(len(events))
                if refusal is not None:
                    raise refusal
            self._start_locked()
            self._waiting.append(_Pending(events, future, self._monotonic()))
            self._waiting_events += len(events)
            self._cond.notify()
        return future

    async def submit_async(self, events: list[IncomingEvent]) -> GroupOutcome:
        return await asyncio.wrap_future(self.submit(events))

    def append_now(self, events: list[IncomingEvent]) -> GroupOutcome:
        """Log synchronously (for imports): same path, same guarantees, never shed."""
        return self.submit(events, shed=False).result()

    # -- the writer --------------------------------------------------------------------------
    def _take(self) -> tuple[list[_Pending], int] | None:
        """Wait for work; take everything waiting (up to the group limit). None: stopped."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None  # stopped, and everything accepted before has been committed
            first = self._waiting.popleft()
            group, size = [first], len(first.events)
            while self._waiting and size < self._max:
                item = self._waiting.popleft()
                group.append(item)
                size += len(item.events)
            self._waiting_events -= size
            self._committing_since = first.enqueued_at
            return group, size

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            group, size = taken
            results: list[tuple[_Pending, GroupOutcome | Exception]] = []
            commits: list[int] = []
            try:
                self._write(group, size, results, commits)
            finally:
                with self._cond:  # before any answer: an answered request no longer waits
                    self._committing_since = None
            for pending, result in results:
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
            for committed in commits:
                if self._on_commit is not None:
                    try:
                        self._on_commit(committed)
                    except Exception:  # a wake-up hook must never fail an acknowledged commit
                        log.exception("on_commit hook failed")

    def _write(
        self,
        group: list[_Pending],
        size: int,
        results: list[tuple[_Pending, GroupOutcome | Exception]],
        commits: list[int],
    ) -> None:
        """Log ``group`` in one transaction; on failure, each request alone. Appends each
        request's outcome (or error) to ``results`` and each commit's size to ``commits``."""
        try:
            outcomes = self._append([p.events for p in group], self._clock.now())
        except Exception as exc:
            if len(group) == 1:
                log.error("ingest commit failed: %r", exc)
                results.append((group[0], exc))
                return
            for pending in group:
                self._write([pending], len(pending.events), results, commits)
            return
        self.groups_committed += 1
        results.extend(zip(group, outcomes, strict=True))
        commits.append(size)
