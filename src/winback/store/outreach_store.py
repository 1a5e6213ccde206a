"""Webhook subscriptions, customer preferences and contacts: what the relay's fan-out reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.outreach.preferences import Contact
from winback.store.outbox import insert_for
from winback.store.tables import (
    cases,
    customer_preferences,
    customers,
    outbox_deliveries,
    webhook_subscriptions,
)

W = webhook_subscriptions.c


def create_subscription(
    conn: Connection,
    url: str,
    topics: list[str],
    secret: str,
    description: str | None,
    now: datetime,
) -> dict[str, Any]:
    row = conn.execute(
        webhook_subscriptions.insert()
        .values(
            url=url,
            topics=topics,
            secret=secret,
            description=description,
            active=True,
            created_at=now,
        )
        .returning(*webhook_subscriptions.c)
    ).one()
    return dict(row._mapping)


def list_subscriptions(conn: Connection) -> list[dict[str, Any]]:
    query = sa.select(webhook_subscriptions).where(W.active.is_(True)).order_by(W.id)
    return [dict(row._mapping) for row in conn.execute(query)]


def get_subscription(conn: Connection, sub_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(webhook_subscriptions).where(W.id == sub_id)).first()
    return None if row is None else dict(row._mapping)


def delete_subscription(conn: Connection, sub_id: int) -> bool:
    """Deactivate (its delivery log stays readable); False if there was none."""
    done = conn.execute(
        webhook_subscriptions.update()
        .where(W.id == sub_id, W.active.is_(True))
        .values(active=False)
    )
    return done.rowcount == 1


def subscribers(subscriptions: Iterable[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [s for s in subscriptions if topic in s["topics"] or "*" in s["topics"]]


def get_preferences(conn: Connection, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    query = sa.select(customer_preferences).where(customer_preferences.c.customer_id.in_(wanted))
    return {row.customer_id: dict(row.preferences) for row in conn.execute(query)}


def put_preferences(conn: Connection, customer_id: str, doc: dict[str, Any], now: datetime) -> None:
    insert = insert_for(conn)(customer_preferences).values(
        customer_id=customer_id, preferences=doc, updated_at=now
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["customer_id"], set_={"preferences": doc, "updated_at": now}
        )
    )


def contacts(conn: Connection, customer_ids: Iterable[str]) -> dict[str, Contact]:
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    c = customers.c
    query = sa.select(c.id, c.email, c.phone, c.language, c.timezone, c.name).where(
        c.id.in_(wanted)
    )
    return {
        r.id: Contact(r.id, r.email, r.phone, r.language, r.timezone, r.name)
        for r in conn.execute(query)
    }


def customer_docs(conn: Connection, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What templates may say about a customer."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    c = customers.c
    query = sa.select(
        c.id, c.name, c.email, c.phone, c.language, c.segment, c.plan, c.timezone
    ).where(c.id.in_(wanted))
    return {r.id: dict(r._mapping) for r in conn.execute(query)}


def case_docs(conn: Connection, case_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    k = cases.c
    query = sa.select(
        k.id, k.status, k.priority, k.reason, k.category, k.owner, k.opened_at, k.channel
    ).where(k.id.in_(wanted))
    return {r.id: dict(r._mapping) for r in conn.execute(query)}


def customer_by_message_id(conn: Connection, message_id: str) -> str | None:
    """The customer an e-mail with ``message_id`` (its provider reference) went to."""
    d = outbox_deliveries.c
    row = conn.execute(
        sa.select(d.customer_id).where(d.provider_ref == message_id, d.channel == "email").limit(1)
    ).first()
    return None if row is None else row[0]


def customer_by_email(conn: Connection, email: str) -> str | None:
    c = customers.c
    row = conn.execute(
        sa.select(c.id).where(sa.func.lower(c.email) == email.strip().lower()).limit(1)
    ).first()
    return None if row is None else str(row[0])
