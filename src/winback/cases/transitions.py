"""The changes the system makes to a case, as plain Python, beside the agents' actions.

Every change to a case is a function here or in :mod:`winback.cases.lifecycle` (agents'
actions) that changes the case in place and returns a :class:`Change`: the case, the timeline
entries that tell what happened, and what the SLA clocks must hear. Nothing else sets a case's
fields. The writers (the processor's unit of work and the application services) persist a
change the same way — the case, its entries, and the outbox effects that
:func:`winback.cases.effects.effects_of` derives from the entries — so a webhook, the audit
trail or a live console sees every change whoever made it.

- the processor: :func:`open_case`, :func:`attach_signal`, :func:`reopen_by_signal` (each with
  the playbooks' :class:`Plan`), :func:`customer_contact` (a reply that needs no decision);
- agents and routing: :func:`winback.cases.lifecycle.apply_action`;
- SLA timers: :func:`sla_event`, :func:`sla_escalate`;
- remedies: :func:`record` (the grant's audit entry);
- outreach: :func:`outreach_outcome` (a message to the customer sent, deferred, suppressed or
  given up on).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from winback.cases.model import (
    BACK_TO_PEOPLE,
    CaseStatus,
    RecoveryCase,
    TimelineEntry,
    handling,
    raised,
)
from winback.cases.rules import Decision
from winback.events.model import Event
from winback.sla.engine import SlaUpdate

PROCESSOR_ACTOR = "winback:processor"
OUTREACH_ACTOR = "winback:outreach"
SLA_ACTOR = "winback:sla"
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass
class Change:
    """One transition's result: the case as it is now, what its timeline gains, and what its
    SLA clocks must hear (``None``: nothing that moves a clock)."""

    case: RecoveryCase
    entries: list[TimelineEntry] = field(default_factory=list)
    clock: SlaUpdate | None = None
    # For a decision on an event: "opened" | "attached" | "reopened" (how the event joined).
    action: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.entries)


@dataclass(frozen=True)
class Plan:
    """What the playbooks chose for a case (all optional). Kept on the case as data."""

    severity: str | None = None
    agent: str | None = None
    team: str | None = None
    sla_policy: str | None = None
    channel: str | None = None
    incident: str | None = None
    remedies: tuple[str, ...] = ()
    handoff: tuple[str, ...] = ()
    # A rule asked for automation and none gave a handoff reason.
    automated: bool = False
    # The rules' choices as recorded on the decision's timeline entry (``data.playbook``).
    details: dict[str, Any] | None = None


def open_case(decision: Decision, event: Event, plan: Plan | None, now: datetime) -> Change:
    """A new case for ``event``'s customer (the store assigns its id)."""
    case = RecoveryCase(
        customer_id=event.customer_id,
        status=CaseStatus.NEW.value,
        priority=decision.priority,
        reason=decision.reason,
        category=decision.category,
        trigger_event_id=event.event_id,
        opened_at=now,
        updated_at=now,
        decided_by=decision.decided_by,
    )
    change = Change(case, clock=SlaUpdate(opened=True), action="opened")
    summary = f"Case opened: {decision.reason} ({event.type} {event.event_id})"
    change.entries.append(_decision_entry("case.opened", summary, decision, event, plan, now))
    _apply_plan(change, plan, event, now, keep_automated=True)
    return change


def attach_signal(
    case: RecoveryCase, decision: Decision, event: Event, plan: Plan | None, now: datetime
) -> Change:
    """Attach ``event`` to the customer's open case. A more urgent signal raises the priority
    (never lowers it); a case waiting on the customer resumes, and its clocks run again."""
    case.signal_count += 1
    case.updated_at = now
    case.priority = min(case.priority, decision.priority)
    if case.category is None:
        case.category = decision.category
    change = Change(case, clock=SlaUpdate(customer_signal=True), action="attached")
    summary = f"Signal attached: {decision.reason} ({event.type} {event.event_id})"
    change.entries.append(_decision_entry("case.attached", summary, decision, event, plan, now))
    _resume_if_waiting(change, event, now)
    _apply_plan(change, plan, event, now)
    return change


