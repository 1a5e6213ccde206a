"""The audit trail end to end: `winback serve` (API process and processing process), an agent's
action and an edited configuration file over real processes, `winback audit verify` and
`winback audit list` as the installed command, and tampering with the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._support import Server, deadline_wait, run_cli, winback_env

pytestmark = pytest.mark.slow

SLA_YAML = """
calendars:
  office: {timezone: Europe/Berlin, hours: 24/7}
policies:
  - name: normal
    calendar: office
    targets: {first_response: 1h, resolution: 1d}
"""


def wait_case(client: httpx.Client, customer: str) -> dict[str, Any]:
    def found() -> Any:
        items = client.get("/v1/cases", params={"customer": customer}).json()["items"]
        return items[0] if items else None

    case: dict[str, Any] = deadline_wait(found, timeout=60, message=f"no case for {customer}")
    return case


def test_actions_and_reloads_are_audited_and_verify_catches_tampering(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "sla.yaml").write_text(SLA_YAML)
    server = start_server(config_dir=config, config_check_seconds=0.2)
    env = winback_env(server.database, config_dir=config)
    with server.client() as client:
        event = {"id": "a-1", "type": "complaint", "customer": {"id": "cus-a"}}
        assert client.post("/v1/events", json=event).status_code == 202
        case_id = wait_case(client, "cus-a")["id"]
        assign = {"action": "assign", "owner": "ana"}
        assert client.post(f"/v1/cases/{case_id}/actions", json=assign).status_code == 200

        # An edit reaches both processes; each records its own reload.
        (config / "sla.yaml").write_text(SLA_YAML.replace("1h", "2h"))

        def reloads() -> list[dict[str, Any]]:
            client.get(f"/v1/cases/{case_id}")  # the API reads sla.yaml here
            more = {"id": f"b-{len(seen)}", "type": "complaint", "customer": {"id": "cus-b"}}
            seen.append(client.post("/v1/events", json=more).status_code)  # the processor
            items: list[dict[str, Any]] = client.get(
                "/v1/audit", params={"action": "config.reload"}
            ).json()["items"]
            processes = {r["details"]["process"] for r in items}
            return items if len(processes) >= 2 else []

        seen: list[int] = []
        records = deadline_wait(reloads, timeout=60, message="a reload recorded by each process")
        assert {r["subject_id"] for r in records} == {"sla.yaml"}
        digest = records[0]["details"]["files"][0]["sha256"]
        assert len(digest) == 64
        [assigned] = client.get("/v1/audit", params={"action": "case.assign"}).json()["items"]
        assert assigned["actor"] == f"key:e2e-admin-{server.port}"  # from the credential
        assert assigned["credential"].startswith("key:")
        assert assigned["after"] == {"owner": "ana"}

    intact = run_cli(["audit", "verify"], env, tmp_path)
    assert intact.returncode == 0, intact
    assert "intact" in intact.stdout
    listed = run_cli(["audit", "list", "--action", "case.assign", "--json"], env, tmp_path)
    assert json.loads(listed.stdout.splitlines()[0])["subject_id"] == str(case_id), listed

    server.stop()
    with sqlite3.connect(server.database) as conn:
        conn.execute("UPDATE audit_log SET actor = 'lead:mallory' WHERE action = 'case.assign'")
        seq = conn.execute("SELECT seq FROM audit_log WHERE action = 'case.assign'").fetchone()[0]
    broken = run_cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1, broken
    assert f"broken at record {seq}" in broken.stderr
