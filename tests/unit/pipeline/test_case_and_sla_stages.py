"""The case and SLA stages on an in-memory unit: re-opening within the window,
a customer answering while the case waits on them, and the clocks each case gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from winback.clock import FrozenClock
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages import CaseStage, RuleStage, SlaStage
from winback.sla.engine import SlaUpdate

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Unit(MemoryUnit):
    """The shipped in-memory unit, with the timeline's entries as a flat list."""

    @property
    def entries_seen(self) -> list[str]:
        return [e.kind for e in self.entries()]


def complaint(n: int, customer: str = "cus-1") -> Event:
    return Event(n, f"e-{n}", "complaint", customer, T0, T0, {"customer": {"id": customer}})


def run(unit: Unit, event: Event, window: timedelta = timedelta(hours=72)) -> EventContext:
    ctx = EventContext(event=event)
    for stage in (RuleStage(), CaseStage(reopen_window=window), SlaStage()):
        stage.process(ctx, unit)
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
    assert unit.entries()[-1].kind == "case.reopened"
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
    assert unit.entries_seen[-2:] == ["case.attached", "case.status_changed"]
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


def message(n: int, text: str, customer: str = "cus-1") -> Event:
    data = {"customer": {"id": customer}, "text": text}
    return Event(n, f"m-{n}", "message", customer, T0, T0, data)


def test_a_neutral_reply_joins_a_waiting_case_and_resumes_its_clocks() -> None:
    unit = Unit(FrozenClock(T0))
    case = run(unit, complaint(1)).case
    assert case is not None
    state, _ = unit.sla[case.id or 0]
    state.paused_since = T0  # as if wait_on_customer had been applied
    case.status = "waiting_on_customer"
    unit.clock.advance(timedelta(hours=2))
    ctx = run(unit, message(2, "Order number is 12345"))  # no rule decides on it
    assert ctx.decision is None
    assert ctx.case is case
    assert case.status == "in_progress"
    assert unit.entries_seen[-2:] == ["case.customer_contact", "case.status_changed"]
    assert (case.id, "m-2", "attached") in unit.links
    assert unit.sla[case.id or 0][0].paused_since is None


def test_an_event_that_is_not_the_customer_writing_leaves_the_case_alone() -> None:
    unit = Unit(FrozenClock(T0))
    case = run(unit, complaint(1)).case
    assert case is not None
    case.status = "waiting_on_customer"
    login = Event(2, "l-2", "login", "cus-1", T0, T0, {"customer": {"id": "cus-1"}})
    assert run(unit, login).change is None
    assert case.status == "waiting_on_customer"