def customer_contact(case: RecoveryCase, event: Event, now: datetime) -> Change:
    """The customer wrote on their open case without a signal that needs a case decision (a
    neutral reply, an order number): it joins the case, and a case waiting on the customer
    resumes. Priority and category stay."""
    case.signal_count += 1
    case.updated_at = now
    change = Change(case, clock=SlaUpdate(customer_signal=True), action="attached")
    change.entries.append(
        TimelineEntry(
            kind="case.customer_contact",
            at=now,
            actor=PROCESSOR_ACTOR,
            summary=f"The customer wrote ({event.type} {event.event_id})",
            data={"event_id": event.event_id, "event_type": event.type},
            event_seq=event.seq,
            ref=event.event_id,
        )
    )
    _resume_if_waiting(change, event, now)
    return change


def reopen_by_signal(
    case: RecoveryCase, decision: Decision, event: Event, plan: Plan | None, now: datetime
) -> Change:
    """Re-open the customer's recently resolved case instead of opening a new one."""
    case.status = CaseStatus.REOPENED.value
    case.reopen_count += 1
    case.signal_count += 1
    case.updated_at = now
    case.priority = min(case.priority, decision.priority)
    change = Change(case, clock=SlaUpdate(reopened=True), action="reopened")
    summary = f"Case re-opened: {decision.reason} ({event.type} {event.event_id})"
    change.entries.append(_decision_entry("case.reopened", summary, decision, event, plan, now))
    _apply_plan(change, plan, event, now)
    return change


def sla_event(
    case: RecoveryCase, kind: str, summary: str, data: dict[str, Any], ref: str, now: datetime
) -> Change:
    """An SLA clock's warning, breach or escalation, as a timeline entry (no field changes)."""
    case.updated_at = now
    entry = TimelineEntry(kind, now, SLA_ACTOR, summary, dict(data), ref=ref)
    return Change(case, [entry])


def sla_escalate(
    case: RecoveryCase,
    level: int,
    raise_priority: bool,
    reassign: str | None,
    ref: str,
    now: datetime,
) -> Change:
    """What an escalation level does to the case: one step more urgent, another owner."""
    change = Change(case)
    reason = f"sla escalation {level}"
    if raise_priority and raised(case.priority) != case.priority:
        new = raised(case.priority)
        change.entries.append(
            TimelineEntry(
                kind="case.escalated",
                at=now,
                actor=SLA_ACTOR,
                summary=f"Priority {case.priority} → {new} (SLA escalation {level})",
                data={"previous_priority": case.priority, "priority": new, "reason": reason},
                ref=f"{ref}:priority",
            )
        )
        case.priority = new
        change.clock = SlaUpdate()  # a stricter policy may now apply
    if reassign and reassign != case.owner:
        change.entries.append(
            TimelineEntry(
                kind="case.assigned",
                at=now,
                actor=SLA_ACTOR,
                summary=f"Owner {case.owner or 'nobody'} → {reassign} (SLA escalation {level})",
                data={"previous_owner": case.owner, "owner": reassign, "reason": reason},
                ref=f"{ref}:owner",
            )
        )
        case.owner = reassign
    if change.entries:
        case.updated_at = now
    return change


def record(
    case: RecoveryCase,
    kind: str,
    actor: str,
    summary: str,
    data: dict[str, Any],
    ref: str,
    now: datetime,
) -> Change:
    """An entry that changes no field of the case (a remedy granted, requested, refused)."""
    case.updated_at = now
    return Change(case, [TimelineEntry(kind, now, actor, summary, dict(data), ref=ref)])


def outreach_outcome(
    case: RecoveryCase,
    kind: str,
    summary: str,
    data: dict[str, Any],
    now: datetime,
    *,
    first_response: bool = False,
) -> Change:
    """What became of a message to the customer (``outreach.sent``, ``outreach.deferred``,
    ``outreach.suppressed``, ``outreach.failed``), on the timeline; no field changes. A sent
    automatic acknowledgement is the case's first response: its first-response clock stops as
    for an agent's reply."""
    case.updated_at = now
    entry = TimelineEntry(kind, now, OUTREACH_ACTOR, summary, dict(data))
    clock = SlaUpdate(reply=True) if first_response else None
    return Change(case, [entry], clock)


