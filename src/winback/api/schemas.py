"""Response schemas (``XRead``) for the read API; documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class CaseRead(BaseModel):
    id: int
    customer_id: str
    status: str
    priority: str
    category: str | None
    reason: str
    trigger_event_id: str
    signal_count: int
    opened_at: datetime
    updated_at: datetime
    decided_by: str
    version: int


class TimelineEntryRead(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]
    event_seq: int | None


class EventSummaryRead(BaseModel):
    seq: int
    id: str
    type: str
    occurred_at: datetime
    received_at: datetime
    channel: str | None = None
    touchpoint: str | None = None
    text: str | None = None
    score: dict[str, Any] | None = None
    amount: float | None = None
    currency: str | None = None
    ticket: dict[str, Any] | None = None


class LinkedEventRead(EventSummaryRead):
    role: str


class CaseDetailRead(CaseRead):
    timeline: list[TimelineEntryRead]
    events: list[LinkedEventRead]


class CasePage(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None


class CustomerRead(BaseModel):
    id: str
    email: str | None
    name: str | None
    phone: str | None
    segment: str | None
    plan: str | None
    value: float | None
    timezone: str | None
    location: str | None
    language: str | None
    attributes: dict[str, Any]
    first_seen_at: datetime
    last_event_at: datetime
    event_count: int
    updated_at: datetime
    open_case: CaseRead | None
    recent_events: list[EventSummaryRead]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migrations: str
    processor_lag: int | None
