from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from winback.models.registry import ModelRegistry
from winback.risk.coldstart import ColdStartScorer
from winback.risk.history import (
    MODEL_NUMERIC,
    NOT_LEARNT_FEATURES,
    PROGRESS_EVERY,
    history_dataset,
    learnable,
)
from winback.risk.setup import RiskConfigError, build_scorer, load_risk_config
from winback.risk.training import TrainingError

from .support import T0, ev


def test_history_rows_use_only_the_past_and_label_the_horizon_after() -> None:
    events = [
        ev("a0", "login", 0, customer="a"),
        ev("b0", "login", 0, customer="b"),
        ev("a1", "complaint", 25, customer="a", text="bad"),
        # After the first cut-off (day 30): must not reach its features.
        ev("a2", "complaint", 31, customer="a", text="bad"),
        ev("a3", "complaint", 32, customer="a", text="bad"),
        ev("ac", "subscription.cancelled", 70, customer="a"),
        ev("b9", "login", 200, customer="b"),
    ]
    cancels = {"a": T0 + timedelta(days=70)}
    data = history_dataset(events, cancels, horizon_days=90, step_days=30)
    # Cut-offs every 30 days from day 30; kept when their 90 days end by the last event (200).
    assert [(c - T0).days for c in data.cutoffs] == [30, 60, 90]
    # a left on day 70: a row at days 30 and 60 (labelled 1), none after.
    assert data.groups == ["a", "b", "a", "b", "b"]
    assert data.labels == [1, 0, 1, 0, 0]
    first = [(r, y, g) for r, y, g in zip(data.rows, data.labels, data.groups, strict=True)][:2]
    by_customer = {g: (r, y) for r, y, g in first}
    row_a, label_a = by_customer["a"]
    assert row_a["complaints_30d"] == 1  # only a1; a2 and a3 came after the cut-off
    assert label_a == 1  # cancelled on day 70, within 90 days of day 30
    assert by_customer["b"][1] == 0
    assert set(row_a) == {*MODEL_NUMERIC, "plan"}
    assert data.customers == 2


def test_a_model_learns_no_window_count_the_log_cuts_short_at_its_first_cut_off() -> None:
    events = [ev("a0", "login", 0, customer="a"), ev("a9", "login", 200, customer="a")]
    data = history_dataset(events, {}, horizon_days=90, step_days=30)
    # The first cut-off is 30 days into the log: a 90-day count is cut short there.
    assert "complaints_90d" not in data.numeric
    assert "negative_texts_90d" not in data.numeric
    assert {"complaints_30d", "complaints_7d", "usage_level", "days_since_contact"} <= set(
        data.numeric
    )
    # Means over 90 days are not counts: a shorter window changes them little.
    assert {"usage_90d", "score_mean_90d"} <= set(data.numeric)
    assert set(learnable(90)) == set(MODEL_NUMERIC)
    assert set(data.numeric) < set(MODEL_NUMERIC)
    # The latest single scores are shown and used by the cold start, never learnt.
    assert not NOT_LEARNT_FEATURES & set(MODEL_NUMERIC)


def test_history_replay_reports_its_progress() -> None:
    n = 2 * PROGRESS_EVERY + 7
    events = [ev(f"e{i}", "login", i * 200 // n, customer=f"c{i % 40}") for i in range(n)]
    told: list[int] = []
    data = history_dataset(events, {}, horizon_days=90, step_days=30, progress=told.append)
    assert told == [PROGRESS_EVERY, 2 * PROGRESS_EVERY, n]
    assert data.events == n


def test_history_too_short_says_so() -> None:
    with pytest.raises(TrainingError, match="history too short"):
        history_dataset([ev("a", "login", 0), ev("b", "login", 50)], {})
    with pytest.raises(TrainingError, match="empty"):
        history_dataset([], {})


def test_risk_yaml(tmp_path: Path) -> None:
    assert load_risk_config(None).horizon_days == 90
    (tmp_path / "risk.yaml").write_text(
        "horizon_days: 60\njump: {delta: 0.1, min: 0.5}\n"
        "cold_start: {intercept: -3, weights: {complaints_7d: 0.9}}\n"
    )
    config = load_risk_config(tmp_path)
    assert (config.horizon_days, config.jump_delta, config.jump_min) == (60, 0.1, 0.5)
    scorer = build_scorer(config, tmp_path / "no-models")
    assert isinstance(scorer, ColdStartScorer)
    assert scorer.horizon_days == 60
    assert scorer.intercept == -3
    (tmp_path / "risk.yaml").write_text("cold_start: {weights: {nope: 1}}\n")
    with pytest.raises(RiskConfigError, match="nope"):
        load_risk_config(tmp_path)
    (tmp_path / "risk.yaml").write_text("jump: {delta: high}\n")
    with pytest.raises(RiskConfigError, match=r"jump\.delta"):
        load_risk_config(tmp_path)


def test_an_active_model_that_is_not_a_churn_model_falls_back_to_cold_start(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path)
    registry.save("churn", {"not": "a model"}, {}, {}, activate=True)
    assert isinstance(build_scorer(load_risk_config(None), tmp_path), ColdStartScorer)
