"""A trained churn model, compiled for the live path: plain numpy, microseconds per score.

scikit-learn fits the models (:mod:`winback.risk.training`); a single-row ``predict_proba``
through scikit-learn costs about a millisecond with spikes far beyond, too slow for the per-event
budget. So the fitted model is compiled here into arrays — a linear model's weights, or a
gradient-boosting model's trees — plus the Platt calibration fitted on the validation split, and
scored without scikit-learn.

Per-prediction reasons: each input's contribution to the log-odds — for the linear model
``w · (x - mean) / scale``, for trees the change of the expected leaf value along the path each
tree takes (Saabas attribution). The top positive contributions become the reasons.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from winback.risk.reasons import describe
from winback.risk.scoring import MAX_REASONS, Reason, RiskScore

FloatArray = NDArray[np.float64]


# A categorical level becomes a one-hot column only when at least MIN_LEVEL_ROWS training rows
# have it, and a column keeps at most its MAX_LEVELS most frequent levels; the rest read as
# unseen (all zeros). Without these an identifier-like column (a phone number, a customer id not
# named with --id) becomes one column per row: a matrix as wide as it is long that no model can
# learn from, and gradient boosting's cost grows with every column.
MIN_LEVEL_ROWS = 5
MAX_LEVELS = 100


@dataclass
class Encoder:
    """Feature dict → numeric row: numeric columns (missing → training median) and one-hot
    categorical columns (levels seen often enough in training, see ``MIN_LEVEL_ROWS``; an unseen
    or rare level is all zeros)."""

    numeric: list[str]
    fill: list[float]
    categorical: dict[str, list[str]] = field(default_factory=dict)

    log_columns: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls, rows: Sequence[Mapping[str, Any]], numeric: Sequence[str], categorical: Sequence[str]
    ) -> Encoder:
        """Learn fill values, levels and which columns get a ``log1p`` companion (non-negative
        and spread over more than two orders of ten) from ``rows`` only — in evaluation, the
        training fold's rows, so nothing leaks from the held-out fold."""
        fill, logs = [], []
        for name in numeric:
            values = [v for v in (_num(r.get(name)) for r in rows) if v is not None]
            fill.append(float(np.median(values)) if values else 0.0)
            if values and min(values) >= 0 and max(values) > 20:
                logs.append(name)
        levels = {name: _frequent_levels(rows, name) for name in categorical}
        return cls(list(numeric), fill, levels, logs)

    @property
    def columns(self) -> list[str]:
        cols = list(self.numeric) + [f"log1p({name})" for name in self.log_columns]
        for name, levels in self.categorical.items():
            cols.extend(f"{name}={level}" for level in levels)
        return cols

    @property
    def groups(self) -> list[str]:
        """For each column, the input it comes from (one-hot columns share their input)."""
        out = list(self.numeric) + list(self.log_columns)
        for name, levels in self.categorical.items():
            out.extend(name for _ in levels)
        return out

    def row(self, inputs: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for name, fill in zip(self.numeric, self.fill, strict=True):
            value = _num(inputs.get(name))
            out.append(fill if value is None else value)
        if self.log_columns:
            by_name = dict(zip(self.numeric, out, strict=False))
            out.extend(math.log1p(max(by_name[name], 0.0)) for name in self.log_columns)
        for name, levels in self.categorical.items():
            value = inputs.get(name)
            text = None if value is None else str(value)
            out.extend(1.0 if level == text else 0.0 for level in levels)
        return out

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> FloatArray:
        """``row`` for many rows, built a column at a time: one dictionary look-up per
        categorical value instead of a comparison with every level."""
        out = np.zeros((len(rows), len(self.columns)), dtype=np.float64)
        for j, (name, fill) in enumerate(zip(self.numeric, self.fill, strict=True)):
            values = (_num(r.get(name)) for r in rows)
            out[:, j] = [fill if v is None else v for v in values]
        j = len(self.numeric)
        position = {name: i for i, name in enumerate(self.numeric)}
        for name in self.log_columns:
            out[:, j] = [math.log1p(max(v, 0.0)) for v in out[:, position[name]].tolist()]
            j += 1
        for name, levels in self.categorical.items():
            index = {level: j + k for k, level in enumerate(levels)}
            for i, r in enumerate(rows):
                value = r.get(name)
                column = None if value is None else index.get(str(value))
                if column is not None:
                    out[i, column] = 1.0
            j += len(levels)
        return out


def _frequent_levels(rows: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    counts = Counter(str(v) for v in (r.get(name) for r in rows) if v is not None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(level for level, n in ranked[:MAX_LEVELS] if n >= MIN_LEVEL_ROWS)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    try:
        parsed = float(str(value).strip())
    except ValueError:
        return None
    return None if math.isnan(parsed) else parsed


@dataclass
class Linear:
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float

    def raw(self, x: FloatArray) -> tuple[float, FloatArray]:
        contributions = self.coef * (x - self.mean) / self.scale
        return float(self.intercept + contributions.sum()), contributions

    def raw_many(self, x: FloatArray) -> FloatArray:
        """The raw score of each row of ``x`` (no contributions)."""
        result: FloatArray = self.intercept + ((x - self.mean) / self.scale) @ self.coef
        return result


@dataclass
class Trees:
    """Binary-classification trees: per tree, node arrays; ``mean`` is each node's expected
    value (count-weighted mean of its leaves) for the attribution."""

    baseline: float
    feature: list[list[int]]
    threshold: list[list[float]]
    left: list[list[int]]
    right: list[list[int]]
    leaf: list[list[bool]]
    value: list[list[float]]
    mean: list[list[float]]
    missing_left: list[list[bool]]

    @classmethod
    def from_sklearn(cls, model: Any) -> Trees:
        out = cls(float(np.ravel(model._baseline_prediction)[0]), [], [], [], [], [], [], [], [])
        for predictors in model._predictors:
            nodes = predictors[0].nodes
            n = len(nodes)
            mean = [0.0] * n
            count = [float(c) for c in nodes["count"]]
            leaf = [bool(v) for v in nodes["is_leaf"]]
            left = [int(v) for v in nodes["left"]]
            right = [int(v) for v in nodes["right"]]
            value = [float(v) for v in nodes["value"]]

            # Children come after their parent in scikit-learn's node array (depth-first), so a
            # backwards pass sees both children before the parent.
            for i in range(n - 1, -1, -1):
                if leaf[i]:
                    mean[i] = value[i]
                else:
                    lc, rc = count[left[i]], count[right[i]]
                    mean[i] = (mean[left[i]] * lc + mean[right[i]] * rc) / ((lc + rc) or 1.0)
            out.feature.append([int(v) for v in nodes["feature_idx"]])
            out.threshold.append([float(v) for v in nodes["num_threshold"]])
            out.left.append(left)
            out.right.append(right)
            out.leaf.append(leaf)
            out.value.append(value)
            out.mean.append(mean)
            out.missing_left.append([bool(v) for v in nodes["missing_go_to_left"]])
        return out

    def raw(self, x: FloatArray) -> tuple[float, FloatArray]:
        xs = x.tolist()
        contributions = [0.0] * len(xs)
        total = self.baseline
        for t in range(len(self.feature)):
            feature, threshold = self.feature[t], self.threshold[t]
            left, right, leaf, mean = self.left[t], self.right[t], self.leaf[t], self.mean[t]
            i = 0
            total += mean[0]
            while not leaf[i]:
                f = feature[i]
                v = xs[f]
                if v != v:  # NaN
                    nxt = left[i] if self.missing_left[t][i] else right[i]
                else:
                    nxt = left[i] if v <= threshold[i] else right[i]
                contributions[f] += mean[nxt] - mean[i]
                total += mean[nxt] - mean[i]
                i = nxt
        return total, np.asarray(contributions)

    def raw_many(self, x: FloatArray) -> FloatArray:
        """The raw score of each row of ``x`` (no contributions): every row walks a tree at
        once, one numpy step per level, instead of :meth:`raw`'s Python walk per row and tree
        (which suits one live row, not a held-out fold of thousands)."""
        total = np.full(x.shape[0], self.baseline)
        for t in range(len(self.feature)):
            feature = np.asarray(self.feature[t], dtype=np.intp)
            threshold = np.asarray(self.threshold[t], dtype=np.float64)
            left = np.asarray(self.left[t], dtype=np.intp)
            right = np.asarray(self.right[t], dtype=np.intp)
            leaf = np.asarray(self.leaf[t], dtype=bool)
            missing_left = np.asarray(self.missing_left[t], dtype=bool)
            node = np.zeros(x.shape[0], dtype=np.intp)
            walking = np.flatnonzero(~leaf[node])
            while walking.size:
                at = node[walking]
                v = x[walking, feature[at]]
                go_left = np.where(np.isnan(v), missing_left[at], v <= threshold[at])
                node[walking] = np.where(go_left, left[at], right[at])
                walking = walking[~leaf[node[walking]]]
            total += np.asarray(self.value[t], dtype=np.float64)[node]
        return total


@dataclass
class TrainedChurnModel:
    """The artifact ``winback train churn`` saves: encoder, compiled model, calibration."""

    kind: str  # "logistic" | "gradient_boosting"
    encoder: Encoder
    model: Linear | Trees
    platt: tuple[float, float]  # p = sigmoid(a * raw + b)
    horizon_days: int
    version: str = ""
    source: str = ""

    def raw(self, x: FloatArray) -> tuple[float, FloatArray]:
        return self.model.raw(x)

    def probability_from_raw(self, raw: float) -> float:
        a, b = self.platt
        return 1.0 / (1.0 + math.exp(-(a * raw + b)))

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> FloatArray:
        """Probabilities for many rows (evaluation); the live path scores one with ``score``."""
        a, b = self.platt
        raw = self.model.raw_many(self.encoder.matrix(rows))
        result: FloatArray = 1.0 / (1.0 + np.exp(-(a * raw + b)))
        return result

    def score(self, inputs: dict[str, Any]) -> RiskScore:
        x = np.asarray(self.encoder.row(inputs), dtype=np.float64)
        raw, contributions = self.raw(x)
        probability = self.probability_from_raw(raw)
        by_input: dict[str, float] = {}
        for group, c in zip(self.encoder.groups, contributions.tolist(), strict=True):
            by_input[group] = by_input.get(group, 0.0) + c * self.platt[0]
        ranked = sorted(by_input.items(), key=lambda kv: (-kv[1], kv[0]))
        reasons = tuple(
            Reason(name, describe(name, inputs), round(c, 4))
            for name, c in ranked[:MAX_REASONS]
            if c > 0.05
        )
        return RiskScore(round(probability, 6), reasons, self.version, self.horizon_days)


class ModelScorer:
    """A :class:`~winback.risk.scoring.Scorer` over a loaded trained model."""

    def __init__(self, model: TrainedChurnModel, version: str) -> None:
        self.model = model
        self.version = version
        self.horizon_days = model.horizon_days
        model.version = version

    def score(self, features: dict[str, Any]) -> RiskScore:
        return self.model.score(features)
