"""The routing roster and queue in the database: API-managed agents and what open cases need."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.cases.model import OPEN_STATUSES
from winback.routing.config import RoutingConfig
from winback.routing.model import Agent, CaseRequest
from winback.store.eventlog import chunks
from winback.store.tables import cases, customer_risk, customers, routing_agents, sla_timers

ROUTING_LOCK_ID = 0x57696E726F757465  # "Winroute": one routing pass at a time on PostgreSQL


@contextmanager
def routing_pass(engine: Engine, *, wait: bool = True) -> Iterator[bool]:
    """Hold the right to run a routing pass, across processes and machines.

    A pass reads every open case and every agent's load, then assigns; two at once would both
    assign the same waiting case. On PostgreSQL a session-level advisory lock, held on a
    connection of its own for the pass, makes passes take turns (``wait``) or lets a worker
    skip its pass while another runs (``wait=False``: yields False). The lock goes with the
    connection, so a dead process never leaves it taken. SQLite: one processing process runs
    routing; yields True.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        take = sa.func.pg_advisory_lock if wait else sa.func.pg_try_advisory_lock
        result = conn.execute(sa.select(take(ROUTING_LOCK_ID))).scalar()
        conn.commit()  # the lock is the session's: no transaction left open for the pass
        got = True if wait else bool(result)
        try:
            yield got
        finally:
            if got:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(ROUTING_LOCK_ID)))
                conn.commit()


_SPEC_FIELDS = (
    "name",
    "teams",
    "categories",
    "languages",
    "channels",
    "segments",
    "capacity",
    "tier",
)


def load_agents(conn: Connection, config: RoutingConfig) -> dict[str, Agent]:
    """``agents.yaml``'s agents, overridden and extended by those set through the API."""
    agents = {a.id: replace(a) for a in config.agents.values()}
    for row in conn.execute(sa.select(routing_agents)):
        spec = dict(row.spec or {})
        base = agents.get(row.id) or Agent(row.id, name=row.id)
        changes: dict[str, Any] = {}
        for name in _SPEC_FIELDS:
            if name in spec:
                value = spec[name]
                changes[name] = frozenset(value) if isinstance(value, list) else value
        agents[row.id] = replace(base, **changes, status=row.status, status_since=row.status_since)
    return agents


def agent_state(conn: Connection, agent_id: str) -> dict[str, Any] | None:
    """An API-managed agent's spec and availability, or None (for the audit trail)."""
    row = conn.execute(
        sa.select(routing_agents.c.spec, routing_agents.c.status).where(
            routing_agents.c.id == agent_id
        )
    ).first()
    return None if row is None else {**(row.spec or {}), "status": row.status}


def upsert_agent(
    conn: Connection, agent_id: str, spec: Mapping[str, Any], status: str | None, now: datetime
) -> None:
    """Create or change an API-managed agent row (inside the caller's transaction)."""
    row = conn.execute(sa.select(routing_agents).where(routing_agents.c.id == agent_id)).first()
    if row is None:
        conn.execute(
            routing_agents.insert().values(
                id=agent_id,
                spec=dict(spec),
                status=status or "online",
                status_since=now,
                updated_at=now,
            )
        )
        return
    values: dict[str, Any] = {"spec": {**(row.spec or {}), **spec}, "updated_at": now}
    if status is not None and status != row.status:
        values.update(status=status, status_since=now)
    conn.execute(routing_agents.update().where(routing_agents.c.id == agent_id).values(**values))


def case_requests(conn: Connection) -> list[CaseRequest]:
    """What routing needs of every open case: its owner and plan, its customer, its risk and
    the earliest unfired SLA breach deadline (a few queries in all, not one per case)."""
    query = (
        sa.select(
            cases.c.id,
            cases.c.owner,
            cases.c.priority,
            cases.c.severity,
            cases.c.category,
            cases.c.opened_at,
            cases.c.team,
            cases.c.channel,
            cases.c.automated,
            customers.c.segment,
            customers.c.value,
            customers.c.language,
            customer_risk.c.probability,
        )
        .select_from(
            cases.join(customers, customers.c.id == cases.c.customer_id).outerjoin(
                customer_risk, customer_risk.c.customer_id == cases.c.customer_id
            )
        )
        .where(cases.c.status.in_(sorted(OPEN_STATUSES)))
    )
    requests = {
        r.id: CaseRequest(
            case_id=r.id,
            priority=r.priority,
            severity=r.severity,
            category=r.category,
            language=r.language,
            segment=r.segment,
            risk=r.probability,
            value=r.value,
            opened_at=r.opened_at,
            owner=r.owner,
            team=r.team,
            channel=r.channel,
            automated=bool(r.automated),
        )
        for r in conn.execute(query)
    }
    for part in chunks(list(requests)):
        deadlines = conn.execute(
            sa.select(sla_timers.c.case_id, sa.func.min(sla_timers.c.due_at))
            .where(
                sla_timers.c.case_id.in_(part),
                sla_timers.c.fired_at.is_(None),
                sla_timers.c.kind == "breach",
            )
            .group_by(sla_timers.c.case_id)
        )
        for case_id, due in deadlines:
            requests[case_id].deadline = due
    return list(requests.values())


def has_agents(conn: Connection) -> bool:
    """Whether any agent was set through the API."""
    return conn.execute(sa.select(routing_agents.c.id).limit(1)).first() is not None
