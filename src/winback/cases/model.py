"""The recovery case, as plain Python.

A customer has at most one *open* case at a time (the store enforces it with a partial unique
index); every signal that needs attention while it is open attaches to it instead of opening a
duplicate. The statuses are fixed here because the store's invariant depends on which of them
count as open; the transitions between them live in :mod:`winback.cases.lifecycle`. A case has
at most one ``owner`` at a time (transfers are timeline entries, so the history stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CaseStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {
        CaseStatus.NEW.value,
        CaseStatus.ACKNOWLEDGED.value,
        CaseStatus.IN_PROGRESS.value,
        CaseStatus.WAITING_ON_CUSTOMER.value,
        CaseStatus.REOPENED.value,
    }
)

PRIORITIES = ("P1", "P2", "P3", "P4")


def raised(priority: str) -> str:
    """One step more urgent (P1 stays P1)."""
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 3
    return PRIORITIES[max(0, index - 1)]


AUTOMATED = "handled by automation (no handoff reason)"
BACK_TO_PEOPLE = "back to the human queue: this signal's rules do not ask for automation"


def handling(handoff: list[str] | tuple[str, ...], automated: bool) -> str | None:
    """Who handles a case, as a decision's timeline entry says it (``None``: nothing to say)."""
    if handoff:
        return "needs a human: " + ", ".join(handoff)
    return AUTOMATED if automated else None


@dataclass
class RecoveryCase:
    """A recovery case. ``id`` is ``None`` until the store has inserted it."""

    customer_id: str
    status: str
    priority: str
    reason: str
    trigger_event_id: str
    opened_at: datetime
    updated_at: datetime
    decided_by: str
    category: str | None = None
    signal_count: int = 1
    version: int = 0
    id: int | None = None
    owner: str | None = None
    severity: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    root_cause: str | None = None
    reopen_count: int = 0
    # The case's plan: what the playbooks chose for it, kept on the case (not only in its
    # history) so routing, remedies and the API read the current plan directly.
    team: str | None = None
    sla_policy: str | None = None
    channel: str | None = None
    incident: str | None = None
    remedies: list[str] = field(default_factory=list)
    handoff: list[str] = field(default_factory=list)
    # Automation may handle it: every decision on it asked for automation and none gave a
    # handoff reason (routing leaves an unowned automated case out of the human queue).
    automated: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class TimelineEntry:
    """One append-only line of a case's story: who did what, when, and why.

    ``ref`` names this very change stably across retries (the event it came from, the SLA
    timer that fired, the remedy grant, the case version an agent's action wrote): the outbox
    key of the entry's effect is built from it (:mod:`winback.cases.effects`).
    """

    kind: str
    at: datetime
    actor: str
    summary: str
    data: dict[str, object] = field(default_factory=dict)
    event_seq: int | None = None
    ref: str | None = None
