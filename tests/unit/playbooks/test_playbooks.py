"""Playbooks: conditions, merging, the shipped defaults, control groups, and readable errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from winback.cases.model import RecoveryCase
from winback.cases.rules import decide
from winback.customers.profile import Customer
from winback.events.model import EVENT_TYPES, Event
from winback.playbooks.engine import control_bucket, decision_for, evaluate
from winback.playbooks.loader import (
    PlaybookError,
    References,
    check_references,
    default_playbooks,
    event_types,
    load_playbooks,
    parse_playbook,
)
from winback.playbooks.model import Facts, PlaybookSet
from winback.risk.scoring import RiskResult
from winback.text.analyzer import TextAnalysis

AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def event(event_type: str, customer: str = "cus-1", **data: Any) -> Event:
    return Event(1, "evt-1", event_type, customer, AT, AT, {"type": event_type, **data})


def text(sentiment: str = "negative", category: str = "delivery", *urgency: str) -> TextAnalysis:
    score = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sentiment]
    return TextAnalysis(sentiment, score, category, tuple(urgency), "en", "…", "test@1")


def risk(probability: float = 0.5, jumped: bool = False, **features: Any) -> RiskResult:
    return RiskResult(probability, (), "cold@1", 90, 0.1, jumped, dict(features))


def customer(value: float | None = None, segment: str | None = None) -> Customer:
    return Customer("cus-1", AT, AT, AT, 1, value=value, segment=segment)


def open_case(priority: str = "P3") -> RecoveryCase:
    return RecoveryCase("cus-1", "new", priority, "x", "evt-0", AT, AT, "t", id=7)


def book(text_: str) -> PlaybookSet:
    return PlaybookSet((parse_playbook(text_, "test.yaml"),))


DEFAULTS = default_playbooks()


# -- the shipped defaults ---------------------------------------------------------------------
SURVEYS = [
    (k, v)
    for k, (lo, hi) in {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.items()
    for v in range(lo, hi + 1)
]


@pytest.mark.parametrize(("kind", "value"), SURVEYS)
def test_defaults_agree_with_the_builtin_rule_on_scores(kind: str, value: int) -> None:
    e = event("survey.response", score={"kind": kind, "value": value})
    builtin = decide(e)
    facts = Facts(e)
    decision = decision_for(evaluate(DEFAULTS, facts), facts)
    if builtin is None:
        assert decision is None
    else:
        assert decision is not None
        assert decision.priority == builtin.priority


@pytest.mark.parametrize("event_type", ["complaint", "payment.failed", "subscription.cancelled"])
def test_defaults_cover_every_builtin_trigger_with_its_priority(event_type: str) -> None:
    e = event(event_type)
    builtin = decide(e)
    assert builtin is not None
    facts = Facts(e)
    decision = decision_for(evaluate(DEFAULTS, facts), facts)
    assert decision is not None
    assert decision.priority == builtin.priority
    assert decision.decided_by.startswith("playbook:signals@2/")


@pytest.mark.parametrize(
    ("event_type", "with_text", "category"),
    [
        ("message", True, "delivery"),
        ("ticket.opened", False, None),
        ("refund.requested", False, "billing"),
        ("delivery.delayed", False, "delivery"),
        ("booking.error", False, "technical"),
    ],
)
def test_defaults_open_cases_on_ordinary_contacts_the_builtin_rule_ignored(
    event_type: str, with_text: bool, category: str | None
) -> None:
    e = event(event_type)
    assert decide(e) is None
    facts = Facts(e, text=text("negative", "delivery") if with_text else None)
    decision = decision_for(evaluate(DEFAULTS, facts), facts)
    assert decision is not None
    assert decision.category == category


def test_a_neutral_message_or_a_purchase_opens_nothing() -> None:
    for facts in (
        Facts(event("message"), text=text("neutral")),
        Facts(event("message")),  # no text analysis at all
        Facts(event("purchase"), risk=risk(0.9)),
        Facts(event("usage")),
    ):
        assert decision_for(evaluate(DEFAULTS, facts), facts) is None


def test_cancellation_intent_raises_priority_and_asks_for_a_human() -> None:
    facts = Facts(event("message"), text=text("negative", "account", "cancel_intent"))
    outcome = evaluate(DEFAULTS, facts)
    assert outcome.priority == "P2"
    assert outcome.severity == "high"
    assert "cancellation intent" in outcome.handoff
    assert outcome.acknowledge == "default"
    assert outcome.remedies[:2] == ["loyalty_offer", "callback"]
    assert [h.rule_id for h in outcome.hits] == [
        "signals/negative-message",  # names the case
        "escalations/cancellation-intent",  # raises its urgency
    ]
    assert outcome.decided_by == "playbook:signals@2/negative-message"


def test_high_value_negative_and_risk_jump_and_repeated_complaints() -> None:
    rich = Facts(event("message"), text=text(), customer=customer(value=5000))
    assert evaluate(DEFAULTS, rich).priority == "P2"
    poor = Facts(event("message"), text=text(), customer=customer(value=50))
    assert evaluate(DEFAULTS, poor).priority == "P3"
    # A risk jump opens a case even on an event that would not (a usage drop, say).
    jumped = Facts(event("usage"), risk=risk(0.8, jumped=True))
    decision = decision_for(evaluate(DEFAULTS, jumped), jumped)
    assert decision is not None
    assert decision.priority == "P2"
    assert decision.reason == "churn risk jumped"
    second = Facts(event("complaint"), risk=risk(complaints_30d=2.0))
    outcome = evaluate(DEFAULTS, second)
    assert outcome.priority == "P2"
    assert "repeated complaints" in outcome.handoff
    first = Facts(event("complaint"), risk=risk(complaints_30d=1.0))
    assert evaluate(DEFAULTS, first).priority == "P3"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_evaluates_without_text_or_risk(event_type: str) -> None:
    evaluate(DEFAULTS, Facts(event(event_type)))


# -- skipping rules by event type ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "types"),
    [
        ({"event.type": "complaint", "text.sentiment": "negative"}, {"complaint"}),
        ({"event.type": ["message", "review"]}, {"message", "review"}),
        ({"event.type": {"in": ["message", "review"], "eq": "review"}}, {"review"}),
        ({"event.type": {"ne": "usage"}}, None),  # does not narrow: evaluated for every type
        ({"event.type": {"contains": "ticket"}}, None),
        ({"event.type": 3}, set()),  # no event type equals a number
        ({"any": [{"event.type": "complaint"}, {"text.sentiment": "negative"}]}, None),
        ({"not": {"event.type": "usage"}}, None),
        ({"risk.jumped": True}, None),
    ],
)
def test_a_rule_is_narrowed_to_the_event_types_its_condition_demands(
    when: dict[str, Any], types: set[str] | None
) -> None:
    assert event_types(when) == (None if types is None else frozenset(types))


def test_skipping_rules_by_event_type_changes_no_outcome() -> None:
    """The defaults with and without the event-type shortcut, on every event type with and
    without text, risk, a valuable customer and an open case."""
    unguarded = PlaybookSet(
        tuple(
            replace(b, rules=tuple(replace(r, event_types=None) for r in b.rules))
            for b in DEFAULTS.playbooks
        )
    )
    assert any(r.event_types for b in DEFAULTS.playbooks for r in b.rules)
    for event_type in EVENT_TYPES:
        for facts in (
            Facts(event(event_type, score={"kind": "nps", "value": 2})),
            Facts(event(event_type), text=text("negative", "billing", "repeat_contact")),
            Facts(event(event_type), text("positive"), risk(0.9, True, complaints_30d=3)),
            Facts(event(event_type), text(), customer=customer(5000), case=open_case()),
        ):
            assert evaluate(DEFAULTS, facts) == evaluate(unguarded, facts)


# -- conditions and merging -------------------------------------------------------------------
def test_operators_and_absent_values() -> None:
    pb = book(
        """
