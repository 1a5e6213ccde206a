"""The decision, timeline and SLA stages on an in-memory unit: re-opening within the window,
a customer answering while the case waits on them, and the clocks each case gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from winback.cases.model import RecoveryCase, TimelineEntry
from winback.clock import FrozenClock
from winback.events.model import Event
from winback.pipeline.stage import EventContext
from winback.pipeline.stages import DecisionStage, TimelineStage
from winback.sla.engine import SlaUpdate
from winback.sla.stage import SlaStage
from winback.sla.tracking import SlaState, TimerSpec

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
_ids = count(1)


@dataclass
class Unit:
    clock: FrozenClock
    cases: list[RecoveryCase] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    sla: dict[int, tuple[SlaState, list[TimerSpec]]] = field(default_factory=dict)
    saves: int = 0

    def open_case(self, customer_id: str) -> RecoveryCase | None:
        found = [c for c in self.cases if c.customer_id == customer_id and c.is_open]
        return found[0] if found else None

    def resolved_case(self, customer_id: str) -> RecoveryCase | None:
        found = [c for c in self.cases if c.customer_id == customer_id and c.status == "resolved"]
        return found[-1] if found else None

    def add_case(self, case: RecoveryCase) -> None:
        case.id = next(_ids)
        self.cases.append(case)

    def reopen_case(self, case: RecoveryCase) -> None:
        assert self.open_case(case.customer_id) in (None, case)

    def save_case(self, case: RecoveryCase) -> None:
        self.saves += 1

    def link_event(self, case: RecoveryCase, event: Event, role: str) -> None:
        pass

    def append_timeline(self, case: RecoveryCase, entry: TimelineEntry) -> None:
        self.timeline.append(entry)

    def emit(self, topic: str, key: str, payload: dict[str, Any], case: Any = None) -> None:
        pass

    def sla_state(self, case: RecoveryCase) -> SlaState | None:
        found = self.sla.get(case.id or 0)
        return None if found is None else found[0]

    def save_sla(self, case: RecoveryCase, state: SlaState, timers: list[TimerSpec]) -> None:
        self.sla[case.id or 0] = (state, timers)


def complaint(n: int, customer: str = "cus-1") -> Event:
    return Event(n, f"e-{n}", "complaint", customer, T0, T0, {"customer": {"id": customer}})


def run(unit: Unit, event: Event, window: timedelta = timedelta(hours=72)) -> EventContext:
    ctx = EventContext(event=event)
    for stage in (DecisionStage(reopen_window=window), TimelineStage(), SlaStage()):
        stage.process(ctx, unit)  # type: ignore[arg-type]
    return ctx


def test_a_new_case_gets_first_response_and_resolution_clocks() -> None:
    unit = Unit(FrozenClock(T0))
    ctx = run(unit, complaint(1))
    assert ctx.case_action == "opened"
    assert ctx.case is not None
    state, timers = unit.sla[ctx.case.id or 0]
    assert set(state.clocks) == {"first_response", "resolution"}
    assert {(t.metric, t.kind) for t in timers} >= {
        ("first_response", "breach"),
        ("resolution", "warning"),
    }


def test_a_signal_within_the_window_reopens_the_resolved_case() -> None:
    unit = Unit(FrozenClock(T0))
    case = run(unit, complaint(1)).case
    assert case is not None
    case.status, case.resolved_at = "resolved", T0
    state, _ = unit.sla[case.id or 0]  # as the resolve action leaves it: clocks stopped
    stopped = SlaStage().engine.update(
        state, state.facts, "resolved", T0, SlaUpdate(status_changed=True)
    )
    unit.sla[case.id or 0] = (stopped, [])
    unit.clock.advance(timedelta(hours=71))
    ctx = run(unit, complaint(2))
    assert ctx.case is case
    assert ctx.case_action == "reopened"
    assert (case.status, case.reopen_count, case.signal_count) == ("reopened", 1, 2)
    assert unit.timeline[-1].kind == "case.reopened"
    assert unit.sla[case.id or 0][0].generations["resolution"] == 2


def test_after_the_window_a_new_case_opens() -> None:
    unit = Unit(FrozenClock(T0))
    first = run(unit, complaint(1)).case
    assert first is not None
    first.status, first.resolved_at = "resolved", T0
    unit.clock.advance(timedelta(hours=73))
    ctx = run(unit, complaint(2))
    assert ctx.case is not first
    assert ctx.case_action == "opened"


def test_a_zero_window_never_reopens() -> None:
    unit = Unit(FrozenClock(T0))
    first = run(unit, complaint(1)).case
    assert first is not None
    first.status, first.resolved_at = "resolved", T0
    assert run(unit, complaint(2), window=timedelta(0)).case is not first


def test_a_signal_while_waiting_on_the_customer_resumes_the_case() -> None:
    unit = Unit(FrozenClock(T0))
    case = run(unit, complaint(1)).case
    assert case is not None
    state, _ = unit.sla[case.id or 0]
    state.paused_since = T0  # as if wait_on_customer had been applied
    case.status = "waiting_on_customer"
    unit.clock.advance(timedelta(hours=2))
    ctx = run(unit, complaint(2))
    assert ctx.case_action == "attached"
    assert case.status == "in_progress"
    assert [e.kind for e in unit.timeline[-2:]] == ["case.attached", "case.status_changed"]
    state, timers = unit.sla[case.id or 0]
    assert state.paused_since is None
    assert timers  # the clocks run again


def test_another_signal_before_the_first_reply_writes_no_sla_state() -> None:
    unit = Unit(FrozenClock(T0))
    case = run(unit, complaint(1)).case
    assert case is not None
    before = unit.sla[case.id or 0]
    unit.clock.advance(timedelta(minutes=5))
    run(unit, complaint(2))
    assert unit.sla[case.id or 0] is before  # nothing moved, nothing saved
