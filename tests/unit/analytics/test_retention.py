"""Retention against the control group: churn, windows, intervals, sample sizes, verdicts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from winback.analytics.retention import (
    ArmCounts,
    Exposure,
    Fate,
    Standing,
    churned_at,
    compare,
    group_of,
    newcombe,
    paradox,
    report,
    retained,
    sample_size,
    verdict,
    wilson,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
D = timedelta(days=1)
AS_OF = T0 + 120 * D


def exposure(arm: str = "treated", at: datetime = T0, **kw: object) -> Exposure:
    return Exposure(str(kw.pop("customer_id", "c1")), "care/complaints", arm, at, **kw)  # type: ignore[arg-type]


def test_churn_is_the_cancellation_or_the_inactivity_rule() -> None:
    fate = Fate(cancelled_at=T0 + 50 * D, last_active_at=T0 + 10 * D)
    assert churned_at(fate, AS_OF, None) == T0 + 50 * D
    assert churned_at(fate, AS_OF, 30) == T0 + 40 * D
    # The quiet period has not passed yet: not churned by inactivity.
    assert churned_at(Fate(last_active_at=AS_OF - 5 * D), AS_OF, 30) is None


def test_retained_needs_the_whole_window_and_a_customer_at_risk() -> None:
    fate = Fate(cancelled_at=T0 + 45 * D)
    assert retained(exposure(), fate, 30, AS_OF, None) is True
    assert retained(exposure(), fate, 60, AS_OF, None) is False
    assert retained(exposure(at=AS_OF - 10 * D), Fate(), 30, AS_OF, None) is None
    assert retained(exposure(at=T0 + 50 * D), fate, 30, AS_OF, None) is None  # already gone


def test_wilson_and_newcombe_match_published_values() -> None:
    # Newcombe (1998), table II, example (a): 56/70 against 48/80, 95 %: 0.0524 to 0.3339.
    d, low, high = newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (low, high) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))
    # Example (h): 0/10 against 0/20: -0.1611 to 0.2775.
    d, low, high = newcombe(0, 10, 0, 20)
    assert (low, high) == (pytest.approx(-0.1611, abs=1e-4), pytest.approx(0.2775, abs=1e-4))
    assert wilson(0, 0, 1.96) == (0.0, 1.0)


def test_the_interval_covers_a_known_difference_about_as_often_as_it_says() -> None:
    rng = random.Random(5)
    covered, runs = 0, 400
    for _ in range(runs):
        t = sum(rng.random() < 0.85 for _ in range(300))
        c = sum(rng.random() < 0.80 for _ in range(100))
        _, low, high = newcombe(t, 300, c, 100)
        covered += low <= 0.05 <= high
    assert 0.92 <= covered / runs <= 0.98


def test_sample_size_matches_the_textbook_formula() -> None:
    # Equal arms, 0.80 against 0.85, alpha 0.05, power 0.8, no continuity correction:
    # (1.96 sqrt(2 * 0.825 * 0.175) + 0.8416 sqrt(0.8 * 0.2 + 0.85 * 0.15))^2 / 0.05^2
    # = 905.4, so 906 per arm.
    n = sample_size(0.80, 0.05, control_share=0.5)
    assert (n["control"], n["treated"]) == (906, 906)
    small_control = sample_size(0.80, 0.05, control_share=0.1)
    assert small_control["total"] > n["total"]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        sample_size(0.98, 0.05)  # 1.03 is no retention


def test_verdicts_read_plainly() -> None:
    shown = compare(ArmCounts(730, 650, 82, 67))
    assert verdict("rule X", 90, shown) == (
        "rule X: +7.3 points retained at 90 days, 95 % CI 0.0 to 17.3, n = 812."
    )
    unclear = compare(ArmCounts(730, 640, 82, 70))
    assert verdict("rule X", 90, unclear).startswith("rule X: no effect shown at 90 days (+2.3")
    strong = compare(ArmCounts(2000, 1900, 2000, 1700))
    assert verdict("rule X", 30, strong).startswith(
        "rule X: +10.0 points retained at 30 days, 95 %"
    )
    none = compare(ArmCounts(10, 9, 0, 0))
    assert "no control group" in verdict("rule X", 30, none)


def test_report_groups_by_rule_and_segment_and_remedy_rows_are_descriptive() -> None:
    exposures = [
        exposure("treated", customer_id="t1", segment="smb", remedy="credit", remedy_cost=10.0),
        exposure("treated", customer_id="t2", segment="smb", value=1200.0),
        exposure("control", customer_id="c1", segment="smb"),
        exposure("control", customer_id="c2", segment="vip"),
    ]
    fates = {"c1": Fate(cancelled_at=T0 + 10 * D)}
    rows = report(exposures, fates, AS_OF, horizons=(30,))
    [row] = rows
    assert (row["treated"], row["control"], row["effect_points"]) == (2, 2, 50.0)
    assert row["remedy_cost"] == 10.0
    assert row["revenue_retained"] == 600.0
    by_segment = report(exposures, fates, AS_OF, horizons=(30,), by=("rule", "segment"))
    assert [(r["segment"], r["treated"], r["control"]) for r in by_segment] == [
        ("smb", 2, 1),
        ("vip", 0, 1),
    ]
    by_remedy = report(exposures, fates, AS_OF, horizons=(30,), by=("rule", "remedy"))
    assert {r["remedy"]: (r["treated"], r["control"]) for r in by_remedy} == {
        "": (1, 2),
        "credit": (1, 2),
    }
    assert not any(r["randomised"] for r in by_remedy)
    with pytest.raises(ValueError, match="unknown grouping"):
        report(exposures, fates, AS_OF, by=("planet",))


def test_the_paradox_compares_the_same_window_for_each_group() -> None:
    start = AS_OF - 90 * D
    recovered = Standing(T0, True, False, answered_at=start - D, recovered=True)
    failed = Standing(T0, True, False, answered_at=start - D, recovered=False)
    late = Standing(T0, True, False, answered_at=start + D, recovered=True)  # after the start
    quiet = Standing(T0, False, False)
    held_out = Standing(T0, False, True)  # had a problem: matched a rule, held out
    gone_before = Standing(T0, False, False, fate=Fate(cancelled_at=start - D))
    gone_during = Standing(T0, False, False, fate=Fate(cancelled_at=start + D))
    newcomer = Standing(start + D, False, False)
    assert [group_of(s, start) for s in (recovered, failed, late, quiet, held_out)] == [
        "recovered",
        "not_recovered",
        None,
        "never_a_problem",
        None,
    ]
    assert group_of(newcomer, start) is None
    found = paradox(
        [recovered, failed, late, quiet, held_out, gone_before, gone_during, newcomer], AS_OF
    )
    assert found["groups"]["recovered"] == {"customers": 1, "retained": 1.0}
    assert found["groups"]["never_a_problem"] == {"customers": 2, "retained": 0.5}
    assert found["difference_points"] == 50.0
    assert found["verdict"].startswith(
        "recovered customers: 50.0 points more retained over 90 days than customers who never"
    )
    assert found["verdict"].endswith("observational, not an effect of recovery.")
