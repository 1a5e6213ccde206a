"""The customer profile, merged field by field from events.

Rules (plain Python, order-tolerant):
- a field given on an event sets the stored field only if that event occurred at or after the
  event that last set it (``field_times`` remembers when each field was last set), so a late,
  out-of-order event never overwrites newer data;
- a missing or null field never erases a stored one;
- applying the same event twice changes nothing (counters are the processor's job: it runs each
  event exactly once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.clock import ensure_utc

PROFILE_FIELDS = (
    "email",
    "name",
    "phone",
    "segment",
    "plan",
    "value",
    "timezone",
    "location",
    "language",
)


@dataclass
class Customer:
    id: str
    first_seen_at: datetime
    last_event_at: datetime
    updated_at: datetime
    event_count: int = 0
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    segment: str | None = None
    plan: str | None = None
    value: float | None = None
    timezone: str | None = None
    location: str | None = None
    language: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    field_times: dict[str, str] = field(default_factory=dict)


def _newer_or_same(field_times: dict[str, str], name: str, stamp: str) -> bool:
    previous = field_times.get(name)
    # ISO-8601 UTC stamps of one format compare correctly as strings.
    return previous is None or stamp >= previous


def apply_event(
    customer: Customer | None, fields: dict[str, Any], occurred_at: datetime, now: datetime
) -> Customer:
    """Return ``customer`` (or a new one) updated with an event's customer ``fields``."""
    occurred_at = ensure_utc(occurred_at)  # stamps below compare as strings: one offset only
    if customer is None:
        customer = Customer(
            id=str(fields["id"]),
            first_seen_at=occurred_at,
            last_event_at=occurred_at,
            updated_at=now,
        )
    stamp = occurred_at.isoformat()
    for name in PROFILE_FIELDS:
        value = fields.get(name)
        if value is not None and _newer_or_same(customer.field_times, name, stamp):
            setattr(customer, name, value)
            customer.field_times[name] = stamp
    for key, value in (fields.get("attributes") or {}).items():
        slot = f"attributes.{key}"
        if value is not None and _newer_or_same(customer.field_times, slot, stamp):
            customer.attributes[key] = value
            customer.field_times[slot] = stamp
    customer.first_seen_at = min(customer.first_seen_at, occurred_at)
    customer.last_event_at = max(customer.last_event_at, occurred_at)
    customer.event_count += 1
    customer.updated_at = now
    return customer
