"""The case lifecycle: legal and illegal transitions, ownership, and state-machine properties."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from winback.api.errors import status_of
from winback.cases.lifecycle import (
    ACTIONS,
    TRANSITIONS,
    IllegalTransition,
    InvalidAction,
    allowed_actions,
    apply_action,
)
from winback.cases.model import OPEN_STATUSES, CaseStatus, RecoveryCase

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FINAL = {"closed", "cancelled"}
PARAMS: dict[str, dict[str, Any]] = {
    "assign": {"owner": "ana"},
    "note": {"text": "called the customer"},
    "reply": {"text": "Sorry — a refund is on its way."},
    "resolve": {"outcome": "refunded", "root_cause": "late delivery"},
}


def new_case(status: str = "new", **fields: Any) -> RecoveryCase:
    return RecoveryCase(
        customer_id="cus-1",
        status=status,
        priority="P3",
        reason="complaint",
        trigger_event_id="e-1",
        opened_at=T0,
        updated_at=T0,
        decided_by="test",
        id=1,
        **fields,
    )


def act(case: RecoveryCase, action: str, **params: Any) -> Any:
    return apply_action(case, action, "agent:ana", {**PARAMS.get(action, {}), **params}, T0)


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["acknowledge", "start", "resolve", "close"], "closed"),
        (["acknowledge", "reply", "wait_on_customer", "resume", "resolve"], "resolved"),
        (["reply", "wait_on_customer", "resolve", "reopen", "acknowledge"], "acknowledged"),
        (["acknowledge", "resolve", "reopen", "reply", "resolve", "close"], "closed"),
        (["acknowledge", "cancel"], "cancelled"),
    ],
)
def test_the_lifecycle_paths(path: list[str], final: str) -> None:
    case = new_case()
    for action in path:
        act(case, action)
    assert case.status == final


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("new", "close"),
        ("new", "resume"),
        ("new", "wait_on_customer"),
        ("new", "resolve"),
        ("acknowledged", "acknowledge"),
        ("in_progress", "reopen"),
        ("waiting_on_customer", "wait_on_customer"),
        ("resolved", "reply"),
        ("resolved", "resolve"),
        ("closed", "reopen"),
        ("closed", "assign"),
        ("cancelled", "acknowledge"),
    ],
)
def test_an_illegal_transition_is_refused_with_a_reason_and_changes_nothing(
    status: str, action: str
) -> None:
    case = new_case(status)
    before = copy.deepcopy(case)
    with pytest.raises(IllegalTransition) as info:
        act(case, action)
    assert case == before
    assert status_of(info.value) == 409
    assert f"cannot {action} a case that is {status}" in info.value.message
    assert info.value.details["allowed"] == allowed_actions(status)


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("assign", {"owner": None}, "owner"),
        ("note", {"text": "  "}, "text"),
        ("resolve", {"outcome": "fixed", "root_cause": None}, "root_cause"),
        ("escalate", {"priority": "P0"}, "priority"),
        ("note", {"severity": "apocalyptic"}, "severity"),
    ],
)
def test_a_bad_parameter_is_a_422_and_changes_nothing(
    action: str, params: dict[str, Any], field: str
) -> None:
    case = new_case("in_progress")
    before = copy.deepcopy(case)
    with pytest.raises(InvalidAction) as info:
        apply_action(case, action, "agent:ana", {**PARAMS.get(action, {}), **params}, T0)
    assert case == before
    assert status_of(info.value) == 422
    assert info.value.message.startswith(field)


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(InvalidAction, match="unknown action 'teleport'"):
        act(new_case(), "teleport")


def test_one_owner_at_a_time_and_a_transfer_records_who_had_it() -> None:
    case = new_case()
    first = act(case, "assign", owner="ana")
    second = act(case, "assign", owner="ben", reason="shift change")
    assert case.owner == "ben"
    assert first.entries[0].data == {
        "previous_owner": None,
        "owner": "ana",
        "reason": None,
    }
    assert second.entries[0].data["previous_owner"] == "ana"
    assert second.entries[0].summary == "Owner ana → ben"
    assert act(case, "assign", owner="ben").entries == []  # same owner: nothing to record


def test_every_entry_records_who_and_when() -> None:
    case = new_case()
    outcome = apply_action(case, "note", "agent:zoe", {"text": "hello"}, T0 + timedelta(hours=1))
    [entry] = outcome.entries
    assert (entry.kind, entry.actor, entry.at) == (
        "case.note",
        "agent:zoe",
        T0 + timedelta(hours=1),
    )


def test_escalate_raises_the_priority_one_step_and_can_transfer() -> None:
    case = new_case("in_progress")
    outcome = act(case, "escalate", reason="VIP", owner="lead")
    assert (case.priority, case.owner) == ("P2", "lead")
    assert [e.kind for e in outcome.entries] == ["case.escalated", "case.assigned"]
    act(case, "escalate", priority="P4")  # never lowers
    assert case.priority == "P2"


def test_resolve_records_outcome_and_root_cause() -> None:
    case = new_case("in_progress")
    outcome = act(case, "resolve")
    assert (case.outcome, case.root_cause, case.resolved_at) == ("refunded", "late delivery", T0)
    assert outcome.entries[-1].data["root_cause"] == "late delivery"


def test_a_reply_to_a_new_case_puts_it_in_progress() -> None:
    case = new_case()
    change = act(case, "reply")
    assert case.status == "in_progress"
    assert change.clock is not None
    assert change.clock.reply  # the reply stops the clock
    assert any(e.kind == "case.status_changed" for e in change.entries)


def test_the_transition_table_covers_every_status() -> None:
    for status in CaseStatus:
        allowed = allowed_actions(status.value)
        assert "note" in allowed
        if status.value in FINAL:
            assert allowed == ["note"]


# -- property: the state machine ----------------------------------------------------------
class CaseMachine(RuleBasedStateMachine):
    """Random action sequences: every refusal changes nothing, every success follows the table,
    and the timeline only grows."""

    def __init__(self) -> None:
        super().__init__()
        self.case = new_case()
        self.entries: list[Any] = []
        self.clock = T0

    @rule(action=st.sampled_from(ACTIONS), owner=st.sampled_from(["ana", "ben", None]))
    def take(self, action: str, owner: str | None) -> None:
        self.clock += timedelta(minutes=5)
        before = copy.deepcopy(self.case)
        params = {**PARAMS.get(action, {})}
        if owner is not None and action in {"assign", "escalate"}:
            params["owner"] = owner
        sources, target = TRANSITIONS[action]
        try:
            outcome = apply_action(self.case, action, "agent:x", params, self.clock)
        except IllegalTransition:
            assert before.status not in {s.value for s in sources}
            assert self.case == before
            return
        assert before.status in {s.value for s in sources}
        if target is not None and action != "reply":
            assert self.case.status == target.value
        if action == "reply" and before.status in {"new", "acknowledged", "reopened"}:
            assert self.case.status == "in_progress"
        for entry in outcome.entries:
            assert entry.at == self.clock
            assert entry.actor == "agent:x"
        self.entries.extend(outcome.entries)

    @invariant()
    def one_owner_and_a_known_status(self) -> None:
        assert self.case.status in {s.value for s in CaseStatus}
        assert self.case.owner is None or isinstance(self.case.owner, str)
        assert self.case.priority in {"P1", "P2", "P3", "P4"}

    @invariant()
    def the_timeline_explains_the_status(self) -> None:
        changes = [e for e in self.entries if e.kind == "case.status_changed"]
        expected = changes[-1].data["status"] if changes else "new"
        assert self.case.status == expected
        for earlier, later in itertools.pairwise(changes):
            assert later.data["previous"] == earlier.data["status"]

    @invariant()
    def the_owner_is_the_last_assignment(self) -> None:
        assignments = [e for e in self.entries if e.kind == "case.assigned"]
        assert self.case.owner == (assignments[-1].data["owner"] if assignments else None)

    @invariant()
    def final_states_stay_final(self) -> None:
        statuses = [e.data["status"] for e in self.entries if e.kind == "case.status_changed"]
        for i, status in enumerate(statuses):
            if status in FINAL:
                assert i == len(statuses) - 1
        assert (self.case.status in OPEN_STATUSES) == (self.case.status not in FINAL | {"resolved"})


TestCaseMachine = CaseMachine.TestCase
TestCaseMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


def test_a_long_note_keeps_its_text_but_a_one_line_summary() -> None:
    text = "x" * 5000
    change = act(new_case(), "note", text=text)
    [entry] = change.entries
    assert len(entry.summary) == 1000
    assert entry.data["text"] == text
