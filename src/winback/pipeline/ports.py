"""The ports a stage reads and writes through: small protocols, one per kind of state.

A stage never commits and never does I/O of its own. The processor runs a batch of events
through the stages on a :class:`Unit` (every port at once) whose state was loaded up front,
then writes what the stages recorded, with the cursor, in one transaction — so an event's
effects happen exactly once or not at all. Implementations: the store's batch unit
(:class:`winback.store.uow.BatchUnit`) and the in-memory one shipped for tests and dry-runs
(:class:`winback.pipeline.memory.MemoryUnit`).

Cases change only through :meth:`CasePort.record`, with a
:class:`~winback.cases.transitions.Change` made by a transition; the unit saves the case, its
timeline entries and their outbox effects (one rule, :mod:`winback.cases.effects`).
"""

from __future__ import annotations

from typing import Protocol

from winback.cases.effects import Effect
from winback.cases.model import RecoveryCase
from winback.cases.transitions import Change
from winback.clock import Clock
from winback.customers.cohort import CohortUsage
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.text.analyzer import TextAnalysis


class CustomerPort(Protocol):
    def customer(self, customer_id: str) -> Customer | None: ...

    def save_customer(self, customer: Customer) -> None: ...


class CasePort(Protocol):
    def open_case(self, customer_id: str) -> RecoveryCase | None: ...

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        """The customer's most recently resolved case (a candidate for re-opening), if any."""
        ...

    def record(self, change: Change, event: Event) -> None:
        """Keep a transition's result: a new case (``action == "opened"``), a re-opened one,
        or an update; link ``event`` to it (as the trigger, re-opener or attached signal);
        append its timeline entries and queue their outbox effects."""
        ...


class SlaPort(Protocol):
    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        """The case's SLA clock state, or ``None`` when it has none yet."""
        ...

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        """Record the case's new clock state and the complete set of timers it now needs."""
        ...


class RiskPort(Protocol):
    def customer_risk(self, customer_id: str) -> CustomerRisk | None: ...

    def save_customer_risk(self, risk: CustomerRisk) -> None: ...

    def usage_cohorts(self) -> CohortUsage:
        """Every cohort's usage readings (:mod:`winback.customers.cohort`): the risk stage
        reads them for ``usage_level`` and adds each usage reading; the unit keeps what was
        added (``CohortUsage.pending``) with the batch."""
        ...


class TextPort(Protocol):
    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None: ...


class OutboxPort(Protocol):
    def emit(self, effect: Effect) -> None:
        """Queue an effect that is no case change (``risk.jumped``, a hold-out, an
        acknowledgement), once per key."""
        ...


class Unit(CustomerPort, CasePort, SlaPort, RiskPort, TextPort, OutboxPort, Protocol):
    """A batch's view of state and the sink for its effects (a unit of work)."""

    clock: Clock


class Stage(Protocol):
    """One step of the pipeline. ``name`` appears in failure records and metrics."""

    name: str

    def process(self, ctx: EventContext, unit: Unit) -> None: ...
