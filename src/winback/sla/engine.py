"""The SLA engine: the configuration applied to a case's :class:`SlaState` (plain Python).

Both writers of cases use it — the processor's SLA stage (a case opened, a signal attached, a
case re-opened) and the case actions (a reply, a status change, an escalation) — so the rules
live in one place. :meth:`SlaEngine.track` re-matches the policy every time (a raised priority
can move a case to a stricter policy) and returns the state with the timers it now needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from winback.sla.calendar import ALWAYS
from winback.sla.config import SlaConfig
from winback.sla.policy import CaseFacts, Policy
from winback.sla.tracking import SlaClock, SlaState, TimerSpec, new_state


@dataclass(frozen=True)
class SlaUpdate:
    """What just happened to a case, as far as its clocks care."""

    opened: bool = False
    customer_signal: bool = False
    reply: bool = False
    reopened: bool = False
    status_changed: bool = False


class SlaEngine:
    def __init__(self, config: SlaConfig) -> None:
        self.config = config
        self._policies = {p.name: p for p in config.policies}

    def policy(self, state: SlaState) -> Policy | None:
        return None if state.policy is None else self._policies.get(state.policy)

    def clock(self, state: SlaState) -> SlaClock:
        policy = self.policy(state)
        calendar = ALWAYS if policy is None else self.config.calendar_for(policy, state.facts)
        return SlaClock(policy, calendar)

    def track(
        self,
        state: SlaState | None,
        facts: CaseFacts,
        status: str,
        now: datetime,
        update: SlaUpdate,
    ) -> tuple[SlaState, list[TimerSpec]]:
        """Apply ``update`` to the case's clocks; return the new state and its timers."""
        state = self.update(state, facts, status, now, update)
        return state, self.clock(state).timers(state)

    def update(
        self,
        state: SlaState | None,
        facts: CaseFacts,
        status: str,
        now: datetime,
        update: SlaUpdate,
    ) -> SlaState:
        """:meth:`track` without computing the timers (the caller may not need them)."""
        if state is None:
            state = new_state(facts, None, self.config.fingerprint)
        else:
            state.facts = replace(
                facts,
                channel=facts.channel or state.facts.channel,
                policy=facts.policy or state.facts.policy,  # a playbook's choice of policy stays
            )
        policy = self.config.policy_for(state.facts)
        state.policy = None if policy is None else policy.name
        state.fingerprint = self.config.fingerprint
        clock = self.clock(state)
        if update.opened:
            clock.on_opened(state, now)
        if update.reopened:
            clock.on_reopened(state, status, now)
        if update.customer_signal:
            clock.on_customer_signal(state, now)
        if update.reply:
            clock.on_reply(state, now)
        if update.status_changed or update.opened:
            clock.on_status(state, status, now)
        return state

    def metrics(self, state: SlaState, now: datetime) -> dict[str, Any]:
        """The case's SLA figures for the API: running clocks (live) and measurements."""
        clock = self.clock(state)
        policy = clock.policy

        def seconds(delta: timedelta | None) -> float | None:
            return None if delta is None else delta.total_seconds()

        running = []
        for run in state.clocks.values():
            business, wall, paused = clock.elapsed(state, run, now)
            target = None if policy is None else policy.target(run.metric)
            running.append(
                {
                    "metric": run.metric,
                    "cycle": run.generation,
                    "started_at": run.started_at,
                    "target_s": seconds(target),
                    "due_at": None if state.paused_since else clock.deadline(run),
                    "business_s": business.total_seconds(),
                    "wall_s": wall.total_seconds(),
                    "paused_s": paused.total_seconds(),
                    "paused": state.paused_since is not None,
                    "warned": run.warned,
                    "breached": run.breached or (target is not None and business > target),
                }
            )
        paused_total = state.paused_total_us / 1e6
        if state.paused_since is not None:
            paused_total += (now - state.paused_since).total_seconds()
        return {
            "policy": state.policy,
            "calendar": None if policy is None else policy.calendar,
            "timezone": clock.calendar.timezone,
            "paused_since": state.paused_since,
            "paused_total_s": paused_total,
            "running": running,
            "measurements": [vars(m) for m in state.history],
        }


def facts_for(
    priority: str,
    category: str | None,
    customer: Any | None,
    channel: str | None,
) -> CaseFacts:
    """The facts policies match on, from a case's fields and its customer (any object with
    ``segment``, ``value`` and ``timezone`` attributes, or ``None``)."""
    value = getattr(customer, "value", None)
    return CaseFacts(
        priority=priority,
        category=category,
        segment=getattr(customer, "segment", None),
        value=None if value is None else float(value),
        channel=channel,
        customer_timezone=getattr(customer, "timezone", None),
    )
