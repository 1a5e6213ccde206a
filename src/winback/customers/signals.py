"""What one event contributes to a customer's feature state: a compact :class:`Signal`.

A signal is the event's time (seconds since the epoch, UTC), its signal codes (the small
vocabulary below: complaint, negative text, low score, contact, payment failure, score…), a
category (the contact's; for a usage report, its measure: ``data_gb``, ``sessions``…) and a value
(a usage report's amount; a score's index on one -1..1 scale, :func:`score_index`).
:func:`event_signal` also returns the event's ``last`` entries (the latest NPS, CSAT, CES; a
positive word; a contact; a cancellation or renewal).

A pure function of the event and the text stage's analysis: the same event always gives the
same signal, which is what makes the state built from signals order-free
(:mod:`winback.customers.feature_state`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from winback.events.model import Event

DAY = 86_400
CONTACT_TYPES = frozenset({"complaint", "message", "ticket.opened"})
SERVICE_FAILURE_TYPES = frozenset({"outage", "delivery.delayed", "booking.error"})
ACTIVITY_TYPES = frozenset({"usage", "login", "purchase"})
USAGE_KEYS = (
    "sessions",
    "quantity",
    "units",
    "active_users",
    "data_gb",
    "call_minutes",
    "minutes",
)

# Signal codes (the compact vocabulary of the state).
COMPLAINT = "complaint"
NEGATIVE = "negative"
CONTACT = "contact"
LOW_SCORE = "low_score"
PAYMENT_FAILED = "payment_failed"
REFUND = "refund"
SERVICE_FAILURE = "service_failure"
TICKET_OPENED = "ticket_opened"
CANCEL_INTENT = "cancel_intent"
USAGE = "usage"
ACTIVE = "active"
SLA_BREACH = "sla_breach"
SCORE = "score"  # a survey score or review stars; the signal's value is its score index


@dataclass(frozen=True)
class Signal:
    ts: int  # seconds since the epoch (UTC)
    codes: tuple[str, ...]
    category: str | None = None
    value: float = 0.0


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def event_time(event: Event) -> int:
    """The time an event counts at: its ``occurred_at``, but never after Winback received it.

    Windows are measured back from the latest event time, and retention prunes from it, so
    one event stamped ahead of its receipt (a sender's clock running fast, or a far-future
    date stored before ingest refused them) would otherwise push every other signal out of
    the windows or the state. Receipt time is part of the logged event, so the state stays a
    function of the events alone, whatever the order or the time of processing.
    """
    return epoch(min(event.occurred_at, event.received_at))


def as_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _low_score(kind: str, value: int) -> bool:
    return (
        (kind == "nps" and value <= 6)
        or (kind == "csat" and value <= 2)
        or (kind == "ces" and value >= 5)
    )


def _high_score(kind: str, value: int) -> bool:
    return (
        (kind == "nps" and value >= 9)
        or (kind == "csat" and value >= 4)
        or (kind == "ces" and value <= 2)
    )


def _usage_value(data: Mapping[str, Any]) -> tuple[str, float]:
    """A usage report's measure (which attribute it reads) and its value."""
    attributes = data.get("attributes") or {}
    for key in USAGE_KEYS:
        value = attributes.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return key, float(value)
    amount = data.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        return "amount", float(amount)
    return "count", 1.0


def usage_reading(event: Event) -> tuple[str, float] | None:
    """A ``usage`` event's measure and value (what its cohort counts), else None."""
    return _usage_value(event.data) if event.type == "usage" else None


def score_index(kind: str, value: float) -> float | None:
    """A score on one scale, -1 (worst) to 1 (best), 0 at the scale's midpoint, so NPS, CSAT,
    CES and review stars can be averaged together: NPS 0-10 around 5, CSAT and stars 1-5
    around 3, CES 1-7 around 4 (high effort is bad)."""
    if kind == "nps":
        index = (value - 5.0) / 5.0
    elif kind in ("csat", "stars"):
        index = (value - 3.0) / 2.0
    elif kind == "ces":
        index = (4.0 - value) / 3.0
    else:
        return None
    return max(-1.0, min(1.0, index))


def _stars(data: Mapping[str, Any]) -> float | None:
    stars = (data.get("attributes") or {}).get("stars")
    return float(stars) if isinstance(stars, int | float) else None


def event_signal(event: Event, text: Any = None) -> tuple[Signal | None, dict[str, float]]:
    """What one event contributes: its signal (or None) and its ``last`` entries.

    ``text`` is the text stage's analysis when present (``.sentiment``, ``.category``,
    ``.urgency``); without it, negative texts are inferred from complaints and low scores.
    """
    data, type_ = event.data, event.type
    codes: list[str] = []
    lasts: dict[str, float] = {}
    score = event.score
    low = score is not None and _low_score(*score)
    stars = _stars(data) if type_ == "review" else None
    if stars is not None and stars <= 2:
        low = True
    positive = (score is not None and _high_score(*score)) or (stars is not None and stars >= 4)
    index: float | None = None
    if score is not None:
        lasts[score[0]] = float(score[1])
        index = score_index(score[0], float(score[1]))
    elif stars is not None:
        index = score_index("stars", stars)
    if index is not None:
        codes.append(SCORE)
    if low:
        codes.append(LOW_SCORE)
    if type_ == "complaint":
        codes.append(COMPLAINT)
    is_contact = type_ in CONTACT_TYPES or (type_ == "ticket.updated" and event.text is not None)
    if is_contact:
        codes.append(CONTACT)
        lasts["contact"] = 1.0
    if type_ == "ticket.opened":
        codes.append(TICKET_OPENED)
    if event.text is not None:
        if text is not None:
            sentiment = getattr(text, "sentiment", None)
            if sentiment == "negative":
                codes.append(NEGATIVE)
            elif sentiment == "positive" and not low and type_ not in CONTACT_TYPES:
                positive = True
            if "cancel_intent" in tuple(getattr(text, "urgency", ()) or ()):
                codes.append(CANCEL_INTENT)
        elif (
            type_ in ("complaint", "refund.requested")
            or low
            or (is_contact and (data.get("attributes") or {}).get("follow_up"))
        ):
            codes.append(NEGATIVE)
    if type_ == "payment.failed":
        codes.append(PAYMENT_FAILED)
    elif type_ == "refund.requested":
        codes.append(REFUND)
    elif type_ in SERVICE_FAILURE_TYPES:
        codes.append(SERVICE_FAILURE)
    elif type_ == "subscription.renewed":
        positive = True
        lasts["renewed"] = 1.0
    elif type_ == "subscription.cancelled":
        lasts["cancelled"] = 1.0
    value = index if index is not None else 0.0
    category: str | None = None
    if type_ in ACTIVITY_TYPES:
        codes.append(ACTIVE)
        if type_ == "usage":
            codes.append(USAGE)
            category, value = _usage_value(data)  # a usage signal's category is its measure
    if positive:
        lasts["positive"] = 1.0
    if is_contact:
        category = getattr(text, "category", None) if text is not None else None
        category = (
            category or data.get("touchpoint") or (data.get("attributes") or {}).get("category")
        )
        category = str(category) if category else "general"
    signal = Signal(event_time(event), tuple(codes), category, value) if codes else None
    return signal, lasts
