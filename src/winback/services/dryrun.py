"""``winback rules dry-run``: the playbooks over past events, in memory, changing nothing.

The events run through the same stages the processor uses up to the case step — customer
state, text understanding, churn risk, playbooks, the case — but against a
:class:`~winback.pipeline.memory.MemoryUnit` that starts empty and is thrown away: no database
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

from winback.clock import FrozenClock
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.ports import Stage
from winback.playbooks.model import Outcome
from winback.remedies.catalogue import Catalogue


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
        outcome = ctx.playbook
        if outcome is None:
            continue
        _count(report, ctx, outcome, catalogue)
    if unit is not None:
        report.acknowledgements = unit.topics().count("case.acknowledgement")
    return report


def _count(report: DryRunReport, ctx: EventContext, outcome: Outcome, catalogue: Catalogue) -> None:
    # What the playbooks' decision did (a customer's reply joining the case is not theirs).
    action = ctx.case_action if ctx.decision is not None else None
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
