"""Assignment: the most urgent waiting case to the least-loaded eligible agent (pure).

- **Eligible**: the agent is online and on shift, below capacity, has the skills the case
  needs (category, language, channel, segment; an agent with no skills listed for one of them
  takes any), at least the tier the case (or its team) needs, and belongs to the case's team
  when it names one.
- **Least loaded, round-robin on ties**: among eligible agents, the fewest open cases; among
  equals, the one assigned longest ago (then by id), so equal agents take turns.
- **Queue order**: the earliest SLA deadline first (a case without one goes after those with
  one); on equal (or no) deadlines the more urgent priority (P1 first), then the higher
  urgency (risk x value x severity x priority), then the oldest. Priority comes before
  urgency so that a valuable, risky P3 never jumps a P1 (a legal threat, say) with the same
  deadline: the priority already weighs risk, value and severity (the playbooks' score).
  :meth:`Router.dispatch` walks the queue in that order, so freed capacity goes to the most
  urgent waiting case, not the newest.
- **Offline agents**: :meth:`Router.requeue_offline` takes back the cases of agents offline for
  longer than the grace and puts them in the queue again.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from winback.routing.model import PRIORITIES, Agent, CaseRequest, Team


def queue_key(case: CaseRequest) -> tuple[int, float, int, float, float, int]:
    deadline = case.deadline.timestamp() if case.deadline is not None else float("inf")
    opened = case.opened_at.timestamp() if case.opened_at is not None else 0.0
    rank = PRIORITIES.index(case.priority) if case.priority in PRIORITIES else len(PRIORITIES)
    return (
        0 if case.deadline is not None else 1,
        deadline,
        rank,
        -case.urgency,
        opened,
        case.case_id,
    )


def skills_match(agent: Agent, case: CaseRequest) -> bool:
    for have, need in (
        (agent.categories, case.category),
        (agent.languages, case.language),
        (agent.channels, case.channel),
        (agent.segments, case.segment),
    ):
        if have and need is not None and need not in have:
            return False
    return True


@dataclass
class Assignment:
    case_id: int
    agent_id: str
    reason: str


@dataclass
class Router:
    agents: dict[str, Agent]
    teams: dict[str, Team] = field(default_factory=dict)
    load: dict[str, int] = field(default_factory=dict)  # agent -> open cases owned
    waiting: dict[int, CaseRequest] = field(default_factory=dict)
    held: dict[int, CaseRequest] = field(default_factory=dict)  # case -> request, with owner
    assigned_count: dict[str, int] = field(default_factory=dict)  # fairness: per agent
    _last: dict[str, int] = field(default_factory=dict)
    _tick: itertools.count[int] = field(default_factory=itertools.count)

    # -- state ------------------------------------------------------------------------------
    def enqueue(self, case: CaseRequest) -> None:
        case.owner = None
        self.held.pop(case.case_id, None)
        self.waiting[case.case_id] = case

    def hold(self, case: CaseRequest, agent_id: str) -> None:
        """Record a case already owned by ``agent_id`` (counts towards its load)."""
        case.owner = agent_id
        self.held[case.case_id] = case
        self.load[agent_id] = self.load.get(agent_id, 0) + 1

    def release(self, case_id: int) -> str | None:
        """The case was resolved or closed: its owner's capacity is free again."""
        case = self.held.pop(case_id, None)
        self.waiting.pop(case_id, None)
        if case is None or case.owner is None:
            return None
        self.load[case.owner] = max(0, self.load.get(case.owner, 0) - 1)
        return case.owner

    def set_status(self, agent_id: str, status: str, now: datetime) -> None:
        agent = self.agents[agent_id]
        if agent.status != status:
            agent.status, agent.status_since = status, now

    # -- decisions --------------------------------------------------------------------------
    def eligible(self, case: CaseRequest, now: datetime) -> list[Agent]:
        team = self.teams.get(case.team) if case.team is not None else None
        min_tier = max(case.min_tier, team.min_tier if team is not None else 1)
        out = []
        for agent in self.agents.values():
            if not agent.available(now) or self.load.get(agent.id, 0) >= agent.capacity:
                continue
            if agent.tier < min_tier or not skills_match(agent, case):
                continue
            if case.team is not None and not (
                case.team in agent.teams or (team is not None and agent.id in team.members)
            ):
                continue
            out.append(agent)
        return out

    def choose(self, agents: Iterable[Agent]) -> Agent | None:
        return min(
            agents,
            key=lambda a: (self.load.get(a.id, 0), self._last.get(a.id, -1), a.id),
            default=None,
        )

    def dispatch(self, now: datetime) -> list[Assignment]:
        """Assign waiting cases, most urgent first, while eligible agents have capacity."""
        done = []
        for case in sorted(self.waiting.values(), key=queue_key):
            agent = self.choose(self.eligible(case, now))
            if agent is None:
                continue
            load = self.load.get(agent.id, 0)
            del self.waiting[case.case_id]
            self.hold(case, agent.id)
            self._last[agent.id] = next(self._tick)
            self.assigned_count[agent.id] = self.assigned_count.get(agent.id, 0) + 1
            done.append(
                Assignment(
                    case.case_id,
                    agent.id,
                    f"least loaded eligible agent ({load} open of {agent.capacity})",
                )
            )
        return done

    def requeue_offline(self, now: datetime, grace: timedelta) -> list[int]:
        """Take back the cases of agents offline for longer than ``grace``; return their ids."""
        gone = {
            a.id
            for a in self.agents.values()
            if a.status == "offline"
            and a.status_since is not None
            and now - a.status_since >= grace
        }
        moved = [c for c in self.held.values() if c.owner in gone]
        for case in moved:
            assert case.owner is not None
            self.load[case.owner] = max(0, self.load.get(case.owner, 0) - 1)
            self.enqueue(case)
        return sorted(c.case_id for c in moved)


@dataclass(frozen=True)
class Fairness:
    per_agent: dict[str, int]
    mean: float
    stdev: float
    max_min_ratio: float

    def as_dict(self) -> dict[str, object]:
        return {
            "per_agent": self.per_agent,
            "mean": round(self.mean, 3),
            "stdev": round(self.stdev, 3),
            "max_min_ratio": round(self.max_min_ratio, 3),
        }


def fairness(counts: dict[str, int], agents: Iterable[str] = ()) -> Fairness:
    """Cases per agent (agents given but never assigned count as 0)."""
    per = dict.fromkeys(agents, 0)
    per.update(counts)
    values = list(per.values()) or [0]
    low = min(values)
    return Fairness(
        dict(sorted(per.items())),
        statistics.fmean(values),
        statistics.pstdev(values),
        float("inf") if low == 0 and max(values) > 0 else (max(values) / low if low else 1.0),
    )
