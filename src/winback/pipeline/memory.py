"""A :class:`~winback.pipeline.ports.Unit` kept entirely in memory, shipped beside its port.

For unit tests of stages (no database) and for ``winback rules dry-run`` (the playbooks over
past events, changing nothing). It behaves like the store's unit for everything a stage can
observe: one open case per customer, ids handed out on creation, effects once per key.
"""

from __future__ import annotations

from datetime import datetime

from winback.cases.effects import Effect, effects_of
from winback.cases.model import RecoveryCase, TimelineEntry
from winback.cases.transitions import Change
from winback.clock import Clock, FrozenClock
from winback.customers.cohort import CohortUsage
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.text.analyzer import TextAnalysis

EPOCH = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


class MemoryUnit:
    """Every port of :class:`~winback.pipeline.ports.Unit`, over dictionaries."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or FrozenClock(EPOCH)
        self.customers: dict[str, Customer] = {}
        self.cases: dict[int, RecoveryCase] = {}
        self._by_customer: dict[str, list[RecoveryCase]] = {}
        self.links: list[tuple[int, str, str]] = []  # (case id, event id, role)
        self.timeline: list[tuple[RecoveryCase, TimelineEntry]] = []
        self.effects: dict[str, Effect] = {}
        self.sla: dict[int, tuple[SlaState, list[TimerSpec]]] = {}
        self.risks: dict[str, CustomerRisk] = {}
        self.cohorts = CohortUsage()
        self.texts: dict[str, TextAnalysis] = {}
        self._next_id = 1

    # -- customers ---------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def save_customer(self, customer: Customer) -> None:
        self.customers[customer.id] = customer

    # -- cases -------------------------------------------------------------------------------
    def open_case(self, customer_id: str) -> RecoveryCase | None:
        found = [c for c in self._by_customer.get(customer_id, ()) if c.is_open]
        return found[-1] if found else None

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        found = [c for c in self._by_customer.get(customer_id, ()) if c.status == "resolved"]
        return found[-1] if found else None

    def record(self, change: Change, event: Event) -> None:
        case = change.case
        opening = change.action in ("opened", "reopened")
        if opening and self.open_case(case.customer_id) not in (None, case):
            raise ValueError(f"customer {case.customer_id!r} already has an open case")
        if case.id is None:
            case.id = self._next_id
            self._next_id += 1
        if case.id not in self.cases:
            self._by_customer.setdefault(case.customer_id, []).append(case)
            self._next_id = max(self._next_id, case.id + 1)
        self.cases[case.id] = case
        if change.action is not None:
            role = "trigger" if change.action == "opened" else change.action
            self.links.append((case.id, event.event_id, role))
        self.timeline.extend((case, e) for e in change.entries)
        for fx in effects_of(case, change.entries):
            self.effects.setdefault(fx.key, fx)

    def entries(self, kind: str | None = None) -> list[TimelineEntry]:
        """The timeline entries recorded so far (of one kind)."""
        return [e for _, e in self.timeline if kind is None or e.kind == kind]

    # -- SLA, risk, text, outbox ---------------------------------------------------------------
    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        found = None if case.id is None else self.sla.get(case.id)
        return None if found is None else found[0]

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        if case.id is not None:
            self.sla[case.id] = (state, timers)

    def customer_risk(self, customer_id: str) -> CustomerRisk | None:
        return self.risks.get(customer_id)

    def save_customer_risk(self, risk: CustomerRisk) -> None:
        self.risks[risk.customer_id] = risk

    def usage_cohorts(self) -> CohortUsage:
        return self.cohorts

    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None:
        self.texts[event.event_id] = analysis

    def emit(self, effect: Effect) -> None:
        self.effects.setdefault(effect.key, effect)

    def topics(self) -> list[str]:
        """The topics of the queued effects, in the order they were queued."""
        return [fx.topic for fx in self.effects.values()]