playbook: t
version: 2
mode: all_match
rules:
  - name: a
    when: {customer.value: {gt: 100, lte: 1000}, customer.segment: [smb, mid]}
    then: {priority: P3, remedies: [credit]}
  - name: b
    when: {risk.probability: {gte: 0.7}}
    then: {priority: P1, severity: high, remedies: [credit, callback]}
  - name: c
    when: {text.sentiment: {exists: false}, not: {event.type: usage}}
    then: {case: update, severity: low}
"""
    )
    f = Facts(event("message"), customer=customer(500, "smb"), risk=risk(0.8))
    outcome = evaluate(pb, f)
    assert [h.rule for h in outcome.hits] == ["a", "b", "c"]
    assert outcome.priority == "P1"
    assert outcome.severity == "high"
    assert outcome.remedies == ["credit", "callback"]
    assert outcome.case == "open"
    assert outcome.decided_by == "playbook:t@2/a"
    # Absent customer value: no comparison holds.
    assert [h.rule for h in evaluate(pb, Facts(event("message"))).hits] == ["c"]


def test_update_only_acts_on_an_open_case() -> None:
    pb = book(
        "playbook: t\nversion: 1\nrules:\n  - name: u\n    when: {event.type: login}\n"
        "    then: {case: update, priority: P2}\n"
    )
    no_case = Facts(event("login"))
    assert decision_for(evaluate(pb, no_case), no_case) is None
    with_case = Facts(event("login"), case=open_case())
    decision = decision_for(evaluate(pb, with_case), with_case)
    assert decision is not None
    assert decision.priority == "P2"
    assert with_case.case.priority == "P3"  # evaluation changes nothing


def test_first_match_stops_at_the_first_rule_and_stop_ends_all_match() -> None:
    pb = book(
        """
