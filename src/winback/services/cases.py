"""Case actions: what agents (and routing) do to a case, in one transaction each.

:func:`keyed_case_action` is the transaction every case action shares — lock the case,
answer a retried keyed request with its first answer, else apply the action and remember the
answer under the key. :func:`perform_action` applies a lifecycle action
(:func:`winback.cases.lifecycle.apply_action`), persists the change with the one writer and
moves the case's SLA clocks. Remedy actions (:mod:`winback.services.remedies`) share the same
transaction.

An action carrying an idempotency key is remembered with its answer: the same key and request
again returns the first answer and changes nothing; the same key with a different request is a
conflict (:class:`~winback.errors.IdempotencyKeyReused`).

Every action that changes a case appends an audit record (:mod:`winback.store.audit`) in the
same transaction: ``case.<action>``, who (``actor``) through which credential (``credential``),
and the case's status, owner and priority before and after (only those that changed). A
replayed request answers from ``case_actions`` before anything is applied, so it writes no
second record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from winback.cases.lifecycle import apply_action
from winback.cases.model import RecoveryCase, TimelineEntry
from winback.cases.transitions import Change
from winback.clock import Clock
from winback.errors import AnotherOpenCase, CaseNotFound, RoleNotAllowed
from winback.identity import Principal, may_act_on_cases
from winback.payment import scrub_payment
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.store import audit
from winback.store.actions import remember_action, replay_action
from winback.store.cases import case_doc, lock_cases, write_changes
from winback.store.engine import write_connection
from winback.store.sla_store import customer_facts, load_sla_states, write_sla

#: The case fields an audit record compares before and after an action.
AUDITED_FIELDS = ("status", "owner", "priority")


@dataclass
class ActionResult:
    case: dict[str, Any]
    entries: list[dict[str, Any]]
    replayed: bool = False


def entry_doc(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "at": entry.at,
        "actor": entry.actor,
        "summary": entry.summary,
        "data": entry.data,
    }


def without_payment_data(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """An action's parameters with card numbers and IBANs replaced (docs/privacy.md): what an
    agent types into a note, a reply or a reason reaches the timeline, the case, the outbox and
    the remembered answer without them, and the request hash is taken over the same."""
    scrubbed: Mapping[str, Any] = scrub_payment(dict(params))
    return scrubbed


def _request_hash(action: str, actor: str, params: Mapping[str, Any]) -> str:
    text = json.dumps({"a": action, "by": actor, "p": params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def keyed_case_action(
    engine: Engine,
    clock: Clock,
    case_id: int,
    action: str,
    actor: str,
    params: Mapping[str, Any],
    idempotency_key: str | None,
    apply: Callable[[Connection, RecoveryCase, datetime], Sequence[TimelineEntry]],
) -> ActionResult:
    """Lock the case, answer a retried keyed request with its first answer, else run ``apply``
    (which changes the case through a transition and persists it, returning the timeline
    entries made) and remember the answer under the key."""
    request_hash = _request_hash(action, actor, params)
    with write_connection(engine) as conn, conn.begin():
        # Lock the case first: concurrent retries with one key then queue up behind each other
        # and the later ones find the first's answer.
        case = lock_cases(conn, [case_id]).get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        seen = replay_action(conn, case_id, idempotency_key, request_hash)
        if seen is not None:
            return ActionResult(seen["case"], seen["entries"], True)
        now = clock.now()
        entries = apply(conn, case, now)
        result = ActionResult(case_doc(case), [entry_doc(e) for e in entries])
        if idempotency_key is not None:
            response = {"case": result.case, "entries": result.entries}
            remember_action(conn, case_id, idempotency_key, request_hash, response, now)
        return result


def case_fields(case: RecoveryCase) -> dict[str, Any]:
    return {name: getattr(case, name) for name in AUDITED_FIELDS}


def audit_case_action(
    conn: Connection,
    case: RecoveryCase,
    action: str,
    actor: str,
    credential: str,
    before: Mapping[str, Any],
    params: Mapping[str, Any],
    now: datetime,
) -> None:
    """The audit record of one case action (the customer and a free-text reason go to the
    record's personal part, which an erasure removes)."""
    reason = params.get("reason")
    audit.record(
        conn,
        actor=actor,
        credential=credential,
        action=f"case.{action}",
        subject_type="case",
        subject_id=case.id,
        before=before,
        after=case_fields(case),
        details={"version": case.version},
        customer=case.customer_id,
        personal={"reason": reason} if isinstance(reason, str) and reason else None,
        at=now,
    )


def check_may_act(principal: Principal) -> None:
    if not may_act_on_cases(principal):
        raise RoleNotAllowed(f"{principal.actor} may read cases but not act on them")


def persist(conn: Connection, change: Change, read_version: int, now: datetime) -> Change:
    """Write one change of a locked case: each entry gets the stable ``ref`` of this write
    (the case's new version) unless it has one, so its outbox key names this very change."""
    if change.case.id is not None:
        version = read_version + 1
        change.entries = [
            e if e.ref is not None else replace(e, ref=f"{change.case.id}:v{version}:{i}")
            for i, e in enumerate(change.entries)
        ]
    try:
        with conn.begin_nested():
            write_changes(conn, [(change, read_version)], now)
    except IntegrityError:
        raise AnotherOpenCase(
            f"customer {change.case.customer_id} already has another open case; "
            "this one cannot be re-opened"
        ) from None
    return change


def track_sla(
    conn: Connection, sla: SlaEngine, case: RecoveryCase, update: SlaUpdate, now: datetime
) -> None:
    """Tell the case's SLA clocks what happened, and store the clocks and their timers."""
    assert case.id is not None
    state = load_sla_states(conn, [case.id]).get(case.id)
    facts = facts_for(case.priority, case.category, customer_facts(conn, case.customer_id), None)
    if state is None:
        # No clocks yet (a case from before SLAs): start them from when the case opened.
        state, _ = sla.track(None, facts, "new", case.opened_at, SlaUpdate(opened=True))
    state, timers = sla.track(state, facts, case.status, now, update)
    write_sla(conn, [(case.id, state, timers)], now)


def perform_action(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    case_id: int,
    action: str,
    principal: Principal,
    params: Mapping[str, Any],
    idempotency_key: str | None = None,
) -> ActionResult:
    """Apply one lifecycle action by ``principal`` (the timeline says ``principal.actor``) to a
    case, its timeline, its SLA clocks, the outbox and the audit trail (which also names
    ``principal.credential``).

    Raises an :class:`~winback.errors.WinbackError` (nothing changed): ``InvalidAction``,
    ``IllegalTransition``, ``CaseNotFound``, ``AnotherOpenCase``, ``IdempotencyKeyReused``,
    ``RoleNotAllowed`` (an analyst, or a key without ``cases:write``).
    """
    check_may_act(principal)
    actor, credential = principal.actor, principal.credential
    params = without_payment_data(params)

    def apply(conn: Connection, case: RecoveryCase, now: datetime) -> list[TimelineEntry]:
        read_version = case.version
        before = case_fields(case)
        change = apply_action(case, action, actor, params, now)
        if not change.changed:
            return change.entries
        persist(conn, change, read_version, now)
        if change.clock is not None:
            track_sla(conn, sla, case, change.clock, now)
        audit_case_action(conn, case, action, actor, credential, before, params, now)
        return change.entries

    return keyed_case_action(engine, clock, case_id, action, actor, params, idempotency_key, apply)
