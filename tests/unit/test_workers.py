"""The one worker shape: rounds until stopped, errors counted and survived."""

from __future__ import annotations

import threading

from winback.workers import LoopWorker


def test_a_worker_runs_rounds_until_stopped_and_survives_a_failing_round() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def round_() -> float:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("database hiccup")
        if len(calls) == 4:
            stop.set()
        return 0.0

    worker = LoopWorker("test", round_, stop=stop, error_backoff=0.0)
    worker.run()  # in this thread; returns when stopped
    health = worker.health()
    assert calls == [0, 1, 2, 3]
    assert (health["rounds"], health["errors"]) == (3, 1)
    assert "database hiccup" in (health["last_error"] or "")
    assert worker.metrics() == {"rounds": 3.0, "errors": 1.0}


def test_a_worker_waits_with_the_wait_it_is_given() -> None:
    stop = threading.Event()
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        stop.set()

    LoopWorker("test", lambda: 0.25, stop=stop, wait=wait).run()
    assert waits == [0.25]
