"""Business calendars: the cases helpdesks get wrong, as a table, plus properties.

Every expectation is worked out by hand from the calendar's wall-clock hours; times are
frozen values, nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winback.sla import CalendarError, load_calendar
from winback.sla.calendar import Calendar

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {"mon-fri": ["09:00-12:30", "13:30-18:00"], "sat": ["10:00-14:00"]},
    "holidays": ["2026-12-25", {"month": 1, "day": 1}],
}
WEEKDAYS_9_17 = {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]}}


def b(*args: int) -> datetime:
    """A Berlin wall-clock moment."""
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


H = timedelta(hours=1)
M = timedelta(minutes=1)

# (name, calendar, start, business duration, expected deadline)
ADD_CASES = [
    (
        "created on Friday after hours: the clock starts Monday 09:00",
        WEEKDAYS_9_17,
        b(2026, 11, 27, 19, 0),  # Friday 19:00
        2 * H,
        b(2026, 11, 30, 11, 0),  # Monday 11:00
    ),
    (
        "created Saturday: Saturday hours count in the office calendar",
        OFFICE,
        b(2026, 11, 28, 13, 0),  # Saturday 13:00, open until 14:00
        2 * H,
        b(2026, 11, 30, 10, 0),  # 1 h Saturday + 1 h Monday from 09:00
    ),
    (
        "a lunch break inside the window is skipped",
        OFFICE,
        b(2026, 11, 24, 11, 0),  # Tuesday 11:00
        3 * H,
        b(2026, 11, 24, 15, 0),  # 11:00-12:30 (1.5 h) + 13:30-15:00 (1.5 h)
    ),
    (
        "starting during lunch waits for the afternoon",
        OFFICE,
        b(2026, 11, 24, 12, 45),
        30 * M,
        b(2026, 11, 24, 14, 0),
    ),
    (
        "a holiday on Monday (yearly New Year) moves the deadline to Tuesday",
        WEEKDAYS_9_17 | {"holidays": [{"month": 1, "day": 1}]},
        b(2026, 12, 31, 16, 0),  # Thursday 16:00; 1 Jan 2027 is a Friday
        2 * H,
        b(2027, 1, 4, 10, 0),  # 1 h Thursday, Friday holiday, weekend, Monday 09:00 + 1 h
    ),
    (
        "a holiday on a Monday by date",
        WEEKDAYS_9_17 | {"holidays": ["2026-11-30"]},
        b(2026, 11, 27, 16, 0),  # Friday 16:00
        2 * H,
        b(2026, 12, 1, 10, 0),  # Friday 1 h, Monday holiday, Tuesday 09:00 + 1 h
    ),
    (
        "Christmas by date in the office calendar",
        OFFICE,
        b(2026, 12, 24, 17, 0),  # Thursday 17:00, one hour left that day
        2 * H,
        b(2026, 12, 26, 11, 0),  # Friday 25th closed, Saturday from 10:00
    ),
    (
        "spring forward in Berlin: the day has 23 real hours",
        {"timezone": "Europe/Berlin", "hours": {"sun": ["00:00-24:00"]}},
        b(2026, 3, 29, 0, 0),  # Sunday of the change: 02:00 → 03:00
        23 * H,  # that day has only 23 real hours
        b(2026, 3, 30, 0, 0),
    ),
    (
        "fall back in Berlin: the day has 25 real hours",
        {"timezone": "Europe/Berlin", "hours": {"sun": ["00:00-24:00"]}},
        b(2026, 10, 25, 0, 0),
        25 * H,
        b(2026, 10, 26, 0, 0),
    ),
    (
        "a DST change in the customer's zone (New York) keeps 09:00 local",
        {"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-17:00"]}},
        datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK),  # Friday before the US change
        2 * H,
        datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK),  # Monday after: 14:00 UTC, not 15:00
    ),
    (
        "24/7 is plain arithmetic",
        {"timezone": "UTC", "hours": "24/7"},
        datetime(2026, 11, 27, 23, 0, tzinfo=UTC),
        5 * H,
        datetime(2026, 11, 28, 4, 0, tzinfo=UTC),
    ),
    (
        "24/7 with a holiday skips that day",
        {"timezone": "UTC", "hours": "24/7", "holidays": ["2026-11-28"]},
        datetime(2026, 11, 27, 23, 0, tzinfo=UTC),
        5 * H,
        datetime(2026, 11, 29, 4, 0, tzinfo=UTC),
    ),
    (
        "ending exactly at closing time stays on that day",
        WEEKDAYS_9_17,
        b(2026, 11, 24, 9, 0),
        8 * H,
        b(2026, 11, 24, 17, 0),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ADD_CASES],
)
def test_add_lands_on_the_hand_computed_deadline(
    calendar: dict[str, object], start: datetime, duration: timedelta, expected: datetime
) -> None:
    cal = load_calendar(calendar)
    deadline = cal.add(start, duration)
    assert deadline == expected
    assert deadline.tzinfo is not None
    assert cal.between(start, deadline) == duration


def test_us_dst_change_shifts_the_utc_opening_hour() -> None:
    cal = load_calendar({"timezone": "America/New_York", "hours": {"mon-fri": ["09:00-17:00"]}})
    friday = cal.intervals_on(date(2026, 3, 6))
    monday = cal.intervals_on(date(2026, 3, 9))
    assert friday[0][0] == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # EST, UTC-5
    assert monday[0][0] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # EDT, UTC-4


def test_a_period_in_the_spring_forward_gap_starts_when_the_clock_jumps() -> None:
    cal = load_calendar({"timezone": "Europe/Berlin", "hours": {"sun": ["02:30-04:00"]}})
    [(start, end)] = cal.intervals_on(date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the first real instant
    assert end == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST


def test_between_counts_only_business_time_across_a_weekend() -> None:
    cal = load_calendar(WEEKDAYS_9_17)
    assert cal.between(b(2026, 11, 27, 16, 0), b(2026, 11, 30, 10, 0)) == 2 * H
    assert cal.between(b(2026, 11, 30, 10, 0), b(2026, 11, 27, 16, 0)) == -2 * H


def test_a_team_calendar_can_be_observed_in_the_customers_zone() -> None:
    team = load_calendar(WEEKDAYS_9_17)
    customer = team.in_timezone("America/New_York")
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 13:00 Berlin, 07:00 New York
    assert team.add(start, H) == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert customer.add(start, H) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 09:00+1 NY


def test_naive_datetimes_are_refused() -> None:
    cal = load_calendar(WEEKDAYS_9_17)
    with pytest.raises(ValueError, match="naive"):
        cal.add(datetime(2026, 11, 24, 9, 0), H)


@pytest.mark.parametrize(
    ("mapping", "field", "message"),
    [
        ({"timezone": "Mars/Olympus", "hours": "24/7"}, "timezone", "unknown time zone"),
        ({"hours": {"mon-fri": ["9-17"]}}, "hours.mon-fri[0]", "not a period"),
        ({"hours": {"mon-fri": ["17:00-09:00"]}}, "hours.mon-fri[0]", "ends before it starts"),
        ({"hours": {"mon-fry": ["09:00-17:00"]}}, "hours.mon-fry", "not a day"),
        ({"hours": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "hours", "overlap"),
        ({"hours": {"mon": ["09:00-17:00"]}, "holidays": ["25.12."]}, "holidays[0]", "not a date"),
        (
            {"hours": {"mon": ["09:00-17:00"]}, "holidays": [{"month": 2, "day": 30}]},
            "holidays[0]",
            "not a date",
        ),
        ({"hours": {}}, "hours", "24/7 or a mapping"),
        ({"hours": "24/7", "open": True}, "open", "unknown field"),
    ],
)
def test_bad_calendars_name_the_field(mapping: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message) as info:
        load_calendar(mapping, "calendars.office")
    assert info.value.path == f"calendars.office.{field}"


# -- properties ---------------------------------------------------------------------------
CALENDARS = [
    load_calendar(OFFICE),
    load_calendar(WEEKDAYS_9_17 | {"holidays": ["2026-03-30", {"month": 11, "day": 1}]}),
    load_calendar({"timezone": "America/New_York", "hours": {"mon-fri": ["08:00-20:00"]}}),
    load_calendar({"timezone": "Australia/Lord_Howe", "hours": {"daily": ["01:30-02:45"]}}),
    load_calendar({"timezone": "Europe/Berlin", "hours": {"sun": ["00:00-24:00"]}}),
    load_calendar({"timezone": "UTC", "hours": "24/7"}),
]

moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=300, deadline=None)
@given(calendars, moments, durations)
def test_between_inverts_add(cal: object, start: datetime, duration: timedelta) -> None:
    assert cal.between(start, cal.add(start, duration)) == duration  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(calendars, moments, durations, durations)
def test_add_is_monotonic(cal: object, start: datetime, d1: timedelta, d2: timedelta) -> None:
    lo, hi = sorted((d1, d2))
    assert cal.add(start, lo) <= cal.add(start, hi)  # type: ignore[attr-defined]
    assert cal.add(start, lo) >= start  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(calendars, moments, moments)
def test_add_of_between_lands_at_or_before_the_end(
    cal: object, start: datetime, end: datetime
) -> None:
    start, end = min(start, end), max(start, end)
    spent = cal.between(start, end)  # type: ignore[attr-defined]
    assert timedelta(0) <= spent <= end - start
    reached = cal.add(start, spent)  # type: ignore[attr-defined]
    assert reached <= end
    # Only closed time lies between where the business time ran out and the end.
    assert cal.between(reached, end) == timedelta(0)  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(calendars, moments, moments, moments)
def test_between_is_additive(cal: object, a: datetime, b_: datetime, c: datetime) -> None:
    a, b_, c = sorted((a, b_, c))
    between = cal.between  # type: ignore[attr-defined]
    assert between(a, c) == between(a, b_) + between(b_, c)


@settings(max_examples=200, deadline=None)
@given(calendars, moments, durations, durations)
def test_add_composes(cal: object, start: datetime, d1: timedelta, d2: timedelta) -> None:
    add = cal.add  # type: ignore[attr-defined]
    if d1 > timedelta(0):
        assert add(add(start, d1), d2) == add(start, d1 + d2)


# Moments within two days of a DST change (Berlin, New York, Lord Howe's half hour), so the
# properties are exercised on the days calendars usually get wrong.
DST_CHANGES = [
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin spring forward
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin fall back
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York spring forward
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York fall back
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe: back half an hour
]
near_dst = st.builds(
    lambda change, offset: change + offset,
    st.sampled_from(DST_CHANGES),
    st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2)),
)
short = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30))


@settings(max_examples=400, deadline=None)
@given(calendars, near_dst, short)
def test_add_and_between_stay_inverse_around_dst_changes(
    cal: object, start: datetime, duration: timedelta
) -> None:
    end = cal.add(start, duration)  # type: ignore[attr-defined]
    assert end >= start
    assert cal.between(start, end) == duration  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(calendars, near_dst, near_dst)
def test_business_time_never_exceeds_wall_time_around_dst_changes(
    cal: object, a: datetime, b_: datetime
) -> None:
    a, b_ = min(a, b_), max(a, b_)
    assert timedelta(0) <= cal.between(a, b_) <= b_ - a  # type: ignore[attr-defined]


def test_a_calendar_observed_in_another_zone_is_built_once_per_zone() -> None:
    office = load_calendar({"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]}})
    tokyo = office.in_timezone("Asia/Tokyo")
    assert tokyo == Calendar("Asia/Tokyo", False, office.week)
    assert office.in_timezone("Asia/Tokyo") is tokyo  # its cached intervals are kept
    assert office.in_timezone("America/New_York").timezone == "America/New_York"
    with pytest.raises(CalendarError):
        office.in_timezone("Mars/Olympus_Mons")
    with pytest.raises(CalendarError):
        office.in_timezone("Mars/Olympus_Mons")  # an unknown zone is refused every time
