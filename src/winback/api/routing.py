"""Routing API: agents (list, create or change, availability) and routing runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import AgentId, NulFreeModel
from winback.identity import Principal
from winback.services.routing import roster, routable, run_routing, save_agent

router = APIRouter(tags=["routing"])


class AgentIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    teams: list[str] | None = None
    categories: list[str] | None = None
    languages: list[str] | None = None
    channels: list[str] | None = None
    segments: list[str] | None = None
    capacity: int | None = Field(None, ge=0, le=10_000)
    tier: int | None = Field(None, ge=1, le=9)
    status: Literal["online", "away", "offline"] | None = None


@router.get(
    "/v1/routing/agents",
    summary="Agents: YAML roster plus API changes",
    dependencies=[Depends(Require("routing:read"))],
)
def list_agents(container: RuntimeDep) -> dict[str, Any]:
    """Each agent with ``routable``: whether routing may hand them cases (an active user with
    role agent or lead, once any user exists; docs/routing.md)."""
    config = container.sources.routing.get()
    agents = roster(container.engine, config)
    ok = routable(container.engine, config)
    return {
        "agents": [
            {**a.as_dict(), "routable": a.id in ok}
            for a in sorted(agents.values(), key=lambda a: a.id)
        ]
    }


@router.put(
    "/v1/routing/agents/{agent_id}",
    summary="Change an agent (skills, capacity, tier, availability): an active user who is "
    "an agent or lead",
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def put_agent(
    agent_id: AgentId,
    body: AgentIn,
    container: RuntimeDep,
    principal: Annotated[Principal, Depends(Require("routing:manage"))],
) -> dict[str, Any]:
    spec = body.model_dump(exclude={"status"}, exclude_none=True)
    save_agent(container.engine, container.clock, principal, agent_id, spec, body.status)
    return roster(container.engine, container.sources.routing.get())[agent_id].as_dict()


@router.post(
    "/v1/routing/run",
    summary="Assign waiting cases to the best available agents",
    dependencies=[Depends(Require("routing:manage"))],
)
def routing_run(
    container: RuntimeDep,
    grace_minutes: Annotated[
        float, Query(ge=0, le=1440, description="Re-queue cases of agents offline this long.")
    ] = 15,
) -> dict[str, Any]:
    return run_routing(
        container.engine,
        container.clock,
        container.sources.sla.get(),
        container.sources.routing.get(),
        timedelta(minutes=grace_minutes),
    )
