"""Read-side queries for the API: cases, their story, and customers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.model import OPEN_STATUSES
from winback.store.tables import case_events, case_timeline, cases, customers, events


def _event_summary(row: Any) -> dict[str, Any]:
    payload = row.payload
    summary = {
        "seq": row.seq,
        "id": row.event_id,
        "type": row.type,
        "occurred_at": row.occurred_at,
        "received_at": row.received_at,
    }
    for key in ("channel", "touchpoint", "text", "score", "amount", "currency", "ticket"):
        if key in payload:
            summary[key] = payload[key]
    return summary


def list_cases(
    conn: Connection,
    *,
    status: list[str] | None,
    customer_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = sa.select(cases).order_by(cases.c.id.desc()).limit(limit)
    if status:
        query = query.where(cases.c.status.in_(status))
    if customer_id is not None:
        query = query.where(cases.c.customer_id == customer_id)
    if before_id is not None:
        query = query.where(cases.c.id < before_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def get_case(conn: Connection, case_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        return None
    case = dict(row._mapping)
    case["timeline"] = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(case_timeline)
            .where(case_timeline.c.case_id == case_id)
            .order_by(case_timeline.c.id)
        )
    ]
    linked = conn.execute(
        sa.select(events, case_events.c.role)
        .join(case_events, case_events.c.event_seq == events.c.seq)
        .where(case_events.c.case_id == case_id)
        .order_by(events.c.seq)
    )
    case["events"] = [{**_event_summary(r), "role": r.role} for r in linked]
    return case


def get_customer(conn: Connection, customer_id: str, recent: int = 20) -> dict[str, Any] | None:
    row = conn.execute(sa.select(customers).where(customers.c.id == customer_id)).first()
    if row is None:
        return None
    customer = dict(row._mapping)
    customer.pop("field_times", None)
    open_case = conn.execute(
        sa.select(cases).where(
            cases.c.customer_id == customer_id, cases.c.status.in_(sorted(OPEN_STATUSES))
        )
    ).first()
    customer["open_case"] = None if open_case is None else dict(open_case._mapping)
    customer["recent_events"] = [
        _event_summary(r)
        for r in conn.execute(
            sa.select(events)
            .where(events.c.customer_id == customer_id)
            .order_by(events.c.occurred_at.desc(), events.c.seq.desc())
            .limit(recent)
        )
    ]
    return customer


def count_cases(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one())
