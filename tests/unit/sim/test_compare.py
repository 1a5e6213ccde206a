"""The closed loop: faster recovery keeps more customers, and only through the model."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from winback.sim.compare import HELPDESK, TEAM_ACTOR, drive, with_response
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

    monkeypatch.setattr(
        winback.bootstrap, "build_stages", lambda settings, sources=None: [_Broken()]
    )
    config = SimConfig(industry="saas", customers=50, days=3, seed=3)
    with pytest.raises(RuntimeError, match=r"stage 'broken'.*boom"):
        drive(Simulation(config), "winback", step_minutes=60)


def test_winback_acts_through_case_actions_and_customers_react_to_what_cases_show(
    tmp_path: Path,
) -> None:
    import sqlite3

    config = SimConfig(industry="telecom", customers=300, days=10, seed=5, record_truth=True)
    sim = Simulation(config)
    result = drive(sim, "winback", step_minutes=15, workdir=tmp_path)
    assert result.resolved > 0
    db = sqlite3.connect(tmp_path / "winback-sim.db")
    granted = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM remedy_grants "
        "WHERE requested_by = ? AND status = 'applied'",
        (TEAM_ACTOR,),
    ).fetchone()
    rows = db.execute(
        "SELECT c.customer_id, t.kind, t.data, t.at FROM case_timeline t "
        "JOIN cases c ON c.id = t.case_id WHERE t.actor = ?",
        (TEAM_ACTOR,),
    ).fetchall()
    db.close()
    # Remedies are Winback's: what its compensation policy applied is what customers received.
    assert granted[0] > 0
    assert result.remedy_cost == pytest.approx(granted[1], abs=0.01)
    statuses = Counter(json.loads(data or "{}").get("status") for _, _, data, _ in rows)
    assert statuses["resolved"] > 0
    assert statuses["acknowledged"] > 0
    # Every acknowledgement a simulated customer felt is an entry on their Winback case, at the
    # same moment (a resolution acknowledges too).
    acted = {(cid, sim.hours_at(_utc(at))) for cid, _, _, at in rows}
    felt = [
        (c.id, issue.acknowledged_at)
        for c in sim.customers
        for issue in c.history or []
        if issue.acknowledged_at is not None
    ]
    assert felt
    for cid, hours in felt:
        assert any(c == cid and abs(h - hours) < 1e-6 for c, h in acted), (cid, hours)


def _utc(text: str) -> datetime:
    """A timestamp as SQLite holds it (UTC, written without an offset)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
