"""What keeps churn training and evaluation in seconds: one thread per fit, a known number of
fits, progress told after each, held-out rows scored in one pass, bounded one-hot columns.

No timing here: each test checks the setting or the count that the cost follows from."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from winback.risk import training
from winback.risk.evaluation import cross_validate
from winback.risk.model import MAX_LEVELS, MIN_LEVEL_ROWS, Encoder, Linear, Trees
from winback.risk.training import (
    VALIDATION_FOLDS,
    _compile,
    _make,
    fit_churn_model,
    fits_per_model,
)

from .test_training import synthetic

NUMERIC = ["complaints_7d", "usage_trend"]


class FitSpy:
    """Wraps ``training._make``: records, for every model fitted, its kind and the threads
    the BLAS and OpenMP libraries would use at that moment."""

    def __init__(self) -> None:
        self.fits: list[tuple[str, dict[str, set[int]]]] = []

    def __call__(self, kind: str, seed: int) -> Any:
        estimator = _make(kind, seed)
        fit = estimator.fit

        def spying_fit(x: Any, y: Any) -> Any:
            threads: dict[str, set[int]] = {}
            for lib in threadpool_info():
                threads.setdefault(lib["user_api"], set()).add(lib["num_threads"])
            self.fits.append((kind, threads))
            return fit(x, y)

        estimator.fit = spying_fit
        return estimator


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> FitSpy:
    recorder = FitSpy()
    monkeypatch.setattr(training, "_make", recorder)
    return recorder


def test_every_fit_runs_on_one_thread_even_where_more_are_allowed(spy: FitSpy) -> None:
    rows, labels = synthetic(300)
    with threadpool_limits(limits=3):
        fit_churn_model(rows, labels, numeric=NUMERIC, categorical=["plan"])
    assert spy.fits
    for _kind, threads in spy.fits:
        assert threads.get("openmp", {1}) == {1}
        assert threads.get("blas", {1}) == {1}


def test_threads_lifts_the_cap(spy: FitSpy) -> None:
    rows, labels = synthetic(300)
    fit_churn_model(rows, labels, numeric=NUMERIC, categorical=["plan"], threads=2)
    # Every library present is at 2 during the fits (the cap is what set it).
    assert spy.fits
    assert all(set(t) and all(v == {2} for v in t.values()) for _k, t in spy.fits)


def test_one_model_costs_seven_fits_each_reported(spy: FitSpy) -> None:
    rows, labels = synthetic(300)
    told: list[str] = []
    fit = fit_churn_model(rows, labels, numeric=NUMERIC, categorical=["plan"], progress=told.append)
    assert fits_per_model() == 2 * VALIDATION_FOLDS + 1 == 7
    assert len(spy.fits) == len(told) == 7
    kinds = [kind for kind, _ in spy.fits]
    assert kinds[:6] == ["logistic"] * 3 + ["gradient_boosting"] * 3
    assert kinds[6] == fit.model.kind  # only the chosen candidate is refitted
    assert told[0] == "logistic: validation fold 1/3"
    assert told[-1].startswith(f"{fit.model.kind}: chosen")


def test_cross_validation_fits_a_model_per_fold_and_reports_each_fit(spy: FitSpy) -> None:
    rows, labels = synthetic(300)
    told: list[str] = []
    with threadpool_limits(limits=3):
        cross_validate(rows, labels, folds=3, progress=told.append)
    assert len(spy.fits) == len(told) == 3 * fits_per_model()
    assert all(t.get("openmp", {1}) == {1} for _k, t in spy.fits)
    assert told[0] == "fold 1/3, logistic: validation fold 1/3"
    assert told[-1].startswith("fold 3/3, ")


@pytest.mark.parametrize("kind", ["logistic", "gradient_boosting"])
def test_held_out_rows_are_scored_in_one_pass_like_the_live_path(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, labels = synthetic(400)
    fit = fit_churn_model(rows, labels, numeric=NUMERIC, categorical=["plan"], candidates=[kind])
    probe = [*rows[:150], {}, {"plan": "platinum"}, {"complaints_7d": "3", "usage_trend": None}]
    live = [fit.model.score(r).probability for r in probe]
    # predict must not walk the trees (or the weights) one row at a time.
    monkeypatch.setattr(Trees, "raw", _not_row_by_row)
    monkeypatch.setattr(Linear, "raw", _not_row_by_row)
    batch = fit.model.predict(probe)
    np.testing.assert_allclose(batch, live, atol=1e-6)


def _not_row_by_row(*_args: Any) -> Any:
    raise AssertionError("scored row by row")


def test_the_batch_tree_walk_equals_the_single_row_walk_with_missing_values() -> None:
    rows, labels = synthetic(400)
    enc = Encoder.fit(rows, NUMERIC, ["plan"])
    x = enc.matrix(rows)
    fitted = _make("gradient_boosting", 0).fit(x, np.asarray(labels))
    trees = _compile("gradient_boosting", fitted)
    assert isinstance(trees, Trees)
    probe = x[:50].copy()
    probe[::3, 0] = np.nan
    probe[1::4, 1] = np.nan
    expected = [trees.raw(row)[0] for row in probe]
    np.testing.assert_allclose(trees.raw_many(probe), expected, rtol=1e-12, atol=1e-12)


def test_the_matrix_equals_the_row_encoding() -> None:
    rng = random.Random(3)
    rows: list[dict[str, Any]] = [
        {
            "a": rng.choice([rng.uniform(0, 500), str(rng.randint(0, 90)), None, "n/a"]),
            "b": rng.choice([-1.5, 2, True, None]),
            "plan": rng.choice(["basic", "gold", None, 3]),
            "region": rng.choice(["north", "south", "east"]),
        }
        for _ in range(200)
    ]
    enc = Encoder.fit(rows, ["a", "b"], ["plan", "region"])
    assert enc.log_columns == ["a"]
    probe = [*rows, {}, {"plan": "platinum", "a": "7"}]
    np.testing.assert_array_equal(enc.matrix(probe), np.asarray([enc.row(r) for r in probe]))


def test_an_identifier_like_column_adds_no_columns_and_many_levels_are_capped() -> None:
    n = 1200
    rows = [
        {
            "phone": f"555-{i:04d}",  # a different value on every row
            "city": f"city{i % 300}",  # 300 levels, 4 rows each: below MIN_LEVEL_ROWS
            "zone": f"zone{i % 150}",  # 150 levels, 8 rows each: capped at MAX_LEVELS
            "plan": "gold" if i % 3 else "basic",
        }
        for i in range(n)
    ]
    assert n // 300 < MIN_LEVEL_ROWS <= n // 150
    enc = Encoder.fit(rows, [], ["phone", "city", "zone", "plan"])
    assert enc.categorical["phone"] == []
    assert enc.categorical["city"] == []
    assert len(enc.categorical["zone"]) == MAX_LEVELS
    assert enc.categorical["plan"] == ["basic", "gold"]
    assert enc.matrix(rows).shape == (n, MAX_LEVELS + 2)
    # A rare or capped level reads as an unseen one: all zeros (ties keep the first by name,
    # so zone99 is the last of the 150 and left out).
    assert "zone99" not in enc.categorical["zone"]
    probe = {"phone": "555-0001", "city": "city1", "zone": "zone99", "plan": "gold"}
    assert enc.row(probe) == [0.0] * MAX_LEVELS + [0.0, 1.0]
