from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from winback.risk.evaluation import cross_validate, parse_label
from winback.risk.metrics import churn_metrics
from winback.risk.model import Encoder, Trees
from winback.risk.training import TrainingError, _compile, _make, fit_churn_model


def synthetic(n: int = 600, seed: int = 1) -> tuple[list[dict[str, Any]], list[int]]:
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        complaints = rng.randint(0, 5)
        usage = rng.uniform(-1, 1)
        plan = rng.choice(["basic", "gold"])
        noise = rng.gauss(0, 1)
        logit = -1.5 + 0.8 * complaints - 1.5 * usage + (0.7 if plan == "basic" else 0) + noise
        rows.append({"complaints_7d": complaints, "usage_trend": usage, "plan": plan})
        labels.append(int(logit > 0))
    return rows, labels


def test_compiled_models_score_like_scikit_learn() -> None:
    rows, labels = synthetic()
    enc = Encoder.fit(rows, ["complaints_7d", "usage_trend"], ["plan"])
    x = enc.matrix(rows)
    y = np.asarray(labels)
    for kind in ("logistic", "gradient_boosting"):
        fitted = _make(kind, 0).fit(x, y)
        compiled = _compile(kind, fitted)
        ours = np.asarray([compiled.raw(row)[0] for row in x])
        np.testing.assert_allclose(ours, fitted.decision_function(x), rtol=1e-6, atol=1e-6)
        if isinstance(compiled, Trees):  # Saabas: contributions sum to the raw score
            raw, contributions = compiled.raw(x[0])
            assert raw == pytest.approx(
                compiled.baseline + sum(m[0] for m in compiled.mean) + contributions.sum()
            )


def test_fit_chooses_by_validation_and_reasons_name_the_drivers() -> None:
    rows, labels = synthetic()
    fit = fit_churn_model(
        rows, labels, numeric=["complaints_7d", "usage_trend"], categorical=["plan"]
    )
    assert fit.metrics["chosen"] in ("logistic", "gradient_boosting")
    assert fit.metrics["roc_auc"] > 0.8
    assert set(fit.metrics["candidates"]) == {"logistic", "gradient_boosting"}
    fit.model.version = "churn-test"
    risky = fit.model.score({"complaints_7d": 5, "usage_trend": -0.8, "plan": "basic"})
    safe = fit.model.score({"complaints_7d": 0, "usage_trend": 0.8, "plan": "gold"})
    assert risky.probability > 0.8 > 0.2 > safe.probability
    assert {r.feature for r in risky.reasons} >= {"complaints_7d", "usage_trend"}
    assert "5 complaints in 7 days" in [r.text for r in risky.reasons]
    assert risky.model_version == "churn-test"
    # Missing inputs fall back to the training median, never crash.
    assert 0.0 <= fit.model.score({}).probability <= 1.0


def test_too_little_data_is_refused() -> None:
    with pytest.raises(TrainingError, match="too little"):
        fit_churn_model([{"a": 1}] * 10, [0] * 10, numeric=["a"], categorical=[])


def test_cross_validation_reports_every_figure() -> None:
    rows, labels = synthetic(400)
    report = cross_validate(rows, labels, folds=3)
    for key in ("roc_auc", "pr_auc", "brier", "top_decile_lift", "reliability"):
        assert key in report
    assert report["roc_auc"] > 0.8
    assert len(report["roc_auc_per_fold"]) == 3
    assert sum(b["count"] for b in report["reliability"]) == 400


def test_metrics_on_a_perfect_and_a_useless_score() -> None:
    y = [0] * 90 + [1] * 10
    perfect = churn_metrics(y, [0.0] * 90 + [1.0] * 10)
    assert perfect["roc_auc"] == 1.0
    assert perfect["top_decile_lift"] == 10.0
    assert perfect["brier"] == 0.0
    flat = churn_metrics(y, [0.1] * 100)
    assert flat["roc_auc"] == 0.5


@pytest.mark.parametrize(
    ("value", "expected"), [("Yes", 1), ("no", 0), ("1", 1), ("0", 0), ("TRUE", 1), (0.0, 0)]
)
def test_labels(value: Any, expected: int) -> None:
    assert parse_label(value) == expected
