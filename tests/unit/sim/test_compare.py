"""The closed loop: faster recovery keeps more customers, and only through the model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from winback.sim.compare import HELPDESK, drive, with_response
from winback.sim.generator import SimConfig, Simulation

FAST = replace(
    HELPDESK,
    name="fast",
    check_every_hours=0.0,
    business_hours=None,
    first_response_minutes=10.0,
    resolve_hours=2.0,
    agents_per_1000=3.0,
)
CONFIG = SimConfig(industry="telecom", customers=3000, days=90, seed=7)


def churned(config: SimConfig, policy: str, team: object = None) -> set[str]:
    sim = Simulation(config)
    drive(sim, policy, team=team, step_minutes=30)  # type: ignore[arg-type]
    return {c.id for c in sim.customers if c.churned_at is not None}


def test_faster_recovery_means_less_churn() -> None:
    none = churned(CONFIG, "none")
    slow = churned(CONFIG, "helpdesk")
    fast = churned(CONFIG, "fast", FAST)
    assert len(fast) < len(slow) < len(none)


def test_without_the_response_model_no_policy_changes_anything() -> None:
    config = with_response(CONFIG, effect=0.0)
    none = churned(config, "none")
    assert churned(config, "helpdesk") == none
    assert churned(config, "fast", FAST) == none


def test_the_effect_grows_with_the_recovery_paradox() -> None:
    small = with_response(CONFIG, paradox=0.0)
    large = with_response(CONFIG, paradox=0.6)
    assert len(churned(large, "fast", FAST)) < len(churned(small, "fast", FAST))


def test_winback_closed_loop_reads_cases_back_and_acts_within_minutes() -> None:
    config = SimConfig(industry="saas", customers=250, days=12, seed=3)
    result = drive(Simulation(config), "winback", step_minutes=15)
    assert result.cases_opened is not None
    assert result.cases_opened > 0
    assert result.acknowledged > 0
    assert result.resolved > 0
    assert result.median_ack_hours is not None
    assert result.median_ack_hours < 3


class _Broken:
    name = "broken"

    def process(self, ctx: object, unit: object) -> None:
        raise ValueError("boom")


def test_a_comparison_stops_when_winback_fails_on_an_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import winback.bootstrap

    monkeypatch.setattr(winback.bootstrap, "build_stages", lambda settings: [_Broken()])
    config = SimConfig(industry="saas", customers=50, days=3, seed=3)
    with pytest.raises(RuntimeError, match=r"stage 'broken'.*boom"):
        drive(Simulation(config), "winback", step_minutes=60)
