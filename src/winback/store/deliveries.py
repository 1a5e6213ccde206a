"""The outbox relay's repository: fan-out of outbox rows into deliveries, and their claims.

Fan-out: an outbox row becomes one delivery per destination (``customer``: the message to the
customer on the channel chosen for them; ``webhook:<id>``: one per subscription of its topic),
once: :func:`claim_undispatched` takes rows with a compare-and-set on ``dispatched_at``
(``UPDATE … WHERE dispatched_at IS NULL RETURNING``) and the deliveries' unique
``(outbox_id, destination)`` drops a repeat. Relays fan out one at a time (SQLite's writer
lock; a transaction-scoped advisory lock on PostgreSQL, which another relay skips rather than
waits for), so deliveries are numbered in outbox order.

Claims: :func:`claim_due` takes deliveries that are due (``pending`` and ``available_at`` has
passed, or ``sending`` whose lease ran out: its relay died) and are first in their *stream* (no
earlier delivery of the same stream is still ``pending`` or ``sending``), so one customer's
messages on one destination go out in order while every other stream proceeds. PostgreSQL
picks them ``FOR UPDATE SKIP LOCKED``; on both databases the claim itself is a compare-and-set
that sets ``state = 'sending'``, a fresh ``claim_token``, a lease and ``attempts + 1`` only where
the row is still claimable, so two relays never both own a delivery. Recording the outcome
checks the token: a relay whose lease ran out and whose delivery another relay took cannot
overwrite the newer outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.store.outbox import insert_for
from winback.store.tables import outbox, outbox_deliveries

D = outbox_deliveries.c
PENDING, SENDING, DELIVERED, DEAD, SUPPRESSED = (
    "pending",
    "sending",
    "delivered",
    "dead",
    "suppressed",
)
STATES = (PENDING, SENDING, DELIVERED, DEAD, SUPPRESSED)
IN_FLIGHT = (PENDING, SENDING)
CUSTOMER = "customer"
_FANOUT_LOCK = 0x77696E6F  # the advisory lock that serialises fan-out on PostgreSQL


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Claimed:
    id: int
    outbox_id: int
    destination: str
    channel: str
    customer_id: str | None
    case_id: int | None
    attempts: int
    token: str
    topic: str
    key: str
    payload: dict[str, Any]


def claim_undispatched(conn: Connection, now: datetime, limit: int) -> list[OutboxRow]:
    """Take up to ``limit`` outbox rows not yet fanned out (inside a write transaction);
    ``[]`` when another relay is fanning out right now (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        got = conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_FANOUT_LOCK))).scalar()
        if not got:
            return []
    ids = (
        sa.select(outbox.c.id)
        .where(outbox.c.dispatched_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
        .scalar_subquery()
    )
    rows = conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids), outbox.c.dispatched_at.is_(None))
        .values(dispatched_at=now)
        .returning(
            outbox.c.id,
            outbox.c.topic,
            outbox.c.idempotency_key,
            outbox.c.payload,
            outbox.c.created_at,
        )
    ).all()
    out = [OutboxRow(r.id, r.topic, r.idempotency_key, dict(r.payload), r.created_at) for r in rows]
    out.sort(key=lambda r: r.id)
    return out


def has_undispatched(conn: Connection) -> bool:
    """Whether any outbox row waits for its fan-out (a read: no writer lock while idle)."""
    query = sa.select(outbox.c.id).where(outbox.c.dispatched_at.is_(None)).limit(1)
    return conn.execute(query).first() is not None


