"""Builders for risk tests: events and a fake unit that implements the risk part of Unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from winback.events.model import Event

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


@dataclass(frozen=True)
class Text:
    """Stands in for winback.text.TextAnalysis (the fields the risk stage reads)."""

    sentiment: str = "negative"
    sentiment_score: float = -0.8
    category: str = "billing"
    urgency: tuple[str, ...] = ()
