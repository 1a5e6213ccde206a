"""Computed priority (risk x value x severity, per playbook), explicit pins, automation vs
handoff on the outcome, and the ``priority`` block's validation errors."""

from __future__ import annotations

import pytest

from winback.playbooks.engine import decision_for, evaluate, priority_of, priority_score
from winback.playbooks.loader import PlaybookError, default_playbooks, parse_playbook
from winback.playbooks.model import DEFAULT_PRIORITY_POLICY, Facts, PlaybookSet, PriorityPolicy

from .test_playbooks import customer, event, risk, text

DEFAULTS = default_playbooks()


def books(*texts: str) -> PlaybookSet:
    return PlaybookSet(tuple(parse_playbook(t, f"pb{i}.yaml") for i, t in enumerate(texts)))


def one_rule(then: str, block: str = "", name: str = "t") -> str:
    return (
        f"playbook: {name}\nversion: 1\n{block}rules:\n"
        f"  - name: a\n    when: {{event.type: complaint}}\n    then: {then}\n"
    )


def error_of(text_: str) -> str:
    with pytest.raises(PlaybookError) as info:
        parse_playbook(text_, "pb.yaml")
    return str(info.value)


# -- the score --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("severity", "expected"), [("low", "P4"), ("medium", "P3"), ("high", "P2"), ("critical", "P2")]
)
def test_severity_alone_gives_the_priorities_rules_used_to_fix(
    severity: str, expected: str
) -> None:
    score = priority_score(DEFAULT_PRIORITY_POLICY, severity, None, None)
    assert priority_of(DEFAULT_PRIORITY_POLICY, score) == expected


def test_score_is_the_weighted_mean_of_severity_risk_and_value() -> None:
    policy = DEFAULT_PRIORITY_POLICY
    # 0.6 x 0.5 (medium) + 0.2 x 0.9 + 0.2 x (500 / 1000) = 0.58
    assert priority_score(policy, "medium", 0.9, 500) == pytest.approx(0.58)
    # value saturates at value_scale; risk is clamped to 0..1; unknown counts as 0
    assert priority_score(policy, "medium", 1.7, 50_000) == pytest.approx(0.7)
    assert priority_score(policy, "medium", None, -10) == pytest.approx(0.3)
    custom = PriorityPolicy(severity_weight=1, risk_weight=1, value_weight=2, value_scale=100)
    assert priority_score(custom, "high", 0.5, 50) == pytest.approx((0.75 + 0.5 + 1.0) / 4)
    assert [priority_of(policy, s) for s in (0.7, 0.69, 0.45, 0.44, 0.25, 0.24)] == [
        "P1",
        "P2",
        "P2",
        "P3",
        "P3",
        "P4",
    ]


def test_risk_and_value_raise_an_unpinned_rule_and_the_outcome_says_why() -> None:
    pb = books(one_rule("{reason: complaint}"))
    plain = evaluate(pb, Facts(event("complaint")))
    assert plain.priority == "P3"
    assert plain.priority_score == pytest.approx(0.3)
    assert plain.priority_reason == (
        "score 0.30 (severity medium from the default, risk unknown, value unknown of 1000) → P3"
    )
    valuable = Facts(event("complaint"), risk=risk(0.9), customer=customer(value=800))
    outcome = evaluate(pb, valuable)
    assert outcome.priority == "P2"  # 0.3 + 0.18 + 0.16 = 0.64
    assert outcome.priority_reason is not None
    assert "risk 0.90" in outcome.priority_reason
    assert "value 800 of 1000" in outcome.priority_reason
    decision = decision_for(outcome, valuable)
    assert decision is not None
    assert decision.priority == "P2"
    summary = outcome.summary()
    assert summary["priority"] == "P2"
    assert summary["priority_score"] == pytest.approx(0.64)
    assert summary["priority_reason"].endswith("→ P2")
    top = Facts(event("complaint"), risk=risk(1.0), customer=customer(value=5000))
    assert evaluate(books(one_rule("{severity: high}")), top).priority == "P1"


def test_an_explicit_pin_wins_over_the_score_and_the_most_urgent_pin_wins() -> None:
    top = Facts(event("complaint"), risk=risk(1.0), customer=customer(value=5000))
    pinned = evaluate(books(one_rule("{priority: P4, severity: high}")), top)
    assert pinned.priority == "P4"
    assert pinned.priority_reason == (
        "pinned by t/a; score 0.85 (severity high from the rules, risk 1.00, value 5000 of "
        "1000) would give P1"
    )
    two = books(
        one_rule("{priority: P3}", name="first"),
        """playbook: second
version: 1
mode: all_match
rules:
  - {name: low, when: {event.type: complaint}, then: {priority: P4}}
  - {name: high, when: {event.type: complaint}, then: {priority: P2}}
""",
    )
    outcome = evaluate(two, Facts(event("complaint")))
    assert outcome.priority == "P2"
    assert outcome.priority_reason is not None
    assert outcome.priority_reason.startswith("pinned by second/high")


