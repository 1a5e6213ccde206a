"""SLA clocks of one case with frozen time: deadlines, pauses, metrics, edits, timers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from winback.sla.config import parse_sla
from winback.sla.engine import SlaEngine, SlaUpdate
from winback.sla.policy import CaseFacts
from winback.sla.tracking import SlaState

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def b(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def config(hours: object = None, **policy: object) -> SlaEngine:
    doc = {
        "calendars": {
            "office": {
                "timezone": "Europe/Berlin",
                "hours": hours or {"mon-fri": ["09:00-12:30", "13:30-18:00"]},
            }
        },
        "policies": [
            {
                "name": "standard",
                "calendar": "office",
                "targets": {"first_response": "2h", "next_response": "4h", "resolution": "16h"},
                "warning_at": "50%",
                "escalations": [{"after": "1h", "notify": "lead"}],
                **policy,
            }
        ],
    }
    return SlaEngine(parse_sla(doc))


FACTS = CaseFacts("P3")


def open_case(engine: SlaEngine, at: datetime) -> SlaState:
    state, _ = engine.track(None, FACTS, "new", at, SlaUpdate(opened=True))
    return state


def due(engine: SlaEngine, state: SlaState, metric: str, kind: str = "breach") -> datetime:
    [timer] = [
        t for t in engine.clock(state).timers(state) if t.metric == metric and t.kind == kind
    ]
    return timer.due_at


def test_a_case_opened_friday_evening_is_due_monday_with_lunch_skipped() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 27, 19, 0))  # Friday after hours
    assert due(engine, state, "first_response") == b(2026, 11, 30, 11, 0)
    assert due(engine, state, "first_response", "warning") == b(2026, 11, 30, 10, 0)
    assert due(engine, state, "first_response", "escalation") == b(2026, 11, 30, 12, 0)
    # 16 business hours = two 8-hour days: Monday and Tuesday, ending Tuesday 18:00.
    assert due(engine, state, "resolution") == b(2026, 12, 1, 18, 0)


def test_pause_and_resume_across_a_weekend_moves_the_deadline_by_the_business_time_paused() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 26, 9, 0))  # Thursday 09:00
    assert due(engine, state, "resolution") == b(2026, 11, 27, 18, 0)  # Friday close
    # Waiting on the customer from Friday 16:00 to Monday 10:00: 2 h Friday + 1 h Monday.
    state, timers = engine.track(
        state, FACTS, "waiting_on_customer", b(2026, 11, 27, 16, 0), SlaUpdate(status_changed=True)
    )
    assert timers == []  # nothing can breach while paused
    state, _ = engine.track(
        state, FACTS, "in_progress", b(2026, 11, 30, 10, 0), SlaUpdate(status_changed=True)
    )
    assert due(engine, state, "resolution") == b(2026, 11, 30, 12, 0)  # 3 h after Friday close
    metrics = engine.metrics(state, b(2026, 11, 30, 10, 0))
    assert metrics["paused_total_s"] == (66 * H).total_seconds()  # wall time paused
    [resolution] = [r for r in metrics["running"] if r["metric"] == "resolution"]
    # Business time counted: Thursday 8 h + Friday 09:00-16:00 (6 h, lunch excluded).
    assert resolution["business_s"] == (14 * H).total_seconds()


def test_a_reply_stops_first_response_and_records_business_and_wall_time() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 27, 17, 0))  # Friday 17:00
    state, _ = engine.track(
        state,
        FACTS,
        "in_progress",
        b(2026, 11, 30, 9, 30),
        SlaUpdate(reply=True, status_changed=True),
    )
    [m] = state.history
    assert m.metric == "first_response"
    assert m.business_s == (1.5 * H).total_seconds()  # Friday 17-18 + Monday 09:00-09:30
    assert m.wall_s == (64.5 * H).total_seconds()
    assert (m.outcome, m.breached) == ("met", False)
    assert "first_response" not in state.clocks


def test_a_late_reply_is_breached() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 24, 9, 0))
    state, _ = engine.track(
        state, FACTS, "in_progress", b(2026, 11, 24, 15, 0), SlaUpdate(reply=True)
    )
    assert state.history[0].outcome == "breached"


def test_next_response_starts_when_the_customer_writes_after_a_reply() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 24, 9, 0))
    state, _ = engine.track(
        state, FACTS, "new", b(2026, 11, 24, 9, 30), SlaUpdate(customer_signal=True)
    )
    assert "next_response" not in state.clocks  # still waiting for the first reply
    state, _ = engine.track(
        state,
        FACTS,
        "in_progress",
        b(2026, 11, 24, 10, 0),
        SlaUpdate(reply=True, status_changed=True),
    )
    state, _ = engine.track(
        state, FACTS, "in_progress", b(2026, 11, 24, 16, 0), SlaUpdate(customer_signal=True)
    )
    assert due(engine, state, "next_response") == b(2026, 11, 25, 11, 0)  # 2 h + 2 h
    state, _ = engine.track(
        state, FACTS, "in_progress", b(2026, 11, 24, 17, 0), SlaUpdate(reply=True)
    )
    assert [m.metric for m in state.history] == ["first_response", "next_response"]


def test_editing_the_calendar_while_a_case_is_open_recomputes_its_deadline() -> None:
    before = config()
    state = open_case(before, b(2026, 11, 24, 9, 0))  # Tuesday
    assert due(before, state, "resolution") == b(2026, 11, 25, 18, 0)
    # The team drops the lunch break: days are 9 h long now.
    after = config(hours={"mon-fri": ["09:00-18:00"]})
    state, timers = after.track(state, FACTS, "new", b(2026, 11, 24, 10, 0), SlaUpdate())
    assert state.fingerprint == after.config.fingerprint != before.config.fingerprint
    assert due(after, state, "resolution") == b(2026, 11, 25, 16, 0)  # 9 h + 7 h
    assert {t.kind for t in timers} == {"warning", "breach", "escalation"}


def test_raising_the_priority_can_switch_to_a_stricter_policy() -> None:
    doc = {
        "policies": [
            {"name": "urgent", "when": {"priority": "P1"}, "targets": {"resolution": "1h"}},
            {"name": "normal", "targets": {"resolution": "10h"}},
        ]
    }
    engine = SlaEngine(parse_sla(doc))
    start = b(2026, 11, 24, 9, 0)
    state, _ = engine.track(None, CaseFacts("P3"), "new", start, SlaUpdate(opened=True))
    assert state.policy == "normal"
    state, _ = engine.track(state, CaseFacts("P1"), "new", start + H / 2, SlaUpdate())
    assert state.policy == "urgent"
    assert due(engine, state, "resolution") == start + H


def test_resolving_stops_every_clock_and_cancelling_marks_them_cancelled() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 24, 9, 0))
    state, timers = engine.track(
        state, FACTS, "cancelled", b(2026, 11, 24, 10, 0), SlaUpdate(status_changed=True)
    )
    assert timers == []
    assert state.clocks == {}
    assert {m.outcome for m in state.history} == {"cancelled"}


def test_a_reopened_case_starts_new_cycles() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 24, 9, 0))
    state, _ = engine.track(
        state, FACTS, "resolved", b(2026, 11, 24, 10, 0), SlaUpdate(status_changed=True)
    )
    state, timers = engine.track(
        state,
        FACTS,
        "reopened",
        b(2026, 11, 24, 11, 0),
        SlaUpdate(reopened=True, status_changed=True),
    )
    assert state.clocks["resolution"].generation == 2
    assert state.clocks["next_response"].generation == 1
    assert {(t.metric, t.generation) for t in timers} >= {("resolution", 2), ("next_response", 1)}


def test_the_state_survives_a_round_trip_through_its_json_document() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 24, 9, 0))
    state, _ = engine.track(
        state,
        FACTS,
        "waiting_on_customer",
        b(2026, 11, 24, 11, 0),
        SlaUpdate(reply=True, status_changed=True),
    )
    again = SlaState.from_doc(state.to_doc())
    assert again == state


def test_timers_are_the_deadlines_warnings_and_escalations_of_every_running_clock() -> None:
    engine = config()
    state = open_case(engine, b(2026, 11, 27, 11, 0))
    engine.update(
        state, FACTS, "waiting_on_customer", b(2026, 11, 27, 11, 30), SlaUpdate(status_changed=True)
    )
    engine.update(state, FACTS, "open", b(2026, 11, 30, 10, 15), SlaUpdate(status_changed=True))
    clock = engine.clock(state)
    assert all(run.paused_business_us for run in state.clocks.values())  # deadlines moved
    expected = set()
    for run in state.clocks.values():
        deadline = clock.deadline(run)
        warning = clock.deadline(run, 0.5)
        assert deadline is not None
        assert warning is not None
        expected |= {
            (run.metric, "warning", 0, warning),
            (run.metric, "breach", 0, deadline),
            (run.metric, "escalation", 1, clock.calendar.add(deadline, H)),
        }
    timers = clock.timers(state)
    assert {(t.metric, t.kind, t.level, t.due_at) for t in timers} == expected
    assert len(timers) == len(expected) == 6
