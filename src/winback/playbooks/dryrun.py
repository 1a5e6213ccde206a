"""``winback rules dry-run``: the playbooks over past events, in memory, changing nothing.

The events run through the same stages the processor uses up to the playbooks' case step —
customer state, text understanding, churn risk, playbooks, the case decision, the playbook
actions — but against a :class:`MemoryUnit` that starts empty and is thrown away: no database
is written, no effect is queued. The report counts, per rule: how often it matched, the cases
it opened (or re-opened) and the signals it attached, the priorities of those cases, the
remedies it recommended and their cost (each case's first recommended remedy at its default
amount, from the catalogue), and the hold-outs and suppressions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.cases.model import RecoveryCase, TimelineEntry
from winback.clock import Clock, FrozenClock
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.pipeline.stage import EventContext, Stage
from winback.playbooks.model import Outcome
from winback.playbooks.stage import RESULT_KEY
from winback.remedies.catalogue import Catalogue
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.text.analyzer import TextAnalysis


class MemoryUnit:
    """A :class:`~winback.pipeline.stage.Unit` kept entirely in memory."""

    clock: Clock

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.customers: dict[str, Customer] = {}
        self.open_cases: dict[str, RecoveryCase] = {}
        self.resolved: dict[str, RecoveryCase] = {}
        self.risks: dict[str, CustomerRisk] = {}
        self.effects: dict[str, tuple[str, dict[str, Any]]] = {}
        self.timeline: list[tuple[RecoveryCase, TimelineEntry]] = []
        self._next_id = 1

    def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def save_customer(self, customer: Customer) -> None:
        self.customers[customer.id] = customer

    def open_case(self, customer_id: str) -> RecoveryCase | None:
        case = self.open_cases.get(customer_id)
        return case if case is not None and case.is_open else None

    def add_case(self, case: RecoveryCase) -> None:
        case.id = self._next_id
        self._next_id += 1
        self.open_cases[case.customer_id] = case

    def save_case(self, case: RecoveryCase) -> None:
        pass

    def link_event(self, case: RecoveryCase, event: Event, role: str) -> None:
        pass

    def append_timeline(self, case: RecoveryCase, entry: TimelineEntry) -> None:
        self.timeline.append((case, entry))

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        return self.resolved.get(customer_id)

    def reopen_case(self, case: RecoveryCase) -> None:
        self.resolved.pop(case.customer_id, None)
        self.open_cases[case.customer_id] = case

    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        return None

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        pass

    def customer_risk(self, customer_id: str) -> CustomerRisk | None:
        return self.risks.get(customer_id)

    def save_customer_risk(self, risk: CustomerRisk) -> None:
        self.risks[risk.customer_id] = risk

    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None:
        pass

    def emit(
        self, topic: str, key: str, payload: dict[str, Any], case: RecoveryCase | None = None
    ) -> None:
        self.effects.setdefault(key, (topic, payload))


@dataclass
class RuleStats:
    rule: str
    matched: int = 0
    opened: int = 0
    attached: int = 0
    held_out: int = 0
    suppressed: int = 0
    priorities: Counter[str] = field(default_factory=Counter)
    remedies: Counter[str] = field(default_factory=Counter)
    cost: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "matched": self.matched,
            "cases_opened": self.opened,
            "signals_attached": self.attached,
            "held_out": self.held_out,
            "suppressed": self.suppressed,
            "priorities": dict(sorted(self.priorities.items())),
            "remedies": dict(self.remedies.most_common()),
            "cost": round(self.cost, 2),
        }


@dataclass
class DryRunReport:
    playbooks: str
    events: int = 0
    cases_opened: int = 0
    signals_attached: int = 0
    acknowledgements: int = 0
    cost: float = 0.0
    rules: dict[str, RuleStats] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "playbooks": self.playbooks,
            "events": self.events,
            "from": None if self.first_at is None else self.first_at.isoformat(),
            "to": None if self.last_at is None else self.last_at.isoformat(),
            "cases_opened": self.cases_opened,
            "signals_attached": self.signals_attached,
            "acknowledgements": self.acknowledgements,
            "cost": round(self.cost, 2),
            "rules": [s.as_dict() for s in self.rules.values()],
        }


def dry_run(
    events: Iterable[Event],
    stages: list[Stage],
    playbooks_version: str,
    catalogue: Catalogue,
    rule_ids: Iterable[str] = (),
) -> DryRunReport:
    """Run ``events`` (in order) through ``stages`` over a fresh :class:`MemoryUnit`."""
    report = DryRunReport(playbooks_version)
    for rule in rule_ids:
        report.rules[rule] = RuleStats(rule)
    clock: FrozenClock | None = None
    unit: MemoryUnit | None = None
    for event in events:
        if clock is None or unit is None:
            clock = FrozenClock(event.occurred_at)
            unit = MemoryUnit(clock)
        elif event.occurred_at > clock.now():
            clock.set(event.occurred_at)
        report.events += 1
        report.first_at = report.first_at or event.occurred_at
        report.last_at = event.occurred_at
        ctx = EventContext(event)
        for stage in stages:
            stage.process(ctx, unit)
        outcome: Outcome | None = ctx.results.get(RESULT_KEY)
        if outcome is None:
            continue
        _count(report, ctx, outcome, catalogue)
    if unit is not None:
        report.acknowledgements = sum(
            1 for topic, _ in unit.effects.values() if topic == "case.acknowledgement"
        )
    return report


def _count(report: DryRunReport, ctx: EventContext, outcome: Outcome, catalogue: Catalogue) -> None:
    action = ctx.case_action
    if action in ("opened", "reopened"):
        report.cases_opened += 1
    elif action == "attached":
        report.signals_attached += 1
    for hit in outcome.hits:
        stats = report.rules.setdefault(hit.rule_id, RuleStats(hit.rule_id))
        stats.matched += 1
        if outcome.held_out_by == hit.rule_id:
            stats.held_out += 1
        if outcome.suppressed_by == hit.rule_id:
            stats.suppressed += 1
        if action is None:
            continue
        stats.remedies.update(hit.actions.remedies)
        if hit.decided_by == outcome.decided_by:
            if action in ("opened", "reopened"):
                stats.opened += 1
                stats.priorities[outcome.priority or "P3"] += 1
            else:
                stats.attached += 1
    if action in ("opened", "reopened") and outcome.remedies:
        remedy = catalogue.get(outcome.remedies[0])
        if remedy is not None:
            cost = remedy.cost()
            report.cost += cost
            # The cost goes to the rule that recommended the offered remedy first.
            for hit in outcome.hits:
                if remedy.name in hit.actions.remedies:
                    report.rules[hit.rule_id].cost += cost
                    break
