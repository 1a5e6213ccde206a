"""The analytics reports' queries: the sums, the survey counts, the live backlog, and every
experiment exposure with its customer's fate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.analytics.metrics import (
    MEASURES,
)
from winback.analytics.retention import Exposure, Fate, Standing
from winback.cases.model import OPEN_STATUSES
from winback.store.tables import (
    analytics_case_daily,
    analytics_case_facts,
    analytics_case_slices,
    analytics_customer_fates,
    analytics_exposures,
    analytics_score_daily,
    cases,
    customers,
    remedy_grants,
)


def service_sums(
    conn: Connection,
    start: date | None,
    end: date | None,
    by: Sequence[str],
    filters: Mapping[str, str],
    per_day: bool = True,
) -> list[tuple[Any, ...]]:
    """The measures summed per ``by`` slice (and per day unless ``per_day`` is false) between
    ``start`` and ``end`` (inclusive), over the cases matching ``filters``: rows of
    ``(day or None, *slice values, *MEASURES)``.

    No filter and at most one slice: the daily sums per dimension. Slices and filters without
    the agent: the daily sums per combination. With the agent among several: the per-case
    facts of the days asked for, summed by the database.
    """
    if len(by) <= 1 and not filters:
        table = analytics_case_daily.c
        keys: list[Any] = [table.value] if by else []
        where: list[Any] = [table.dimension == (by[0] if by else "")]
    elif "agent" not in by and "agent" not in filters:
        table = analytics_case_slices.c
        keys = [table[name] for name in by]
        where = [table[name] == value for name, value in filters.items()]
    else:
        table = analytics_case_facts.c
        keys = [table[name] for name in by]
        where = [table[name] == value for name, value in filters.items()]
    if start is not None:
        where.append(table.day >= start)
    if end is not None:
        where.append(table.day <= end)
    day: Any = table.day if per_day else sa.null()
    group = [table.day, *keys] if per_day else keys
    query = sa.select(day, *keys, *(sa.func.sum(table[m]) for m in MEASURES)).where(*where)
    if group:
        query = query.group_by(*group)
    return [tuple(r) for r in conn.execute(query)]


def score_counts(
    conn: Connection,
    start: date | None,
    end: date | None,
    by: Sequence[str],
    filters: Mapping[str, str],
) -> list[dict[str, Any]]:
    cols = analytics_score_daily.c
    keys = [cols.day, cols.kind, cols.value, *(cols[d] for d in by)]
    query = sa.select(*keys, sa.func.sum(cols.responses).label("responses")).group_by(*keys)
    if start is not None:
        query = query.where(cols.day >= start)
    if end is not None:
        query = query.where(cols.day <= end)
    for name, value in filters.items():
        query = query.where(cols[name] == value)
    return [dict(r._mapping) for r in conn.execute(query)]


def backlog(conn: Connection, by: str | None) -> list[dict[str, Any]]:
    """Open cases now: how many, and the oldest's opening, per ``by`` (a case column)."""
    keys = [] if by is None else [getattr(cases.c, by).label(by)]
    query = sa.select(
        *keys,
        sa.func.count().label("open_cases"),
        sa.func.min(cases.c.opened_at).label("oldest_opened_at"),
    ).where(cases.c.status.in_(sorted(OPEN_STATUSES)))
    if keys:
        query = query.group_by(*keys)
    return [dict(r._mapping) for r in conn.execute(query)]


def exposures_and_fates(conn: Connection) -> Iterator[tuple[Exposure, Fate]]:
    """Every exposure with its customer's fate, value and first remedy after exposure."""
    grants: dict[str, list[tuple[datetime, str, float]]] = defaultdict(list)
    for g in conn.execute(
        sa.select(
            remedy_grants.c.customer_id,
            remedy_grants.c.created_at,
            remedy_grants.c.remedy,
            remedy_grants.c.cost,
        ).where(remedy_grants.c.status == "applied")
    ):
        grants[g.customer_id].append((g.created_at, g.remedy, float(g.cost)))
    x, f = analytics_exposures.c, analytics_customer_fates.c
    query = sa.select(
        x.customer_id,
        x.rule,
        x.arm,
        x.at,
        x.segment,
        customers.c.value,
        customers.c.last_event_at,
        f.cancelled_at,
    ).select_from(
        analytics_exposures.outerjoin(
            analytics_customer_fates, f.customer_id == x.customer_id
        ).outerjoin(customers, customers.c.id == x.customer_id)
    )
    for r in conn.execution_options(yield_per=10_000).execute(query):
        given = grants.get(r.customer_id)
        after = sorted(g for g in given if g[0] >= r.at) if given else []
        yield (
            Exposure(
                r.customer_id,
                r.rule,
                r.arm,
                r.at,
                r.segment,
                after[0][1] if after else None,
                sum(g[2] for g in after),
                r.value,
            ),
            Fate(r.cancelled_at, r.last_event_at),
        )


def standings(conn: Connection) -> Iterator[Standing]:
    """Every customer with what the recovery paradox report needs: when first seen, whether
    they had a case or an exposure, their earliest resolution with a follow-up answer and
    whether an answer was good, and their fate (grouped joins, one pass)."""
    f = analytics_case_facts.c
    answered = (
        sa.select(
            cases.c.customer_id.label("customer_id"),
            sa.func.min(cases.c.resolved_at).label("answered_at"),
            sa.func.max(f.recovered).label("recovered"),
        )
        .select_from(analytics_case_facts.join(cases, cases.c.id == f.case_id))
        .where(f.answered > 0)
        .group_by(cases.c.customer_id)
        .subquery()
    )
    had_case = sa.select(cases.c.customer_id).distinct().subquery()
    exposed = sa.select(analytics_exposures.c.customer_id).distinct().subquery()
    fates = analytics_customer_fates.c
    query = sa.select(
        customers.c.first_seen_at,
        customers.c.last_event_at,
        had_case.c.customer_id.is_not(None).label("had_case"),
        exposed.c.customer_id.is_not(None).label("exposed"),
        answered.c.answered_at,
        answered.c.recovered,
        fates.cancelled_at,
    ).select_from(
        customers.outerjoin(had_case, had_case.c.customer_id == customers.c.id)
        .outerjoin(exposed, exposed.c.customer_id == customers.c.id)
        .outerjoin(answered, answered.c.customer_id == customers.c.id)
        .outerjoin(analytics_customer_fates, fates.customer_id == customers.c.id)
    )
    for r in conn.execution_options(yield_per=10_000).execute(query):
        yield Standing(
            r.first_seen_at,
            bool(r.had_case),
            bool(r.exposed),
            r.answered_at,
            bool(r.recovered),
            Fate(r.cancelled_at, r.last_event_at),
        )
