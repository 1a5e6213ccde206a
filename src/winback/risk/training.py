"""Fitting a churn model: two calibrated candidates, the better one chosen by validation.

:func:`fit_churn_model` takes rows (feature dicts) and 0/1 labels and:

1. learns an :class:`~winback.risk.model.Encoder` from the rows (fill values, levels);
2. for each candidate — logistic regression (standardised inputs) and histogram gradient
   boosting — gets out-of-fold decision scores by stratified 3-fold cross-validation, measures
   their ROC AUC, and fits a Platt calibration (``sigmoid(a·score + b)``) on them;
3. keeps the candidate with the best out-of-fold ROC AUC, refits it on all rows, and compiles it
   into a :class:`~winback.risk.model.TrainedChurnModel` with that calibration (the scheme of
   scikit-learn's ``CalibratedClassifierCV(ensemble=False)``).

The returned metrics are the out-of-fold figures of every candidate, so a model file says how
well it did on data it had not seen.

Cost: ``fits_per_model()`` fits (3 validation folds per candidate, one refit), each on one
thread by default. The tables are small (hundreds to tens of thousands of rows), so the
per-tree-node OpenMP regions of gradient boosting cost more in synchronisation than they save,
and on a busy machine threads spinning while they wait for a pre-empted sibling multiply the
CPU time (docs/risk.md, "Speed"). ``threads`` lifts the cap (threadpoolctl), for BLAS as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from winback.risk.metrics import churn_metrics
from winback.risk.model import Encoder, FloatArray, Linear, TrainedChurnModel, Trees
from winback.risk.scoring import DEFAULT_HORIZON_DAYS

CANDIDATES = ("logistic", "gradient_boosting")
VALIDATION_FOLDS = 3

FitProgress = Callable[[str], None]
"""Told after each model fit, with what was fitted (``"gradient_boosting: validation fold
2/3"``); :func:`fits_per_model` says how many calls to expect."""


def fits_per_model(candidates: Sequence[str] = CANDIDATES) -> int:
    """The model fits one :func:`fit_churn_model` does: each candidate on every validation
    fold, then the chosen one on all rows."""
    return len(candidates) * VALIDATION_FOLDS + 1


class TrainingError(Exception):
    """Data a churn model cannot be trained on."""


def _make(kind: str, seed: int) -> Any:
    if kind == "logistic":
        return Pipeline(
            [("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=5000))]
        )
    return HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.03,
        max_depth=3,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def _compile(kind: str, fitted: Any) -> Linear | Trees:
    if kind == "logistic":
        scaler, lr = fitted.named_steps["scale"], fitted.named_steps["lr"]
        return Linear(
            mean=np.asarray(scaler.mean_, dtype=np.float64),
            scale=np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(lr.coef_[0], dtype=np.float64),
            intercept=float(lr.intercept_[0]),
        )
    return Trees.from_sklearn(fitted)


def _platt(raw: FloatArray, y: FloatArray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def _sigmoid(a: float, b: float, raw: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-(a * raw + b)))
    return result


@dataclass
class FitResult:
    model: TrainedChurnModel
    metrics: dict[str, Any]


def split_columns(
    rows: Sequence[Mapping[str, Any]], exclude: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns of ``rows`` (a column is numeric when every non-empty
    value parses as a number)."""
    names: list[str] = []
    for row in rows:
        for name in row:
            if name not in names and name not in exclude:
                names.append(name)
    numeric, categorical = [], []
    for name in names:
        values = [r.get(name) for r in rows if r.get(name) not in (None, "")]
        if values and all(_is_number(v) for v in values):
            numeric.append(name)
        elif values:
            categorical.append(name)
    return numeric, categorical


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def fit_churn_model(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int],
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    seed: int = 0,
    candidates: Sequence[str] = CANDIDATES,
    source: str = "",
    groups: Sequence[str] | None = None,
    threads: int | None = 1,
    progress: FitProgress | None = None,
) -> FitResult:
    """``groups`` (e.g. the customer of each row) keeps a group's rows in one validation fold,
    so a customer seen at several cut-offs cannot be learnt from and validated on at once.
    ``threads`` caps the BLAS and OpenMP threads of every fit (``None``: the libraries'
    defaults); ``progress`` is told after each fit."""
    with threadpool_limits(limits=threads):
        return _fit(
            rows,
            labels,
            numeric=numeric,
            categorical=categorical,
            horizon_days=horizon_days,
            seed=seed,
            candidates=candidates,
            source=source,
            groups=groups,
            progress=progress or (lambda _what: None),
        )


def _fit(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int],
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    horizon_days: int,
    seed: int,
    candidates: Sequence[str],
    source: str,
    groups: Sequence[str] | None,
    progress: FitProgress,
) -> FitResult:
    y = np.asarray(labels, dtype=np.float64)
    positives = int(y.sum())
    if len(rows) < 30 or positives < 6 or len(rows) - positives < 6:
        raise TrainingError(
            f"too little to learn from: {len(rows)} rows, {positives} churned "
            "(need at least 30 rows and 6 of each outcome)"
        )
    encoder = Encoder.fit(rows, numeric, categorical)
    X = encoder.matrix(rows)  # noqa: N806 - the usual name for a design matrix
    splitter: Any = (
        StratifiedKFold(n_splits=VALIDATION_FOLDS, shuffle=True, random_state=seed)
        if groups is None
        else StratifiedGroupKFold(n_splits=VALIDATION_FOLDS, shuffle=True, random_state=seed)
    )
    splits = list(splitter.split(X, y, groups))
    per_candidate: dict[str, dict[str, Any]] = {}
    calibrations: dict[str, tuple[float, float]] = {}
    for kind in candidates:
        raw = np.zeros(len(y))
        for number, (train, test) in enumerate(splits, start=1):
            fitted = _make(kind, seed).fit(X[train], y[train])
            raw[test] = fitted.decision_function(X[test])
            progress(f"{kind}: validation fold {number}/{len(splits)}")
        a, b = _platt(raw, y)
        calibrations[kind] = (a, b)
        per_candidate[kind] = churn_metrics(y, _sigmoid(a, b, raw), bins=10)
    chosen = max(candidates, key=lambda k: (per_candidate[k]["roc_auc"], k == "logistic"))
    fitted = _make(chosen, seed).fit(X, y)
    progress(f"{chosen}: chosen, refitted on all {len(rows)} rows")
    model = TrainedChurnModel(
        kind=chosen,
        encoder=encoder,
        model=_compile(chosen, fitted),
        platt=calibrations[chosen],
        horizon_days=horizon_days,
        source=source,
    )
    metrics = {
        "chosen": chosen,
        "validation": f"stratified {VALIDATION_FOLDS}-fold out-of-fold predictions"
        + (" (grouped by customer)" if groups is not None else ""),
        "rows": len(rows),
        "churn_rate": round(positives / len(rows), 4),
        **{k: v for k, v in per_candidate[chosen].items() if k != "reliability"},
        "reliability": per_candidate[chosen]["reliability"],
        "candidates": {
            k: {m: v for m, v in per_candidate[k].items() if m != "reliability"} for k in candidates
        },
    }
    return FitResult(model, metrics)
