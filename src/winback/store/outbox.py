"""The one outbox writer: effects queued in the writer's own transaction, once per key.

Effects come from :func:`winback.cases.effects.effects_of` (a case's timeline entries) or from
a stage that has something to say that is no case change (``risk.jumped``, a playbook's
hold-out, the automatic acknowledgement). A second effect with a key already queued is
dropped by the database (``ON CONFLICT DO NOTHING`` on the unique key), so a redone
transaction queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.cases.effects import Effect
from winback.store.tables import outbox


def insert_for(conn: Connection) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_nothing``/``do_update``)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def write_effects(conn: Connection, effects: Iterable[Effect], now: datetime) -> None:
    """Queue ``effects``; a case effect's payload gets the case's id (assigned by now)."""
    rows: dict[str, dict[str, Any]] = {}
    for fx in effects:
        if fx.key in rows:
            continue
        payload = fx.payload if fx.case is None else {"case_id": fx.case.id, **fx.payload}
        rows[fx.key] = {
            "topic": fx.topic,
            "idempotency_key": fx.key,
            "payload": payload,
            "created_at": now,
            "available_at": now,
            "attempts": 0,
        }
    if rows:
        insert = insert_for(conn)(outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
        conn.execute(insert, list(rows.values()))
