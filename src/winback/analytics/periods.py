"""Periods: a day folded into the day, the ISO week (its Monday) or the month it falls in."""

from __future__ import annotations

from datetime import date, timedelta

PERIODS = ("day", "week", "month", "all")


def period_of(day: date, period: str) -> str:
    """The label of the period ``day`` falls in: ``2026-11-24``, ``2026-11-23`` (the week's
    Monday), ``2026-11`` or ``all``."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "all":
        return "all"
    raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
