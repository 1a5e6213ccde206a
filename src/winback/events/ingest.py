"""Durable, idempotent ingest with group commit.

Requests hand their validated events to one :class:`GroupCommitter`. Its writer thread takes
everything waiting (up to ``max_group_events``), logs it in one transaction — one commit, one
fsync — and only then completes each request's future, so an acknowledgement always means
"committed". While it commits, the next requests gather: under load, groups grow by themselves
and no artificial delay is needed; when idle, a single event is committed at once.

If a group's transaction fails, each request in it is retried alone, so one request's problem
(say a bug, or a database hiccup) cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
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


@dataclass
class _Pending:
    events: list[IncomingEvent]
    future: Future[GroupOutcome]


class GroupCommitter:
    def __init__(
        self,
        append: AppendGroups,
        clock: Clock,
        *,
        max_group_events: int = 5_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._append = append
        self._clock = clock
        self._max = max_group_events
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # orders submit() against stop()
        self._closed = False
        self.groups_committed = 0

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed:
            raise IngestClosed("ingest has been stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="winback-ingest", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the writer thread. Later submissions are refused."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)  # after every accepted submission: the lock orders them
        if thread is not None:
            thread.join()

    def submit(self, events: list[IncomingEvent]) -> Future[GroupOutcome]:
        future: Future[GroupOutcome] = Future()
        with self._lock:
            if self._closed:
                raise IngestClosed("ingest is shutting down")
            self._start_locked()
            self._queue.put(_Pending(events, future))
        return future

    async def submit_async(self, events: list[IncomingEvent]) -> GroupOutcome:
        return await asyncio.wrap_future(self.submit(events))

    def append_now(self, events: list[IncomingEvent]) -> GroupOutcome:
        """Log synchronously (for imports): same path, same guarantees."""
        return self.submit(events).result()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group, size = [first], len(first.events)
            while size < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
                size += len(item.events)
            self._commit(group, size)

    def _commit(self, group: list[_Pending], size: int) -> None:
        try:
            outcomes = self._append([p.events for p in group], self._clock.now())
        except Exception as exc:
            if len(group) == 1:
                log.error("ingest commit failed: %r", exc)
                group[0].future.set_exception(exc)
                return
            for pending in group:
                self._commit([pending], len(pending.events))
            return
        self.groups_committed += 1
        for pending, outcome in zip(group, outcomes, strict=True):
            pending.future.set_result(outcome)
        if self._on_commit is not None:
            try:
                self._on_commit(size)
            except Exception:  # a wake-up hook must never fail an acknowledged commit
                log.exception("on_commit hook failed")
