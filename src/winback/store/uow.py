"""The processor's unit of work: a batch's state in memory, written back in one transaction.

:func:`load_batch_unit` reads every customer and open case a batch of events touches (a couple
of queries, not one per event); the stages then work on plain objects; :meth:`BatchUnit.flush`
writes everything inside the processor's transaction, with the cases repository's writers and
the one outbox writer. Cases carry a ``version``: an update whose version moved underneath (an
agent acted meanwhile) raises :class:`StaleState` and the processor redoes the batch from fresh
state — the second time with the batch's cases locked (``lock=True``), so it always progresses.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.effects import Effect, effects_of
from winback.cases.model import OPEN_STATUSES, RecoveryCase, TimelineEntry
from winback.cases.transitions import Change
from winback.clock import Clock
from winback.customers.cohort import CohortUsage
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.store.cases import append_timeline, case_from_row, insert_cases, update_cases
from winback.store.eventlog import chunks
from winback.store.outbox import insert_for, write_effects
from winback.store.risk_store import (
    add_usage_readings,
    load_customer_risks,
    load_usage_cohorts,
    write_customer_risks,
)
from winback.store.sla_store import load_sla_states, write_sla
from winback.store.tables import case_events, cases, customers, event_text
from winback.text.analyzer import TextAnalysis

_CUSTOMER_COLUMNS = tuple(f.name for f in fields(Customer))


class StaleState(Exception):
    """State the batch was computed from changed before it could be written."""


def customer_from_row(row: Any) -> Customer:
    data = dict(row._mapping)
    data["attributes"] = dict(data["attributes"] or {})
    data["field_times"] = dict(data["field_times"] or {})
    return Customer(**data)


class BatchUnit:
    """Implements :class:`winback.pipeline.ports.Unit` over preloaded state."""

    def __init__(
        self,
        clock: Clock,
        loaded_customers: dict[str, Customer],
        loaded_cases: dict[str, RecoveryCase],
        resolved_cases: dict[str, RecoveryCase] | None = None,
        sla_states: dict[int, SlaState] | None = None,
        customer_risks: dict[str, CustomerRisk] | None = None,
        cohorts: CohortUsage | None = None,
    ) -> None:
        self.clock = clock
        self._customers = loaded_customers
        self._open_cases = loaded_cases
        self._dirty_customers: dict[str, Customer] = {}
        self._new_cases: list[RecoveryCase] = []
        self._dirty_cases: dict[int, RecoveryCase] = {}
        self._links: list[tuple[RecoveryCase, int, str, datetime]] = []
        self._timeline: list[tuple[RecoveryCase, TimelineEntry]] = []
        self._effects: dict[str, Effect] = {}
        self._text: dict[int, TextAnalysis] = {}
        self._resolved = resolved_cases or {}
        self._sla_states = sla_states or {}
        self._risks = customer_risks or {}
        self._dirty_risks: dict[str, CustomerRisk] = {}
        self._cohorts = cohorts
        self._sla: dict[int, tuple[RecoveryCase, SlaState, list[TimerSpec]]] = {}

    # -- reads -----------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def open_case(self, customer_id: str) -> RecoveryCase | None:
        case = self._open_cases.get(customer_id)
        return case if case is not None and case.is_open else None

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        case = self._resolved.get(customer_id)
        return case if case is not None and case.status == "resolved" else None

    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        return None if case.id is None else self._sla_states.get(case.id)

    def customer_risk(self, customer_id: str) -> CustomerRisk | None:
        return self._risks.get(customer_id)

    def usage_cohorts(self) -> CohortUsage:
        if self._cohorts is None:
            self._cohorts = CohortUsage()
        return self._cohorts

    # -- writes ----------------------------------------------------------------------------
    def save_customer_risk(self, risk: CustomerRisk) -> None:
        self._risks[risk.customer_id] = risk
        self._dirty_risks[risk.customer_id] = risk

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        # Keyed by object identity: a new case has no id until the flush.
        self._sla[id(case)] = (case, state, timers)
        if case.id is not None:
            self._sla_states[case.id] = state

    def save_customer(self, customer: Customer) -> None:
        self._customers[customer.id] = customer
        self._dirty_customers[customer.id] = customer

    def record(self, change: Change, event: Event) -> None:
        case = change.case
        if change.action in ("opened", "reopened"):
            if self.open_case(case.customer_id) is not None:
                raise ValueError(f"customer {case.customer_id!r} already has an open case")
            self._resolved.pop(case.customer_id, None)
            self._open_cases[case.customer_id] = case
            if case.id is None:
                self._new_cases.append(case)
        if case.id is not None:
            self._dirty_cases[case.id] = case
        if change.action is not None:
            role = "trigger" if change.action == "opened" else change.action
            self._links.append((case, event.seq, role, self.clock.now()))
        self._timeline.extend((case, e) for e in change.entries)
        for fx in effects_of(case, change.entries):
            self._effects.setdefault(fx.key, fx)

    def emit(self, effect: Effect) -> None:
        self._effects.setdefault(effect.key, effect)

    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None:
        self._text[event.seq] = analysis

    @property
    def new_cases(self) -> list[RecoveryCase]:
        return list(self._new_cases)

    # -- persistence -----------------------------------------------------------------------
    def flush(self, conn: Connection) -> None:
        self._flush_customers(conn)
        write_customer_risks(conn, self._dirty_risks.values())
        if self._cohorts is not None:
            add_usage_readings(conn, self._cohorts.take_pending())
        insert_cases(conn, self._new_cases)
        dirty = [(c, c.version) for c in self._dirty_cases.values()]
        if not update_cases(conn, dirty):
            raise StaleState("a case changed while the batch was being processed")
        now = self.clock.now()
        if self._text:
            self._flush_text(conn, now)
        if self._links:
            conn.execute(
                case_events.insert(),
                [
                    {"case_id": c.id, "event_seq": seq, "role": role, "attached_at": at}
                    for c, seq, role, at in self._links
                ],
            )
        append_timeline(conn, self._timeline)
        if self._sla:
            write_sla(
                conn,
                [(c.id, state, timers) for c, state, timers in self._sla.values() if c.id],
                now,
                new_cases={c.id for c in self._new_cases if c.id is not None},
            )
            for c, state, _ in self._sla.values():
                if c.id is not None:
                    self._sla_states[c.id] = state
        write_effects(conn, self._effects.values(), now)

    def _flush_text(self, conn: Connection, now: datetime) -> None:
        rows = [
            {
                "event_seq": seq,
                "sentiment": a.sentiment,
                "sentiment_score": a.sentiment_score,
                "category": a.category,
                "urgency": list(a.urgency),
                "language": a.language,
                "redacted": a.redacted,
                "pii": list(a.pii),
                "model_version": a.model_version,
                "analyzed_at": now,
            }
            for seq, a in self._text.items()
        ]
        insert = insert_for(conn)(event_text).on_conflict_do_nothing(index_elements=["event_seq"])
        conn.execute(insert, rows)

    def _flush_customers(self, conn: Connection) -> None:
        if not self._dirty_customers:
            return
        # Shallow on purpose: dataclasses.asdict deep-copies, and was 40 % of processor CPU.
        rows = [
            {name: getattr(c, name) for name in _CUSTOMER_COLUMNS}
            for c in self._dirty_customers.values()
        ]
        insert = insert_for(conn)(customers)
        update = {col: insert.excluded[col] for col in rows[0] if col != "id"}
        conn.execute(insert.on_conflict_do_update(index_elements=["id"], set_=update), rows)


def load_customers(conn: Connection, customer_ids: list[str]) -> dict[str, Customer]:
    """The customers' profiles, by id (missing ids are left out)."""
    out: dict[str, Customer] = {}
    for part in chunks(customer_ids):
        for row in conn.execute(sa.select(customers).where(customers.c.id.in_(part))):
            out[row.id] = customer_from_row(row)
    return out


