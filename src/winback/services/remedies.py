"""Remedies: recommendations for a case, and the remedy case actions.

``apply_remedy``, ``approve`` and ``reject`` are actions of ``POST /v1/cases/{id}/actions``.
They run in the transaction every case action shares
(:func:`winback.services.cases.keyed_case_action`: the case locked, remembered per (case,
idempotency key) in ``case_actions``), so a retried request returns the first answer and applies
nothing again. ``apply_remedy`` *requires* an idempotency key, so no retry can ever apply a
remedy twice. Applying writes a ``remedy_grants`` row and a timeline entry (the audit trail:
who, what, how much, under which limit) through :func:`winback.cases.transitions.record`; its
outbox effect ``remedy.applied`` is keyed by the grant (to drive a billing system). Over the
requester's limit the grant waits for approval by the right role
(``remedy.approval_requested``); refused requests change nothing. Every writer of grants takes
the budget lock first (:func:`winback.store.remedy_store.lock_budget`), so limits across cases
hold with any number of processes.

Each applied, requested, approved or rejected remedy appends an audit record
(``remedy.apply``, ``remedy.approve``, ``remedy.reject``; :mod:`winback.store.audit`) in the
same transaction, with the grant, the amount and the decision; a replayed request writes none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from winback.cases.model import OPEN_STATUSES, RecoveryCase, TimelineEntry
from winback.cases.transitions import Change, record
from winback.clock import Clock
from winback.errors import (
    CaseNotFound,
    IllegalTransition,
    InvalidAction,
    OwnRequest,
    RemedyRefused,
    RoleNotAllowed,
)
from winback.identity import Principal, remedy_role
from winback.remedies.catalogue import Catalogue
from winback.remedies.policy import APPLY, APPROVAL, decide
from winback.remedies.recommend import recommend
from winback.services.cases import (
    ActionResult,
    check_may_act,
    keyed_case_action,
    persist,
    without_payment_data,
)
from winback.store import audit
from winback.store.cases import get_case
from winback.store.remedy_store import (
    case_profile,
    counted_grants,
    decide_grant,
    get_grant,
    insert_grant,
    lock_budget,
    past_outcomes,
)

REMEDY_ACTIONS = ("apply_remedy", "approve", "reject")


def recommendations(
    conn: Connection, catalogue: Catalogue, case_id: int, now: datetime, role: str = "agent"
) -> dict[str, Any]:
    case = get_case(conn, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    profile = case_profile(conn, case)
    ranked, excluded = recommend(
        catalogue,
        profile,
        past_outcomes(conn, now),
        counted_grants(conn, case.customer_id, now, catalogue),
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


def perform_remedy_action(
    engine: Engine,
    clock: Clock,
    catalogue: Catalogue,
    case_id: int,
    action: str,
    principal: Principal,
    params: Mapping[str, Any],
    idempotency_key: str | None,
) -> ActionResult:
    """Apply ``apply_remedy`` / ``approve`` / ``reject`` by ``principal``, under the limits of
    the principal's own role; raises like ``perform_action``, and ``RoleNotAllowed`` for a
    principal without a remedy role (an API key), ``OwnRequest`` for deciding one's own
    request. The audit record names ``principal.credential``."""
    check_may_act(principal)
    actor, credential = principal.actor, principal.credential
    role = remedy_role(principal)
    if role is None:
        raise RoleNotAllowed(f"{actor} may not grant or decide remedies (no remedy role)")
    if action not in REMEDY_ACTIONS:
        raise InvalidAction(f"unknown remedy action {action!r}")
    if action == "apply_remedy" and not idempotency_key:
        raise InvalidAction(
            "apply_remedy needs an Idempotency-Key header (or idempotency_key field): "
            "a retried request must never apply a remedy twice",
            field="idempotency_key",
        )
    params = without_payment_data(params)

    def apply(conn: Connection, case: RecoveryCase, now: datetime) -> list[TimelineEntry]:
        read_version = case.version
        lock_budget(conn)
        if action == "apply_remedy":
            change = _apply(conn, catalogue, case, actor, role, params, idempotency_key, now)
        else:
            change = _decide(conn, catalogue, case, action, actor, role, params, now)
        entries = persist(conn, change, read_version, now).entries
        _audit(conn, case, action, actor, credential, entries[0], params, now)
        return entries

    return keyed_case_action(engine, clock, case_id, action, actor, params, idempotency_key, apply)


_AUDIT_ACTIONS = {
    "apply_remedy": "remedy.apply",
    "approve": "remedy.approve",
    "reject": "remedy.reject",
}
_DECISIONS = {
    "remedy.applied": "applied",
    "remedy.approval_requested": "pending_approval",
    "remedy.approved": "applied",
    "remedy.rejected": "rejected",
}


def _audit(
    conn: Connection,
    case: RecoveryCase,
    action: str,
    actor: str,
    credential: str,
    entry: TimelineEntry,
    params: Mapping[str, Any],
    now: datetime,
) -> None:
    """The audit record of a remedy action: the grant, its amount, the role and the decision
    (the customer and a free-text reason in the record's personal part)."""
    data = entry.data
    decision = _DECISIONS[entry.kind]
    details = {
        "case_id": case.id,
        "remedy": data["remedy"],
        "amount": data["amount"],
        "currency": data["currency"],
        "role": data["role"],
        "decision": decision,
    }
    if "policy" in data:
        details["policy"] = data["policy"]
    if data.get("approver_role"):
        details["approver_role"] = data["approver_role"]
    reason = _text(params.get("reason"))
    audit.record(
        conn,
        actor=actor,
        credential=credential,
        action=_AUDIT_ACTIONS[action],
        subject_type="remedy_grant",
        subject_id=str(data["grant_id"]),
        before=None if action == "apply_remedy" else {"status": "pending_approval"},
        after={"status": decision},
        details=details,
        customer=case.customer_id,
        personal={"reason": reason} if reason else None,
        at=now,
    )


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
) -> Change:
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
        counted_grants(conn, case.customer_id, now, catalogue),
        now,
    )
    if verdict.outcome not in (APPLY, APPROVAL):
        raise RemedyRefused(verdict.reason, remedy=name, amount=verdict.amount)
    remedy = catalogue.remedies[name]
    status = "applied" if verdict.outcome == APPLY else "pending_approval"
    grant_id = insert_grant(
        conn,
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
    ref = str(grant_id)
    if status == "applied":
        summary = (
            f"Remedy applied: {remedy.label} ({verdict.amount:g} {remedy.currency}) by {actor}"
            f" as {role}"
        )
        return record(case, "remedy.applied", actor, summary, data, ref, now)
    data["approver_role"] = verdict.approver_role
    data["requested_by"] = actor
    summary = (
        f"Approval requested from a {verdict.approver_role}: {remedy.label} "
        f"({verdict.amount:g} {remedy.currency})"
    )
    return record(case, "remedy.approval_requested", actor, summary, data, ref, now)


def _decide(
    conn: Connection,
    catalogue: Catalogue,
    case: RecoveryCase,
    action: str,
    actor: str,
    role: str,
    params: Mapping[str, Any],
    now: datetime,
) -> Change:
    grant_id = params.get("grant_id")
    if isinstance(grant_id, bool) or not isinstance(grant_id, int):
        raise InvalidAction(f"grant_id: required for {action}", field="grant_id")
    assert case.id is not None
    row = get_grant(conn, grant_id, case.id)
    if row is None:
        raise InvalidAction(
            f"grant_id: no remedy request {grant_id} on this case", field="grant_id"
        )
    if row.status != "pending_approval":
        raise IllegalTransition(
            f"remedy request {grant_id} is {row.status}, not pending approval", status=row.status
        )
    if row.requested_by == actor:
        raise OwnRequest(f"{actor} requested remedy request {grant_id}; someone else decides it")
    needed = row.approver_role or "manager"
    if catalogue.role_rank(role) < catalogue.role_rank(needed):
        raise RoleNotAllowed(
            f"a {needed} (or above) must decide this request; {actor} acts as {role}"
        )
    status = "applied" if action == "approve" else "rejected"
    decide_grant(
        conn,
        grant_id,
        status=status,
        decided_by=actor,
        decided_at=now,
        reason=_text(params.get("reason")) or row.reason,
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
    ref = str(grant_id)
    if action == "reject":
        summary = f"Remedy request {grant_id} rejected by {actor} ({row.remedy} {row.amount:g})"
        rejected = {**data, "reason": _text(params.get("reason"))}
        return record(case, "remedy.rejected", actor, summary, rejected, ref, now)
    change = record(
        case,
        "remedy.approved",
        actor,
        f"Remedy request {grant_id} approved by {actor} as {role}",
        data,
        ref,
        now,
    )
    summary = f"Remedy applied: {row.remedy} ({row.amount:g} {row.currency}), approved by {actor}"
    change.entries += record(case, "remedy.applied", actor, summary, data, ref, now).entries
    return change


def _text(value: Any) -> str | None:
    return value.strip()[:1000] if isinstance(value, str) and value.strip() else None