playbook: t
version: 1
mode: all_match
rules:
  - {name: one, when: {event.type: complaint}, then: {priority: P3, stop: true}}
  - {name: two, when: {event.type: complaint}, then: {priority: P1}}
"""
    )
    assert [h.rule for h in evaluate(pb, Facts(event("complaint"))).hits] == ["one"]


def test_suppress_wins() -> None:
    pb = book(
        """
playbook: t
version: 1
mode: all_match
rules:
  - {name: vip-managed, when: {customer.segment: strategic}, then: {suppress: true, case: none}}
  - {name: complaint, when: {event.type: complaint}, then: {priority: P2}}
"""
    )
    f = Facts(event("complaint"), customer=customer(segment="strategic"))
    outcome = evaluate(pb, f)
    assert outcome.suppressed_by == "t/vip-managed"
    assert decision_for(outcome, f) is None


def test_control_group_is_deterministic_and_close_to_its_share() -> None:
    pb = book(
        "playbook: t\nversion: 1\nrules:\n  - name: c\n    when: {event.type: complaint}\n"
        "    then: {priority: P3, control: 0.2}\n"
    )
    held = 0
    for i in range(4000):
        f = Facts(event("complaint", customer=f"cus-{i}"))
        outcome = evaluate(pb, f)
        again = evaluate(pb, f)
        assert outcome.held_out_by == again.held_out_by  # same customer, same group
        if outcome.held_out_by is not None:
            held += 1
            assert decision_for(outcome, f) is None
            assert outcome.control_bucket is not None
            assert outcome.control_bucket < 0.2
    assert 0.17 < held / 4000 < 0.23
    assert control_bucket("cus-1", "t/c") == control_bucket("cus-1", "t/c")


# -- errors with file and line ---------------------------------------------------------------
def error_of(text_: str) -> str:
    with pytest.raises(PlaybookError) as info:
        parse_playbook(text_, "pb.yaml")
    return str(info.value)


def test_unknown_field_names_file_and_line() -> None:
    message = error_of(
        "playbook: t\nversion: 1\nrules:\n  - name: a\n    when: {event.type: complaint}\n"
        "    then:\n      priorty: P2\n"
    )
    assert "pb.yaml:7: rules[0].then.priorty: unknown field 'priorty'" in message


def test_bad_value_unknown_field_path_and_operator_name_lines() -> None:
    message = error_of(
        """playbook: t
version: 1
rules:
  - name: a
    when:
      event.type: complaint
      txt.sentiment: negative
      risk.probability: {above: 0.5}
    then: {priority: P9}
"""
    )
    assert "pb.yaml:9: rules[0].then.priority" in message
    message = error_of(
        """playbook: t
version: 1
rules:
  - name: a
    when:
      event.type: complaint
      txt.sentiment: negative
      risk.probability: {above: 0.5}
