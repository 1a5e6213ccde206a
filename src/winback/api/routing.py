"""Routing API: agents (list, create or change, availability) and routing runs."""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from winback.api.case_actions import sla_engine
from winback.api.deps import ContainerDep
from winback.api.errors import ErrorBody
from winback.api.fields import AgentId, NulFreeModel
from winback.bootstrap import Container
from winback.routing.config import AGENTS_FILE, TEAMS_FILE, RoutingConfig, load_routing
from winback.routing.service import load_agents, run_routing, save_agent

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


@functools.lru_cache(maxsize=4)
def _config_for(config_dir: Path | None, stamp: tuple[float, float]) -> RoutingConfig:
    return load_routing(config_dir)


def routing_config(container: Container) -> RoutingConfig:
    config_dir = container.settings.config_dir
    stamps = [0.0, 0.0]
    if config_dir is not None:
        for i, name in enumerate((AGENTS_FILE, TEAMS_FILE)):
            path = config_dir / name
            stamps[i] = path.stat().st_mtime if path.exists() else 0.0
    return _config_for(config_dir, (stamps[0], stamps[1]))


@router.get("/v1/routing/agents", summary="Agents: YAML roster plus API changes")
def list_agents(container: ContainerDep) -> dict[str, Any]:
    with container.engine.connect() as conn:
        agents = load_agents(conn, routing_config(container))
    return {"agents": [a.as_dict() for a in sorted(agents.values(), key=lambda a: a.id)]}


@router.put(
    "/v1/routing/agents/{agent_id}",
    summary="Create or change an agent (skills, capacity, tier, availability)",
    responses={422: {"model": ErrorBody}},
)
def put_agent(agent_id: AgentId, body: AgentIn, container: ContainerDep) -> dict[str, Any]:
    spec = body.model_dump(exclude={"status"}, exclude_none=True)
    save_agent(container.engine, container.clock, agent_id, spec, body.status)
    with container.engine.connect() as conn:
        agent = load_agents(conn, routing_config(container))[agent_id]
    return agent.as_dict()


@router.post("/v1/routing/run", summary="Assign waiting cases to the best available agents")
def routing_run(
    container: ContainerDep,
    grace_minutes: Annotated[
        float, Query(ge=0, le=1440, description="Re-queue cases of agents offline this long.")
    ] = 15,
) -> dict[str, Any]:
    return run_routing(
        container.engine,
        container.clock,
        sla_engine(container),
        routing_config(container),
        timedelta(minutes=grace_minutes),
    )
