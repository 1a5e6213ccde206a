"""The processor's unit of work: a batch's state in memory, written back in one transaction.

:func:`load_batch_unit` reads every customer and open case a batch of events touches (a couple
of queries, not one per event); the stages then work on plain objects; :meth:`BatchUnit.flush`
writes everything inside the processor's transaction. Cases carry a ``version``: an update
whose version moved underneath (an agent acted meanwhile) raises :class:`StaleState` and the
processor retries the batch from fresh state.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.cases.model import OPEN_STATUSES, RecoveryCase, TimelineEntry
from winback.clock import Clock
from winback.customers.profile import Customer
from winback.events.model import Event
from winback.risk.scoring import CustomerRisk
from winback.sla.tracking import SlaState, TimerSpec
from winback.store.eventlog import chunks
from winback.store.risk_store import load_customer_risks, write_customer_risks
from winback.store.sla_store import load_sla_states, write_sla
from winback.store.tables import (
    case_events,
    case_timeline,
    cases,
    customers,
    event_text,
    outbox,
)
from winback.text.analyzer import TextAnalysis

_CASE_COLUMNS = (
    "customer_id",
    "status",
    "priority",
    "category",
    "reason",
    "trigger_event_id",
    "signal_count",
    "opened_at",
    "updated_at",
    "decided_by",
    "severity",  # issue 7: playbooks set severity and (an explicit agent) the owner
    "owner",
)


_CUSTOMER_COLUMNS = tuple(f.name for f in fields(Customer))


class StaleState(Exception):
    """State the batch was computed from changed before it could be written."""


def customer_from_row(row: Any) -> Customer:
    data = dict(row._mapping)
    data["attributes"] = dict(data["attributes"] or {})
    data["field_times"] = dict(data["field_times"] or {})
    return Customer(**data)


def case_from_row(row: Any) -> RecoveryCase:
    return RecoveryCase(**dict(row._mapping))


class BatchUnit:
    """Implements :class:`winback.pipeline.stage.Unit` over preloaded state."""

    def __init__(
        self,
        clock: Clock,
        loaded_customers: dict[str, Customer],
        loaded_cases: dict[str, RecoveryCase],
        resolved_cases: dict[str, RecoveryCase] | None = None,
        sla_states: dict[int, SlaState] | None = None,
        customer_risks: dict[str, CustomerRisk] | None = None,
    ) -> None:
        self.clock = clock
        self._customers = loaded_customers
        self._open_cases = loaded_cases
        self._dirty_customers: dict[str, Customer] = {}
        self._new_cases: list[RecoveryCase] = []
        self._dirty_cases: dict[int, RecoveryCase] = {}
        self._links: list[tuple[RecoveryCase, int, str, datetime]] = []
        self._timeline: list[tuple[RecoveryCase, TimelineEntry]] = []
        self._effects: dict[str, tuple[str, dict[str, Any], RecoveryCase | None]] = {}
        self._text: dict[int, TextAnalysis] = {}
        self._resolved = resolved_cases or {}
        self._sla_states = sla_states or {}
        self._risks = customer_risks or {}
        self._dirty_risks: dict[str, CustomerRisk] = {}
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

    # -- writes ----------------------------------------------------------------------------
    def save_customer_risk(self, risk: CustomerRisk) -> None:
        self._risks[risk.customer_id] = risk
        self._dirty_risks[risk.customer_id] = risk

    def reopen_case(self, case: RecoveryCase) -> None:
        if self.open_case(case.customer_id) is not None:
            raise ValueError(f"customer {case.customer_id!r} already has an open case")
        self._resolved.pop(case.customer_id, None)
        self._open_cases[case.customer_id] = case
        self.save_case(case)

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        # Keyed by object identity: a new case has no id until the flush.
        self._sla[id(case)] = (case, state, timers)
        if case.id is not None:
            self._sla_states[case.id] = state

    def save_customer(self, customer: Customer) -> None:
        self._customers[customer.id] = customer
        self._dirty_customers[customer.id] = customer

    def add_case(self, case: RecoveryCase) -> None:
        if self.open_case(case.customer_id) is not None:
            raise ValueError(f"customer {case.customer_id!r} already has an open case")
        self._new_cases.append(case)
        self._open_cases[case.customer_id] = case

    def save_case(self, case: RecoveryCase) -> None:
        if case.id is not None:
            self._dirty_cases[case.id] = case

    def link_event(self, case: RecoveryCase, event: Event, role: str) -> None:
        self._links.append((case, event.seq, role, self.clock.now()))

    def append_timeline(self, case: RecoveryCase, entry: TimelineEntry) -> None:
        self._timeline.append((case, entry))

    def emit(
        self, topic: str, key: str, payload: dict[str, Any], case: RecoveryCase | None = None
    ) -> None:
        self._effects.setdefault(key, (topic, payload, case))

    def save_text_analysis(self, event: Event, analysis: TextAnalysis) -> None:
        self._text[event.seq] = analysis

    @property
    def new_cases(self) -> list[RecoveryCase]:
        return list(self._new_cases)

    # -- persistence -----------------------------------------------------------------------
    def flush(self, conn: Connection) -> None:
        self._flush_customers(conn)
        write_customer_risks(conn, self._dirty_risks.values())
        self._flush_cases(conn)
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
        if self._timeline:
            conn.execute(
                case_timeline.insert(),
                [
                    {
                        "case_id": c.id,
                        "at": e.at,
                        "kind": e.kind,
                        "actor": e.actor,
                        "summary": e.summary,
                        "data": e.data,
                        "event_seq": e.event_seq,
                    }
                    for c, e in self._timeline
                ],
            )
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
        if self._effects:
            rows = [
                {
                    "topic": topic,
                    "idempotency_key": key,
                    "payload": payload if case is None else {"case_id": case.id, **payload},
                    "created_at": now,
                    "available_at": now,
                    "attempts": 0,
                }
                for key, (topic, payload, case) in self._effects.items()
            ]
            insert = _insert_for(conn)(outbox).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            )
            conn.execute(insert, rows)

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
        insert = _insert_for(conn)(event_text).on_conflict_do_nothing(index_elements=["event_seq"])
        conn.execute(insert, rows)

    def _flush_customers(self, conn: Connection) -> None:
        if not self._dirty_customers:
            return
        # Shallow on purpose: dataclasses.asdict deep-copies, and was 40 % of processor CPU.
        rows = [
            {name: getattr(c, name) for name in _CUSTOMER_COLUMNS}
            for c in self._dirty_customers.values()
        ]
        insert = _insert_for(conn)(customers)
        update = {col: insert.excluded[col] for col in rows[0] if col != "id"}
        conn.execute(insert.on_conflict_do_update(index_elements=["id"], set_=update), rows)

    def _flush_cases(self, conn: Connection) -> None:
        if self._new_cases:
            result = conn.execute(
                cases.insert().returning(cases.c.id, sort_by_parameter_order=True),
                [
                    {**{col: getattr(c, col) for col in _CASE_COLUMNS}, "version": 0}
                    for c in self._new_cases
                ],
            )
            for case, row in zip(self._new_cases, result.all(), strict=True):
                case.id = row.id
        dirty = list(self._dirty_cases.values())
        if dirty:
            stmt = (
                cases.update()
                .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_v"))
                .values(
                    status=sa.bindparam("b_status"),
                    priority=sa.bindparam("b_priority"),
                    category=sa.bindparam("b_category"),
                    signal_count=sa.bindparam("b_signal_count"),
                    updated_at=sa.bindparam("b_updated_at"),
                    reopen_count=sa.bindparam("b_reopen_count"),
                    severity=sa.bindparam("b_severity"),
                    owner=sa.bindparam("b_owner"),
                    version=cases.c.version + 1,
                )
            )
            result = conn.execute(
                stmt,
                [
                    {
                        "b_id": c.id,
                        "b_v": c.version,
                        "b_status": c.status,
                        "b_priority": c.priority,
                        "b_category": c.category,
                        "b_signal_count": c.signal_count,
                        "b_updated_at": c.updated_at,
                        "b_reopen_count": c.reopen_count,
                        "b_severity": c.severity,
                        "b_owner": c.owner,
                    }
                    for c in dirty
                ],
            )
            if result.rowcount != len(dirty):
                raise StaleState("a case changed while the batch was being processed")
            for c in dirty:
                c.version += 1


def _insert_for(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def load_batch_unit(conn: Connection, clock: Clock, customer_ids: list[str]) -> BatchUnit:
    loaded_customers: dict[str, Customer] = {}
    loaded_cases: dict[str, RecoveryCase] = {}
    resolved_cases: dict[str, RecoveryCase] = {}
    for part in chunks(customer_ids):
        for row in conn.execute(sa.select(customers).where(customers.c.id.in_(part))):
            loaded_customers[row.id] = customer_from_row(row)
        query = sa.select(cases).where(
            cases.c.customer_id.in_(part), cases.c.status.in_(sorted(OPEN_STATUSES))
        )
        for row in conn.execute(query):
            loaded_cases[row.customer_id] = case_from_row(row)
        # The latest resolved case of each customer: the decision stage may re-open it.
        query = sa.select(cases).where(cases.c.customer_id.in_(part), cases.c.status == "resolved")
        for row in conn.execute(query):
            known = resolved_cases.get(row.customer_id)
            if known is None or (known.id or 0) < row.id:
                resolved_cases[row.customer_id] = case_from_row(row)
    case_ids = [c.id for c in (*loaded_cases.values(), *resolved_cases.values()) if c.id]
    sla_states = load_sla_states(conn, case_ids)
    risks = load_customer_risks(conn, customer_ids)
    return BatchUnit(
        clock, loaded_customers, loaded_cases, resolved_cases, sla_states, customer_risks=risks
    )
