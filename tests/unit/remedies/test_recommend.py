"""Next best action: eligibility, ranking and the reasons given."""

from __future__ import annotations

from datetime import UTC, datetime

from winback.remedies.config import default_catalogue
from winback.remedies.policy import Grant
from winback.remedies.recommend import CaseProfile, PastOutcome, recommend

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAT = default_catalogue()


def names(case: CaseProfile, past: list[PastOutcome] | None = None) -> list[str]:
    ranked, _ = recommend(CAT, case, past or [], [], NOW)
    return [r.remedy for r in ranked]


def test_category_and_value_decide_eligibility() -> None:
    ranked, excluded = recommend(
        CAT, CaseProfile(1, "c", category="billing", customer_value=100), [], [], NOW
    )
    eligible = {r.remedy for r in ranked}
    assert "fee_waiver" in eligible
    assert "refund" in eligible
    assert "replacement" not in eligible
    assert "credit" not in eligible
    why = {e.remedy: e.reason for e in excluded}
    assert why["loyalty_offer"] == "for customers worth 500 or more"
    assert "delivery" in why["replacement"]


def test_playbook_suggestions_lead_and_say_so() -> None:
    case = CaseProfile(1, "c", category="delivery", customer_value=300, suggested=("replacement",))
    ranked, _ = recommend(CAT, case, [], [], NOW)
    assert ranked[0].remedy == "replacement"
    assert "recommended by the playbooks for this case" in ranked[0].reasons
    assert ranked[0].needs_approval_by == "lead"  # tier 2: above an agent


def test_risk_favours_retention_offers() -> None:
    calm = CaseProfile(1, "c", category="account", customer_value=600, risk=0.1)
    worried = CaseProfile(1, "c", category="account", customer_value=600, risk=0.9)
    assert names(calm)[0] not in ("loyalty_offer", "discount")
    assert names(worried)[0] in ("loyalty_offer", "discount")
    ranked, _ = recommend(CAT, worried, [], [], NOW)
    [offer] = [r for r in ranked if r.remedy == "loyalty_offer"]
    assert "churn risk 0.90: a retention offer" in offer.reasons


def test_what_recovered_similar_customers_before_counts() -> None:
    case = CaseProfile(1, "c", category="delivery", customer_value=300)
    credit_worked = [PastOutcome("credit", "delivery", None, True) for _ in range(12)] + [
        PastOutcome("replacement", "delivery", None, False) for _ in range(12)
    ]
    replacement_worked = [PastOutcome("credit", "delivery", None, False) for _ in range(12)] + [
        PastOutcome("replacement", "delivery", None, True) for _ in range(12)
    ]
    assert names(case, credit_worked)[0] == "credit"
    assert names(case, replacement_worked)[0] == "replacement"
    ranked, _ = recommend(CAT, case, credit_worked, [], NOW)
    assert "recovered 12 of 12 similar customers" in ranked[0].reasons


def test_a_reached_cap_excludes_the_remedy() -> None:
    grants = [Grant("c", "credit", 300, NOW)]
    ranked, excluded = recommend(CAT, CaseProfile(1, "c", category="delivery"), [], grants, NOW)
    assert "credit" not in {r.remedy for r in ranked}
    assert any(e.remedy == "credit" and "customer cap" in e.reason for e in excluded)