# -- helpers ----------------------------------------------------------------------------------
def _decision_entry(
    kind: str, summary: str, decision: Decision, event: Event, plan: Plan | None, now: datetime
) -> TimelineEntry:
    data: dict[str, object] = {
        "event_id": event.event_id,
        "event_type": event.type,
        "reason": decision.reason,
        "priority": decision.priority,
        "decided_by": decision.decided_by,
    }
    if plan is not None and plan.details:
        data["playbook"] = plan.details
    return TimelineEntry(
        kind=kind,
        at=now,
        actor=PROCESSOR_ACTOR,
        summary=summary,
        data=data,
        event_seq=event.seq,
        ref=event.event_id,
    )


def _resume_if_waiting(change: Change, event: Event, now: datetime) -> None:
    case = change.case
    if case.status != CaseStatus.WAITING_ON_CUSTOMER.value:
        return
    case.status = CaseStatus.IN_PROGRESS.value
    change.clock = SlaUpdate(customer_signal=True, status_changed=True)
    change.entries.append(
        TimelineEntry(
            kind="case.status_changed",
            at=now,
            actor=PROCESSOR_ACTOR,
            summary="waiting_on_customer → in_progress: the customer responded",
            data={
                "action": "resume",
                "previous": CaseStatus.WAITING_ON_CUSTOMER.value,
                "status": CaseStatus.IN_PROGRESS.value,
                "reason": f"{event.type} {event.event_id}",
            },
            event_seq=event.seq,
            ref=event.event_id,
        )
    )


def _apply_plan(
    change: Change,
    plan: Plan | None,
    event: Event,
    now: datetime,
    keep_automated: bool = False,
) -> None:
    """Keep the playbooks' choices on the case: a higher severity, an explicit agent as owner
    of an unowned case, and the plan's team, SLA policy, channel, incident, remedies and
    handoff (a later signal's choice adds to, never erases, the plan).

    The case stays automated only while every decision on it asks for automation and no
    handoff reason was ever given (``keep_automated``: a new case, nothing before it counts);
    the decision entry (the change's first) says who handles the case now."""
    case = change.case
    was_automated = case.automated
    if plan is None:
        case.automated = False
        if case.channel is None and event.data.get("channel"):
            case.channel = str(event.data["channel"])
        return
    if plan.severity is not None and (
        case.severity not in SEVERITIES
        or SEVERITIES.index(plan.severity) > SEVERITIES.index(case.severity or "low")
    ):
        case.severity = plan.severity
    case.team = plan.team or case.team
    case.sla_policy = plan.sla_policy or case.sla_policy
    case.incident = plan.incident or case.incident
    case.channel = case.channel or plan.channel or _str(event.data.get("channel"))
    case.remedies = _merged(case.remedies, plan.remedies)
    case.handoff = _merged(case.handoff, plan.handoff)
    case.automated = plan.automated and not case.handoff and (keep_automated or case.automated)
    said = handling(plan.handoff, case.automated)
    if said is None and was_automated and not case.automated:
        said = BACK_TO_PEOPLE
    if said is not None and change.entries:
        entry = change.entries[0]
        change.entries[0] = replace(
            entry, summary=f"{entry.summary} — {said}", data={**entry.data, "handling": said}
        )
    if plan.agent is not None and case.owner is None:
        case.owner = plan.agent
        change.entries.append(
            TimelineEntry(
                kind="case.assigned",
                at=now,
                actor=PROCESSOR_ACTOR,
                summary=f"Owner nobody → {plan.agent} (playbook)",
                data={"previous_owner": None, "owner": plan.agent, "reason": "playbook"},
                event_seq=event.seq,
                ref=event.event_id,
            )
        )


def _merged(current: list[str], more: tuple[str, ...]) -> list[str]:
    out = list(current)
    for item in more:
        if item not in out:
            out.append(item)
    return out


def _str(value: object) -> str | None:
    return None if value is None else str(value)
