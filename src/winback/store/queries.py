"""Read-side queries for the API: cases, their story, and customers.

Redacted unless revealed: every read here takes ``reveal`` (default False). Without it the
customer's contact details (e-mail, phone) become placeholders and every free text — event
texts (their PII-redacted copy), timeline summaries and data, case reasons, outcomes and root
causes, customer attributes — goes through :func:`winback.text.pii.redact` (docs/privacy.md).
The API decides ``reveal`` in one place (``api/deps.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.model import OPEN_STATUSES
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customer_risk,
    customers,
    event_text,
    events,
    remedy_grants,
    sla_timers,
)
from winback.text.pii import PLACEHOLDERS, redact, redact_json

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
    """The text stage's analysis of the event, from the outer-joined ``event_text`` columns."""
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


# The free-text fields of a case row, redacted unless revealed.
_CASE_TEXT = ("reason", "outcome", "root_cause")


def redact_case(case: dict[str, Any]) -> dict[str, Any]:
    """A case row (in place) with its free text PII-redacted."""
    for key in _CASE_TEXT:
        value = case.get(key)
        if isinstance(value, str):
            case[key] = redact(value).text
    return case


def redact_timeline(entry: dict[str, Any]) -> dict[str, Any]:
    """A timeline entry (in place) with its summary and data PII-redacted."""
    entry["summary"] = redact(entry["summary"]).text
    entry["data"] = redact_json(entry["data"])
    return entry


