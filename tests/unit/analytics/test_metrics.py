"""Service metrics: what one case contributes, and the metrics from the sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from winback.analytics.metrics import (
    CaseInput,
    Entry,
    Measured,
    case_facts,
    delta,
    derive,
    rule_of,
    summed,
)
from winback.analytics.periods import period_of
from winback.analytics.scores import summary

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def case(**changes: object) -> CaseInput:
    base: dict[str, object] = {
        "case_id": 1,
        "opened_at": T0,
        "status": "new",
        "priority": "P3",
        "decided_by": "playbook:signals@2/negative-message",
    }
    base.update(changes)
    return CaseInput(**base)  # type: ignore[arg-type]


def test_a_new_case_counts_as_opened_in_its_slice_and_day() -> None:
    facts = case_facts(case(team="care", owner="ana", segment="smb", channel="chat"))
    assert facts.day == date(2026, 11, 24)
    assert facts.key == ("care", "ana", "", "chat", "smb", "P3", "signals/negative-message")
    assert facts.measures == {"opened": 1.0}


def test_times_come_from_the_timeline_and_the_sla_measurements() -> None:
    facts = case_facts(
        case(
            status="resolved",
            resolved_at=T0 + 5 * H,
            entries=[
                Entry("case.status_changed", T0 + H / 4),
                Entry("case.reply", T0 + H),
                Entry("case.reply", T0 + 2 * H),
            ],
            measurements=[
                Measured("first_response", 0, 3600.0, 1800.0, 3600.0, "met"),
                Measured("resolution", 0, 4 * 3600.0, 3 * 3600.0, 5 * 3600.0, "met"),
            ],
        )
    )
    m = facts.measures
    assert m["ack_s"] == 900
    assert m["fr_s"] == 3600
    assert m["res_s"] == 5 * 3600
    assert m["fr_business_s"] == 1800
    assert m["res_business_s"] == 3 * 3600
    # Met in business time; in wall time the resolution took longer than its target.
    assert (m["fr_sla_n"], m["fr_sla_met"], m["fr_sla_met_wall"]) == (1, 1, 1)
    assert (m["res_sla_n"], m["res_sla_met"]) == (1, 1)
    assert "res_sla_met_wall" not in m


def test_cancelled_clocks_are_not_counted_and_breaches_are() -> None:
    facts = case_facts(
        case(
            measurements=[
                Measured("first_response", 0, 3600.0, 7200.0, 7200.0, "breached"),
                Measured("resolution", 0, 3600.0, 10.0, 10.0, "cancelled"),
            ]
        )
    )
    assert facts.measures["fr_sla_n"] == 1
    assert "fr_sla_met" not in facts.measures
    assert "res_sla_n" not in facts.measures


def test_reopen_repeat_recovery_and_remedies() -> None:
    facts = case_facts(
        case(
            status="closed",
            resolved_at=T0 + H,
            reopen_count=1,
            previous_resolved_at=T0 - timedelta(days=3),
            followup=("csat", 4),
            remedy_costs=[10.0, 5.5],
        )
    )
    m = facts.measures
    assert m["reopened"] == m["repeat"] == m["answered"] == m["recovered"] == 1
    assert (m["remedy_n"], m["remedy_cost"]) == (2, 15.5)
    unhappy = case_facts(case(status="resolved", resolved_at=T0 + H, followup=("nps", 6)))
    assert unhappy.measures["answered"] == 1
    assert "recovered" not in unhappy.measures
    old = case_facts(case(previous_resolved_at=T0 - timedelta(days=8)))
    assert "repeat" not in old.measures


def test_a_change_is_applied_as_a_difference_and_a_moved_slice_as_two() -> None:
    before = case_facts(case(owner="ana"))
    after = case_facts(case(owner="ana", status="resolved", resolved_at=T0 + H))
    [(_day, _key, diff)] = delta(before, after)
    assert diff == {"resolved": 1.0, "res_n": 1.0, "res_s": 3600.0}
    assert delta(after, after) == []
    moved = case_facts(case(owner="bo", status="resolved", resolved_at=T0 + H))
    out, into = delta(after, moved)
    assert out[2]["opened"] == -1
    assert into[2]["opened"] == 1
    assert out[1][1] == "ana"
    assert into[1][1] == "bo"


def test_metrics_are_ratios_of_sums() -> None:
    a = case_facts(case(status="resolved", resolved_at=T0 + H, followup=("nps", 9)))
    b = case_facts(case(case_id=2, status="resolved", resolved_at=T0 + 3 * H, reopen_count=2))
    c = case_facts(case(case_id=3))
    got = derive(summed([a.measures, b.measures, c.measures]))
    assert got["cases_opened"] == 3
    assert got["cases_resolved"] == 2
    assert got["resolution_s"] == pytest.approx(2 * 3600)
    assert got["reopen_rate"] == pytest.approx(0.5)
    assert got["recovery_rate"] == 1.0
    assert got["followup_answered"] == 1
    assert got["first_response_s"] is None  # nobody replied: not measured, not zero


def test_rule_names_drop_the_prefix_and_version() -> None:
    assert rule_of("playbook:care@3/late-delivery") == "care/late-delivery"
    assert rule_of("builtin-default@1") == "builtin-default@1"


def test_periods() -> None:
    day = date(2026, 11, 26)  # a Thursday
    assert period_of(day, "day") == "2026-11-26"
    assert period_of(day, "week") == "2026-11-23"
    assert period_of(day, "month") == "2026-11"
    assert period_of(day, "all") == "all"
    with pytest.raises(ValueError, match="unknown period"):
        period_of(day, "decade")


def test_scores_from_distributions() -> None:
    nps = summary("nps", {10: 5, 9: 1, 8: 2, 3: 2})
    assert (nps["responses"], nps["score"], nps["promoters"], nps["detractors"]) == (10, 40.0, 6, 2)
    assert nps["distribution"][0] == 0
    assert len(nps["distribution"]) == 11
    csat = summary("csat", {5: 1, 4: 2, 1: 1})
    assert (csat["score"], csat["mean"]) == (75.0, 3.5)
    ces = summary("ces", {1: 1, 7: 1})
    assert ces["score"] == 50.0
    assert summary("csat", {})["score"] is None
