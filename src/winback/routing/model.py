"""Agents, teams and what a case needs from its owner (plain Python).

An agent has skills (categories, languages, channels, segments: an empty set means "any"), a
capacity (most open cases owned at once), an availability (``online``, ``away``, ``offline``)
and optionally a shift calendar (the SLA calendar format of docs/sla.md: outside its hours the
agent is treated as away), and a tier (1: front line … 3: specialists). A team names its
members and can demand a minimum tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

AVAILABILITY = ("online", "away", "offline")
SEVERITY_WEIGHT = {None: 1.0, "low": 0.5, "medium": 1.0, "high": 2.0, "critical": 4.0}
PRIORITY_WEIGHT = {"P1": 8.0, "P2": 4.0, "P3": 2.0, "P4": 1.0}
PRIORITIES = tuple(PRIORITY_WEIGHT)  # most urgent first


@dataclass
class Agent:
    id: str
    name: str = ""
    teams: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    capacity: int = 10
    status: str = "online"
    status_since: datetime | None = None
    shift: Any | None = None  # a winback.sla.calendar.Calendar, or None: always on shift
    tier: int = 1

    def on_shift(self, now: datetime) -> bool:
        return self.shift is None or bool(self.shift.is_open(now))

    def available(self, now: datetime) -> bool:
        return self.status == "online" and self.on_shift(now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "teams": sorted(self.teams),
            "categories": sorted(self.categories),
            "languages": sorted(self.languages),
            "channels": sorted(self.channels),
            "segments": sorted(self.segments),
            "capacity": self.capacity,
            "status": self.status,
            "status_since": self.status_since,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class Team:
    name: str
    members: frozenset[str] = frozenset()
    min_tier: int = 1


@dataclass
class CaseRequest:
    """A case waiting for (or held by) an owner, with what routing needs to know about it."""

    case_id: int
    priority: str = "P3"
    severity: str | None = None
    category: str | None = None
    language: str | None = None
    channel: str | None = None
    segment: str | None = None
    team: str | None = None
    min_tier: int = 1
    risk: float | None = None
    value: float | None = None
    deadline: datetime | None = None  # the earliest running SLA deadline
    opened_at: datetime | None = None
    owner: str | None = None
    automated: bool = False  # automation may handle it: no human queue while unowned
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def urgency(self) -> float:
        """risk x value x severity, weighted by priority (higher: more urgent)."""
        risk = 0.5 if self.risk is None else max(0.0, min(1.0, self.risk))
        value = 1.0 if self.value is None or self.value <= 0 else 1.0 + self.value / 1000.0
        return (
            PRIORITY_WEIGHT.get(self.priority, 2.0)
            * SEVERITY_WEIGHT.get(self.severity, 1.0)
            * (0.5 + risk)
            * value
        )
