"""Builders for risk tests: events and the text stage's analyses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from winback.events.model import Event
from winback.text.analyzer import TextAnalysis

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(
    event_id: str,
    type_: str,
    day: float,
    customer: str = "c1",
    seq: int = 1,
    **data: Any,
) -> Event:
    at = T0 + timedelta(days=day)
    payload: dict[str, Any] = {"customer": {"id": customer}, **data}
    return Event(seq, event_id, type_, customer, at, at, payload)


def Text(  # noqa: N802 - reads like the analysis it builds
    sentiment: str = "negative",
    sentiment_score: float = -0.8,
    category: str = "billing",
    urgency: tuple[str, ...] = (),
) -> TextAnalysis:
    """What the text stage leaves for an event (the fields the risk stage reads matter)."""
    return TextAnalysis(sentiment, sentiment_score, category, urgency, "en", "…", "test@1")
