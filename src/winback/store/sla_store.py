"""Storing SLA clock states and their timers.

``case_sla`` holds each case's clock state (a JSON document); ``sla_timers`` holds the timers
that state implies. Writing a state *replaces* the case's unfired timers with the new set; a
timer that already fired keeps its row, and the unique key (case, metric, kind, level, cycle)
stops the same warning, breach or escalation from being scheduled — or fired — again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.cases.model import OPEN_STATUSES
from winback.sla.tracking import SlaState, TimerSpec
from winback.store.eventlog import chunks
from winback.store.tables import case_sla, cases, customers, sla_timers


def _insert_for(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def load_sla_states(conn: Connection, case_ids: Sequence[int]) -> dict[int, SlaState]:
    states: dict[int, SlaState] = {}
    for part in chunks(list(case_ids)):
        query = sa.select(case_sla.c.case_id, case_sla.c.state).where(case_sla.c.case_id.in_(part))
        for row in conn.execute(query):
            states[row.case_id] = SlaState.from_doc(row.state)
    return states


def write_sla(
    conn: Connection,
    items: Iterable[tuple[int, SlaState, list[TimerSpec]]],
    now: datetime,
    new_cases: Collection[int] = (),
) -> None:
    """Upsert each case's state and replace its unfired timers (inside the caller's
    transaction). Cases in ``new_cases`` were inserted in this transaction: no old timers."""
    items = list(items)
    if not items:
        return
    rows = [
        {
            "case_id": case_id,
            "policy": state.policy,
            "fingerprint": state.fingerprint,
            "state": state.to_doc(),
            "updated_at": now,
        }
        for case_id, state, _ in items
    ]
    insert = _insert_for(conn)(case_sla)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["case_id"],
            set_={c: insert.excluded[c] for c in ("policy", "fingerprint", "state", "updated_at")},
        ),
        rows,
    )
    ids = [case_id for case_id, _, _ in items if case_id not in new_cases]
    for part in chunks(ids):
        conn.execute(
            sla_timers.delete().where(
                sla_timers.c.case_id.in_(part), sla_timers.c.fired_at.is_(None)
            )
        )
    timer_rows = [
        {
            "case_id": case_id,
            "metric": t.metric,
            "kind": t.kind,
            "level": t.level,
            "generation": t.generation,
            "due_at": t.due_at,
            "created_at": now,
        }
        for case_id, _, timers in items
        for t in timers
    ]
    if timer_rows:
        conn.execute(_insert_for(conn)(sla_timers).on_conflict_do_nothing(), timer_rows)


def next_due(conn: Connection) -> datetime | None:
    """The earliest unfired timer's due time (an index lookup)."""
    value: datetime | None = conn.execute(
        sa.select(sa.func.min(sla_timers.c.due_at)).where(sla_timers.c.fired_at.is_(None))
    ).scalar()
    if value is not None and value.tzinfo is None:  # min() on SQLite bypasses the column type
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def customer_facts(conn: Connection, customer_id: str) -> Any:
    """The customer fields SLA policies match on (segment, value, time zone), or None."""
    return conn.execute(
        sa.select(customers.c.segment, customers.c.value, customers.c.timezone).where(
            customers.c.id == customer_id
        )
    ).first()


def customers_facts(conn: Connection, customer_ids: Collection[str]) -> dict[str, Any]:
    """:func:`customer_facts` for many customers, by id."""
    out: dict[str, Any] = {}
    for part in chunks(list(customer_ids)):
        query = sa.select(
            customers.c.id, customers.c.segment, customers.c.value, customers.c.timezone
        ).where(customers.c.id.in_(part))
        out.update((row.id, row) for row in conn.execute(query))
    return out


def due_timers(conn: Connection, now: datetime, limit: int) -> list[Any]:
    """Unfired timers due by ``now``, oldest first."""
    return list(
        conn.execute(
            sa.select(sla_timers)
            .where(sla_timers.c.fired_at.is_(None), sla_timers.c.due_at <= now)
            .order_by(sla_timers.c.due_at)
            .limit(limit)
        ).all()
    )


def claim_timers(conn: Connection, timer_ids: Sequence[int], now: datetime) -> set[int]:
    """Mark the timers fired unless another claimant got there first; the ids this one got.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` (in id order): a timer another
    instance is claiming right now is left to it instead of waited for, so several timer
    services split the due timers and never block or deadlock on each other's batches; a row
    it committed as fired no longer matches ``fired_at IS NULL``. SQLite has one writer."""
    ids = list(timer_ids)
    where = [sla_timers.c.id.in_(ids), sla_timers.c.fired_at.is_(None)]
    if conn.dialect.name == "postgresql":
        free = (
            sa.select(sla_timers.c.id)
            .where(*where)
            .order_by(sla_timers.c.id)
            .with_for_update(skip_locked=True)
        )
        where = [sla_timers.c.id.in_(free)]
    return set(
        conn.execute(
            sla_timers.update().where(*where).values(fired_at=now).returning(sla_timers.c.id)
        ).scalars()
    )


def stale_case_ids(conn: Connection, fingerprint: str | None, after: int, limit: int) -> list[int]:
    """Open cases (ids after ``after``) whose clocks were computed under another configuration
    than ``fingerprint`` (all open cases when it is None)."""
    query = (
        sa.select(cases.c.id)
        .outerjoin(case_sla, case_sla.c.case_id == cases.c.id)
        .where(cases.c.status.in_(sorted(OPEN_STATUSES)), cases.c.id > after)
        .order_by(cases.c.id)
        .limit(limit)
    )
    if fingerprint is not None:
        query = query.where(
            sa.or_(case_sla.c.fingerprint.is_(None), case_sla.c.fingerprint != fingerprint)
        )
    return list(conn.execute(query).scalars())


def case_timers(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """A case's timers, fired or not, in due order (for the API's SLA view)."""
    rows = conn.execute(
        sla_timers.select()
        .where(sla_timers.c.case_id == case_id)
        .order_by(sla_timers.c.due_at, sla_timers.c.id)
    )
    return [
        {
            "metric": r.metric,
            "kind": r.kind,
            "level": r.level,
            "cycle": r.generation,
            "due_at": r.due_at,
            "fired_at": r.fired_at,
        }
        for r in rows
    ]