def load_batch_unit(
    conn: Connection, clock: Clock, customer_ids: list[str], *, lock: bool = False
) -> BatchUnit:
    """The state a batch touches. With ``lock`` (inside a write transaction) the customers'
    cases are read ``FOR UPDATE`` on PostgreSQL (SQLite's writer lock covers it), so no other
    writer can move them before the batch commits."""
    loaded_customers: dict[str, Customer] = {}
    loaded_cases: dict[str, RecoveryCase] = {}
    resolved_cases: dict[str, RecoveryCase] = {}
    for part in chunks(customer_ids):
        for row in conn.execute(sa.select(customers).where(customers.c.id.in_(part))):
            loaded_customers[row.id] = customer_from_row(row)
        query = sa.select(cases).where(
            cases.c.customer_id.in_(part), cases.c.status.in_(sorted(OPEN_STATUSES))
        )
        if lock and conn.dialect.name == "postgresql":
            query = query.order_by(cases.c.id).with_for_update()
        for row in conn.execute(query):
            loaded_cases[row.customer_id] = case_from_row(row)
        # The latest resolved case of each customer: the decision stage may re-open it.
        query = sa.select(cases).where(cases.c.customer_id.in_(part), cases.c.status == "resolved")
        if lock and conn.dialect.name == "postgresql":
            query = query.order_by(cases.c.id).with_for_update()
        for row in conn.execute(query):
            known = resolved_cases.get(row.customer_id)
            if known is None or (known.id or 0) < row.id:
                resolved_cases[row.customer_id] = case_from_row(row)
    case_ids = [c.id for c in (*loaded_cases.values(), *resolved_cases.values()) if c.id]
    sla_states = load_sla_states(conn, case_ids)
    risks = load_customer_risks(conn, customer_ids)
    return BatchUnit(
        clock,
        loaded_customers,
        loaded_cases,
        resolved_cases,
        sla_states,
        customer_risks=risks,
        cohorts=load_usage_cohorts(conn),
    )
