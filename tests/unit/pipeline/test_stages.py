"""The foundation's stages, run on the shipped in-memory unit (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from winback.cases.effects import Effect, effects_of
from winback.cases.model import CaseStatus
from winback.cases.rules import RULE_VERSION
from winback.cases.transitions import PROCESSOR_ACTOR, Change
from winback.clock import FrozenClock
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.ports import Stage, Unit
from winback.pipeline.stages import CaseStage, CustomerStateStage, default_stages

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class RecordingUnit(MemoryUnit):
    """The shipped in-memory unit, also keeping every change recorded and every effect queued
    as it came (not de-duplicated by key), so a stage writing twice would show."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__(clock)
        self.changes: list[Change] = []
        self.emitted: list[Effect] = []

    def record(self, change: Change, event: Event) -> None:
        self.changes.append(change)
        self.emitted.extend(effects_of(change.case, change.entries))
        super().record(change, event)

    def emit(self, effect: Effect) -> None:
        self.emitted.append(effect)
        super().emit(effect)


_seq = count(1)


def make_event(
    event_type: str,
    *,
    customer: str = "cus-1",
    event_id: str | None = None,
    occurred_at: datetime = T0,
    **data: Any,
) -> Event:
    seq = next(_seq)
    event_id = event_id or f"evt-{seq}"
    customer_fields = data.pop("customer_fields", {})
    return Event(
        seq=seq,
        event_id=event_id,
        type=event_type,
        customer_id=customer,
        occurred_at=occurred_at,
        received_at=occurred_at,
        data={
            "id": event_id,
            "type": event_type,
            "customer": {"id": customer, **customer_fields},
            **data,
        },
    )


def nps(value: int, **kwargs: Any) -> Event:
    return make_event("survey.response", score={"kind": "nps", "value": value}, **kwargs)


@pytest.fixture
def unit(frozen_clock: FrozenClock) -> RecordingUnit:
    return RecordingUnit(frozen_clock)


def run(unit: Unit, *events: Event, stages: list[Stage] | None = None) -> list[EventContext]:
    stages = default_stages() if stages is None else stages
    contexts = []
    for event in events:
        ctx = EventContext(event=event)
        for stage in stages:
            stage.process(ctx, unit)
        contexts.append(ctx)
    return contexts


def test_the_default_stages_run_customer_then_decision_then_case() -> None:
    names = [s.name for s in default_stages()]
    assert names == ["customer_state", "text", "risk", "decision", "case", "sla"]


# -- customer state ---------------------------------------------------------------------------
def test_an_event_creates_its_customer_and_puts_it_on_the_context(unit: RecordingUnit) -> None:
    [ctx] = run(unit, make_event("login", customer_fields={"email": "ana@example.com"}))

    assert ctx.customer is unit.customers["cus-1"]
    assert ctx.customer.email == "ana@example.com"
    assert ctx.customer.event_count == 1
    assert ctx.customer.updated_at == unit.clock.now()


def test_later_events_update_the_same_customer(unit: RecordingUnit) -> None:
    run(
        unit,
        make_event("login", customer_fields={"plan": "basic"}),
        make_event(
            "purchase", customer_fields={"plan": "pro"}, occurred_at=T0 + timedelta(hours=1)
        ),
    )

    assert list(unit.customers) == ["cus-1"]
    assert unit.customers["cus-1"].plan == "pro"
    assert unit.customers["cus-1"].event_count == 2


# -- decision ---------------------------------------------------------------------------------
def test_a_complaint_opens_a_new_case(unit: RecordingUnit) -> None:
    complaint = make_event("complaint", event_id="evt-c", text="Third time asking")

    [ctx] = run(unit, complaint)

    [case] = unit.cases.values()
    assert ctx.case is case
    assert ctx.case_action == "opened"
    assert case.customer_id == "cus-1"
    assert case.status == CaseStatus.NEW.value
    assert case.is_open
    assert (case.priority, case.reason, case.category) == ("P3", "complaint", None)
    assert case.trigger_event_id == "evt-c"
    assert case.signal_count == 1
    assert case.decided_by == RULE_VERSION
    assert case.opened_at == case.updated_at == unit.clock.now()
    assert unit.links == [(case.id, "evt-c", "trigger")]


def test_a_second_signal_attaches_to_the_open_case(unit: RecordingUnit) -> None:
    first = make_event("complaint", event_id="evt-1")
    second = make_event("payment.failed", event_id="evt-2", amount=9.0, currency="EUR")

    _, ctx = run(unit, first, second)

    [case] = unit.cases.values()
    assert ctx.case is case
    assert ctx.case_action == "attached"
    assert case.signal_count == 2
    assert case.trigger_event_id == "evt-1"
    assert case.category == "billing"  # the first signal had none; the attached one fills it
    assert [(c.case, c.action) for c in unit.changes] == [(case, "opened"), (case, "attached")]
    assert unit.links == [(case.id, "evt-1", "trigger"), (case.id, "evt-2", "attached")]


def test_an_attached_signal_can_raise_the_priority(
    unit: RecordingUnit, frozen_clock: FrozenClock
) -> None:
    run(unit, nps(5))
    frozen_clock.advance(timedelta(minutes=5))
    run(unit, make_event("subscription.cancelled"))

    [case] = unit.cases.values()
    assert case.priority == "P2"
    assert case.updated_at == frozen_clock.now()
    assert case.opened_at == frozen_clock.now() - timedelta(minutes=5)


