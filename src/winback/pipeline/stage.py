"""The stage interface: how later capabilities plug into the processor.

A :class:`Stage` looks at one :class:`EventContext` and records what should change through the
:class:`Unit` it is given. It never commits and never does I/O of its own: the processor runs
a batch of events through all stages in memory, then writes every stage's effects and the
cursor in one transaction, so an event's effects happen exactly once or not at all.

Stages run in order and may read what earlier stages left on the context (``customer``,
``decision``, ``case``, and the free-form ``results`` dict for enrichment, risk and the like).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from winback.cases.model import RecoveryCase, TimelineEntry
from winback.cases.rules import Decision
from winback.clock import Clock
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.text.analyzer import TextAnalysis


class Unit(Protocol):
    """The batch's view of state, and the sink for its effects (a unit of work)."""

    clock: Clock

    def customer(self, customer_id: str) -> Customer | None: ...

    def save_customer(self, customer: Customer) -> None: ...

    def open_case(self, customer_id: str) -> RecoveryCase | None: ...

    def add_case(self, case: RecoveryCase) -> None: ...

    def save_case(self, case: RecoveryCase) -> None: ...

    def link_event(self, case: RecoveryCase, event: Event, role: str) -> None: ...

    def append_timeline(self, case: RecoveryCase, entry: TimelineEntry) -> None: ...

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        """The customer's most recently resolved case (a candidate for re-opening), if any."""
        ...

    def reopen_case(self, case: RecoveryCase) -> None:
        """Make a resolved ``case`` (already set to ``reopened``) the customer's open case."""
        ...

    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        """The case's SLA clock state, or ``None`` when it has none yet."""
        ...

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        """Record the case's new clock state and the complete set of timers it now needs."""
        ...

    def customer_risk(self, customer_id: str) -> CustomerRisk | None:
        """The customer's feature state and latest risk score, if any (issue 5)."""
        ...

    def save_customer_risk(self, risk: CustomerRisk) -> None:
        """Record the customer's new feature state and risk score."""
        ...

    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None:
        """Record what the text stage understood from the event's text (issue 4)."""
        ...

    def emit(
        self, topic: str, key: str, payload: dict[str, Any], case: RecoveryCase | None = None
    ) -> None:
        """Queue an effect for delivery outside the process (the outbox), once per ``key``.

        With ``case``, the payload gets the case's ``case_id`` once the store has assigned it.
        """
        ...


@dataclass
class EventContext:
    """One event's trip through the stages."""

    event: Event
    customer: Customer | None = None
    decision: Decision | None = None
    case: RecoveryCase | None = None
    # "opened" | "attached" | "reopened" once the decision stage has acted
    case_action: str | None = None
    results: dict[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    """One step of the pipeline. ``name`` appears in failure records and metrics."""

    name: str

    def process(self, ctx: EventContext, unit: Unit) -> None: ...