def redact_contact(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer row (in place): e-mail and phone as placeholders, attributes redacted."""
    for key in ("email", "phone"):
        if customer.get(key):
            customer[key] = PLACEHOLDERS[key]
    if customer.get("attributes"):
        customer["attributes"] = redact_json(customer["attributes"])
    return customer


def _event_summary(row: Any, reveal: bool = False) -> dict[str, Any]:
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
        if not reveal and "text" in summary:
            summary["text"] = row.redacted or None
    elif not reveal and "text" in summary:
        summary["text"] = redact(summary["text"]).text  # not analysed yet: redact it here
    return summary


# -- The case queue (GET /v1/cases) ---------------------------------------------------------
# One statement per page: filters, sort and keyset position are SQL; the next deadline and
# the risk are correlated subqueries and an outer join, computed by the database for the rows
# it reads (an index lookup each: ``uq_sla_timers_key`` starts with the case id), never one
# query per row from Python. The team is the case plan's ``team`` column.


def _next_timer(kind: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``column`` of the case's earliest unfired SLA timer of ``kind`` (ties by metric)."""
    return (
        sa.select(column)
        .where(
            sla_timers.c.case_id == cases.c.id,
            sla_timers.c.kind == kind,
            sla_timers.c.fired_at.is_(None),
        )
        .order_by(sla_timers.c.due_at, sla_timers.c.metric)
        .limit(1)
        .correlate(cases)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class CaseFilters:
    """What the queue keeps. Each sequence matches any of its values; empty matches all.
    ``None`` in ``owners`` / ``teams`` matches cases without one. ``open`` keeps the open
    statuses (True) or the others (False); it and ``statuses`` must both hold."""

    statuses: Sequence[str] = ()
    owners: Sequence[str | None] = ()
    teams: Sequence[str | None] = ()
    priorities: Sequence[str] = ()
    categories: Sequence[str] = ()
    customer_id: str | None = None
    open: bool | None = None


@dataclass(frozen=True)
class QueueSort:
    """A sort key (one of :data:`QUEUE_SORT_FIELDS`) and its direction; ties go by case id in
    the same direction. Cases without a value (no deadline, no risk) come last either way."""

    key: str = "id"
    descending: bool = True


@dataclass(frozen=True)
class QueuePosition:
    """The last row of the previous page: its sort value and id (keyset pagination)."""

    value: Any
    case_id: int


# The sort keys and the row field that holds each one's value.
QUEUE_SORT_FIELDS = {
    "id": "id",
    "opened": "opened_at",
    "updated": "updated_at",
    "priority": "priority",
    "due": "next_due_at",
    "risk": "risk",
}
# The keys a case may have no value for (no running SLA clock, a customer not scored yet).
QUEUE_NULLABLE_SORTS = frozenset({"due", "risk"})


def _any_of(column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column`` equals one of ``values``; ``None`` among them matches NULL."""
    present = [v for v in values if v is not None]
    conditions = [column.in_(present)] if present else []
    if len(present) < len(values):
        conditions.append(column.is_(None))
    return sa.or_(*conditions)


def _after(
    key: sa.ColumnElement[Any], sort: QueueSort, position: QueuePosition
) -> sa.ColumnElement[bool]:
    """Rows after ``position`` in ``sort`` order (NULL keys last, ties by id)."""
    tie = cases.c.id < position.case_id if sort.descending else cases.c.id > position.case_id
    if sort.key == "id":
        return tie
    if position.value is None:
        return sa.and_(key.is_(None), tie)
    beyond = key < position.value if sort.descending else key > position.value
    after = sa.or_(beyond, sa.and_(key == position.value, tie))
    if sort.key in QUEUE_NULLABLE_SORTS:
        after = sa.or_(after, key.is_(None))
    return after


def _filtered(query: sa.Select[Any], filters: CaseFilters) -> sa.Select[Any]:
    if filters.statuses:
        query = query.where(cases.c.status.in_(filters.statuses))
    if filters.open is not None:
        open_statuses = sorted(OPEN_STATUSES)
        query = query.where(
            cases.c.status.in_(open_statuses)
            if filters.open
            else cases.c.status.not_in(open_statuses)
        )
    if filters.owners:
        query = query.where(_any_of(cases.c.owner, filters.owners))
    if filters.teams:
        query = query.where(_any_of(cases.c.team, filters.teams))
    if filters.priorities:
        query = query.where(cases.c.priority.in_(filters.priorities))
    if filters.categories:
        query = query.where(cases.c.category.in_(filters.categories))
    if filters.customer_id is not None:
        query = query.where(cases.c.customer_id == filters.customer_id)
    return query


def _due_first(filters: CaseFilters, sort: QueueSort) -> bool:
    """Whether the earliest-deadline-first queue should walk the pending timers in due order
    (the index on them) rather than compute every matching case's next deadline and sort.

    Walking the timers stops after ``limit`` cases, whatever the number of open cases; it is
    the better plan unless the filters keep few cases (one customer, named owners), where
    computing the deadlines of those few is cheaper than walking past everyone else's."""
    named_owner = any(owner is not None for owner in filters.owners)
    return (
        sort.key == "due"
        and not sort.descending
        and not named_owner
        and filters.customer_id is None
    )


def _list_by_due(
    conn: Connection, filters: CaseFilters, after: QueuePosition | None, limit: int
) -> list[dict[str, Any]]:
    """``list_cases`` sorted by due time, earliest first, driven by the pending-timer index.

    The first statement walks unfired breach timers in (due, case) order, keeping each case's
    earliest (ties by metric), and stops after ``limit`` cases; only when the deadlines run out
    on the page does a second statement add the cases without a pending breach, by id (they
    come last). Finding those means looking at every open case, which the first page of a
    large queue never needs."""
    timer, other = sla_timers.alias("timer"), sla_timers.alias("other")
    earliest = ~sa.exists().where(
        other.c.case_id == timer.c.case_id,
        other.c.kind == "breach",
        other.c.fired_at.is_(None),
        sa.or_(
            other.c.due_at < timer.c.due_at,
            sa.and_(other.c.due_at == timer.c.due_at, other.c.metric < timer.c.metric),
        ),
    )
    common = (
        _next_timer("warning", sla_timers.c.due_at).label("next_warning_at"),
        customer_risk.c.probability.label("risk"),
        customer_risk.c.reasons.label("risk_reasons"),
    )
    with_due = _filtered(
        sa.select(
            cases,
            timer.c.due_at.label("next_due_at"),
            timer.c.metric.label("next_due_metric"),
            *common,
        )
        .select_from(
            # "+ 0" keeps the planner from reading cases first and looking up their timers
            # (SQLite's planner does when a filter looks selective): the walk must be the
            # timers' due order, which stops after ``limit`` cases.
            timer.join(cases, cases.c.id == timer.c.case_id + sa.literal_column("0")).outerjoin(
                customer_risk, customer_risk.c.customer_id == cases.c.customer_id
            )
        )
        .where(timer.c.kind == "breach", timer.c.fired_at.is_(None), earliest),
        filters,
    )
    pending = sa.exists().where(
        sla_timers.c.case_id == cases.c.id,
        sla_timers.c.kind == "breach",
        sla_timers.c.fired_at.is_(None),
    )
    without = _filtered(
        sa.select(
            cases,
            sa.cast(sa.null(), sla_timers.c.due_at.type).label("next_due_at"),
            sa.cast(sa.null(), sla_timers.c.metric.type).label("next_due_metric"),
            *common,
        )
        .select_from(
            cases.outerjoin(customer_risk, customer_risk.c.customer_id == cases.c.customer_id)
        )
        .where(~pending),
        filters,
    )
    if after is not None and after.value is None:
        with_due = with_due.where(sa.false())
        without = without.where(cases.c.id > after.case_id)
    elif after is not None:
        with_due = with_due.where(
            sa.or_(
                timer.c.due_at > after.value,
                sa.and_(timer.c.due_at == after.value, timer.c.case_id > after.case_id),
            )
        )
    found = [
        dict(row._mapping)
        for row in conn.execute(with_due.order_by(timer.c.due_at, timer.c.case_id).limit(limit))
    ]
    if len(found) < limit:  # the deadlines ran out on this page: the cases without one follow
        rest = conn.execute(without.order_by(cases.c.id).limit(limit - len(found)))
        found += [dict(row._mapping) for row in rest]
    return found


def list_cases(
    conn: Connection,
    *,
    filters: CaseFilters = CaseFilters(),
    sort: QueueSort = QueueSort(),
    after: QueuePosition | None = None,
    limit: int,
    reveal: bool = False,
) -> list[dict[str, Any]]:
    """The case queue: cases matching ``filters`` in ``sort`` order after ``after``, at most
    ``limit``, each with ``next_due_at`` / ``next_due_metric`` (its earliest unfired SLA
    breach), ``next_warning_at``, ``team``, ``risk`` and ``risk_reasons`` (the customer's churn
    risk). One statement whatever the filters, sort or page, except the earliest-deadline
    queue's last pages (:func:`_list_by_due`)."""
    if _due_first(filters, sort):
        found = _list_by_due(conn, filters, after, limit)
        return found if reveal else [redact_case(row) for row in found]
    next_due = _next_timer("breach", sla_timers.c.due_at).label("next_due_at")
    risk = customer_risk.c.probability.label("risk")
    # Labelled, so that ORDER BY names the selected value instead of computing it again.
    keys: dict[str, sa.ColumnElement[Any]] = {
        "id": cases.c.id,
        "opened": cases.c.opened_at,
        "updated": cases.c.updated_at,
        "priority": cases.c.priority,
        "due": next_due,
        "risk": risk,
    }
    key = keys[sort.key]
    query = sa.select(
        cases,
        next_due,
        _next_timer("breach", sla_timers.c.metric).label("next_due_metric"),
        _next_timer("warning", sla_timers.c.due_at).label("next_warning_at"),
        risk,
        customer_risk.c.reasons.label("risk_reasons"),
    ).select_from(
        cases.outerjoin(customer_risk, customer_risk.c.customer_id == cases.c.customer_id)
    )
    query = _filtered(query, filters)
    if after is not None:
        query = query.where(_after(key, sort, after))
    ordered = key.desc() if sort.descending else key.asc()
    if sort.key in QUEUE_NULLABLE_SORTS:
        ordered = ordered.nulls_last()
    tie = cases.c.id.desc() if sort.descending else cases.c.id.asc()
    query = query.order_by(ordered, tie) if sort.key != "id" else query.order_by(tie)
    found = [dict(row._mapping) for row in conn.execute(query.limit(limit))]
    return found if reveal else [redact_case(row) for row in found]


def case_owner(conn: Connection, case_id: int) -> str | None:
    """The case's owner (None: unassigned, or no such case)."""
    owner = conn.execute(sa.select(cases.c.owner).where(cases.c.id == case_id)).scalar()
    return None if owner is None else str(owner)


def get_case(conn: Connection, case_id: int, *, reveal: bool = False) -> dict[str, Any] | None:
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
    if not reveal:
        redact_case(case)
        for entry in case["timeline"]:
            redact_timeline(entry)
    linked = conn.execute(
        sa.select(events, case_events.c.role, *_TEXT_COLUMNS)
        .join(case_events, case_events.c.event_seq == events.c.seq)
        .outerjoin(event_text, event_text.c.event_seq == events.c.seq)
        .where(case_events.c.case_id == case_id)
        .order_by(events.c.seq)
    )
    case["events"] = [{**_event_summary(r, reveal), "role": r.role} for r in linked]
    return case


def get_customer(
    conn: Connection, customer_id: str, recent: int = 20, *, reveal: bool = False
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
    if not reveal:
        redact_contact(customer)
        if customer["open_case"] is not None:
            redact_case(customer["open_case"])
    customer["recent_events"] = [
        _event_summary(r, reveal)
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


def pending_grants(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    """Remedy requests waiting for a decision, oldest first, with their case and customer."""
    query = (
        sa.select(
            remedy_grants,
            cases.c.status.label("case_status"),
            cases.c.category,
            cases.c.priority,
            cases.c.reason.label("case_reason"),
            customers.c.value.label("customer_value"),
            customers.c.segment,
        )
        .join(cases, cases.c.id == remedy_grants.c.case_id)
        .outerjoin(customers, customers.c.id == remedy_grants.c.customer_id)
        .where(remedy_grants.c.status == "pending_approval")
        .order_by(remedy_grants.c.created_at, remedy_grants.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
