"""Time, injected.

Every datetime in Winback is time-zone aware and in UTC. Code never calls ``datetime.now()``
directly: it asks a :class:`Clock`, so tests can freeze or advance time instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (for tests and simulations)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes (they are always a bug here)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every datetime in Winback must carry a time zone")
    return value.astimezone(UTC)
