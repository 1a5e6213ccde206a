"""How the console words and formats things: durations, money, risk, and a case's story."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

RISK_WORDS = ((0.7, "high"), (0.4, "elevated"), (0.0, "low"))


def duration(seconds: float) -> str:
    """``2 h 05 min``, ``4 min``, ``35 s`` (the sign is the caller's business)."""
    seconds = abs(int(seconds))
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def until(at: datetime | None, now: datetime) -> str:
    """``in 4 min`` or ``12 min late`` (``—`` when there is no deadline)."""
    if at is None:
        return "—"
    left = (at - now).total_seconds()
    return f"in {duration(left)}" if left >= 0 else f"{duration(left)} late"


def ago(at: datetime | None, now: datetime | None = None) -> str:
    if at is None:
        return "—"
    now = now or datetime.now(UTC)
    return f"{duration((now - at).total_seconds())} ago"


def money(amount: float | None, currency: str = "") -> str:
    if amount is None:
        return "—"
    text = f"{amount:,.2f}".rstrip("0").rstrip(".") if amount % 1 else f"{amount:,.0f}"
    return f"{text} {currency}".strip()


def risk_word(probability: float | None) -> str:
    if probability is None:
        return "not scored"
    return next(word for bound, word in RISK_WORDS if probability >= bound)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def iso(at: datetime | None) -> str:
    return "" if at is None else at.isoformat()


def words(name: str | None) -> str:
    """``wait_on_customer`` -> ``wait on customer``."""
    return "" if not name else name.replace("_", " ").replace(".", " ")


FILTERS: dict[str, Callable[..., Any]] = {
    "until": until,
    "ago": ago,
    "money": money,
    "risk_word": risk_word,
    "percent": percent,
    "iso": iso,
    "words": words,
    "duration": duration,
}


def story(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's timeline and the customer's signals on one line of time, oldest first.

    A timeline entry that an event caused sits with that event's text and what the text stage
    read in it (sentiment, category, urgency cues)."""
    by_seq = {e["seq"]: e for e in case.get("events", [])}
    items: list[dict[str, Any]] = []
    shown: set[int] = set()
    for entry in case.get("timeline", []):
        event = by_seq.get(entry.get("event_seq") or -1)
        if event is not None:
            shown.add(event["seq"])
        items.append({"at": entry["at"], "entry": entry, "event": event})
    for seq, event in by_seq.items():
        if seq not in shown:
            items.append({"at": event["occurred_at"], "entry": None, "event": event})
    items.sort(key=lambda item: item["at"])
    return items
