"""Per-credential rate limits: one token bucket per key, in process, bounded in memory.

A :class:`RateLimiter` keeps a bucket per string key (an API key's id, a login name, a client
address). A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; each
request takes one, and a request that finds the bucket empty is refused with the seconds until
the next token (the ``Retry-After`` to send).

Invariants:

- **O(1) per check.** Buckets live in an ordered dict, least recently used first; a check moves
  its key to the end. Eviction pops from the front only, so each bucket is evicted at most once
  per insertion (amortised constant time).
- **Bounded memory.** A bucket untouched for ``burst / rate`` seconds has refilled completely,
  so it is indistinguishable from a new one and is dropped when seen at the front. Past
  ``max_keys`` live buckets the least recently used one goes even if not full: under a flood of
  distinct keys the limiter forgets the oldest rather than grow (that key starts afresh, with a
  full burst).
- **Thread-safe.** One lock around the bucket arithmetic; no I/O under it.
- **Time from the injected clock** (:mod:`winback.clock`), so tests advance time instead of
  sleeping; a clock that steps back refills nothing and takes nothing extra.

Routes and dependencies call :func:`enforce`; a refusal is :class:`RateLimited`, answered by
the handler :func:`install` registers: ``429 too_many_requests`` in the error shape, with
``Retry-After``. The process's limiters are ``app.state.rate_limits`` (:class:`RateLimits`).
Each API process counts on its own; behind a proxy, per-address limits need uvicorn to trust
the proxy's forwarded address, or every client is the proxy.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response

from winback.api.errors import error_response
from winback.clock import Clock, SystemClock
from winback.config import Settings


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request: allowed or not, and when to come back."""

    allowed: bool
    retry_after: float  # seconds until a token is available (0.0 when allowed)
    remaining: int  # whole tokens left after this request

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, never 0 for a refusal."""
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter:
    """Token buckets keyed by string. ``rate`` tokens per second, up to ``burst`` at once.

    ``rate == 0`` turns the limiter off: every check is allowed and nothing is stored.
    """

    __slots__ = ("_buckets", "_clock", "_idle", "_lock", "burst", "max_keys", "rate")

    def __init__(
        self, rate: float, burst: int, *, clock: Clock | None = None, max_keys: int = 100_000
    ) -> None:
        if rate < 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be >= 0, burst and max_keys >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock or SystemClock()
        self._idle = burst / rate if rate else math.inf  # time to refill from empty to full
        self._lock = threading.Lock()
        # key -> [tokens, time of the last update (POSIX seconds)]
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def check(self, key: str, cost: float = 1.0) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket if it has them."""
        if not self.rate:
            return Decision(True, 0.0, self.burst)
        now = self._clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._evict(now)
                bucket = self._buckets[key] = [float(self.burst), now]
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket[1])
                bucket[0] = min(float(self.burst), bucket[0] + elapsed * self.rate)
                bucket[1] = max(bucket[1], now)
            if bucket[0] >= cost:
                bucket[0] -= cost
                return Decision(True, 0.0, int(bucket[0]))
            return Decision(False, (cost - bucket[0]) / self.rate, int(bucket[0]))

    def _evict(self, now: float) -> None:
        """Drop full (idle) buckets from the front, and the oldest past ``max_keys``."""
        buckets = self._buckets
        while buckets:
            key, (_, updated) = next(iter(buckets.items()))
            if now - updated >= self._idle or len(buckets) >= self.max_keys:
                del buckets[key]
            else:
                break

    def reset(self, key: str) -> None:
        """Forget ``key`` (e.g. after a successful login, its failures no longer count)."""
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The process's limiters: per API key, and per login name and client address."""

    keys: RateLimiter
    logins: RateLimiter
    addresses: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> RateLimits:
        def make(rate: float, burst: int) -> RateLimiter:
            return RateLimiter(rate, burst, clock=clock, max_keys=settings.rate_limit_max_keys)

        login = (settings.rate_limit_login_per_second, settings.rate_limit_login_burst)
        return cls(
            keys=make(settings.rate_limit_key_per_second, settings.rate_limit_key_burst),
            logins=make(*login),
            addresses=make(*login),
        )


class RateLimited(Exception):
    """A request over its credential's rate; answered 429 with ``Retry-After``."""

    def __init__(self, decision: Decision, what: str) -> None:
        super().__init__(f"too many {what}; retry in {decision.retry_after_header} s")
        self.decision, self.what = decision, what


def enforce(limiter: RateLimiter, key: str, what: str = "requests") -> Decision:
    """Take a token for ``key`` or raise :class:`RateLimited` (``what`` names them in the
    message: "requests", "login attempts")."""
    decision = limiter.check(key)
    if not decision.allowed:
        raise RateLimited(decision, what)
    return decision


def install(app: FastAPI, settings: Settings, clock: Clock) -> RateLimits:
    """Put the process's limiters on ``app.state.rate_limits`` and answer refusals."""
    limits = app.state.rate_limits = RateLimits.from_settings(settings, clock)

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> Response:
        return error_response(
            429,
            str(exc),
            code="too_many_requests",
            headers={"Retry-After": exc.decision.retry_after_header},
        )

    return limits
