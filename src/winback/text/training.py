"""``winback train text``: learn sentiment and/or categories from an organisation's own texts.

Input: a CSV or JSONL file with a text column and, per row, any of

- a sentiment label (``negative`` / ``neutral`` / ``positive``; also ``neg``/``pos``, -1/0/1);
- a survey score, turned into a label by the usual bands: NPS 0-6 negative, 7-8 neutral,
  9-10 positive; CSAT 1-2 negative, 3 neutral, 4-5 positive;
- a category label.

The result is saved as a new ``text`` version in the model registry, with its in-fold
cross-validated figures as metrics; ``--activate`` (or ``winback models activate``) makes the
processor use it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winback.text.analyzer import TrainedTextModel, default_lexicon
from winback.text.trainable import TextClassifier

if TYPE_CHECKING:
    from winback.text.embeddings import Embedder

SENTIMENT_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "-1": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "0": "neutral",
    "positive": "positive",
    "pos": "positive",
    "1": "positive",
    "+1": "positive",
}


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message says which row and why."""


def score_label(kind: str, value: float) -> str:
    """Sentiment of a survey score: NPS 0-6/7-8/9-10, CSAT 1-2/3/4-5."""
    if kind == "nps":
        if not 0 <= value <= 10:
            raise ValueError(f"NPS score {value} outside 0-10")
        return "negative" if value <= 6 else "neutral" if value <= 8 else "positive"
    if kind == "csat":
        if not 1 <= value <= 5:
            raise ValueError(f"CSAT score {value} outside 1-5")
        return "negative" if value <= 2 else "neutral" if value < 4 else "positive"
    raise ValueError(f"unknown score kind {kind!r}: use nps or csat")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) from a ``.csv`` or ``.jsonl`` file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                yield i, dict(row)
    elif suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise TrainingDataError(f"{path}:{i}: not JSON: {exc.msg}") from None
                    if not isinstance(row, dict):
                        raise TrainingDataError(f"{path}:{i}: expected a JSON object")
                    yield i, row
    else:
        raise TrainingDataError(f"{path}: use a .csv or .jsonl file")


@dataclass
class TrainingSet:
    sentiment_texts: list[str] = field(default_factory=list)
    sentiment_labels: list[str] = field(default_factory=list)
    category_texts: list[str] = field(default_factory=list)
    category_labels: list[str] = field(default_factory=list)
    skipped: int = 0


def load_training_set(
    path: Path,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    score_column: str | None = None,
    score_kind: str | None = None,
    category_column: str | None = None,
) -> TrainingSet:
    if score_column is not None and score_kind not in ("nps", "csat"):
        raise TrainingDataError("--score-kind must be nps or csat when --score-column is given")
    data = TrainingSet()
    for line, row in read_rows(path):
        if text_column not in row:
            raise TrainingDataError(f"{path}:{line}: no column {text_column!r}")
        text = row[text_column]
        if not isinstance(text, str) or not text.strip():
            data.skipped += 1
            continue
        label = _label(row, label_column, score_column, score_kind, f"{path}:{line}")
        if label is not None:
            data.sentiment_texts.append(text)
            data.sentiment_labels.append(label)
        if category_column is not None:
            category = row.get(category_column)
            if category not in (None, ""):
                data.category_texts.append(text)
                data.category_labels.append(str(category).strip().lower())
    return data


def _label(
    row: dict[str, Any],
    label_column: str | None,
    score_column: str | None,
    score_kind: str | None,
    where: str,
) -> str | None:
    raw = row.get(label_column) if label_column else None
    if raw not in (None, ""):
        label = SENTIMENT_ALIASES.get(str(raw).strip().lower())
        if label is None:
            raise TrainingDataError(
                f"{where}: sentiment label {raw!r}: use negative, neutral or positive"
            )
        return label
    score = row.get(score_column) if score_column else None
    if score not in (None, ""):
        try:
            return score_label(str(score_kind), float(str(score)))
        except ValueError as exc:
            raise TrainingDataError(f"{where}: {exc}") from None
    return None


