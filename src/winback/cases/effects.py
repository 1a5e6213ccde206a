"""Which timeline entries leave the process, as which outbox effect: one rule for every writer.

A case's timeline is its whole story; the outbox carries the part of it the outside world
acts on (webhooks, messages to the customer, billing, a live console in another process).
:func:`effects_of` maps entries to effects the same way for the processor, agents' actions,
SLA timers, routing and remedies, so a subscriber sees a change whoever made it.

The effect's idempotency key is ``<topic>:<entry.ref>``: the entry's ``ref`` names the change
stably across retries (an event id, an SLA timer's identity, a grant id, a case version), so a
redone transaction queues nothing twice. The payload is the entry flattened with the case and
customer ids: ``{"case_id", "customer_id", "at", "actor", "summary", **entry.data}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from winback.cases.model import RecoveryCase, TimelineEntry

# timeline entry kind -> outbox topic; kinds not listed stay on the timeline only (notes).
TOPICS: dict[str, str] = {
    "case.opened": "case.opened",
    "case.attached": "case.attached",
    "case.reopened": "case.reopened",
    "case.customer_contact": "case.customer_contact",
    "case.assigned": "case.assigned",
    "case.escalated": "case.escalated",
    "case.status_changed": "case.status_changed",
    "case.severity_changed": "case.severity_changed",
    "case.reply": "case.reply",
    "sla.warning": "sla.warning",
    "sla.breached": "sla.breached",
    "sla.escalated": "sla.escalation",
    "remedy.applied": "remedy.applied",
    "remedy.approval_requested": "remedy.approval_requested",
    "remedy.rejected": "remedy.rejected",
}


@dataclass(frozen=True)
class Effect:
    """One message for the outbox. ``case`` is set when the payload needs the case's id and
    the case may not have one yet (a case opened in the same transaction)."""

    topic: str
    key: str
    payload: dict[str, Any]
    case: RecoveryCase | None = None


def effects_of(case: RecoveryCase, entries: Iterable[TimelineEntry]) -> list[Effect]:
    """The outbox effects of ``entries`` on ``case`` (see the module docstring)."""
    out = []
    for entry in entries:
        topic = TOPICS.get(entry.kind)
        if topic is None:
            continue
        if entry.ref is None:
            raise ValueError(f"timeline entry {entry.kind!r} has no ref: its effect needs a key")
        payload: dict[str, Any] = {
            "customer_id": case.customer_id,
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "summary": entry.summary,
            **entry.data,
        }
        out.append(Effect(topic, f"{topic}:{entry.ref}", payload, case))
    return out
