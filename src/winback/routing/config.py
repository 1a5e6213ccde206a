"""Reading ``agents.yaml`` and ``teams.yaml`` (errors name file and line).

``agents.yaml``::

    agents:
      ana: {name: Ana, teams: [billing], categories: [billing], languages: [en, pt],
            capacity: 8, tier: 2, shift: weekdays}
    calendars:            # optional; shift calendars in the SLA calendar format
      weekdays: {timezone: Europe/Lisbon, hours: {mon-fri: "09:00-18:00"}}

``teams.yaml``::

    teams:
      billing: {members: [ana, bo], min_tier: 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from winback.playbooks.loader import PlaybookError, line_of, read_yaml
from winback.routing.model import Agent, Team
from winback.sla.calendar import CalendarError, load_calendar

AGENTS_FILE = "agents.yaml"
TEAMS_FILE = "teams.yaml"


class RoutingConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid routing configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentIn(_Strict):
    name: str = ""
    teams: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    capacity: int = Field(10, ge=0, le=10_000)
    status: Literal["online", "away", "offline"] = "online"
    shift: str | None = None
    tier: int = Field(1, ge=1, le=9)


class AgentsIn(_Strict):
    agents: dict[str, AgentIn] = Field(default_factory=dict)
    calendars: dict[str, dict[str, Any]] = Field(default_factory=dict)


class TeamIn(_Strict):
    members: list[str] = Field(default_factory=list)
    min_tier: int = Field(1, ge=1, le=9)


class TeamsIn(_Strict):
    teams: dict[str, TeamIn] = Field(default_factory=dict)


@dataclass(frozen=True)
class RoutingConfig:
    agents: dict[str, Agent] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)


def _validate(model: type[BaseModel], path: Path) -> tuple[Any, dict[Any, int]]:
    try:
        document, lines = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except PlaybookError as exc:
        raise RoutingConfigError(exc.problems) from None
    try:
        return model.model_validate(document), lines
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = (
                f"unknown field {loc[-1]!r}" if err["type"] == "extra_forbidden" else err["msg"]
            )
            problems.append(f"{path}:{line_of(lines, loc)}: {'.'.join(map(str, loc))}: {message}")
        raise RoutingConfigError(problems) from None


def load_routing(config_dir: Path | None) -> RoutingConfig:
    """Agents and teams from the config dir (none configured: empty)."""
    if config_dir is None:
        return RoutingConfig()
    agents: dict[str, Agent] = {}
    teams: dict[str, Team] = {}
    problems: list[str] = []
    agents_path, teams_path = config_dir / AGENTS_FILE, config_dir / TEAMS_FILE
    if agents_path.is_file():
        doc, lines = _validate(AgentsIn, agents_path)
        calendars = {}
        for name, spec in doc.calendars.items():
            try:
                calendars[name] = load_calendar(spec, f"calendars.{name}")
            except CalendarError as exc:
                problems.append(f"{agents_path}:{line_of(lines, ('calendars', name))}: {exc}")
        for agent_id, a in doc.agents.items():
            if a.shift is not None and a.shift not in calendars:
                problems.append(
                    f"{agents_path}:{line_of(lines, ('agents', agent_id, 'shift'))}: "
                    f"agents.{agent_id}.shift: no calendar {a.shift!r} under calendars"
                )
            agents[agent_id] = Agent(
                id=agent_id,
                name=a.name or agent_id,
                teams=frozenset(a.teams),
                categories=frozenset(a.categories),
                languages=frozenset(a.languages),
                channels=frozenset(a.channels),
                segments=frozenset(a.segments),
                capacity=a.capacity,
                status=a.status,
                shift=calendars.get(a.shift) if a.shift else None,
                tier=a.tier,
            )
    if teams_path.is_file():
        doc, lines = _validate(TeamsIn, teams_path)
        for name, t in doc.teams.items():
            for member in t.members:
                if agents and member not in agents:
                    problems.append(
                        f"{teams_path}:{line_of(lines, ('teams', name, 'members'))}: "
                        f"teams.{name}.members: no agent {member!r} in {AGENTS_FILE}"
                    )
            teams[name] = Team(name, frozenset(t.members), t.min_tier)
    for agent in agents.values():
        for team in agent.teams:
            if teams and team not in teams:
                problems.append(f"{agents_path}: agents.{agent.id}.teams: no team {team!r}")
    if problems:
        raise RoutingConfigError(problems)
    return RoutingConfig(agents, teams)
