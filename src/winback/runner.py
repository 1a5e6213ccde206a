"""Running the processor: alone (``winback worker``), or beside the server (``winback serve``).

Beside the server it runs in a child process by default, so the processor and the HTTP/ingest
process each get a core and neither starves the other of the GIL. The server's committer sets a
shared wake-up flag after each commit, so a new event is picked up at once rather than at the
next poll. The child exits when its parent disappears (even after ``kill -9``).

Wherever the processor runs, the SLA timer worker (:mod:`winback.services.sla_timers`) and the
routing worker run beside it as threads of the same process (``WINBACK_SLA_TIMERS``,
``WINBACK_ROUTING_INTERVAL_SECONDS``), so they never compete with ingest for its process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from winback.config import Settings

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us when the parent dies (best effort elsewhere)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def run_processor(
    settings: Settings,
    stop: threading.Event,
    wake: Callable[[float], object] | None = None,
) -> None:
    """The processing side of Winback: the processor in this thread, the SLA timers and
    routing as worker threads beside it, all from one runtime (one set of configuration
    sources)."""
    from winback.bootstrap import (
        ConfigAudit,
        build_sources,
        build_workers,
        configure_logging,
        make_store_engine,
    )
    from winback.clock import SystemClock

    configure_logging(settings.log_level)
    engine = make_store_engine(settings)
    clock = SystemClock()
    sources = build_sources(settings)
    config_audit = ConfigAudit(engine, clock)
    config_audit.watch(sources)  # this process's reloads, in the audit trail
    workers = build_workers(settings, engine, stop, clock=clock, sources=sources, wake=wake)
    # Everything built so far (models, lexicons, compiled playbooks) lives as long as the
    # process: move it out of the collector's sight, so collections only walk what a batch
    # makes (measured: about half the collector's CPU per event, bench/processor_cost.py --gc).
    gc.collect()
    gc.freeze()
    processor, others = workers[0], workers[1:]
    try:
        for worker in others:
            worker.start()
        processor.run()
    finally:
        stop.set()
        for worker in others:
            worker.stop()
        config_audit.close()
        engine.dispose()


def _child_main(settings_data: dict[str, Any], wake_flag: Any, stop_flag: Any, parent: int) -> None:
    _die_with_parent()
    settings = Settings(**settings_data)
    stop = threading.Event()

    def watch_parent() -> None:
        while not stop.wait(0.5):
            if os.getppid() != parent or stop_flag.is_set():
                stop.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=watch_parent, daemon=True).start()

    def wake(timeout: float) -> None:
        if wake_flag.wait(timeout):
            wake_flag.clear()

    run_processor(settings, stop, wake)


class ProcessorRunner:
    """Starts and stops the processor beside the server, as a child process or a thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._wake: Any = None
        self._stop: Any = None
        self._child: Any = None
        self._thread: threading.Thread | None = None

    def notify(self, _events: int = 0) -> None:
        """Called after each ingest commit: wake the processor."""
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        mode = self._settings.processor
        if mode == "process":
            self._wake, self._stop = self._ctx.Event(), self._ctx.Event()
            self._child = self._ctx.Process(
                target=_child_main,
                args=(self._settings.model_dump(), self._wake, self._stop, os.getpid()),
                name="winback-processor",
                daemon=True,
            )
            self._child.start()
            log.info("processor started in child process %s", self._child.pid)
        elif mode == "thread":
            self._wake, self._stop = threading.Event(), threading.Event()
            wake_flag = self._wake

            def wake(timeout: float) -> None:
                if wake_flag.wait(timeout):
                    wake_flag.clear()

            self._thread = threading.Thread(
                target=run_processor,
                args=(self._settings, self._stop, wake),
                name="winback-processor",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._wake is not None:
            self._wake.set()
        if self._child is not None:
            self._child.join(timeout)
            if self._child.is_alive():
                self._child.terminate()
                self._child.join(timeout)
            self._child = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        # Drop the shared flags so their semaphores are released before the process exits.
        self._wake = self._stop = None
