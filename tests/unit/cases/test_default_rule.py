"""The built-in decision rule: which events open (or attach to) a recovery case, and how urgent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from winback.cases.rules import RULE_VERSION, Decision, decide
from winback.events.model import EVENT_TYPES, Event

AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TRIGGER_TYPES = {"survey.response", "complaint", "payment.failed", "subscription.cancelled"}


def event_of(event_type: str, **data: Any) -> Event:
    return Event(
        seq=1,
        event_id="evt-1",
        type=event_type,
        customer_id="cus-1",
        occurred_at=AT,
        received_at=AT,
        data={"id": "evt-1", "type": event_type, "customer": {"id": "cus-1"}, **data},
    )


def survey(kind: str, value: int) -> Event:
    return event_of("survey.response", score={"kind": kind, "value": value})


def decision_for(kind: str, value: int) -> Decision | None:
    return decide(survey(kind, value))


def test_nps_of_six_opens_a_case_but_seven_does_not() -> None:
    assert decision_for("nps", 6) == Decision("NPS 6 (detractor)", "P3", None)
    assert decision_for("nps", 7) is None


def test_every_nps_detractor_opens_a_case_and_no_passive_or_promoter_does() -> None:
    opened = {value for value in range(11) if decision_for("nps", value) is not None}

    assert opened == set(range(7))


def test_nps_of_three_or_less_is_p2_and_four_to_six_is_p3() -> None:
    decisions = {value: decision_for("nps", value) for value in range(7)}
    priorities = {value: d.priority for value, d in decisions.items() if d is not None}

    assert priorities == {0: "P2", 1: "P2", 2: "P2", 3: "P2", 4: "P3", 5: "P3", 6: "P3"}


def test_csat_of_two_opens_a_case_but_three_does_not() -> None:
    assert decision_for("csat", 2) == Decision("CSAT 2 of 5", "P3", None)
    assert decision_for("csat", 3) is None
    assert decision_for("csat", 5) is None


def test_csat_of_one_is_p2() -> None:
    assert decision_for("csat", 1) == Decision("CSAT 1 of 5", "P2", None)


def test_ces_of_five_opens_a_case_but_four_does_not() -> None:
    assert decision_for("ces", 5) == Decision("CES 5 of 7 (high effort)", "P3", None)
    assert decision_for("ces", 4) is None
    assert decision_for("ces", 1) is None


def test_ces_of_six_is_p3_and_seven_is_p2() -> None:
    assert decision_for("ces", 6) == Decision("CES 6 of 7 (high effort)", "P3", None)
    assert decision_for("ces", 7) == Decision("CES 7 of 7 (high effort)", "P2", None)


def test_a_complaint_opens_a_p3_case() -> None:
    assert decide(event_of("complaint", text="Third time asking")) == Decision(
        "complaint", "P3", None
    )


def test_a_failed_payment_opens_a_p3_billing_case() -> None:
    assert decide(event_of("payment.failed", amount=49.0, currency="EUR")) == Decision(
        "payment failed", "P3", "billing"
    )


def test_a_cancelled_subscription_opens_a_p2_account_case() -> None:
    assert decide(event_of("subscription.cancelled")) == Decision(
        "subscription cancelled", "P2", "account"
    )


@pytest.mark.parametrize("event_type", sorted(set(EVENT_TYPES) - TRIGGER_TYPES))
def test_other_event_types_such_as_usage_open_nothing(event_type: str) -> None:
    assert decide(event_of(event_type, text="I am very unhappy")) is None


def test_usage_opens_nothing() -> None:
    assert decide(event_of("usage")) is None


def test_a_survey_response_without_a_score_opens_nothing() -> None:
    assert decide(event_of("survey.response")) is None


def test_every_decision_names_the_rule_version() -> None:
    decisions = [
        decide(event_of("complaint")),
        decide(event_of("payment.failed")),
        decide(event_of("subscription.cancelled")),
        decision_for("nps", 0),
        decision_for("csat", 1),
        decision_for("ces", 7),
    ]

    assert RULE_VERSION == "builtin-default@1"
    assert [d.decided_by if d else None for d in decisions] == [RULE_VERSION] * 6
