"""Background workers, one shape: start, stop, health, metrics.

A :class:`LoopWorker` runs one function — a *round* — in a thread until stopped. The round
returns how long to wait before the next one (0: go again at once); the worker owns the loop,
the waiting (interruptible by :meth:`LoopWorker.wake` or an external wake-up), the error
handling (a failed round is logged and the next one tries again after ``error_backoff``) and the
counters that ``/readyz`` and ``/metrics`` read. The processor, the SLA timers and routing each
provide only their round (see :func:`winback.bootstrap.build_workers`); the outbox relay and the
stream consumers will be more of the same.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Worker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def health(self) -> dict[str, Any]: ...

    def metrics(self) -> dict[str, float]: ...


class LoopWorker:
    """Run ``round_`` until stopped; see the module docstring."""

    def __init__(
        self,
        name: str,
        round_: Callable[[], float],
        *,
        stop: threading.Event | None = None,
        wait: Callable[[float], object] | None = None,
        error_backoff: float = 1.0,
        on_start: Callable[[], object] | None = None,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self._round = round_
        self._stop = stop or threading.Event()
        self._wake = threading.Event()
        self._wait = wait
        self._backoff = error_backoff
        self._on_start = on_start
        self._on_stop = on_stop
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_round_at: float | None = None

    def wake(self) -> None:
        """End the current wait now (new work was just written in this process)."""
        self._wake.set()

    def run(self) -> None:
        """The loop, in the calling thread (``winback worker`` runs the processor this way)."""
        log.info("%s started", self.name)
        if self._on_start is not None:
            self._guarded(self._on_start)
        while not self._stop.is_set():
            delay = self._guarded(self._round)
            if delay is None:
                self._stop.wait(self._backoff)
                continue
            if delay > 0:
                self._pause(delay)
        if self._on_stop is not None:
            self._guarded(self._on_stop)
        log.info("%s stopped", self.name)

    def _guarded(self, step: Callable[[], Any]) -> Any:
        try:
            result = step()
        except Exception:
            self.errors += 1
            self.last_error = traceback.format_exc(limit=3)
            log.error("%s round failed:\n%s", self.name, traceback.format_exc())
            return None
        self.rounds += 1
        self.last_round_at = time.time()
        return 0.0 if result is None else result

    def _pause(self, delay: float) -> None:
        if self._wait is not None:
            self._wait(delay)
        elif self._wake.wait(delay):
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def health(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self._thread is not None and self._thread.is_alive(),
            "rounds": self.rounds,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_round_at": self.last_round_at,
        }

    def metrics(self) -> dict[str, float]:
        return {"rounds": float(self.rounds), "errors": float(self.errors)}
