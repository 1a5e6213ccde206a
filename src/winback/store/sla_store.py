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

from winback.sla.tracking import SlaState, TimerSpec
from winback.store.eventlog import chunks
from winback.store.tables import case_sla, sla_timers


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
