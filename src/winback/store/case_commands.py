"""Writing cases outside the processor: agents' actions and the SLA timer service.

Both run beside the processor, possibly in another process, and all three write cases. They
agree through the case ``version``: each writer here reads the case *inside* its write
transaction (SQLite: under the writer lock with ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT …
FOR UPDATE``) and bumps the version when it writes, so the processor's optimistic
``UPDATE … WHERE version = <what it read>`` notices and redoes its batch from fresh state.

An action carrying an idempotency key is remembered with its answer: the same key and request
again returns the first answer and changes nothing; the same key with a different request is a
conflict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from winback.cases.lifecycle import apply_action
from winback.cases.model import RecoveryCase, TimelineEntry
from winback.clock import Clock
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.store.engine import write_connection
from winback.store.sla_store import load_sla_states, write_sla
from winback.store.tables import case_actions, case_timeline, cases, customers, outbox
from winback.store.uow import case_from_row

_MUTABLE = (
    "status",
    "priority",
    "category",
    "owner",
    "severity",
    "resolved_at",
    "closed_at",
    "outcome",
    "root_cause",
    "reopen_count",
    "updated_at",
)


# Timeline kinds also queued for the outside world (a reply's delivery arrives with outreach).
_EMITTED = frozenset({"case.reply", "case.escalated", "case.status_changed", "case.assigned"})


class CaseNotFound(LookupError):
    pass


class ActionConflict(Exception):
    """The action cannot be applied for a reason outside the lifecycle (HTTP 409)."""


@dataclass
class ActionResult:
    case: dict[str, Any]
    entries: list[dict[str, Any]]
    replayed: bool = False


def lock_cases(conn: Connection, case_ids: Sequence[int]) -> dict[int, RecoveryCase]:
    """Read cases for update inside a write transaction."""
    # In id order, so two writers locking overlapping sets cannot deadlock each other.
    query = sa.select(cases).where(cases.c.id.in_(list(case_ids))).order_by(cases.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: case_from_row(row) for row in conn.execute(query)}


def save_case(conn: Connection, case: RecoveryCase, read_version: int) -> bool:
    """Write ``case``'s mutable fields if its version is still ``read_version``."""
    moved = conn.execute(
        cases.update()
        .where(cases.c.id == case.id, cases.c.version == read_version)
        .values(**{c: getattr(case, c) for c in _MUTABLE}, version=read_version + 1)
    ).rowcount
    if moved == 1:
        case.version = read_version + 1
    return bool(moved == 1)


def save_cases(conn: Connection, items: Sequence[tuple[RecoveryCase, int]]) -> bool:
    """:func:`save_case` for many cases in one statement; False if any version had moved."""
    if not items:
        return True
    stmt = (
        cases.update()
        .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_v"))
        .values(**{c: sa.bindparam(f"b_{c}") for c in _MUTABLE}, version=cases.c.version + 1)
    )
    moved = conn.execute(
        stmt,
        [
            {"b_id": c.id, "b_v": v, **{f"b_{col}": getattr(c, col) for col in _MUTABLE}}
            for c, v in items
        ],
    ).rowcount
    if moved != len(items):
        return False
    for case, version in items:
        case.version = version + 1
    return True


def append_timeline(conn: Connection, items: Sequence[tuple[int, TimelineEntry]]) -> None:
    """Append timeline entries of several cases in one statement."""
    if items:
        conn.execute(
            case_timeline.insert(),
            [
                {
                    "case_id": case_id,
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "summary": e.summary,
                    "data": e.data,
                    "event_seq": None,
                }
                for case_id, e in items
            ],
        )


