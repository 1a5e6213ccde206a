"""The case lifecycle and the actions agents take, as plain Python.

```
new ──acknowledge──► acknowledged ──start/reply──► in_progress ◄──resume── waiting_on_customer
 │                        │                          │    └──wait_on_customer──►  │
 └────────────────────────┴──────────resolve─────────┴────────────────────────────┘
                                           ▼
                     reopened ◄──reopen── resolved ──close──► closed
any open status ──cancel──► cancelled
```

Open statuses are ``new``, ``acknowledged``, ``in_progress``, ``waiting_on_customer`` and
``reopened``. ``closed`` and ``cancelled`` are final. :func:`apply_action` checks an action
against the case, and either raises :class:`IllegalTransition` / :class:`InvalidAction` having
changed nothing, or changes the case and returns a :class:`~winback.cases.transitions.Change`:
the append-only timeline entries (who, when, what) and what the SLA clock must hear about. The
changes the system makes (the processor's decisions, playbooks, SLA timers, remedies) are in
:mod:`winback.cases.transitions`; both go through the application layer's one writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from winback.cases.model import (
    OPEN_STATUSES,
    PRIORITIES,
    CaseStatus,
    RecoveryCase,
    TimelineEntry,
    raised,
)
from winback.cases.transitions import Change
from winback.errors import IllegalTransition, InvalidAction
from winback.sla.engine import SlaUpdate

S = CaseStatus
_OPEN = frozenset(CaseStatus(s) for s in OPEN_STATUSES)

# action -> (statuses it is allowed from, status it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[CaseStatus], CaseStatus | None]] = {
    "acknowledge": (frozenset({S.NEW, S.REOPENED}), S.ACKNOWLEDGED),
    "start": (frozenset({S.NEW, S.ACKNOWLEDGED, S.REOPENED}), S.IN_PROGRESS),
    "assign": (_OPEN, None),
    "note": (frozenset(CaseStatus), None),
    "reply": (_OPEN, None),  # new/acknowledged/reopened move to in_progress, see below
    "wait_on_customer": (frozenset({S.IN_PROGRESS}), S.WAITING_ON_CUSTOMER),
    "resume": (frozenset({S.WAITING_ON_CUSTOMER}), S.IN_PROGRESS),
    "escalate": (_OPEN, None),
    "resolve": (
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.REOPENED}),
        S.RESOLVED,
    ),
    "reopen": (frozenset({S.RESOLVED}), S.REOPENED),
    "close": (frozenset({S.RESOLVED}), S.CLOSED),
    "cancel": (_OPEN, S.CANCELLED),
}
ACTIONS = tuple(TRANSITIONS)
SEVERITIES = ("low", "medium", "high", "critical")


def allowed_actions(status: str) -> list[str]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def _text(params: Mapping[str, Any], key: str, required: bool, limit: int = 5000) -> str | None:
    value = params.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidAction(f"{key}: required for this action", field=key)
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidAction(f"{key}: must be text of at most {limit} characters", field=key)
    return value.strip()


SUMMARY_MAX = 1000  # case_timeline.summary


def apply_action(
    case: RecoveryCase, action: str, actor: str, params: Mapping[str, Any], now: datetime
) -> Change:
    """Apply ``action`` by ``actor`` at ``now`` to ``case`` (in place) or raise, unchanged."""
    if action not in TRANSITIONS:
        raise InvalidAction(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
    if not actor or len(actor) > 200:
        raise InvalidAction("actor: who is acting is required (at most 200 characters)")
    sources, target = TRANSITIONS[action]
    status = CaseStatus(case.status)
    if status not in sources:
        allowed = allowed_actions(case.status)
        raise IllegalTransition(
            f"cannot {action} a case that is {case.status}"
            + (f"; allowed now: {', '.join(allowed)}" if allowed else "; the case is final"),
            status=case.status,
            allowed=allowed,
        )
    # Validate everything before touching the case, so a refusal changes nothing.
    note = _text(params, "text", action in {"note", "reply"})
    owner = _text(params, "owner", action == "assign", 200)
    reason = _text(params, "reason", False, 1000)
    outcome_text = _text(params, "outcome", action == "resolve", 200)
    root_cause = _text(params, "root_cause", action == "resolve", 500)
    priority = params.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidAction(f"priority: must be one of {', '.join(PRIORITIES)}", field="priority")
    severity = params.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidAction(f"severity: must be one of {', '.join(SEVERITIES)}", field="severity")
    if action == "reply" and status in {S.NEW, S.ACKNOWLEDGED, S.REOPENED}:
        target = S.IN_PROGRESS

    entries: list[TimelineEntry] = []
    reply = reopened = False

    def entry(kind: str, summary: str, **data: Any) -> None:
        # A summary is a line (the store keeps 1,000 characters); the full text stays in data.
        line = summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…"
        entries.append(TimelineEntry(kind=kind, at=now, actor=actor, summary=line, data=data))

    if action == "note":
        entry("case.note", note or "", text=note)
    elif action == "reply":
        entry("case.reply", f"Reply to the customer by {actor}", text=note, delivery="pending")
        reply = True
    elif action == "assign":
        if owner != case.owner:
            entry(
                "case.assigned",
                f"Owner {case.owner or 'nobody'} → {owner}",
                previous_owner=case.owner,
                owner=owner,
                reason=reason,
            )
            case.owner = owner
    elif action == "escalate":
        new_priority = priority if priority is not None else raised(case.priority)
        new_priority = min(new_priority, case.priority)
        entry(
            "case.escalated",
            f"Escalated by {actor}: {case.priority} → {new_priority}"
            + (f" ({reason})" if reason else ""),
            previous_priority=case.priority,
            priority=new_priority,
            reason=reason,
        )
        case.priority = new_priority
        if owner is not None and owner != case.owner:
            entry(
                "case.assigned",
                f"Owner {case.owner or 'nobody'} → {owner} (escalation)",
                previous_owner=case.owner,
                owner=owner,
                reason=reason or "escalation",
            )
            case.owner = owner
    elif action == "resolve":
        case.outcome, case.root_cause, case.resolved_at = outcome_text, root_cause, now
    elif action == "reopen":
        case.reopen_count += 1
        reopened = True
    elif action == "close":
        case.closed_at = now
    if severity is not None and severity != case.severity:
        entry(
            "case.severity_changed",
            f"Severity {case.severity} → {severity}",
            previous=case.severity,
            severity=severity,
        )
        case.severity = severity
    if target is not None and target != status:
        summary = f"{status.value} → {target.value}"
        if action == "resolve":
            summary += f": {outcome_text} (root cause: {root_cause})"
        elif reason or (note and action != "reply"):
            summary += f": {reason or note}"
        entry(
            "case.status_changed",
            summary,
            action=action,
            previous=status.value,
            status=target.value,
            reason=reason,
            **({"outcome": outcome_text, "root_cause": root_cause} if action == "resolve" else {}),
        )
        case.status = target.value
    if entries:
        case.updated_at = now
    status_changed = any(e.kind == "case.status_changed" for e in entries)
    clock = SlaUpdate(
        reply=reply,
        reopened=reopened,
        status_changed=status_changed or (action == "escalate" and bool(entries)),
    )
    return Change(case, entries, clock if entries else None)
