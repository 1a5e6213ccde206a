"""The system's transitions and the one rule from timeline entries to outbox effects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from winback.cases import transitions
from winback.cases.effects import TOPICS, effects_of
from winback.cases.lifecycle import apply_action
from winback.cases.model import TimelineEntry
from winback.cases.rules import Decision
from winback.events.model import Event

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DECISION = Decision("complaint", "P3", "delivery", "playbook:x@1/y")


def event(n: int, kind: str = "complaint", **data: object) -> Event:
    return Event(n, f"e-{n}", kind, "c1", T0, T0, {"customer": {"id": "c1"}, **data})


def test_opening_a_case_keeps_the_plan_on_it_and_names_the_event_in_its_entry() -> None:
    plan = transitions.Plan(
        severity="high",
        agent="ana",
        team="vip",
        sla_policy="gold",
        remedies=("credit",),
        handoff=("legal threat",),
        details={"rules": ["x/y"]},
    )
    change = transitions.open_case(DECISION, event(1, channel="chat"), plan, T0)
    case = change.case
    assert (case.team, case.sla_policy, case.channel, case.owner, case.severity) == (
        "vip",
        "gold",
        "chat",
        "ana",
        "high",
    )
    assert (case.remedies, case.handoff) == (["credit"], ["legal threat"])
    assert [e.kind for e in change.entries] == ["case.opened", "case.assigned"]
    assert {e.ref for e in change.entries} == {"e-1"}
    assert change.entries[0].data["playbook"] == {"rules": ["x/y"]}
    assert change.clock is not None
    assert change.clock.opened


def test_a_later_plan_adds_to_the_case_plan_and_never_erases_it() -> None:
    case = transitions.open_case(DECISION, event(1), transitions.Plan(team="a"), T0).case
    later = transitions.Plan(remedies=("apology",), handoff=("vip",))
    transitions.attach_signal(case, DECISION, event(2), later, T0)
    assert (case.team, case.remedies, case.handoff) == ("a", ["apology"], ["vip"])


def test_an_escalation_raises_priority_and_reassigns_with_entries_of_its_own() -> None:
    case = transitions.open_case(DECISION, event(1), None, T0).case
    change = transitions.sla_escalate(case, 1, True, "lead", "7:resolution:1:escalation:1", T0)
    assert (case.priority, case.owner) == ("P2", "lead")
    assert [e.kind for e in change.entries] == ["case.escalated", "case.assigned"]
    assert len({e.ref for e in change.entries}) == 2


def test_effects_follow_the_topic_rule_keyed_by_the_entry() -> None:
    change = transitions.open_case(DECISION, event(1), None, T0)
    change.case.id = 9
    [fx] = effects_of(change.case, change.entries)
    assert (fx.topic, fx.key) == ("case.opened", "case.opened:e-1")
    assert fx.payload["customer_id"] == "c1"
    assert fx.payload["event_id"] == "e-1"


def test_a_note_stays_on_the_timeline_only() -> None:
    case = transitions.open_case(DECISION, event(1), None, T0).case
    change = apply_action(case, "note", "agent:ana", {"text": "called"}, T0)
    assert "case.note" not in TOPICS
    assert effects_of(case, change.entries) == []


def test_an_entry_that_leaves_the_process_needs_a_ref() -> None:
    case = transitions.open_case(DECISION, event(1), None, T0).case
    entry = TimelineEntry("case.assigned", T0, "x", "Owner nobody → ana", {})
    with pytest.raises(ValueError, match="has no ref"):
        effects_of(case, [entry])
