"""``winback simulate``, run as the installed console script."""

from __future__ import annotations

import json
from pathlib import Path

from ._support import run_cli, winback_env


def test_simulate_writes_events_and_truth_the_same_way_twice(tmp_path: Path) -> None:
    env = winback_env(tmp_path / "unused.db")
    args = ["simulate", "--industry", "bank", "--customers", "60", "--days", "20", "--seed", "4"]
    first = run_cli([*args, "--out", "a.jsonl", "--truth", "t.jsonl"], env, tmp_path)
    assert first.returncode == 0, first
    second = run_cli([*args, "--out", "b.jsonl"], env, tmp_path)
    assert second.returncode == 0, second
    events = (tmp_path / "a.jsonl").read_bytes()
    assert events == (tmp_path / "b.jsonl").read_bytes()
    lines = events.decode().splitlines()
    assert lines
    assert all(json.loads(line)["id"] for line in lines)
    truth = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert truth[0]["record"] == "run"
    assert truth[0]["seed"] == 4
    assert sum(1 for r in truth if r["record"] == "customer") == 60
    assert f"{len(lines)} events" in " ".join(first.stderr.split())


def test_simulate_refuses_an_unknown_industry(tmp_path: Path) -> None:
    result = run_cli(
        ["simulate", "--industry", "mining", "--out", "x.jsonl"], winback_env(), tmp_path
    )
    assert result.returncode == 2
    assert "unknown industry" in result.stderr


def test_compare_prints_a_row_per_policy(tmp_path: Path) -> None:
    env = winback_env(tmp_path / "unused.db")
    args = ["simulate", "--compare", "--industry", "saas", "--customers", "150", "--days", "8"]
    result = run_cli(args, env, tmp_path, timeout=240)
    assert result.returncode == 0, result
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["none", "helpdesk", "winback"]