def test_an_attached_signal_never_lowers_the_priority(unit: RecordingUnit) -> None:
    run(unit, nps(0), make_event("complaint"), nps(6))

    [case] = unit.cases.values()
    assert case.priority == "P2"
    assert case.signal_count == 3


def test_an_attached_signal_does_not_replace_a_category(unit: RecordingUnit) -> None:
    run(unit, make_event("payment.failed"), make_event("subscription.cancelled"))

    [case] = unit.cases.values()
    assert case.category == "billing"


def test_an_event_that_is_no_signal_opens_nothing(unit: RecordingUnit) -> None:
    contexts = run(unit, make_event("usage"), nps(7), make_event("login"))

    assert unit.cases == {}
    assert unit.links == unit.timeline == []
    assert unit.emitted == []
    assert [(c.decision, c.case, c.case_action) for c in contexts] == [(None, None, None)] * 3


def test_a_non_signal_event_leaves_an_open_case_alone(unit: RecordingUnit) -> None:
    run(unit, make_event("complaint"), make_event("usage"))

    [case] = unit.cases.values()
    assert case.signal_count == 1
    assert [c.action for c in unit.changes] == ["opened"]  # the usage event recorded nothing


def test_customers_get_a_case_each(unit: RecordingUnit) -> None:
    run(unit, make_event("complaint", customer="a"), make_event("complaint", customer="b"))

    assert sorted(c.customer_id for c in unit.cases.values()) == ["a", "b"]


def test_a_closed_case_does_not_take_new_signals_a_new_case_opens(unit: RecordingUnit) -> None:
    run(unit, make_event("complaint"))
    unit.cases[1].status = CaseStatus.RESOLVED.value

    run(unit, make_event("complaint", event_id="evt-again"))

    assert [(c.status, c.signal_count) for c in unit.cases.values()] == [
        ("resolved", 1),
        ("new", 1),
    ]
    assert unit.cases[2].trigger_event_id == "evt-again"


class NeverDecides:
    """A custom decision rule in place of the built-in one: it never asks for a case."""

    name = "decision"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        ctx.decision = None


def test_a_custom_rule_can_replace_the_built_in_one(unit: RecordingUnit) -> None:
    stages: list[Stage] = [CustomerStateStage(), NeverDecides(), CaseStage()]

    run(unit, make_event("complaint"), stages=stages)

    assert unit.cases == {}


# -- timeline and outbox ----------------------------------------------------------------------
def test_opening_writes_one_timeline_entry_and_one_outbox_effect(unit: RecordingUnit) -> None:
    complaint = make_event("complaint", event_id="evt-c")

    run(unit, complaint)

    [(case, entry)] = unit.timeline
    assert case is unit.cases[1]
    assert entry.kind == "case.opened"
    assert entry.actor == PROCESSOR_ACTOR
    assert entry.at == unit.clock.now()
    assert entry.event_seq == complaint.seq
    assert entry.summary == "Case opened: complaint (complaint evt-c)"
    assert entry.data == {
        "event_id": "evt-c",
        "event_type": "complaint",
        "reason": "complaint",
        "priority": "P3",
        "decided_by": RULE_VERSION,
    }
    assert unit.emitted == [
        Effect(
            "case.opened",
            "case.opened:evt-c",
            {
                "customer_id": "cus-1",
                "at": unit.clock.now().isoformat(),
                "actor": PROCESSOR_ACTOR,
                "summary": entry.summary,
                **entry.data,
            },
            case,
        )
    ]


def test_attaching_writes_a_timeline_entry_and_an_outbox_effect_per_event(
    unit: RecordingUnit,
) -> None:
    run(unit, make_event("complaint", event_id="e1"), nps(2, event_id="e2"))

    assert [(e.kind, e.data["event_id"]) for _, e in unit.timeline] == [
        ("case.opened", "e1"),
        ("case.attached", "e2"),
    ]
    assert unit.timeline[1][1].summary == "Signal attached: NPS 2 (detractor) (survey.response e2)"
    # Only the case effects (the risk stage may also emit risk.jumped, issue 5).
    case_keys = [fx.key for fx in unit.emitted if fx.key.startswith("case.")]
    assert case_keys == ["case.opened:e1", "case.attached:e2"]


def test_each_event_writes_its_timeline_entry_and_effect_exactly_once(unit: RecordingUnit) -> None:
    events = [make_event("complaint", event_id=f"e{i}") for i in range(5)]

    run(unit, *events)

    assert [e.data["event_id"] for _, e in unit.timeline] == [f"e{i}" for i in range(5)]
    case_keys = [fx.key for fx in unit.emitted if fx.key.startswith("case.")]
    assert case_keys == ["case.opened:e0", *(f"case.attached:e{i}" for i in range(1, 5))]


def test_the_case_stage_alone_writes_nothing_without_a_decision(unit: RecordingUnit) -> None:
    ctx = EventContext(event=make_event("complaint"))

    CaseStage().process(ctx, unit)

    assert unit.timeline == []
    assert unit.emitted == []
