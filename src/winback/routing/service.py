"""Routing against the store: agents (YAML + API), the waiting queue, and assignment runs.

A run (``POST /v1/routing/run``) reads the open cases, who owns them and what each needs
(category, the customer's language and segment, the team the playbooks named, the earliest
unfired SLA breach deadline, risk x value x severity), takes back the cases of agents offline
for longer than the grace, and assigns waiting cases, most urgent first, to the least-loaded
eligible agents. Each assignment goes through issue 6's ``assign`` case action, so a case
keeps a single owner and every transfer is on its timeline and in the outbox. A case the
router re-queues keeps its (offline) owner until an eligible agent takes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.cases.lifecycle import ActionError
from winback.cases.model import OPEN_STATUSES
from winback.clock import Clock
from winback.routing.config import RoutingConfig
from winback.routing.engine import Router, fairness
from winback.routing.model import AVAILABILITY, Agent, CaseRequest
from winback.sla.engine import SlaEngine
from winback.store.case_commands import ActionConflict, perform_action
from winback.store.engine import write_connection
from winback.store.eventlog import chunks
from winback.store.tables import (
    case_timeline,
    cases,
    customer_risk,
    customers,
    events,
    routing_agents,
    sla_timers,
)

ROUTER_ACTOR = "winback:routing"
log = logging.getLogger(__name__)
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


def save_agent(
    engine: Engine, clock: Clock, agent_id: str, spec: Mapping[str, Any], status: str | None
) -> None:
    """Create or change an agent (``spec``: any of name, teams, skills, capacity, tier)."""
    if status is not None and status not in AVAILABILITY:
        raise ValueError(f"status: one of {', '.join(AVAILABILITY)}")
    now = clock.now()
    with write_connection(engine) as conn, conn.begin():
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
        conn.execute(
            routing_agents.update().where(routing_agents.c.id == agent_id).values(**values)
        )


def _requests(conn: Connection) -> list[CaseRequest]:
    query = (
        sa.select(
            cases.c.id,
            cases.c.owner,
            cases.c.priority,
            cases.c.severity,
            cases.c.category,
            cases.c.opened_at,
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
        )
        for r in conn.execute(query)
    }
    if not requests:
        return []
    triggers: dict[str, int] = {}
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
        # The team the playbooks named (on the processor's case entries).
        teams = conn.execute(
            sa.select(case_timeline.c.case_id, case_timeline.c.data)
            .where(
                case_timeline.c.case_id.in_(part),
                case_timeline.c.kind.in_(("case.opened", "case.attached", "case.reopened")),
            )
            .order_by(case_timeline.c.id)
        )
        for case_id, data in teams:
            team = ((data or {}).get("playbook") or {}).get("team")
            if team:
                requests[case_id].team = str(team)
        rows = conn.execute(
            sa.select(cases.c.trigger_event_id, cases.c.id).where(cases.c.id.in_(part))
        )
        triggers.update((str(r[0]), int(r[1])) for r in rows)
    # The channel the case came in on: its trigger event's.
    for part in chunks(list(triggers)):
        for event_id, payload in conn.execute(
            sa.select(events.c.event_id, events.c.payload).where(events.c.event_id.in_(part))
        ):
            channel = (payload or {}).get("channel")
            if channel:
                requests[triggers[event_id]].channel = str(channel)
    return list(requests.values())


def run_routing(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    config: RoutingConfig,
    grace: timedelta = timedelta(minutes=15),
) -> dict[str, Any]:
    """One routing pass; returns what it did and the load per agent."""
    now: datetime = clock.now()
    with engine.connect() as conn:
        agents = load_agents(conn, config)
        requests = _requests(conn)
    router = Router(agents, dict(config.teams))
    for request in requests:
        if request.owner is not None and request.owner in agents:
            router.hold(request, request.owner)
        elif request.owner is None:
            router.enqueue(request)
        # owned by someone routing does not know (a person outside the roster): left alone
    requeued = router.requeue_offline(now, grace)
    assignments, skipped = [], []
    for a in router.dispatch(now):
        try:
            perform_action(
                engine,
                clock,
                sla,
                a.case_id,
                "assign",
                ROUTER_ACTOR,
                {"owner": a.agent_id, "reason": f"routing: {a.reason}"},
            )
        except (ActionError, ActionConflict) as exc:  # the case moved on meanwhile
            skipped.append({"case_id": a.case_id, "reason": str(exc)})
            continue
        assignments.append({"case_id": a.case_id, "agent": a.agent_id, "reason": a.reason})
    load = {agent_id: router.load.get(agent_id, 0) for agent_id in agents}
    stats = fairness(router.assigned_count, agents)
    return {
        "at": now,
        "assigned": assignments,
        "requeued": requeued,
        "skipped": skipped,
        "waiting": sorted(router.waiting),
        "open_cases_per_agent": load,
        "fairness": stats.as_dict(),
    }


def run_routing_forever(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    load_config: Callable[[], RoutingConfig],
    stop: threading.Event,
    interval: float,
    grace: timedelta,
) -> None:
    """Route every ``interval`` seconds until ``stop`` is set (beside the processor).

    Does nothing while no agent is configured (neither ``agents.yaml`` nor the API); a failed
    pass is logged and the next one tries again.
    """
    while not stop.wait(interval):
        try:
            config = load_config()
            with engine.connect() as conn:
                has_agents = bool(config.agents) or (
                    conn.execute(sa.select(routing_agents.c.id).limit(1)).first() is not None
                )
            if has_agents:
                done = run_routing(engine, clock, sla, config, grace)
                if done["assigned"] or done["requeued"]:
                    log.info(
                        "routing: %d assigned, %d re-queued, %d waiting",
                        len(done["assigned"]),
                        len(done["requeued"]),
                        len(done["waiting"]),
                    )
        except Exception:  # a bad roster or a database hiccup must not end the loop
            log.exception("routing pass failed")
