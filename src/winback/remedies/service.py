"""Remedies against the store: recommendations for a case, and the remedy case actions.

``apply_remedy``, ``approve`` and ``reject`` are actions of ``POST /v1/cases/{id}/actions``
(issue 6's endpoint). They run in one write transaction with the case locked (the same
discipline as :func:`winback.store.case_commands.perform_action`) and are remembered per
(case, idempotency key) in ``case_actions``: a retried request returns the first answer and
applies nothing again. ``apply_remedy`` *requires* an idempotency key, so no retry can ever
apply a remedy twice. Applying writes a ``remedy_grants`` row, a timeline entry (the audit
trail: who, what, how much, under which limit) and an outbox effect ``remedy.applied`` keyed
``remedy.applied:<grant id>`` (to drive a billing system). Over the requester's limit the grant
waits for approval by the right role (``remedy.approval_requested`` in the outbox); refused
requests change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.cases.lifecycle import ActionError, IllegalTransition, InvalidAction
from winback.cases.model import OPEN_STATUSES, RecoveryCase, TimelineEntry
from winback.clock import Clock
from winback.remedies.catalogue import Catalogue
from winback.remedies.policy import APPLY, APPROVAL, Grant, decide
from winback.remedies.recommend import CaseProfile, PastOutcome, recommend
from winback.store.case_commands import (
    ActionConflict,
    ActionResult,
    CaseNotFound,
    append_entries,
    enqueue,
    keyed_case_action,
    save_case,
)
from winback.store.tables import (
    case_timeline,
    cases,
    customer_risk,
    customers,
    remedy_grants,
)

REMEDY_ACTIONS = ("apply_remedy", "approve", "reject")
# The processor's timeline entries that carry the playbooks' choices under data["playbook"].
DECISION_KINDS = ("case.opened", "case.attached", "case.reopened")
COUNTED = ("applied", "pending_approval")
NOT_RECOVERED = frozenset({"churned", "lost", "unresolved", "not_recovered", "cancelled"})
HISTORY_DAYS = 365


def _grants(conn: Connection, customer_id: str, now: datetime, catalogue: Catalogue) -> list[Grant]:
    """Grants that count: this customer's over the longest cap period, one by one, and everyone
    else's this month summed per remedy (all a monthly budget needs), so the cost of a decision
    does not grow with the number of grants."""
    longest = max((r.cap_period_days for r in catalogue.remedies.values()), default=90)
    since_customer = now - timedelta(days=longest)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    own = conn.execute(
        sa.select(remedy_grants.c.remedy, remedy_grants.c.amount, remedy_grants.c.created_at).where(
            remedy_grants.c.status.in_(COUNTED),
            remedy_grants.c.customer_id == customer_id,
            remedy_grants.c.created_at >= min(since_customer, month),
        )
    )
    others = conn.execute(
        sa.select(remedy_grants.c.remedy, sa.func.sum(remedy_grants.c.amount))
        .where(
            remedy_grants.c.status.in_(COUNTED),
            remedy_grants.c.customer_id != customer_id,
            remedy_grants.c.created_at >= month,
        )
        .group_by(remedy_grants.c.remedy)
    )
    grants = [Grant(customer_id, r.remedy, r.amount, r.created_at) for r in own]
    grants += [Grant("", remedy, float(total or 0.0), month) for remedy, total in others]
    return grants


def _suggested(conn: Connection, case_id: int) -> tuple[str, ...]:
    rows = conn.execute(
        sa.select(case_timeline.c.data)
        .where(case_timeline.c.case_id == case_id, case_timeline.c.kind.in_(DECISION_KINDS))
        .order_by(case_timeline.c.id.desc())
    )
    out: list[str] = []
    for row in rows:
        for name in ((row.data or {}).get("playbook") or {}).get("remedies", []):
            if name not in out:
                out.append(str(name))
    return tuple(out)


def _past(conn: Connection, now: datetime) -> list[PastOutcome]:
    """Remedies applied on resolved or closed cases in the last year, counted per remedy,
    category, segment and outcome."""
    n = sa.func.count().label("n")
    query = (
        sa.select(
            remedy_grants.c.remedy,
            cases.c.category,
            cases.c.outcome,
            customers.c.segment,
            n,
        )
        .select_from(
            remedy_grants.join(cases, cases.c.id == remedy_grants.c.case_id).join(
                customers, customers.c.id == cases.c.customer_id
            )
        )
        .where(
            remedy_grants.c.status == "applied",
            remedy_grants.c.created_at >= now - timedelta(days=HISTORY_DAYS),
            cases.c.status.in_(("resolved", "closed")),
        )
        .group_by(remedy_grants.c.remedy, cases.c.category, cases.c.outcome, customers.c.segment)
    )
    return [
        PastOutcome(
            r.remedy,
            r.category,
            r.segment,
            (r.outcome or "").strip().lower() not in NOT_RECOVERED,
            int(r.n),
        )
        for r in conn.execute(query)
    ]


def case_profile(conn: Connection, case: RecoveryCase) -> CaseProfile:
    assert case.id is not None
    customer = conn.execute(
        sa.select(customers.c.value, customers.c.segment).where(customers.c.id == case.customer_id)
    ).first()
    risk = conn.execute(
        sa.select(customer_risk.c.probability).where(
            customer_risk.c.customer_id == case.customer_id
        )
    ).scalar()
    return CaseProfile(
        case_id=case.id,
        customer_id=case.customer_id,
        category=case.category,
        priority=case.priority,
        severity=case.severity,
        customer_value=None if customer is None or customer.value is None else customer.value,
        segment=None if customer is None else customer.segment,
        risk=None if risk is None else float(risk),
        suggested=_suggested(conn, case.id),
    )


def recommendations(
    conn: Connection, catalogue: Catalogue, case_id: int, now: datetime, role: str = "agent"
) -> dict[str, Any]:
    row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise CaseNotFound(case_id)
    case = RecoveryCase(**dict(row._mapping))
    profile = case_profile(conn, case)
    ranked, excluded = recommend(
        catalogue,
        profile,
        _past(conn, now),
        _grants(conn, case.customer_id, now, catalogue),
        now,
        role,
    )
    return {
        "case_id": case_id,
        "role": role,
        "context": {
            "category": profile.category,
            "priority": profile.priority,
            "severity": profile.severity,
            "customer_value": profile.customer_value,
            "segment": profile.segment,
            "risk": profile.risk,
            "playbook_remedies": list(profile.suggested),
        },
        "recommendations": [r.as_dict() for r in ranked],
        "excluded": [{"remedy": e.remedy, "reason": e.reason} for e in excluded],
    }


def _grant_doc(row: Any) -> dict[str, Any]:
    return dict(dict(row._mapping).items())


def perform_remedy_action(
    engine: Engine,
    clock: Clock,
    catalogue: Catalogue,
    case_id: int,
    action: str,
    actor: str,
    params: Mapping[str, Any],
    idempotency_key: str | None,
) -> ActionResult:
    """Apply ``apply_remedy`` / ``approve`` / ``reject``; raises like ``perform_action``."""
    if action not in REMEDY_ACTIONS:
        raise InvalidAction(f"unknown remedy action {action!r}")
    if action == "apply_remedy" and not idempotency_key:
        raise InvalidAction(
            "apply_remedy needs an Idempotency-Key header (or idempotency_key field): "
            "a retried request must never apply a remedy twice",
            field="idempotency_key",
        )

    def apply(conn: Connection, case: RecoveryCase, now: datetime) -> list[TimelineEntry]:
        read_version = case.version
        role = str(params.get("role") or "agent")
        if action == "apply_remedy":
            entries = _apply(conn, catalogue, case, actor, role, params, idempotency_key, now)
        else:
            entries = _decide(conn, catalogue, case, action, actor, role, params, now)
        case.updated_at = now
        if not save_case(conn, case, read_version):  # pragma: no cover - the case is locked
            raise ActionConflict("the case changed meanwhile; retry")
        append_entries(conn, case_id, entries)
        return entries

    return keyed_case_action(engine, clock, case_id, action, actor, params, idempotency_key, apply)


def _amount(params: Mapping[str, Any]) -> float | None:
    amount = params.get("amount")
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidAction("amount: must be a number", field="amount")
    return float(amount)


def _apply(
    conn: Connection,
    catalogue: Catalogue,
    case: RecoveryCase,
    actor: str,
    role: str,
    params: Mapping[str, Any],
    key: str | None,
    now: datetime,
) -> list[TimelineEntry]:
    assert case.id is not None
    name = params.get("remedy")
    if not isinstance(name, str) or not name:
        raise InvalidAction("remedy: required for apply_remedy", field="remedy")
    if case.status not in OPEN_STATUSES:
        raise IllegalTransition(
            f"cannot apply a remedy to a case that is {case.status}", status=case.status
        )
    verdict = decide(
        catalogue,
        name,
        _amount(params),
        role,
        case.customer_id,
        _grants(conn, case.customer_id, now, catalogue),
        now,
    )
    if verdict.outcome not in (APPLY, APPROVAL):
        raise RemedyRefused(verdict.reason, remedy=name, amount=verdict.amount)
    remedy = catalogue.remedies[name]
    status = "applied" if verdict.outcome == APPLY else "pending_approval"
    grant_id = conn.execute(
        remedy_grants.insert()
        .values(
            case_id=case.id,
            customer_id=case.customer_id,
            remedy=name,
            kind=remedy.kind,
            amount=verdict.amount,
            currency=remedy.currency,
            cost=remedy.cost(verdict.amount),
            status=status,
            requested_by=actor,
            requested_role=role,
            approver_role=verdict.approver_role,
            decided_by=actor if status == "applied" else None,
            reason=_text(params.get("reason")),
            created_at=now,
            decided_at=now if status == "applied" else None,
        )
        .returning(remedy_grants.c.id)
    ).scalar_one()
    data = {
        "grant_id": grant_id,
        "remedy": name,
        "kind": remedy.kind,
        "amount": verdict.amount,
        "currency": remedy.currency,
        "role": role,
        "policy": verdict.reason,
        "idempotency_key": key,
    }
    if status == "applied":
        _emit_applied(conn, case, grant_id, data, now)
        return [
            TimelineEntry(
                "remedy.applied",
                now,
                actor,
                f"Remedy applied: {remedy.label} ({verdict.amount:g} {remedy.currency}) by {actor}"
                f" as {role}",
                data,
            )
        ]
    data["approver_role"] = verdict.approver_role
    enqueue(
        conn,
        "remedy.approval_requested",
        f"remedy.approval_requested:{grant_id}",
        {"case_id": case.id, "customer_id": case.customer_id, "requested_by": actor, **data},
        now,
    )
    return [
        TimelineEntry(
            "remedy.approval_requested",
            now,
            actor,
            f"Approval requested from a {verdict.approver_role}: {remedy.label} "
            f"({verdict.amount:g} {remedy.currency})",
            data,
        )
    ]


def _emit_applied(
    conn: Connection, case: RecoveryCase, grant_id: int, data: dict[str, Any], now: datetime
) -> None:
    enqueue(
        conn,
        "remedy.applied",
        f"remedy.applied:{grant_id}",
        {"case_id": case.id, "customer_id": case.customer_id, **data},
        now,
    )


def _decide(
    conn: Connection,
    catalogue: Catalogue,
    case: RecoveryCase,
    action: str,
    actor: str,
    role: str,
    params: Mapping[str, Any],
    now: datetime,
) -> list[TimelineEntry]:
    grant_id = params.get("grant_id")
    if isinstance(grant_id, bool) or not isinstance(grant_id, int):
        raise InvalidAction(f"grant_id: required for {action}", field="grant_id")
    row = conn.execute(
        sa.select(remedy_grants).where(
            remedy_grants.c.id == grant_id, remedy_grants.c.case_id == case.id
        )
    ).first()
    if row is None:
        raise InvalidAction(
            f"grant_id: no remedy request {grant_id} on this case", field="grant_id"
        )
    if row.status != "pending_approval":
        raise IllegalTransition(
            f"remedy request {grant_id} is {row.status}, not pending approval", status=row.status
        )
    needed = row.approver_role or "manager"
    if catalogue.role_rank(role) < catalogue.role_rank(needed):
        raise NotAllowed(f"a {needed} (or above) must decide this request; {actor} acts as {role}")
    status = "applied" if action == "approve" else "rejected"
    conn.execute(
        remedy_grants.update()
        .where(remedy_grants.c.id == grant_id)
        .values(
            status=status,
            decided_by=actor,
            decided_at=now,
            reason=_text(params.get("reason")) or row.reason,
        )
    )
    data = {
        "grant_id": grant_id,
        "remedy": row.remedy,
        "kind": row.kind,
        "amount": row.amount,
        "currency": row.currency,
        "role": role,
        "requested_by": row.requested_by,
    }
    if action == "reject":
        enqueue(
            conn,
            "remedy.rejected",
            f"remedy.rejected:{grant_id}",
            {"case_id": case.id, "customer_id": case.customer_id, **data},
            now,
        )
        return [
            TimelineEntry(
                "remedy.rejected",
                now,
                actor,
                f"Remedy request {grant_id} rejected by {actor} ({row.remedy} {row.amount:g})",
                {**data, "reason": _text(params.get("reason"))},
            )
        ]
    assert case.id is not None
    _emit_applied(conn, case, grant_id, data, now)
    return [
        TimelineEntry(
            "remedy.approved",
            now,
            actor,
            f"Remedy request {grant_id} approved by {actor} as {role}",
            data,
        ),
        TimelineEntry(
            "remedy.applied",
            now,
            actor,
            f"Remedy applied: {row.remedy} ({row.amount:g} {row.currency}), approved by {actor}",
            data,
        ),
    ]


def _text(value: Any) -> str | None:
    return value.strip()[:1000] if isinstance(value, str) and value.strip() else None


class RemedyRefused(ActionError):
    """The compensation policy refuses the request (HTTP 409); nothing changed."""

    status_code = 409


class NotAllowed(ActionError):
    """The actor's role may not decide this request (HTTP 403)."""

    status_code = 403
