"""Load shedding for ``POST /v1/events``: refuse excess load early instead of queueing it.

Three signals, none of them a database query per request:

- the group committer's queue (:meth:`GroupCommitter.check`): events waiting to be committed,
  and how long the oldest unacknowledged request has waited;
- the event loop's lag (:class:`LoopLag`): how late a timer fires, i.e. how long a request that
  has arrived waits before the process even reads it. When the HTTP process itself is short of
  CPU, requests pile up there — in sockets and the loop's ready queue — and never reach the
  commit queue, so its counters alone would not see the overload;
- the processor lag (events logged but not yet processed), read by :class:`LagWatch` in a
  background thread every ``WINBACK_INGEST_LAG_CHECK_SECONDS`` and kept as a plain number.

A request over a bound is answered ``503`` with ``Retry-After`` and nothing of it is stored.
``/readyz`` reports the same conditions, so a load balancer can send traffic elsewhere.

Refusing must cost far less than accepting, or a server offered several times what it can take
spends all its CPU refusing (and accepts nothing). So the refusal happens in
:class:`SheddingGate`, asked first by the app for every request: no middleware, no routing, no
request object, no validation — it reads the body only to count the events it sheds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from winback.api.errors import error_response
from winback.api.metrics import Metrics
from winback.events.ingest import GroupCommitter, IngestOverloaded
from winback.pipeline.processor import processor_lag

log = logging.getLogger(__name__)

# /readyz stays "not ready" this long after the last shed request, so that a probe taken
# between two bursts of shedding does not report ready while the server is still overloaded.
READY_HOLD_SECONDS = 1.0


class LagWatch:
    """The processor lag, read from the database at most every ``every`` seconds.

    :attr:`value` is the last reading (``None`` before the first, or after a failed one).
    :meth:`start` runs the readings in a daemon thread; :meth:`refresh` takes one now.
    """

    def __init__(self, engine: Engine, every: float) -> None:
        self._engine = engine
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.value: int | None = None

    def refresh(self) -> int | None:
        try:
            with self._engine.connect() as conn:
                self.value = processor_lag(conn)
        except SQLAlchemyError as exc:
            log.warning("could not read the processor lag: %r", exc)
            self.value = None
        return self.value

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._every)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="winback-lag", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


class LoopLag:
    """How far behind the event loop is: a timer due every ``every`` seconds notes how late it
    fired. :meth:`seconds` is the larger of that and how overdue the pending timer is now, so a
    loop stuck in one long round is seen while it is stuck, not only afterwards."""

    def __init__(self, every: float = 0.05) -> None:
        self._every = every
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.last = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.last = 0.0
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._loop = self._handle = None

    def _schedule(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self._every
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        if self._loop is None:
            return
        self.last = max(0.0, self._loop.time() - self._due)
        self._schedule()

    def seconds(self) -> float:
        if self._loop is None:
            return 0.0
        return max(self.last, self._loop.time() - self._due)


class Shedder:
    """Decides whether ingest takes a request, and remembers when it last refused one."""

    def __init__(
        self,
        committer: GroupCommitter,
        lag: LagWatch,
        *,
        max_processor_lag: int,
        retry_after_seconds: int,
        loop_lag: LoopLag | None = None,
        max_loop_lag_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.committer = committer
        self.lag = lag
        self.loop_lag = loop_lag or LoopLag()
        self.max_processor_lag = max_processor_lag
        self.max_loop_lag_seconds = max_loop_lag_seconds
        self.retry_after_seconds = retry_after_seconds
        self._monotonic = monotonic
        self._last_shed: tuple[float, IngestOverloaded] | None = None

    def loop_refusal(self) -> IngestOverloaded | None:
        if self.max_loop_lag_seconds:
            behind = self.loop_lag.seconds()
            if behind > self.max_loop_lag_seconds:
                return IngestOverloaded(
                    "loop_lag",
                    f"the HTTP process is {behind:.2f} s behind reading requests "
                    f"(bound {self.max_loop_lag_seconds:g} s)",
                )
        return None

    def lag_refusal(self, lag: int | None) -> IngestOverloaded | None:
        if self.max_processor_lag and lag is not None and lag > self.max_processor_lag:
            return IngestOverloaded(
                "processor_lag",
                f"the processor is {lag} events behind (bound {self.max_processor_lag})",
            )
        return None

    def check(self, events: int) -> IngestOverloaded | None:
        """Would a request of ``events`` events be shed now? Reads counters only."""
        return (
            self.loop_refusal() or self.lag_refusal(self.lag.value) or self.committer.check(events)
        )

    def shed(self, refusal: IngestOverloaded) -> None:
        """Record that a request was refused (for ``/readyz``)."""
        self._last_shed = (self._monotonic(), refusal)

    def not_ready_reasons(self, lag: int | None) -> list[str]:
        """Why ingest is overloaded now (``lag``: a fresh reading), or shed a moment ago."""
        now = (self.loop_refusal(), self.committer.check(1), self.lag_refusal(lag))
        reasons = [refusal.message for refusal in now if refusal is not None]
        if not reasons and self._last_shed is not None:
            at, refusal = self._last_shed
            ago = self._monotonic() - at
            if ago <= READY_HOLD_SECONDS:
                reasons.append(f"shed a request {ago:.1f} s ago: {refusal.message}")
        return reasons


def event_count(data: Any) -> int:
    """How many events a (not yet validated) body holds: a batch's length, else one."""
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return max(1, len(data["events"]))
    return 1


def shed_response(
    shedder: Shedder, metrics: Metrics, refusal: IngestOverloaded, events: int
) -> Response:
    """Count the shed request and its events; the 503 in the error shape, with Retry-After."""
    shedder.shed(refusal)
    shed_requests, shed_events = metrics.shed_by_reason[refusal.reason]
    shed_requests.inc()
    shed_events.inc(events)
    retry = shedder.retry_after_seconds
    return error_response(
        503,
        f"overloaded: {refusal.message}; nothing was stored; retry after {retry} s",
        code="overloaded",
        headers={"Retry-After": str(retry)},
        reason=refusal.reason,
    )


class SheddingGate:
    """Refuses ``POST /v1/events`` under overload before the application sees it.

    The app (:func:`winback.api.app.create_app`) asks :meth:`refused` first for every request,
    ahead of its middleware and routing. Not overloaded, that is one check of counters. A batch
    that would overfill a nearly full queue passes too, and is refused by the committer as it
    queues.
    """

    def __init__(self, *, shedder: Shedder, metrics: Metrics, max_body_bytes: int) -> None:
        self.shedder = shedder
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer 503 and return True if this request is to be shed; else touch nothing."""
        if scope["type"] != "http" or scope["path"] != "/v1/events" or scope["method"] != "POST":
            return False
        refusal = self.shedder.check(1)
        if refusal is None:
            return False
        events = await self._count(receive)
        await shed_response(self.shedder, self.metrics, refusal, events)(scope, receive, send)
        return True

    async def _count(self, receive: Receive) -> int:
        """Read the body (up to the size limit) and count its events; 1 if it cannot tell."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return 1
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return 1
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            return event_count(orjson.loads(b"".join(chunks)))
        except orjson.JSONDecodeError:
            return 1
