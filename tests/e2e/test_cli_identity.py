"""``winback users …`` and ``winback keys …`` against a real SQLite file, and ``serve``'s refusal
to start without a strong secret key."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from ._support import WINBACK, query, run_cli, scalar, winback_env

pytestmark = pytest.mark.slow


def test_users_and_keys_from_the_command_line(tmp_path: Path, start_server: object) -> None:
    database = tmp_path / "w.db"
    env = winback_env(database)
    made = run_cli(
        ["users", "create", "root", "--role", "admin", "--generate-password"], env, tmp_path
    )
    assert made.returncode == 0, made
    password = re.search(r"password \(shown once\): (\S+)", made.stdout)
    assert password is not None, made
    assert password.group(1) not in str(query(database, "SELECT * FROM users"))
    agent = [
        "users",
        "create",
        "ana",
        "--role",
        "agent",
        "--team",
        "billing",
        "--generate-password",
    ]
    assert run_cli(agent, env, tmp_path).returncode == 0
    again = run_cli(
        ["users", "create", "ana", "--role", "agent", "--generate-password"], env, tmp_path
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    piped = subprocess.run(
        [str(WINBACK), "users", "create", "eve", "--role", "analyst", "--password-stdin"],
        input=b"eve's long passphrase\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    no_tty = run_cli(["users", "create", "bo", "--role", "agent"], env, tmp_path)
    assert no_tty.returncode == 2
    assert "--password-stdin" in no_tty.stderr
    assert run_cli(["users", "set-role", "ana", "lead"], env, tmp_path).returncode == 0
    assert run_cli(["users", "disable", "ana"], env, tmp_path).returncode == 0
    listed = run_cli(["users", "list"], env, tmp_path).stdout
    assert re.search(r"ana\s+lead\s+billing\s+disabled", listed), listed
    assert re.search(r"root\s+admin\s+-\s+active", listed), listed

    key = run_cli(["keys", "create", "crm", "--scope", "events:write"], env, tmp_path)
    assert key.returncode == 0, key
    token = key.stdout.strip()
    assert token.startswith("wb_")
    assert token not in run_cli(["keys", "list"], env, tmp_path).stdout
    assert token not in str(query(database, "SELECT * FROM api_keys"))
    bad = run_cli(["keys", "create", "x", "--scope", "root"], env, tmp_path)
    assert bad.returncode == 1
    assert "unknown scope" in bad.stderr

    server = start_server(database)  # type: ignore[operator]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        event = {"id": "e1", "type": "complaint", "customer": {"id": "c1"}}
        assert client.post("/v1/events", json=event, headers=bearer).status_code == 202
        login = client.post("/v1/auth/login", json={"name": "root", "password": password.group(1)})
        assert login.status_code == 200, login.text
        eve = client.post(
            "/v1/auth/login", json={"name": "eve", "password": "eve's long passphrase"}
        )
        assert eve.json()["user"]["role"] == "analyst"
        assert run_cli(["keys", "revoke", "crm"], env, tmp_path).returncode == 0
        # Revoked in another process: refused once the server's key cache (5 s) has expired.
        import time

        deadline = time.monotonic() + 30
        status = 202
        while status != 401 and time.monotonic() < deadline:
            time.sleep(0.5)
            status = client.post("/v1/events", json=event, headers=bearer).status_code
        assert status == 401
    assert scalar(database, "SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'crm'") == 1


@pytest.mark.parametrize("secret", [None, "short", "changeme-changeme-changeme-changeme!"])
def test_serve_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    env = winback_env(tmp_path / "w.db")
    del env["WINBACK_SECRET_KEY"]
    if secret is not None:
        env["WINBACK_SECRET_KEY"] = secret
    result = run_cli(["serve"], env, tmp_path, timeout=60)
    assert result.returncode == 2, result
    assert "WINBACK_SECRET_KEY" in result.stderr