def cross_validate(
    texts: list[str],
    labels: list[str],
    *,
    folds: int = 5,
    lexicon: bool = True,
    seed: int = 0,
    embeddings: bool = False,
    embedder: Embedder | None = None,
    on_fold: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """In-fold cross-validation: every fold's vectorisers and model see only its training part.

    With ``embeddings``, the texts are encoded once (``embedder``, default all-MiniLM-L6-v2) and
    the vectors reused in every fold: the encoder is not trained, so that leaks nothing.
    ``on_fold(k)`` is called as fold ``k`` (1-based) is done: progress for a long run.
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    if embeddings:
        embedder = _precomputed(texts, embedder)
    f1s, accs = [], []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        model = TextClassifier(
            lexicon=default_lexicon() if lexicon else None,
            embeddings=embeddings,
            embedder=embedder if embeddings else None,
        )
        model.fit([texts[i] for i in train], [labels[i] for i in train])
        pred = model.predict([texts[i] for i in test])
        truth = [labels[i] for i in test]
        f1s.append(float(f1_score(truth, pred, average="macro")))
        accs.append(float(accuracy_score(truth, pred)))
        if on_fold is not None:
            on_fold(len(f1s))
    return {
        "folds": folds,
        "macro_f1": round(float(np.mean(f1s)), 4),
        "macro_f1_sd": round(float(np.std(f1s)), 4),
        "macro_f1_per_fold": [round(f, 4) for f in f1s],
        "accuracy": round(float(np.mean(accs)), 4),
    }


def _precomputed(texts: list[str], embedder: Embedder | None) -> Embedder:
    from winback.text.embeddings import PrecomputedEmbedder, default_embedder

    if isinstance(embedder, PrecomputedEmbedder):
        return embedder
    return PrecomputedEmbedder.encode_once(texts, embedder or default_embedder())


def train(
    data: TrainingSet, *, folds: int = 5, embeddings: bool = False
) -> tuple[TrainedTextModel, dict[str, Any]]:
    """Fit the classifiers the data has labels for; return the model and its metrics.

    ``embeddings`` adds all-MiniLM-L6-v2 sentence embeddings to the features (the optional
    extra ``winback[embeddings]``); each text is encoded once for the cross-validation and the
    final fit together.
    """
    if embeddings:
        from winback.text.embeddings import require

        require("winback train text --embeddings")
    metrics: dict[str, Any] = {}
    sentiment = category = None
    if data.sentiment_texts:
        sentiment, metrics["sentiment"] = _fit(
            data.sentiment_texts, data.sentiment_labels, "sentiment", folds, True, embeddings
        )
    if data.category_texts:
        category, metrics["category"] = _fit(
            data.category_texts, data.category_labels, "category", folds, False, embeddings
        )
    if sentiment is None and category is None:
        raise TrainingDataError("no labelled rows: give sentiment labels, scores or categories")
    # Headline figures at the top level, for `winback models list`.
    for target in ("sentiment", "category"):
        if target in metrics:
            metrics[f"{target}_cv_macro_f1"] = metrics[target]["cv"]["macro_f1"]
    return TrainedTextModel(version="unsaved", sentiment=sentiment, category=category), metrics


def _fit(
    texts: list[str], labels: list[str], what: str, folds: int, lexicon: bool, embeddings: bool
) -> tuple[TextClassifier, dict[str, Any]]:
    """Cross-validate, then fit on everything; with ``embeddings`` each text is encoded once for
    both."""
    _check_enough(labels, folds, what)
    cache = _precomputed(texts, None) if embeddings else None
    metrics = {
        "rows": len(labels),
        "labels": dict(Counter(labels)),
        "cv": cross_validate(
            texts, labels, folds=folds, lexicon=lexicon, embeddings=embeddings, embedder=cache
        ),
    }
    model = TextClassifier(
        lexicon=default_lexicon() if lexicon else None, embeddings=embeddings, embedder=cache
    ).fit(texts, labels)
    model.embedder = None  # drop the cache: new texts go to the default encoder
    return model, metrics


def _check_enough(labels: list[str], folds: int, what: str) -> None:
    counts = Counter(labels)
    if len(counts) < 2:
        raise TrainingDataError(f"{what}: need at least two different labels, got {set(counts)}")
    rare = {k: v for k, v in counts.items() if v < folds}
    if rare:
        raise TrainingDataError(
            f"{what}: each label needs at least {folds} rows for {folds}-fold "
            f"cross-validation; too few: {rare}"
        )
