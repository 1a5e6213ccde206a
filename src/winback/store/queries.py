"""Read-side queries for the API: cases, their story, and customers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.model import OPEN_STATUSES
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customers,
    event_text,
    events,
)

_TEXT_COLUMNS = (
    event_text.c.sentiment,
    event_text.c.sentiment_score,
    event_text.c.category.label("text_category"),
    event_text.c.urgency,
    event_text.c.language.label("text_language"),
    event_text.c.redacted,
    event_text.c.pii,
    event_text.c.model_version.label("text_model_version"),
)


def _text_enrichment(row: Any) -> dict[str, Any] | None:
    """The event's text enrichment (issue 4), from the outer-joined ``event_text`` columns."""
    if getattr(row, "sentiment", None) is None:
        return None
    return {
        "sentiment": row.sentiment,
        "sentiment_score": row.sentiment_score,
        "category": row.text_category,
        "urgency": list(row.urgency or ()),
        "language": row.text_language,
        "pii": list(row.pii or ()),
        "model_version": row.text_model_version,
    }


def _event_summary(row: Any, redact_text: bool = False) -> dict[str, Any]:
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
    analysis = _text_enrichment(row)
    if analysis is not None:
        summary["analysis"] = analysis
        if redact_text:
            summary["text"] = row.redacted
    elif redact_text and "text" in summary:
        summary["text"] = None  # not analysed (yet): never show the raw text when redacting
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


def get_case(conn: Connection, case_id: int, *, redact_text: bool = False) -> dict[str, Any] | None:
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
        sa.select(events, case_events.c.role, *_TEXT_COLUMNS)
        .join(case_events, case_events.c.event_seq == events.c.seq)
        .outerjoin(event_text, event_text.c.event_seq == events.c.seq)
        .where(case_events.c.case_id == case_id)
        .order_by(events.c.seq)
    )
    case["events"] = [{**_event_summary(r, redact_text), "role": r.role} for r in linked]
    return case


def get_customer(
    conn: Connection, customer_id: str, recent: int = 20, *, redact_text: bool = False
) -> dict[str, Any] | None:
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
        _event_summary(r, redact_text)
        for r in conn.execute(
            sa.select(events, *_TEXT_COLUMNS)
            .outerjoin(event_text, event_text.c.event_seq == events.c.seq)
            .where(events.c.customer_id == customer_id)
            .order_by(events.c.occurred_at.desc(), events.c.seq.desc())
            .limit(recent)
        )
    ]
    return customer


def count_cases(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one())