def test_text_urgency_gives_the_severity_when_no_rule_names_one() -> None:
    pb = books(one_rule("{reason: complaint}"))
    cued = Facts(event("complaint"), text=text("negative", "account", "cancel_intent"))
    outcome = evaluate(pb, cued)
    assert outcome.priority == "P2"
    assert outcome.severity is None  # the case's severity is still only what rules say
    assert "severity high from text cue cancel_intent" in (outcome.priority_reason or "")
    ruled = evaluate(books(one_rule("{severity: low}")), cued)
    assert ruled.priority == "P4"  # a rule's severity comes first
    custom = books(one_rule("{reason: complaint}", "priority:\n  urgency: {cancel_intent: low}\n"))
    assert evaluate(custom, cued).priority == "P4"


def test_the_policy_is_the_deciding_playbooks_and_fixed_mode_keeps_a_default() -> None:
    fixed = one_rule("{reason: complaint}", "priority: {from: fixed, default: P4}\n", "fixed")
    strict = one_rule(
        "{reason: x}",
        "order: 200\npriority: {thresholds: {P1: 0.9, P2: 0.8, P3: 0.1}}\n",
        "strict",
    )
    facts = Facts(event("complaint"), risk=risk(1.0), customer=customer(value=5000))
    outcome = evaluate(books(fixed, strict), facts)
    assert outcome.decided_by == "playbook:fixed@1/a"
    assert outcome.priority == "P4"
    assert outcome.priority_reason == "no rule pins one: the playbook's fixed P4"
    assert outcome.priority_score is None
    alone = evaluate(books(strict), facts)  # 0.3 + 0.2 + 0.2 = 0.7: P3 under these thresholds
    assert (alone.priority, alone.priority_score) == ("P3", pytest.approx(0.7))


def test_a_playbook_that_opens_no_case_computes_no_priority() -> None:
    outcome = evaluate(books(one_rule("{case: none}")), Facts(event("complaint")))
    assert (outcome.priority, outcome.priority_reason) == (None, None)


# -- the shipped defaults ---------------------------------------------------------------------
def test_defaults_pin_p1_for_a_legal_threat_and_compute_the_rest() -> None:
    legal = Facts(event("message"), text=text("negative", "account", "legal_threat"))
    outcome = evaluate(DEFAULTS, legal)
    assert outcome.priority == "P1"
    assert (outcome.priority_reason or "").startswith("pinned by escalations/legal-threat")
    unhappy_vip = Facts(
        event("message"), text=text(), risk=risk(0.6), customer=customer(value=5000)
    )
    outcome = evaluate(DEFAULTS, unhappy_vip)
    assert outcome.priority == "P1"  # high 0.45 + risk 0.12 + value 0.2 = 0.77
    assert (outcome.priority_reason or "").startswith("score 0.77")
    calm = Facts(event("survey.response", score={"kind": "nps", "value": 5}), risk=risk(0.1))
    assert evaluate(DEFAULTS, calm).priority == "P3"


# -- automation and handoff -------------------------------------------------------------------
def test_automate_without_a_handoff_reason_is_automated() -> None:
    outcome = evaluate(books(one_rule("{automate: true}")), Facts(event("complaint")))
    assert outcome.automated
    assert outcome.handling == "handled by automation (no handoff reason)"
    assert outcome.summary()["automated"] is True


def test_any_handoff_reason_means_a_human_even_if_a_rule_says_automate() -> None:
    pb = books(
        """playbook: t
version: 1
mode: all_match
rules:
  - {name: auto, when: {event.type: complaint}, then: {automate: true}}
  - {name: legal, when: {event.type: complaint}, then: {handoff: legal threat}}
  - {name: vip, when: {event.type: complaint}, then: {handoff: true}}
"""
    )
    outcome = evaluate(pb, Facts(event("complaint")))
    assert not outcome.automated
    assert outcome.handling == "needs a human: legal threat, rule vip"
    assert "automated" not in outcome.summary()
    plain = evaluate(books(one_rule("{reason: x}")), Facts(event("complaint")))
    assert (plain.automated, plain.handling) == (False, None)


def test_no_shipped_rule_asks_for_automation() -> None:
    assert not any(r.then.automate for p in DEFAULTS.playbooks for r in p.rules)


# -- validation -------------------------------------------------------------------------------
def test_priority_block_errors_name_the_line() -> None:
    message = error_of(
        """playbook: t
version: 1
priority:
  from: score
  thresholds: {P1: 0.3, P2: 0.5, P3: 0.1}
  weights: {severity: 0, risk: 0, value: 0}
  value_scale: 0
  urgency: {legal_threat: dire}
  colour: red
rules:
  - {name: a, when: {event.type: complaint}, then: {automate: perhaps}}
"""
    )
    assert "pb.yaml:5: priority.thresholds: Value error, thresholds must not rise" in message
    assert "pb.yaml:6: priority.weights: Value error, at least one weight" in message
    assert "pb.yaml:7: priority.value_scale: Input should be greater than 0" in message
    assert "pb.yaml:8: priority.urgency.legal_threat: Input should be 'low'" in message
    assert "pb.yaml:9: priority.colour: unknown field 'colour'" in message
    assert "pb.yaml:11: rules[0].then.automate: Input should be a valid boolean" in message
    assert "pb.yaml:4: priority.from: Input should be 'score' or 'fixed'" in error_of(
        "playbook: t\nversion: 1\npriority:\n  from: rules\n"
        "rules:\n  - {name: a, when: {event.type: complaint}}\n"
    )
