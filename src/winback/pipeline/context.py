"""What one event carries from stage to stage, typed: no string keys between stages.

Stages run in a fixed order (:func:`winback.pipeline.stages.default_stages`) and each fills in
its own fields for the stages after it: the customer stage ``customer``, the text stage
``text``, the risk stage ``risk``, the playbook stage ``playbook``, ``decision`` and ``plan``
(or the built-in rule stage ``decision``), the case stage ``change`` (what happened to the
customer's case). A stage reads only fields of stages before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from winback.cases.model import RecoveryCase
from winback.cases.rules import Decision
from winback.cases.transitions import Change, Plan
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.playbooks.model import Outcome
from winback.risk.scoring import RiskResult
from winback.text.analyzer import TextAnalysis


@dataclass
class EventContext:
    """One event's trip through the stages."""

    event: Event
    customer: Customer | None = None
    text: TextAnalysis | None = None
    risk: RiskResult | None = None
    # SLA breaches from another source than the customer's cases, as ``(key, at)`` pairs.
    sla_breaches: list[tuple[str, datetime]] = field(default_factory=list)
    playbook: Outcome | None = None
    decision: Decision | None = None
    plan: Plan | None = None
    change: Change | None = None

    @property
    def case(self) -> RecoveryCase | None:
        return None if self.change is None else self.change.case

    @property
    def case_action(self) -> str | None:
        """``opened`` | ``attached`` | ``reopened`` once the case stage acted on the event."""
        return None if self.change is None else self.change.action
