"""The SLA clock of one case, as plain values: which clocks run, pauses, measurements, timers.

Three metrics, each measured in business time (the policy's calendar) and wall time:

- ``first_response`` — from the case opening to the first ``reply``;
- ``next_response`` — from a new customer signal after a reply (or a re-open) to the next reply;
- ``resolution`` — from opening (or re-opening) to ``resolve``.

A running clock has a *generation* (its cycle number), a start, and the business/wall time it
has spent paused. While the case is in one of the policy's pause states every clock stops;
on resume the paused business time is added back, so the deadline is
``calendar.add(started_at, target + paused_business)``. Deadlines are *derived* from the state
and the current policy and calendar — never stored as truth — so editing a policy or a calendar
recomputes them (the store keeps the derived timers only to find them fast).

A stopped clock becomes a :class:`Measurement`: business and wall time, time paused, met or
breached.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from winback.sla.calendar import Calendar
from winback.sla.policy import CaseFacts, Policy

CLOSED_STATES = frozenset({"resolved", "closed", "cancelled"})


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _td(us: int) -> timedelta:
    return timedelta(microseconds=us)


_NO_TIME = timedelta(0)


@dataclass
class ClockRun:
    metric: str
    generation: int
    started_at: datetime
    paused_business_us: int = 0
    paused_wall_us: int = 0
    warned: bool = False
    breached: bool = False
    escalated: int = 0  # highest escalation level fired


@dataclass(frozen=True)
class Measurement:
    metric: str
    generation: int
    started_at: datetime
    stopped_at: datetime
    target_s: float | None
    business_s: float
    wall_s: float
    paused_s: float  # wall time spent paused
    breached: bool
    outcome: str  # "met" | "breached" | "cancelled"


@dataclass(frozen=True)
class TimerSpec:
    """A moment the timer service must act: a warning, a breach, or an escalation level."""

    metric: str
    kind: str  # "warning" | "breach" | "escalation"
    level: int
    generation: int
    due_at: datetime


@dataclass
class SlaState:
    policy: str | None
    facts: CaseFacts
    fingerprint: str = ""
    paused_since: datetime | None = None
    paused_total_us: int = 0
    generations: dict[str, int] = field(default_factory=dict)
    clocks: dict[str, ClockRun] = field(default_factory=dict)
    history: list[Measurement] = field(default_factory=list)

    # -- serialisation (a JSON document in the store) ------------------------------------
    def to_doc(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "facts": vars(self.facts),
            "fingerprint": self.fingerprint,
            "paused_since": _iso(self.paused_since),
            "paused_total_us": self.paused_total_us,
            "generations": dict(self.generations),
            "clocks": {
                m: {**vars(c), "started_at": _iso(c.started_at)} for m, c in self.clocks.items()
            },
            "history": [
                {**vars(h), "started_at": _iso(h.started_at), "stopped_at": _iso(h.stopped_at)}
                for h in self.history
            ],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SlaState:
        return cls(
            policy=doc.get("policy"),
            facts=CaseFacts(**doc["facts"]),
            fingerprint=doc.get("fingerprint", ""),
            paused_since=_parse(doc.get("paused_since")),
            paused_total_us=int(doc.get("paused_total_us", 0)),
            generations={k: int(v) for k, v in doc.get("generations", {}).items()},
            clocks={
                m: ClockRun(**{**c, "started_at": _parse(c["started_at"])})
                for m, c in doc.get("clocks", {}).items()
            },
            history=[
                Measurement(
                    **{
                        **h,
                        "started_at": _parse(h["started_at"]),
                        "stopped_at": _parse(h["stopped_at"]),
                    }
                )
                for h in doc.get("history", [])
            ],
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> Any:
    return None if value is None else datetime.fromisoformat(value)


class SlaClock:
    """Operations on a case's :class:`SlaState` under one policy and calendar."""

    def __init__(self, policy: Policy | None, calendar: Calendar) -> None:
        self.policy = policy
        self.calendar = calendar

    # -- clocks ----------------------------------------------------------------------------
    def start(self, state: SlaState, metric: str, now: datetime) -> None:
        if self.policy is None or self.policy.target(metric) is None or metric in state.clocks:
            return
        generation = state.generations.get(metric, 0) + 1
        state.generations[metric] = generation
        run = ClockRun(metric, generation, now)
        if state.paused_since is not None:
            # Started while paused: the pause so far does not count against it.
            run.paused_business_us = _us(self.calendar.between(state.paused_since, now))
            run.paused_wall_us = _us(now - state.paused_since)
        state.clocks[metric] = run

    def stop(self, state: SlaState, metric: str, now: datetime, cancelled: bool = False) -> None:
        run = state.clocks.pop(metric, None)
        if run is None:
            return
        business, wall, paused = self.elapsed(state, run, now)
        target = None if self.policy is None else self.policy.target(run.metric)
        breached = run.breached or (target is not None and business > target)
        outcome = "cancelled" if cancelled else ("breached" if breached else "met")
        state.history.append(
            Measurement(
                metric,
                run.generation,
                run.started_at,
                now,
                None if target is None else target.total_seconds(),
                business.total_seconds(),
                wall.total_seconds(),
                paused.total_seconds(),
                breached,
                outcome,
            )
        )

    def elapsed(
        self, state: SlaState, run: ClockRun, now: datetime
    ) -> tuple[timedelta, timedelta, timedelta]:
        """Business time counted, wall time counted, and wall time paused, up to ``now``."""
        paused_business, paused_wall = _td(run.paused_business_us), _td(run.paused_wall_us)
        if state.paused_since is not None:
            since = max(state.paused_since, run.started_at)
            paused_business += self.calendar.between(since, now)
            paused_wall += now - since
        business = self.calendar.between(run.started_at, now) - paused_business
        wall = now - run.started_at - paused_wall
        return max(business, timedelta(0)), max(wall, timedelta(0)), paused_wall

    # -- pauses ----------------------------------------------------------------------------
    def pause(self, state: SlaState, now: datetime) -> None:
        if state.paused_since is None:
            state.paused_since = now

    def resume(self, state: SlaState, now: datetime) -> None:
        since = state.paused_since
        if since is None:
            return
        for run in state.clocks.values():
            start = max(since, run.started_at)
            run.paused_business_us += _us(self.calendar.between(start, now))
            run.paused_wall_us += _us(now - start)
        state.paused_total_us += _us(now - since)
        state.paused_since = None

    # -- deadlines -------------------------------------------------------------------------
    def deadline(self, run: ClockRun, fraction: float = 1.0) -> datetime | None:
        target = None if self.policy is None else self.policy.target(run.metric)
        if target is None:
            return None
        return self.calendar.add(run.started_at, target * fraction + _td(run.paused_business_us))

    def timers(self, state: SlaState) -> list[TimerSpec]:
        """Every warning, breach and escalation the clocks' current deadlines call for."""
        if self.policy is None or state.paused_since is not None:
            return []
        # As deadline() computes them, with the target and the paused time looked up once
        # per clock (this runs for every signal on a case).
        policy, add = self.policy, self.calendar.add
        ratio = policy.warning_ratio
        specs = []
        for run in state.clocks.values():
            target = policy.target(run.metric)
            if target is None:
                continue
            paused = _td(run.paused_business_us) if run.paused_business_us else _NO_TIME
            due = add(run.started_at, target + paused)
            g = run.generation
            if ratio is not None:
                warn = add(run.started_at, target * ratio + paused)
                specs.append(TimerSpec(run.metric, "warning", 0, g, warn))
            specs.append(TimerSpec(run.metric, "breach", 0, g, due))
            for esc in policy.escalations:
                specs.append(TimerSpec(run.metric, "escalation", esc.level, g, add(due, esc.after)))
        return specs

    # -- what happens to a case ------------------------------------------------------------
    def on_opened(self, state: SlaState, now: datetime) -> None:
        self.start(state, "first_response", now)
        self.start(state, "resolution", now)

    def on_customer_signal(self, state: SlaState, now: datetime) -> None:
        """A customer wrote again: once they have had a first reply, the next one is due."""
        responded = any(h.metric == "first_response" for h in state.history)
        if responded and "first_response" not in state.clocks:
            self.start(state, "next_response", now)

    def on_reply(self, state: SlaState, now: datetime) -> None:
        if "first_response" in state.clocks:
            self.stop(state, "first_response", now)
        else:
            self.stop(state, "next_response", now)

    def on_status(self, state: SlaState, status: str, now: datetime) -> None:
        """Pause, resume or stop the clocks for the case's new status."""
        if status in CLOSED_STATES:
            self.resume(state, now) if state.paused_since is not None else None
            cancelled = status == "cancelled"
            for metric in list(state.clocks):
                self.stop(state, metric, now, cancelled=cancelled)
            return
        if self.policy is not None and status in self.policy.pause_states:
            self.pause(state, now)
        else:
            self.resume(state, now)

    def on_reopened(self, state: SlaState, status: str, now: datetime) -> None:
        self.start(state, "resolution", now)
        self.start(state, "next_response", now)
        self.on_status(state, status, now)


def new_state(facts: CaseFacts, policy: Policy | None, fingerprint: str) -> SlaState:
    return SlaState(
        policy=None if policy is None else policy.name, facts=facts, fingerprint=fingerprint
    )


def with_facts(state: SlaState, **changes: Any) -> SlaState:
    state.facts = replace(state.facts, **changes)
    return state
