"""The compensation policy: role limits, approvals, customer caps, monthly budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from winback.remedies.config import RemedyConfigError, default_catalogue, load_catalogue
from winback.remedies.policy import APPLY, APPROVAL, REFUSE, Grant, decide

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAT = default_catalogue()


def test_role_limits_and_the_right_approver() -> None:
    assert decide(CAT, "credit", 20, "agent", "c1", [], NOW).outcome == APPLY
    verdict = decide(CAT, "credit", 120, "agent", "c1", [], NOW)
    assert (verdict.outcome, verdict.approver_role) == (APPROVAL, "lead")
    assert decide(CAT, "credit", 120, "lead", "c1", [], NOW).outcome == APPLY
    big = decide(CAT, "refund", 900, "agent", "c1", [], NOW)
    assert (big.outcome, big.approver_role) == (APPROVAL, "manager")
    # A tier-2 remedy is beyond an agent whatever the amount.
    small = decide(CAT, "refund", 5, "agent", "c1", [], NOW)
    assert (small.outcome, small.approver_role) == (APPROVAL, "lead")
    # A gesture has no amount: the tier decides.
    assert decide(CAT, "callback", None, "agent", "c1", [], NOW).outcome == APPLY


def test_refusals() -> None:
    assert decide(CAT, "gold_bars", 1, "agent", "c1", [], NOW).outcome == REFUSE
    assert decide(CAT, "credit", 501, "manager", "c1", [], NOW).outcome == REFUSE  # > max
    assert decide(CAT, "credit", -1, "manager", "c1", [], NOW).outcome == REFUSE
    assert decide(CAT, "credit", 1, "intern", "c1", [], NOW).outcome == REFUSE


def test_customer_cap_over_the_period() -> None:
    given = [Grant("c1", "credit", 250, NOW - timedelta(days=10))]
    verdict = decide(CAT, "credit", 60, "manager", "c1", given, NOW)
    assert verdict.outcome == REFUSE
    assert "customer cap" in verdict.reason
    assert decide(CAT, "credit", 50, "manager", "c1", given, NOW).outcome == APPLY
    assert decide(CAT, "credit", 60, "manager", "c2", given, NOW).outcome == APPLY
    old = [Grant("c1", "credit", 250, NOW - timedelta(days=95))]
    assert decide(CAT, "credit", 60, "manager", "c1", old, NOW).outcome == APPLY


def test_monthly_budget() -> None:
    spent = [Grant(f"c{i}", "fee_waiver", 50, NOW.replace(day=2)) for i in range(99)]
    assert decide(CAT, "fee_waiver", 50, "agent", "x", spent, NOW).outcome == APPLY
    spent.append(Grant("c99", "fee_waiver", 50, NOW.replace(day=3)))
    verdict = decide(CAT, "fee_waiver", 1, "agent", "x", spent, NOW)
    assert verdict.outcome == REFUSE
    assert "monthly budget" in verdict.reason
    # Last month's spending does not count.
    last_month = [Grant(g.customer_id, g.remedy, g.amount, NOW - timedelta(days=40)) for g in spent]
    assert decide(CAT, "fee_waiver", 1, "agent", "x", last_month, NOW).outcome == APPLY


def test_catalogue_file(tmp_path: Path) -> None:
    assert load_catalogue(tmp_path).names() == CAT.names()
    (tmp_path / "remedies.yaml").write_text(
        "roles:\n  agent: {max_tier: 1, max_amount: 10}\nremedies:\n"
        "  voucher: {kind: credit, label: Voucher, default_amount: 5}\n"
    )
    custom = load_catalogue(tmp_path)
    assert custom.names() == {"voucher"}
    assert decide(custom, "voucher", 20, "agent", "c", [], NOW).outcome == REFUSE  # no one above
    (tmp_path / "remedies.yaml").write_text(
        "roles:\n  agent: {max_tier: 1, max_amount: 10}\nremedies:\n"
        "  voucher: {kind: credit, label: Voucher, amount: 5}\n"
    )
    with pytest.raises(RemedyConfigError, match=r"remedies\.yaml:4: remedies\.voucher\.amount"):
        load_catalogue(tmp_path)
