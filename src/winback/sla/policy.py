"""SLA policies: which cases they apply to, their targets, warnings, escalations and pauses.

A policy applies to a case when every condition it names holds (an absent condition always
holds). Policies are tried in file order; the first that applies wins. Targets are amounts of
*business* time in the policy's calendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

METRICS = ("first_response", "next_response", "resolution")
PRIORITY_ORDER = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Conditions:
    priority: frozenset[str] | None = None
    segment: frozenset[str] | None = None
    category: frozenset[str] | None = None
    channel: frozenset[str] | None = None
    min_value: float | None = None
    max_value: float | None = None

    def match(self, facts: CaseFacts) -> bool:
        def within(allowed: frozenset[str] | None, value: str | None) -> bool:
            return allowed is None or (value is not None and value in allowed)

        if not (
            within(self.priority, facts.priority)
            and within(self.segment, facts.segment)
            and within(self.category, facts.category)
            and within(self.channel, facts.channel)
        ):
            return False
        if self.min_value is not None and (facts.value is None or facts.value < self.min_value):
            return False
        return self.max_value is None or (facts.value is not None and facts.value <= self.max_value)


@dataclass(frozen=True)
class CaseFacts:
    """What policies look at: the case's priority and category, its customer, its channel."""

    priority: str
    category: str | None = None
    segment: str | None = None
    value: float | None = None
    channel: str | None = None
    customer_timezone: str | None = None
    policy: str | None = None  # a policy a playbook named (wins over the conditions)


@dataclass(frozen=True)
class Escalation:
    """One escalation level: ``after`` the breach (business time), do what it says."""

    level: int
    after: timedelta
    notify: str | None = None  # e.g. "lead": an outbox message to that role
    raise_priority: bool = False
    reassign: str | None = None  # the new owner


@dataclass(frozen=True)
class Policy:
    name: str
    calendar: str
    targets: Mapping[str, timedelta]
    conditions: Conditions = field(default_factory=Conditions)
    warning_ratio: float | None = 0.8
    pause_states: frozenset[str] = frozenset({"waiting_on_customer"})
    escalations: tuple[Escalation, ...] = ()
    timezone: str = "calendar"  # or "customer": observe the calendar in the customer's zone

    def target(self, metric: str) -> timedelta | None:
        return self.targets.get(metric)


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


# Used when there is no sla.yaml: round-the-clock targets by priority.
DEFAULT_POLICIES: tuple[Policy, ...] = tuple(
    Policy(
        name=f"default-{p.lower()}",
        calendar="always",
        targets={"first_response": _h(fr), "next_response": _h(nr), "resolution": _h(res)},
        conditions=Conditions(priority=frozenset({p})),
        escalations=(Escalation(1, timedelta(0), notify="lead"),),
    )
    for p, fr, nr, res in (
        ("P1", 1, 2, 24),
        ("P2", 4, 8, 72),
        ("P3", 8, 24, 120),
        ("P4", 24, 48, 240),
    )
)
