"""The figures a churn model is judged by: ROC AUC, PR AUC, Brier score, reliability, lift."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def churn_metrics(y_true: ArrayLike, p: ArrayLike, bins: int = 10) -> dict[str, Any]:
    """``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``top_decile_lift`` (churn rate
    among the 10 % scored highest over the overall rate) and a ``reliability`` table: per bin
    of predicted probability, how many, the mean prediction and the observed churn rate."""
    y = np.asarray(y_true, dtype=np.float64)
    prob = np.asarray(p, dtype=np.float64)
    order = np.argsort(-prob, kind="stable")
    top = order[: max(1, round(len(y) * 0.1))]
    base = float(y.mean())
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    for i in range(bins):
        low, high = edges[i], edges[i + 1]
        mask = (prob >= low) & ((prob < high) if i < bins - 1 else (prob <= high))
        n = int(mask.sum())
        table.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "count": n,
                "mean_predicted": round(float(prob[mask].mean()), 4) if n else None,
                "observed_rate": round(float(y[mask].mean()), 4) if n else None,
            }
        )
    return {
        "roc_auc": round(float(roc_auc_score(y, prob)), 4),
        "pr_auc": round(float(average_precision_score(y, prob)), 4),
        "brier": round(float(brier_score_loss(y, prob)), 4),
        "top_decile_lift": round(float(y[top].mean()) / base, 3) if base > 0 else None,
        "base_rate": round(base, 4),
        "reliability": table,
    }
