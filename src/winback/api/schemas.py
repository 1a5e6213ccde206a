"""Response schemas (``XRead``) for the read API; documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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
    owner: str | None = None
    severity: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    root_cause: str | None = None
    reopen_count: int = 0
    # The case's plan: what the playbooks chose.
    team: str | None = None
    sla_policy: str | None = None
    channel: str | None = None
    incident: str | None = None
    remedies: list[str] | None = Field(None, description="Remedies the playbooks suggest.")
    handoff: list[str] | None = Field(None, description="Why a human must handle it.")
    automated: bool = Field(
        False,
        description="Automation may handle it (a rule asked, no handoff reason): routing "
        "puts it in no human queue.",
    )


class TimelineEntryRead(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]
    event_seq: int | None


class TextAnalysisRead(BaseModel):
    """What the text stage understood from the event's text; see docs/text.md."""

    sentiment: str
    sentiment_score: float
    category: str
    urgency: list[str]
    language: str
    pii: list[str]
    model_version: str


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
    analysis: TextAnalysisRead | None = None


class LinkedEventRead(EventSummaryRead):
    role: str


class SlaClockRead(BaseModel):
    """A running SLA clock: business and wall time so far, its deadline (none while paused)."""

    metric: str
    cycle: int
    started_at: datetime
    target_s: float | None
    due_at: datetime | None
    business_s: float
    wall_s: float
    paused_s: float
    paused: bool
    warned: bool
    breached: bool


class SlaMeasurementRead(BaseModel):
    """A stopped SLA clock: how long it took in business and wall time, met or breached."""

    metric: str
    generation: int
    started_at: datetime
    stopped_at: datetime
    target_s: float | None
    business_s: float
    wall_s: float
    paused_s: float
    breached: bool
    outcome: str


class CaseSlaRead(BaseModel):
    """The case's SLA metrics (docs/sla.md): policy, running clocks, finished measurements."""

    policy: str | None
    calendar: str | None
    timezone: str
    paused_since: datetime | None
    paused_total_s: float
    running: list[SlaClockRead]
    measurements: list[SlaMeasurementRead]
    timers: list[dict[str, Any]] = []


class CaseDetailRead(CaseRead):
    timeline: list[TimelineEntryRead]
    events: list[LinkedEventRead]
    allowed_actions: list[str] = []
    sla: CaseSlaRead | None = None
    customer_risk: CustomerRiskRead | None = None  # the customer's churn risk and why


class RiskReasonRead(BaseModel):
    feature: str
    text: str = Field(description='In plain words, e.g. "3 complaints about billing in 7 days".')
    contribution: float


class CaseQueueRead(CaseRead):
    """A row of the case queue (``GET /v1/cases``): the case, what is due next, and the risk."""

    next_due_at: datetime | None = Field(
        description="The earliest pending SLA breach deadline; null when no clock is running "
        "(no policy, paused, or every target met or breached)."
    )
    next_due_metric: str | None = Field(
        description="The SLA metric of next_due_at: first_response, next_response, resolution."
    )
    next_warning_at: datetime | None = Field(
        description="The earliest pending SLA warning; null when none is pending."
    )
    risk: float | None = Field(
        description="The customer's churn probability (docs/risk.md); null before it is scored."
    )
    risk_reasons: list[RiskReasonRead] = Field(
        description="The top reasons behind risk, in plain words."
    )


class CasePage(BaseModel):
    items: list[CaseQueueRead]
    next_cursor: str | None


class CustomerRiskRead(BaseModel):
    """Churn risk (docs/risk.md): probability of leaving within ``horizon_days``, and why."""

    probability: float
    horizon_days: int
    reasons: list[RiskReasonRead]
    model_version: str
    as_of: datetime | None = Field(description="The latest event time the features count from.")
    updated_at: datetime
    jumped_at: datetime | None
    features: dict[str, Any]


class CustomerRiskItem(BaseModel):
    id: str
    name: str | None
    plan: str | None
    segment: str | None
    value: float | None
    probability: float
    horizon_days: int
    reasons: list[RiskReasonRead]
    model_version: str
    as_of: datetime | None
    updated_at: datetime


class CustomerRiskPage(BaseModel):
    items: list[CustomerRiskItem]


CaseDetailRead.model_rebuild()  # its customer_risk field names a class defined above this line


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
    risk: CustomerRiskRead | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` (see `reasons`).")
    database: str
    migrations: str
    processor_lag: int | None = Field(description="Events logged but not yet processed.")
    partition_lag: dict[str, int] = Field(
        default_factory=dict,
        description="The same, per partition of the log (`winback db partitions`; one "
        'partition: `{"0": processor_lag}`).',
    )
    ingest_queue_events: int = Field(
        default=0, description="Events waiting for the group committer in this process."
    )
    reasons: list[str] = Field(
        default_factory=list,
        description="Why the process is not ready: the database, pending migrations, or "
        "overload (the commit queue or the processor lag over its bound; ingest answers 503).",
    )
    configuration_refused: dict[str, str] = Field(
        default_factory=dict,
        description="Configuration files that do not load, with the error; the last good "
        "version stays in force, so this does not make the process unready.",
    )


class AuditRecordRead(BaseModel):
    """One audit record (``GET /v1/audit``; see docs/audit.md)."""

    seq: int = Field(description="Position in the chain: gapless, in commit order.")
    at: datetime
    actor: str = Field(description="Who acted, e.g. user:ana, system:winback.")
    credential: str = Field(description="What proved it: session, key:<id>, cli, system, api.")
    action: str = Field(description="e.g. case.assign, remedy.approve, roster.update.")
    subject_type: str
    subject_id: str | None
    customer_id: str | None = Field(
        description="The customer the record concerns (a pseudonym once erased)."
    )
    before: dict[str, Any] | None = Field(description="The changed fields before.")
    after: dict[str, Any] | None = Field(description="The changed fields after.")
    details: dict[str, Any] | None
    personal: dict[str, Any] | None = Field(
        description="Free text that may name people (removed when the customer is erased)."
    )
    scrubbed: bool = Field(description="Its personal part was removed by an erasure.")
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditRecordRead]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page (a sequence number); null at the end."
    )
