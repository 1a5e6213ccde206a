"""The cases repository: reading, locking and writing cases, their timelines and outbox effects.

Writers outside the processor (the application services) read a case *inside* their write
transaction (SQLite: under the writer lock with ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT …
FOR UPDATE``) and bump its ``version`` when they write, so the processor's optimistic ``UPDATE
… WHERE version = <what it read>`` notices and redoes its work from fresh state.

:func:`write_changes` is how every writer persists :class:`~winback.cases.transitions.Change`
objects: the case's fields, its timeline entries and the outbox effects the one rule in
:mod:`winback.cases.effects` derives from them. The processor's unit of work uses the same
pieces in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.effects import effects_of
from winback.cases.model import RecoveryCase, TimelineEntry
from winback.cases.transitions import Change
from winback.errors import StateChanged
from winback.store.outbox import write_effects
from winback.store.tables import case_timeline, cases

# The case's plan: what the playbooks chose, written when it opens and whenever it changes.
_PLAN = ("team", "sla_policy", "channel", "incident", "remedies", "handoff", "automated")
# Every column a writer may change after the case was opened.
MUTABLE = (
    "status",
    "priority",
    "category",
    "owner",
    "severity",
    "signal_count",
    "resolved_at",
    "closed_at",
    "outcome",
    "root_cause",
    "reopen_count",
    "updated_at",
    *_PLAN,
)
# What a new case is inserted with (the rest take their defaults).
INSERTED = (
    "customer_id",
    "status",
    "priority",
    "category",
    "reason",
    "trigger_event_id",
    "signal_count",
    "opened_at",
    "updated_at",
    "decided_by",
    "severity",
    "owner",
    *_PLAN,
)


def case_from_row(row: Any) -> RecoveryCase:
    data = dict(row._mapping)
    data["remedies"] = list(data.get("remedies") or [])
    data["handoff"] = list(data.get("handoff") or [])
    return RecoveryCase(**data)


def case_doc(case: RecoveryCase) -> dict[str, Any]:
    return {name: getattr(case, name) for name in vars(case)}


def get_case(conn: Connection, case_id: int) -> RecoveryCase | None:
    row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).first()
    return None if row is None else case_from_row(row)


def lock_cases(conn: Connection, case_ids: Sequence[int]) -> dict[int, RecoveryCase]:
    """Read cases for update inside a write transaction."""
    # In id order, so two writers locking overlapping sets cannot deadlock each other.
    query = sa.select(cases).where(cases.c.id.in_(list(case_ids))).order_by(cases.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: case_from_row(row) for row in conn.execute(query)}


def insert_cases(conn: Connection, new: Sequence[RecoveryCase]) -> None:
    """Insert new cases and give each its id."""
    if not new:
        return
    result = conn.execute(
        cases.insert().returning(cases.c.id, sort_by_parameter_order=True),
        [{**{col: getattr(c, col) for col in INSERTED}, "version": 0} for c in new],
    )
    for case, row in zip(new, result.all(), strict=True):
        case.id = row.id


def update_cases(conn: Connection, items: Sequence[tuple[RecoveryCase, int]]) -> bool:
    """Write each case's mutable fields if its version is still the one read (in one
    statement); False if any version had moved. Bumps the versions written."""
    if not items:
        return True
    stmt = (
        cases.update()
        .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_v"))
        .values(**{c: sa.bindparam(f"b_{c}") for c in MUTABLE}, version=cases.c.version + 1)
    )
    moved = conn.execute(
        stmt,
        [
            {"b_id": c.id, "b_v": v, **{f"b_{col}": getattr(c, col) for col in MUTABLE}}
            for c, v in items
        ],
    ).rowcount
    if moved != len(items):
        return False
    for case, version in items:
        case.version = version + 1
    return True


def append_timeline(conn: Connection, items: Iterable[tuple[RecoveryCase, TimelineEntry]]) -> None:
    """Append timeline entries of several cases in one statement (the cases have ids)."""
    rows = [
        {
            "case_id": case.id,
            "at": e.at,
            "kind": e.kind,
            "actor": e.actor,
            "summary": e.summary,
            "data": e.data,
            "event_seq": e.event_seq,
        }
        for case, e in items
    ]
    if rows:
        conn.execute(case_timeline.insert(), rows)


def write_changes(conn: Connection, changes: Sequence[tuple[Change, int]], now: datetime) -> None:
    """Persist changes made to locked cases: ``(change, version read)`` each. Raises
    :class:`~winback.errors.StateChanged` if a case's version moved (it cannot while locked)."""
    changed = [(c, v) for c, v in changes if c.changed]
    by_case: dict[int, tuple[RecoveryCase, int]] = {}
    for change, version in changed:
        assert change.case.id is not None
        by_case.setdefault(change.case.id, (change.case, version))
    if not update_cases(conn, list(by_case.values())):
        raise StateChanged("the case changed meanwhile; retry")
    entries = [(c.case, e) for c, _ in changed for e in c.entries]
    append_timeline(conn, entries)
    write_effects(conn, [fx for c, _ in changed for fx in effects_of(c.case, c.entries)], now)