"""
    )
    assert "pb.yaml:7: rules[0].when.txt.sentiment: unknown field 'txt.sentiment'" in message
    assert "pb.yaml:8: rules[0].when.risk.probability.above: unknown operator 'above'" in message


def test_broken_yaml_and_missing_fields() -> None:
    assert "pb.yaml:4: not valid YAML" in error_of("playbook: t\nversion: 1\nrules: [\n  - a: b\n")
    message = error_of("playbook: t\nrules:\n  - name: a\n")
    assert "pb.yaml:1: version: required field missing" in message
    assert "duplicate rule name" in error_of(
        "playbook: t\nversion: 1\nrules:\n  - {name: a}\n  - {name: a}\n"
    )


def test_load_from_config_dir_and_fall_back_to_defaults(tmp_path: Path) -> None:
    assert load_playbooks(None).version == DEFAULTS.version
    assert load_playbooks(tmp_path).version == DEFAULTS.version
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "b.yaml").write_text(
        "playbook: b\nversion: 3\norder: 5\nrules:\n  - {name: x, when: {event.type: login}}\n"
    )
    (tmp_path / "playbooks" / "a.yaml").write_text(
        "playbook: a\nversion: 1\norder: 9\nrules:\n  - {name: y, when: {event.type: login}}\n"
    )
    loaded = load_playbooks(tmp_path)
    assert loaded.version == "b@3,a@1"
    (tmp_path / "playbooks" / "c.yaml").write_text(
        "playbook: c\nversion: 1\nrules:\n  - {nam: z}\n"
    )
    with pytest.raises(PlaybookError, match=r"c\.yaml:4: rules\[0\]\.nam: unknown field"):
        load_playbooks(tmp_path)


def test_references_are_checked() -> None:
    problems = check_references(
        DEFAULTS, References(sla_policies=frozenset(), remedies=frozenset({"callback"}))
    )
    assert any("no remedy 'loyalty_offer'" in p for p in problems)
    assert not any("SLA" in p for p in problems)  # the defaults name no SLA policy


def test_incident_handoff_and_acknowledgement_defaults() -> None:
    pb = book(
        """
playbook: t
version: 1
mode: all_match
rules:
  - name: outage
    when: {event.type: outage}
    then: {incident: event, handoff: true, acknowledge: true, category: text}
  - name: fixed
    when: {event.attributes.region: eu}
    then: {incident: INC-7}
"""
    )
    f = Facts(event("outage", incident_id="INC-1", attributes={"region": "eu"}))
    outcome = evaluate(pb, f)
    assert outcome.incident == "INC-1"  # the first rule naming one wins
    assert outcome.handoff == ["rule outage"]
    assert outcome.acknowledge == "default"
    assert outcome.category is None  # "text" without a text analysis: no category
    g = Facts(event("login", attributes={"region": "eu"}))
    assert evaluate(pb, g).incident == "INC-7"


def test_dry_run_counts_per_rule_in_memory() -> None:
    from datetime import timedelta

    from winback.pipeline.ports import Stage
    from winback.pipeline.stages import CaseStage, CustomerStateStage, PlaybookStage
    from winback.remedies.config import default_catalogue
    from winback.services.dryrun import dry_run

    pb = book(
        """
playbook: t
version: 1
rules:
  - name: complaints
    when: {event.type: complaint}
    then: {priority: P2, remedies: [credit], control: 0.5}
"""
    )
    stages: list[Stage] = [
        CustomerStateStage(),
        PlaybookStage(pb),
        CaseStage(reopen_window=timedelta(hours=72)),
    ]
    events = [
        Event(
            i,
            f"e{i}",
            "complaint",
            f"c{i % 50}",
            AT + timedelta(minutes=i),
            AT,
            {"customer": {"id": f"c{i % 50}"}},
        )
        for i in range(100)
    ]
    report = dry_run(events, stages, pb.version, default_catalogue(), pb.rule_ids())
    stats = report.rules["t/complaints"]
    assert stats.matched == 100
    assert stats.held_out + stats.opened + stats.attached == 100
    assert 10 < stats.opened < 40  # about half the 50 customers, once each
    assert stats.attached == stats.opened  # each opened customer's second complaint attaches
    assert stats.priorities == {"P2": stats.opened}
    assert stats.cost == stats.opened * default_catalogue().remedies["credit"].cost()
