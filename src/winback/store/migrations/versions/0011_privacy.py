"""Payment data already stored is replaced, as ingest and the services now do for new data.

Card numbers and IBANs (``winback.payment``) in event payloads, customers' attributes, case
reasons, outcomes and root causes, timeline summaries and data, remembered answers, remedy
reasons and outbox payloads become ``[CARD]`` / ``[IBAN]``. An event whose payload changes gets
the content hash ingest now computes (over the stored payload), so a sender retrying it is
still answered ``duplicate``; the sender's own ``occurred_at`` is counted in the hash unless it
equals the time of receipt (the time ingest stamps on events sent without one).

Irreversible: the downgrade leaves the replaced data replaced (nothing in the schema changes).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from winback.payment import redact_payment, scrub_payment

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BATCH = 1000


def _text(value: Any) -> Any:
    return redact_payment(value) if isinstance(value, str) else value


def _batches(conn: sa.Connection, table: sa.Table, columns: list[str]) -> Iterator[list[Any]]:
    """The rows in primary-key order, ``_BATCH`` at a time (keyset: a composite key too)."""
    keys = list(table.primary_key.columns)
    key = sa.tuple_(*keys) if len(keys) > 1 else keys[0]
    after: Any = None
    while True:
        query = sa.select(*keys, *(table.c[c] for c in columns))
        if after is not None:
            query = query.where(key > (sa.tuple_(*after) if len(keys) > 1 else after[0]))
        rows = list(conn.execute(query.order_by(*keys).limit(_BATCH)))
        if not rows:
            return
        yield rows
        after = [getattr(rows[-1], k.name) for k in keys]


def _scrub_table(conn: sa.Connection, name: str, cleaners: dict[str, Callable[[Any], Any]]) -> None:
    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
    keys = [c.name for c in table.primary_key.columns]
    for rows in _batches(conn, table, list(cleaners)):
        for row in rows:
            changed = {}
            for column, clean in cleaners.items():
                value = getattr(row, column)
                cleaned = clean(value)
                if cleaned is not value and cleaned != value:
                    changed[column] = cleaned
            if changed:
                where = [table.c[k] == getattr(row, k) for k in keys]
                conn.execute(table.update().where(*where).values(**changed))


def _scrub_events(conn: sa.Connection) -> None:
    table = sa.Table("events", sa.MetaData(), autoload_with=conn)
    for rows in _batches(conn, table, ["payload", "occurred_at", "received_at"]):
        for row in rows:
            payload = scrub_payment(row.payload)
            if payload is row.payload:
                continue
            hashed = dict(payload)
            if row.occurred_at != row.received_at:
                hashed["occurred_at"] = _utc(row.occurred_at).isoformat()
            canonical = orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.blake2b(canonical, digest_size=16).hexdigest()
            conn.execute(
                table.update()
                .where(table.c.seq == row.seq)
                .values(payload=payload, content_hash=digest)
            )


def _utc(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    conn = op.get_bind()
    _scrub_events(conn)
    _scrub_table(conn, "customers", {"attributes": scrub_payment})
    _scrub_table(conn, "cases", {"reason": _text, "outcome": _text, "root_cause": _text})
    _scrub_table(conn, "case_timeline", {"summary": _text, "data": scrub_payment})
    _scrub_table(conn, "case_actions", {"response": scrub_payment})
    _scrub_table(conn, "remedy_grants", {"reason": _text})
    _scrub_table(conn, "outbox", {"payload": scrub_payment})


def downgrade() -> None:
    """Nothing to undo in the schema; the replaced payment data stays replaced."""