def enqueue_many(
    conn: Connection, effects: Mapping[str, tuple[str, dict[str, Any]]], now: datetime
) -> None:
    """Queue outbox effects ``{key: (topic, payload)}``, each once per key."""
    if not effects:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(outbox)
    conn.execute(
        insert.on_conflict_do_nothing(index_elements=["idempotency_key"]),
        [
            {
                "topic": topic,
                "idempotency_key": key,
                "payload": payload,
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
            for key, (topic, payload) in effects.items()
        ],
    )


def append_entries(conn: Connection, case_id: int, entries: Sequence[TimelineEntry]) -> None:
    append_timeline(conn, [(case_id, e) for e in entries])


def enqueue(conn: Connection, topic: str, key: str, payload: dict[str, Any], now: datetime) -> None:
    """Queue an outbox effect once per ``key`` (a second enqueue with the key is a no-op)."""
    exists = conn.execute(sa.select(outbox.c.id).where(outbox.c.idempotency_key == key)).first()
    if exists is None:
        conn.execute(
            outbox.insert().values(
                topic=topic,
                idempotency_key=key,
                payload=payload,
                created_at=now,
                available_at=now,
                attempts=0,
            )
        )


def case_doc(case: RecoveryCase) -> dict[str, Any]:
    return {name: getattr(case, name) for name in vars(case)}


def _entry_doc(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "at": entry.at,
        "actor": entry.actor,
        "summary": entry.summary,
        "data": entry.data,
    }


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
    """The transaction every case action shares: lock the case, answer a retried keyed request
    with its first answer, else run ``apply`` (which changes the case and writes its effects,
    returning the timeline entries made) and remember the answer under the key."""
    request_hash = _request_hash(action, actor, params)
    with write_connection(engine) as conn, conn.begin():
        # Lock the case first: concurrent retries with one key then queue up behind each other
        # and the later ones find the first's answer.
        case = lock_cases(conn, [case_id]).get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        replayed = _replay(conn, case_id, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
        now = clock.now()
        entries = apply(conn, case, now)
        result = ActionResult(case_doc(case), [_entry_doc(e) for e in entries])
        _remember(conn, case_id, idempotency_key, request_hash, result, now)
        return result


def perform_action(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    case_id: int,
    action: str,
    actor: str,
    params: Mapping[str, Any],
    idempotency_key: str | None = None,
) -> ActionResult:
    """Apply one agent action to a case, its timeline, its SLA clocks and the outbox.

    Raises :class:`~winback.cases.lifecycle.ActionError` (nothing changed),
    :class:`CaseNotFound` or :class:`ActionConflict`.
    """

    def apply(conn: Connection, case: RecoveryCase, now: datetime) -> list[TimelineEntry]:
        read_version = case.version
        outcome = apply_action(case, action, actor, params, now)
        if not outcome.changed:
            return outcome.entries
        try:
            with conn.begin_nested():
                if not save_case(conn, case, read_version):  # pragma: no cover - locked
                    raise ActionConflict("the case changed meanwhile; retry")
        except IntegrityError:
            raise ActionConflict(
                f"customer {case.customer_id} already has another open case; "
                "this one cannot be re-opened"
            ) from None
        append_entries(conn, case_id, outcome.entries)
        _track_sla(
            conn,
            sla,
            case,
            outcome.reply,
            outcome.reopened,
            outcome.status_changed or outcome.action == "escalate",
            now,
        )
        for i, entry in enumerate(outcome.entries):
            if entry.kind in _EMITTED:
                # The version is new with every write, so the key names this very change.
                key = f"{entry.kind}:{case_id}:v{case.version}:{i}"
                payload = {"customer_id": case.customer_id, **_entry_doc(entry)}
                enqueue(conn, entry.kind, key, {"case_id": case_id, **payload}, now)
        return outcome.entries

    return keyed_case_action(engine, clock, case_id, action, actor, params, idempotency_key, apply)


def _replay(
    conn: Connection, case_id: int, idempotency_key: str | None, request_hash: str
) -> ActionResult | None:
    """The first answer to this keyed request, or None; raises :class:`ActionConflict` when the
    key was used for a different request. Call with the case locked."""
    if idempotency_key is None:
        return None
    seen = conn.execute(
        sa.select(case_actions).where(
            case_actions.c.case_id == case_id,
            case_actions.c.idempotency_key == idempotency_key,
        )
    ).first()
    if seen is None:
        return None
    if seen.request_hash != request_hash:
        raise ActionConflict(
            f"idempotency key {idempotency_key!r} was used for a different request"
        )
    return ActionResult(seen.response["case"], seen.response["entries"], True)


def _remember(
    conn: Connection,
    case_id: int,
    idempotency_key: str | None,
    request_hash: str,
    result: ActionResult,
    now: datetime,
) -> None:
    """Keep a keyed request's answer, so a retry gets it again (see :func:`_replay`)."""
    if idempotency_key is not None:
        conn.execute(
            case_actions.insert().values(
                case_id=case_id,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                response={"case": result.case, "entries": result.entries},
                created_at=now,
            )
        )


def _track_sla(
    conn: Connection,
    sla: SlaEngine,
    case: RecoveryCase,
    reply: bool,
    reopened: bool,
    status_changed: bool,
    now: datetime,
) -> None:
    assert case.id is not None
    state = load_sla_states(conn, [case.id]).get(case.id)
    customer = conn.execute(
        sa.select(customers.c.segment, customers.c.value, customers.c.timezone).where(
            customers.c.id == case.customer_id
        )
    ).first()
    facts = facts_for(case.priority, case.category, customer, None)
    if state is None:
        # No clocks yet (a case from before SLAs): start them from when the case opened.
        state, _ = sla.track(None, facts, "new", case.opened_at, SlaUpdate(opened=True))
    update = SlaUpdate(reply=reply, reopened=reopened, status_changed=status_changed)
    state, timers = sla.track(state, facts, case.status, now, update)
    write_sla(conn, [(case.id, state, timers)], now)
