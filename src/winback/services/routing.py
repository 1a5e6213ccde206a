"""Routing: the roster (``agents.yaml`` plus agents set over the API) and assignment passes.

A pass (``POST /v1/routing/run``, or the routing worker every few seconds) reads the open
cases, who owns them and what each needs (category, the customer's language and segment, the
team in the case's plan, the earliest unfired SLA breach deadline, risk x value x severity),
takes back the cases of agents offline for longer than the grace, and assigns waiting cases,
most urgent first, to the least-loaded eligible agents. An unowned case the playbooks left to
automation (``automated``: a rule asked for it, none gave a handoff reason) is put in no
human queue; the pass lists it under ``automated``. Each assignment is the ``assign`` case
action (:func:`winback.services.cases.perform_action`), so a case keeps a single owner and
every transfer is on its timeline and in the outbox. A case the router re-queues keeps its
(offline) owner until an eligible agent takes it.

Several processes may run the routing worker (one per processing worker): passes take turns
under a PostgreSQL advisory lock (:func:`winback.store.routing_store.routing_pass`), and the
worker skips its pass while another instance's runs.

The roster is joined to the people (:mod:`winback.services.identity`): an agent is a user with
role agent or lead. Once identity is in use (any user exists), routing hands cases only to
*active* users with one of those roles — an ``agents.yaml`` entry without such a user is
listed but never routed to, and a disabled user's cases are re-queued after the offline grace
like any offline agent's. ``agents.yaml`` keeps its skills, teams and capacity as configuration
as code; ``PUT /v1/routing/agents/{id}`` changes only an existing active user.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from winback.clock import Clock
from winback.errors import Conflict, InvalidInput, NotFound, WinbackError
from winback.identity import ROUTABLE_ROLES, Principal
from winback.routing.config import RoutingConfig
from winback.routing.engine import Router, fairness
from winback.routing.model import AVAILABILITY, Agent
from winback.services.cases import perform_action
from winback.sla.engine import SlaEngine
from winback.store import audit
from winback.store.engine import write_connection
from winback.store.identity import active_users_with_roles, any_users, get_user
from winback.store.routing_store import (
    agent_state,
    case_requests,
    has_agents,
    load_agents,
    routing_pass,
    upsert_agent,
)

#: Routing acts as the system; its assignments read ``system:routing`` on the timeline.
ROUTER = Principal(kind="system", name="routing", role=None, credential="system")
ROUTER_ACTOR = ROUTER.actor


def save_agent(
    engine: Engine,
    clock: Clock,
    actor: Principal,
    agent_id: str,
    spec: Mapping[str, Any],
    status: str | None,
) -> None:
    """Change an agent (``spec``: any of name, teams, skills, capacity, tier; ``status``):
    only an existing active user with role agent or lead (create the user first). The change
    is audited (``roster.update``, the fields before and after) in its transaction."""
    if status is not None and status not in AVAILABILITY:
        raise InvalidInput(f"status: one of {', '.join(AVAILABILITY)}", field="status")
    with write_connection(engine) as conn, conn.begin():
        user = get_user(conn, agent_id)
        if user is None or not user.active:
            raise NotFound(
                f"no active user {agent_id!r}: an agent is a user (POST /v1/users, or "
                "`winback users create`)",
                field="agent_id",
            )
        if user.role not in ROUTABLE_ROLES:
            raise Conflict(
                f"{agent_id!r} is a {user.role}; only agents and leads are routed cases",
                field="agent_id",
            )
        now = clock.now()
        before = agent_state(conn, agent_id)
        upsert_agent(conn, agent_id, spec, status, now)
        after = agent_state(conn, agent_id) or {}
        if before == after:
            return  # nothing changed: nothing to audit
        audit.record(
            conn,
            actor=actor.actor,
            credential=actor.credential,
            action="roster.update",
            subject_type="agent",
            subject_id=agent_id,
            before=dict.fromkeys(after) if before is None else before,
            after=after,
            details={"created": before is None},
            at=now,
        )


def roster(engine: Engine, config: RoutingConfig) -> dict[str, Agent]:
    """Every agent: ``agents.yaml``'s, overridden and extended by those set over the API."""
    with engine.connect() as conn:
        return load_agents(conn, config)


def routable(engine: Engine, config: RoutingConfig) -> dict[str, Agent]:
    """The agents routing may hand cases to: the roster, and once any user exists only the
    active users with role agent or lead."""
    with engine.connect() as conn:
        agents = load_agents(conn, config)
        if not any_users(conn):
            return agents
        people = active_users_with_roles(conn, ROUTABLE_ROLES)
    return {agent_id: a for agent_id, a in agents.items() if agent_id in people}


def roster_configured(engine: Engine, config: RoutingConfig) -> bool:
    """Whether there is anyone to route to (``agents.yaml`` or the API)."""
    if config.agents:
        return True
    with engine.connect() as conn:
        return has_agents(conn)


def run_routing(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    config: RoutingConfig,
    grace: timedelta = timedelta(minutes=15),
) -> dict[str, Any]:
    """One routing pass (after any other instance's pass ends); what it did and the load per
    agent."""
    with routing_pass(engine, wait=True):
        return _routing_pass(engine, clock, sla, config, grace)


def try_run_routing(
    engine: Engine,
    clock: Clock,
    sla: SlaEngine,
    config: RoutingConfig,
    grace: timedelta = timedelta(minutes=15),
) -> dict[str, Any] | None:
    """One routing pass, or None when another instance is running one now (the routing
    worker: several processing processes must not assign the same case twice)."""
    with routing_pass(engine, wait=False) as mine:
        return _routing_pass(engine, clock, sla, config, grace) if mine else None


def _routing_pass(
    engine: Engine, clock: Clock, sla: SlaEngine, config: RoutingConfig, grace: timedelta
) -> dict[str, Any]:
    now: datetime = clock.now()
    agents = routable(engine, config)
    with engine.connect() as conn:
        requests = case_requests(conn)
    router = Router(agents, dict(config.teams))
    automated = []
    for request in requests:
        if request.owner is not None and request.owner in agents:
            router.hold(request, request.owner)
        elif request.owner is None and request.automated:
            automated.append(request.case_id)
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
                ROUTER,
                {"owner": a.agent_id, "reason": f"routing: {a.reason}"},
            )
        except WinbackError as exc:  # the case moved on meanwhile
            skipped.append({"case_id": a.case_id, "reason": exc.message})
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
        "automated": sorted(automated),
        "open_cases_per_agent": load,
        "fairness": stats.as_dict(),
    }
