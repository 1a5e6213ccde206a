"""Business calendars: when the SLA clock runs.

A :class:`Calendar` knows a time zone, the business periods of each weekday (several per day,
e.g. a lunch break between two), holidays (a date, or a month/day every year) — or that it runs
24/7. Two operations, both pure and exact to the microsecond:

- :meth:`Calendar.add` — the moment ``duration`` of business time after an aware ``start``;
- :meth:`Calendar.between` — the business time between two moments.

They are inverse: ``between(s, add(s, d)) == d`` for every ``d >= 0``, and ``add`` is monotonic.
Periods are wall-clock times in the calendar's zone, so a 09:00 opening stays 09:00 across a DST
change (that day's business time is then measured in real elapsed time: a period that spans the
change is an hour shorter or longer). A period starting inside a spring-forward gap starts at
the first real instant after it.

:func:`load_calendar` builds one from the mapping under a calendar's name in ``sla.yaml``::

    timezone: Europe/Berlin
    hours:
      mon-fri: ["09:00-12:30", "13:30-18:00"]
      sat: ["10:00-14:00"]
    holidays:
      - 2026-12-25               # one date
      - {month: 1, day: 1}       # every year

or ``hours: 24/7``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# How far add() looks for business time before deciding the calendar has none.
_MAX_SCAN_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar definition that cannot be used; ``path`` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


Period = tuple[int, int]  # minutes after local midnight, [start, end), end may be 1440


@dataclass(frozen=True)
class Calendar:
    """Business hours in one time zone. Build with :func:`load_calendar`."""

    timezone: str = "UTC"
    always: bool = False
    # weekday (0 = Monday) -> sorted, non-overlapping periods
    week: tuple[tuple[Period, ...], ...] = ((),) * 7
    holidays: frozenset[date] = frozenset()
    yearly_holidays: frozenset[tuple[int, int]] = frozenset()
    _cache: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    # in_timezone()'s calendars, kept so that their own interval caches survive between calls
    _zones: dict[str, Calendar] = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_timezone(self, timezone: str) -> Calendar:
        """The same hours and holidays, observed in another zone (e.g. the customer's)."""
        known = self._zones.get(timezone)
        if known is not None:
            return known
        _zone(timezone, "timezone")
        calendar = Calendar(timezone, self.always, self.week, self.holidays, self.yearly_holidays)
        if len(self._zones) > 1024:
            self._zones.clear()
        self._zones[timezone] = calendar
        return calendar

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly_holidays

    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The business intervals of a local ``day``, as aware UTC datetimes, in order."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        result: list[tuple[datetime, datetime]] = []
        if not self.is_holiday(day):
            zone = self.zone
            for start, end in self.week[day.weekday()]:
                a = _local_to_utc(day, start, zone)
                b = _local_to_utc(day, end, zone)
                if b > a:
                    result.append((a, b))
        value = tuple(result)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[day] = value
        return value

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(_MAX_SCAN_DAYS):
            for a, b in self.intervals_on(day):
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of business time after ``start`` (aware)."""
        start = _utc(start)
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        if self.always or duration == timedelta(0):
            return start + duration
        remaining = duration
        for a, b in self._intervals_from(start):
            span = b - a
            if remaining <= span:
                return a + remaining
            remaining -= span
        raise ValueError(f"calendar has no business time within {_MAX_SCAN_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        start, end = _utc(start), _utc(end)
        if end < start:
            return -self.between(end, start)
        if self.always:
            return end - start
        total = timedelta(0)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date() + timedelta(days=1)
        while day <= last:
            for a, b in self.intervals_on(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        if self.always:
            return True
        day = at.astimezone(self.zone).date()
        return any(
            a <= at < b for d in (day - timedelta(days=1), day) for a, b in self.intervals_on(d)
        )


ALWAYS = Calendar("UTC", always=True)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: calendars need aware datetimes")
    return value.astimezone(UTC)


def _local_to_utc(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 1440:
        day, minutes = day + timedelta(days=1), minutes - 1440
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        # A wall time in a spring-forward gap does not exist: the period starts (or ends) at
        # the first real instant after the gap, i.e. the moment of the change.
        probe = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
        while probe.astimezone(zone).replace(tzinfo=None) < local.replace(tzinfo=None):
            probe += timedelta(minutes=15)
        return probe
    return utc


def _zone(name: object, path: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError(path, "must be an IANA time zone name, e.g. Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(path, f"unknown time zone {name!r}") from None


def _days(spec: str, path: str) -> list[int]:
    spec = spec.strip().lower()
    if spec in {"daily", "every day", "mon-sun"}:
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in _DAYS or last not in _DAYS:
                raise CalendarError(path, f"{spec!r} is not a day or range like mon-fri")
            lo, hi = _DAYS.index(first), _DAYS.index(last)
            if hi < lo:
                raise CalendarError(path, f"day range {part!r} runs backwards")
            days.extend(range(lo, hi + 1))
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise CalendarError(path, f"{spec!r} is not a day or range like mon-fri")
    return days


def _period(spec: object, path: str) -> Period:
    match = _PERIOD.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise CalendarError(path, f'{spec!r} is not a period like "09:00-12:30"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise CalendarError(path, f"{spec!r} has an impossible time")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise CalendarError(path, f"{spec!r} ends before it starts (use 00:00-24:00 for all day)")
    return start, end


def _holiday(item: object, path: str) -> date | tuple[int, int]:
    if isinstance(item, datetime):
        raise CalendarError(path, f"{item!r} is a moment, not a date")
    if isinstance(item, date):
        return item
    if isinstance(item, str):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            raise CalendarError(path, f"{item!r} is not a date like 2026-12-25") from None
    if isinstance(item, Mapping):
        if set(item) != {"month", "day"}:
            raise CalendarError(path, "a yearly holiday is {month: M, day: D}")
        month, day = item["month"], item["day"]
        if not isinstance(month, int) or not isinstance(day, int):
            raise CalendarError(path, "month and day must be numbers")
        try:
            date(2024, month, day)  # a leap year, so 29 February is allowed
        except ValueError:
            raise CalendarError(path, f"month {month}, day {day} is not a date") from None
        return month, day
    raise CalendarError(path, "a holiday is a date (2026-12-25) or {month: 1, day: 1}")


def load_calendar(mapping: Mapping[str, Any], path: str = "") -> Calendar:
    """Build a :class:`Calendar` from one calendar's mapping (the value under its name).

    Raises :class:`CalendarError` naming the field (prefixed with ``path``) on bad input.
    """
    prefix = f"{path}." if path else ""
    if not isinstance(mapping, Mapping):
        raise CalendarError(path, "a calendar is a mapping with timezone, hours and holidays")
    unknown = set(mapping) - {"timezone", "hours", "holidays"}
    if unknown:
        raise CalendarError(f"{prefix}{sorted(unknown)[0]}", "unknown field")
    timezone = mapping.get("timezone", "UTC")
    _zone(timezone, f"{prefix}timezone")
    hours = mapping.get("hours")
    holidays: set[date] = set()
    yearly: set[tuple[int, int]] = set()
    for i, item in enumerate(mapping.get("holidays") or []):
        value = _holiday(item, f"{prefix}holidays[{i}]")
        if isinstance(value, tuple):
            yearly.add(value)
        else:
            holidays.add(value)
    if isinstance(hours, str) and hours.replace(" ", "").lower() == "24/7":
        if holidays or yearly:
            # 24/7 with holidays: every day open all day except the holidays.
            all_day = tuple(((0, 1440),) for _ in range(7))
            return Calendar(timezone, False, all_day, frozenset(holidays), frozenset(yearly))
        return Calendar(timezone, always=True)
    if not isinstance(hours, Mapping) or not hours:
        raise CalendarError(
            f"{prefix}hours", 'must be 24/7 or a mapping like {mon-fri: ["09:00-17:00"]}'
        )
    week: list[list[Period]] = [[] for _ in range(7)]
    for spec, periods in hours.items():
        where = f"{prefix}hours.{spec}"
        if not isinstance(spec, str):
            raise CalendarError(where, "a day or range like mon-fri")
        if isinstance(periods, str):
            periods = [periods]
        if not isinstance(periods, list):
            raise CalendarError(where, 'a list of periods like ["09:00-12:30", "13:30-18:00"]')
        for day in _days(spec, where):
            week[day].extend(_period(p, f"{where}[{i}]") for i, p in enumerate(periods))
    for day, periods in enumerate(week):
        periods.sort()
        for earlier, later in itertools.pairwise(periods):
            if later[0] < earlier[1]:
                raise CalendarError(f"{prefix}hours", f"periods on {_DAYS[day]} overlap")
    if not any(week):
        raise CalendarError(f"{prefix}hours", "no business hours on any day")
    return Calendar(
        timezone,
        False,
        tuple(tuple(p) for p in week),
        frozenset(holidays),
        frozenset(yearly),
    )
