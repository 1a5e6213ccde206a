"""The event as the pipeline sees it: already validated, durably logged, with its sequence.

Plain Python only (the dependency rule): stages receive :class:`Event` values and never see
HTTP or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "survey.response",
    "complaint",
    "message",
    "ticket.opened",
    "ticket.updated",
    "ticket.closed",
    "payment.failed",
    "refund.requested",
    "delivery.delayed",
    "booking.error",
    "usage",
    "login",
    "purchase",
    "subscription.cancelled",
    "subscription.renewed",
    "review",
    "outage",
)

# What a customer sends themselves: on their open case such an event always joins it (and
# ends a wait on the customer), whether or not a playbook asks for a case action.
CONTACT_TYPES = frozenset(
    {
        "message",
        "complaint",
        "survey.response",
        "ticket.opened",
        "ticket.updated",
        "refund.requested",
    }
)

SCORE_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Event:
    """A logged event. ``data`` is the validated JSON document as stored."""

    seq: int
    event_id: str
    type: str
    customer_id: str
    occurred_at: datetime
    received_at: datetime
    data: dict[str, Any]

    @property
    def customer(self) -> dict[str, Any]:
        customer: dict[str, Any] = self.data["customer"]
        return customer

    @property
    def score(self) -> tuple[str, int] | None:
        score = self.data.get("score")
        if score is None:
            return None
        return str(score["kind"]), int(score["value"])

    @property
    def is_contact(self) -> bool:
        """The customer wrote or answered (not an outbound message logged by a source)."""
        return self.type in CONTACT_TYPES and self.data.get("direction") != "outbound"

    @property
    def text(self) -> str | None:
        text = self.data.get("text")
        return None if text is None else str(text)