def has_due(conn: Connection, now: datetime, channel: str | None = None) -> bool:
    """Whether any delivery (of ``channel``) may be due now (a read: an idle lane takes no
    writer lock)."""
    query = sa.select(D.id).where(_claimable(now)).limit(1)
    if channel is not None:
        query = query.where(D.channel == channel)
    return conn.execute(query).first() is not None


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert deliveries (in the order given: their ids set the order within a stream)."""
    if rows:
        insert = insert_for(conn)(outbox_deliveries).on_conflict_do_nothing(
            index_elements=["outbox_id", "destination"]
        )
        conn.execute(insert, list(rows))


def recent_customer_messages(
    conn: Connection, customer_ids: Iterable[str], since: datetime
) -> dict[str, int]:
    """Messages to each customer created since ``since`` and not suppressed or dead."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    query = (
        sa.select(D.customer_id, sa.func.count())
        .where(
            D.customer_id.in_(wanted),
            D.destination == CUSTOMER,
            D.created_at >= since,
            D.state.in_((PENDING, SENDING, DELIVERED)),
        )
        .group_by(D.customer_id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def _claimable(now: datetime) -> Any:
    return sa.or_(
        sa.and_(D.state == PENDING, D.available_at <= now),
        sa.and_(D.state == SENDING, D.lease_until < now),
    )


def claim_due(
    conn: Connection,
    now: datetime,
    limit: int,
    lease: timedelta,
    token: str,
    channel: str | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries (of ``channel``, or any), each first in its stream
    (module docstring); call inside a write transaction."""
    earlier = outbox_deliveries.alias("earlier")
    blocked = (
        sa.select(sa.literal(1))
        .where(
            earlier.c.stream == D.stream,
            earlier.c.id < D.id,
            earlier.c.state.in_(IN_FLIGHT),
        )
        .exists()
    )
    query = (
        sa.select(D.id).where(_claimable(now), ~blocked).order_by(D.available_at, D.id).limit(limit)
    )
    if channel is not None:
        query = query.where(D.channel == channel)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=outbox_deliveries)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        outbox_deliveries.update()
        .where(D.id.in_(ids), _claimable(now))
        .values(
            state=SENDING,
            claim_token=token,
            lease_until=now + lease,
            attempts=D.attempts + 1,
        )
    )
    rows = conn.execute(
        sa.select(
            D.id,
            D.outbox_id,
            D.destination,
            D.channel,
            D.customer_id,
            D.case_id,
            D.attempts,
            outbox.c.topic,
            outbox.c.idempotency_key,
            outbox.c.payload,
        )
        .join(outbox, outbox.c.id == D.outbox_id)
        .where(D.id.in_(ids), D.claim_token == token)
        .order_by(D.id)
    ).all()
    return [
        Claimed(
            r.id,
            r.outbox_id,
            r.destination,
            r.channel,
            r.customer_id,
            r.case_id,
            r.attempts,
            token,
            r.topic,
            r.idempotency_key,
            dict(r.payload),
        )
        for r in rows
    ]


def _owned(item: Claimed) -> Any:
    return sa.and_(D.id == item.id, D.claim_token == item.token, D.state == SENDING)


def mark_delivered(conn: Connection, item: Claimed, now: datetime, ref: str | None) -> bool:
    """Record a delivery the provider took; False if the claim was lost meanwhile."""
    return bool(mark_all_delivered(conn, [(item, ref)], now))


def mark_all_delivered(
    conn: Connection, items: Sequence[tuple[Claimed, str | None]], now: datetime
) -> list[Claimed]:
    """Record deliveries the provider took, in two statements; those whose claim was lost
    meanwhile (another relay took them after the lease ran out) are left alone and not
    returned. Call inside a write transaction."""
    if not items:
        return []
    owned = sa.select(D.id, D.claim_token).where(
        D.id.in_([item.id for item, _ in items]), D.state == SENDING
    )
    if conn.dialect.name == "postgresql":
        owned = owned.with_for_update()
    tokens = {row.id: row.claim_token for row in conn.execute(owned)}
    mine = [(item, ref) for item, ref in items if tokens.get(item.id) == item.token]
    if mine:
        conn.execute(
            outbox_deliveries.update()
            .where(D.id == sa.bindparam("b_id"))
            .values(
                state=DELIVERED,
                delivered_at=now,
                provider_ref=sa.bindparam("b_ref"),
                lease_until=None,
                last_error=None,
            ),
            [{"b_id": item.id, "b_ref": None if ref is None else ref[:300]} for item, ref in mine],
        )
    return [item for item, _ in mine]


def mark_failed(conn: Connection, item: Claimed, error: str, retry_at: datetime | None) -> bool:
    """Record a failed try: retried at ``retry_at``, or dead (``None``)."""
    values: dict[str, Any] = {"last_error": error[:2000], "lease_until": None}
    if retry_at is None:
        values["state"] = DEAD
    else:
        values.update(state=PENDING, available_at=retry_at)
    done = conn.execute(outbox_deliveries.update().where(_owned(item)).values(**values))
    return done.rowcount == 1


def list_deliveries(
    conn: Connection,
    *,
    state: str | None = None,
    destination: str | None = None,
    outbox_id: int | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[dict[str, Any]]:
    query = (
        sa.select(
            D.id,
            D.outbox_id,
            D.destination,
            D.channel,
            D.customer_id,
            D.case_id,
            D.state,
            D.attempts,
            D.available_at,
            D.created_at,
            D.delivered_at,
            D.last_error,
            D.provider_ref,
            D.reason,
            outbox.c.topic,
            outbox.c.idempotency_key,
        )
        .join(outbox, outbox.c.id == D.outbox_id)
        .where(D.id > after_id)
        .order_by(D.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(D.state == state)
    if destination is not None:
        query = query.where(D.destination == destination)
    if outbox_id is not None:
        query = query.where(D.outbox_id == outbox_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def redrive(conn: Connection, outbox_id: int, now: datetime) -> int:
    """Put an outbox row's dead deliveries back in line with a fresh count of tries."""
    done = conn.execute(
        outbox_deliveries.update()
        .where(D.outbox_id == outbox_id, D.state == DEAD)
        .values(state=PENDING, attempts=0, available_at=now, claim_token=None, lease_until=None)
    )
    return int(done.rowcount)


def outbox_exists(conn: Connection, outbox_id: int) -> bool:
    found = conn.execute(sa.select(outbox.c.id).where(outbox.c.id == outbox_id)).first()
    return found is not None


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending delivery becomes due (to sleep until then)."""
    value: datetime | None = conn.execute(
        sa.select(sa.func.min(D.available_at)).where(D.state == PENDING)
    ).scalar()
    return value


def outbox_backlog(conn: Connection) -> tuple[int, dict[str, int]]:
    """Outbox rows not fanned out yet, and deliveries pending, sending and dead (each state
    present, 0 when none) — for ``/metrics``; index scans, whatever the delivered history."""
    undispatched = conn.execute(
        sa.select(sa.func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))
    ).scalar_one()
    counts = dict.fromkeys((PENDING, SENDING, DEAD), 0)
    query = sa.select(D.state, sa.func.count()).where(D.state.in_(list(counts))).group_by(D.state)
    for state, count in conn.execute(query):
        counts[state] = int(count)
    return int(undispatched), counts
