"""Retries: exponential backoff with jitter, and when to give up.

Attempt ``n`` (1-based) failed: the next try waits ``base * 2**(n-1)`` capped at ``cap``, of
which a random half is jitter (*equal jitter*: between half the delay and all of it), so relays
that failed together do not retry together, and no retry comes sooner than half the schedule.
After ``max_attempts`` tries the delivery is dead (a dead letter, re-driven by hand).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """How long to wait after the ``attempts``-th failed try."""
        exponent = min(max(attempts - 1, 0), 60)
        full = min(self.cap_seconds, self.base_seconds * (2**exponent))
        spread = (rng or random).uniform(0.0, full / 2)
        return timedelta(seconds=full / 2 + spread)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
