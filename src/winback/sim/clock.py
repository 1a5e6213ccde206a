"""Simulated time as the world sees it: hours since the start, and RFC 3339 stamps.

The engine counts time in hours (a float) since the run's start. :class:`SimClock` turns those
hours into the ``occurred_at`` strings a company would send, in the customer's own UTC offset
(``2026-01-05T10:15:00+01:00``, or ``...Z`` at offset zero), and back into datetimes.

Invariants:

- A stamp is a pure function of the start, the hours and the time zone: the caches (one
  offset list per zone and day, one ISO date per day, one ``ZoneInfo`` per zone) only save
  work, so stamps are the same whatever was stamped before.
- A stamp names the instant ``start + t`` hours, truncated to the whole second, written in
  the zone's offset at the beginning of that simulated hour.
- On a day where a zone's offset changes (daylight saving), the offset is looked up per hour;
  on every other day, once for the whole day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def _hours(offset: timedelta | None) -> float:
    return 0.0 if offset is None else offset.total_seconds() / 3600.0


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._start_naive = midnight.replace(tzinfo=None)
        self._start_second = int((self.start - midnight).total_seconds())
        self._offsets: dict[tuple[str, int], list[tuple[int, str]]] = {}
        self._dates: dict[int, str] = {}
        self._zones: dict[str, ZoneInfo] = {}

    def zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = ZoneInfo(name)
        return zone

    def offset_hours(self, tz: str) -> float:
        """The zone's UTC offset at the start, in hours."""
        return _hours(self.start.astimezone(self.zone(tz)).utcoffset())

    def stamp(self, t: float, tz: str) -> str:
        """RFC 3339 in the customer's own offset, e.g. ``2026-01-05T10:15:00+01:00``."""
        day = int(t // 24.0)
        cached = self._offsets.get((tz, day))
        if cached is None:
            cached = self._offsets[(tz, day)] = self._day_offsets(tz, day)
        offset, suffix = cached[0] if len(cached) == 1 else cached[int(t) - 24 * day]
        d, r = divmod(self._start_second + int(t * 3600.0) + offset, 86400)
        date = self._dates.get(d)
        if date is None:
            date = self._dates[d] = (self._start_naive + timedelta(days=d)).date().isoformat()
        return f"{date}T{r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}{suffix}"

    def _day_offsets(self, tz: str, day: int) -> list[tuple[int, str]]:
        """A time zone's offset through one day: one entry, or one per hour on a DST day."""
        zone = self.zone(tz)

        def at(hour: int) -> tuple[int, str]:
            when = self.start + timedelta(hours=hour)
            offset = when.astimezone(zone).utcoffset() or timedelta(0)
            minutes = int(offset.total_seconds() // 60)
            if minutes == 0:
                return 0, "Z"
            sign = "+" if minutes >= 0 else "-"
            return minutes * 60, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

        first, last = at(24 * day), at(24 * day + 24)
        if first == last:
            return [first]
        return [at(24 * day + h) for h in range(24)]

    def time_of(self, t: float) -> datetime:
        return self.start + timedelta(hours=t)

    def hours_at(self, at: datetime) -> float:
        return (at - self.start).total_seconds() / 3600.0
