"""Token buckets per credential: burst, refill, Retry-After, bounded memory, threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.testclient import TestClient

from winback.api import ratelimit
from winback.api.ratelimit import RateLimiter, RateLimits
from winback.clock import FrozenClock
from winback.config import Settings

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def test_a_burst_is_allowed_then_the_next_request_waits_for_a_token(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.check("key:1").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.check("key:1")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)  # one token every half second
    assert refused.retry_after_header == "1"


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.check("a")
    limiter.check("a")
    clock.advance(timedelta(seconds=1))
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    clock.advance(timedelta(hours=1))  # an hour of refill still holds only the burst
    assert [limiter.check("a").allowed for _ in range(3)] == [True, True, False]


def test_the_retry_after_counts_the_partial_token_already_refilled(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=clock)  # one every ten seconds
    limiter.check("login:ana")
    clock.advance(timedelta(seconds=4))
    refused = limiter.check("login:ana")
    assert refused.retry_after == pytest.approx(6.0)
    assert refused.retry_after_header == "6"


def test_each_key_has_its_own_bucket(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.check("key:1").allowed
    assert not limiter.check("key:1").allowed
    assert limiter.check("key:2").allowed


def test_a_clock_that_steps_back_refills_nothing(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.check("a")
    clock.advance(timedelta(seconds=-30))
    assert not limiter.check("a").allowed
    clock.advance(timedelta(seconds=30))  # back where it was: still no time has passed
    assert not limiter.check("a").allowed
    clock.advance(timedelta(seconds=1))
    assert limiter.check("a").allowed


def test_idle_buckets_are_dropped_once_full_again(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=5, clock=clock)
    for i in range(100):
        limiter.check(f"client:{i}")
    assert len(limiter) == 100
    clock.advance(timedelta(seconds=5))  # every bucket has refilled to its burst
    limiter.check("client:new")
    assert len(limiter) == 1


def test_memory_is_bounded_by_max_keys_forgetting_the_least_recently_seen(
    clock: FrozenClock,
) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.check(key)
    limiter.check("a")  # refused, but seen: "b" is now the least recently seen
    limiter.check("d")
    assert len(limiter) == 3
    assert not limiter.check("a").allowed  # remembered
    assert not limiter.check("c").allowed  # remembered
    assert limiter.check("b").allowed  # forgotten: starts afresh


def test_rate_zero_turns_the_limiter_off(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=clock)
    assert all(limiter.check("k").allowed for _ in range(1000))
    assert len(limiter) == 0


def test_reset_forgets_a_key(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.check("login:ana")
    limiter.reset("login:ana")
    assert limiter.check("login:ana").allowed


def test_concurrent_checks_never_hand_out_more_than_the_burst(clock: FrozenClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=500, clock=clock)  # frozen time: no refill
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [limiter.check("shared").allowed for _ in range(200)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 500
    assert len(allowed) == 1600


def test_the_limits_come_from_settings(clock: FrozenClock) -> None:
    settings = Settings(
        rate_limit_key_per_second=5,
        rate_limit_key_burst=7,
        rate_limit_login_per_second=0.5,
        rate_limit_login_burst=2,
        rate_limit_max_keys=100,
    )
    limits = RateLimits.from_settings(settings, clock)
    assert (limits.keys.rate, limits.keys.burst, limits.keys.max_keys) == (5, 7, 100)
    assert (limits.logins.rate, limits.logins.burst) == (0.5, 2)
    assert (limits.addresses.rate, limits.addresses.burst) == (0.5, 2)
    assert limits.logins is not limits.addresses


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(rate=1.0, burst=0)


def test_a_refused_request_is_answered_429_with_retry_after(clock: FrozenClock) -> None:
    app = FastAPI()
    limits = ratelimit.install(
        app, Settings(rate_limit_key_per_second=0.5, rate_limit_key_burst=2), clock
    )

    async def by_key(x_key: Annotated[str, Header()]) -> None:
        ratelimit.enforce(limits.keys, f"key:{x_key}")

    @app.get("/r", dependencies=[Depends(by_key)])
    async def route() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as client:
        assert [client.get("/r", headers={"x-key": "1"}).status_code for _ in range(2)] == [
            200,
            200,
        ]
        refused = client.get("/r", headers={"x-key": "1"})
        other = client.get("/r", headers={"x-key": "2"})
        clock.advance(timedelta(seconds=2))
        again = client.get("/r", headers={"x-key": "1"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    assert refused.json() == {
        "error": "too_many_requests",
        "message": "too many requests; retry in 2 s",
    }
    assert other.status_code == 200
    assert again.status_code == 200
    assert app.state.rate_limits is limits
