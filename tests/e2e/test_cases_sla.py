"""Cases and SLA clocks end to end: `winback serve` over HTTP, its timer service, the CLI.

Deadlines here are seconds away so the tests can watch real timers fire. The service's design
target is a firing delay under 1 s (measured by bench/timers.py); these tests allow 2 s so a
loaded 2-core machine does not make them flaky.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._support import (
    Server,
    deadline_wait,
    log_tail,
    query,
    run_cli,
    scalar,
    start_worker,
    winback_env,
)

pytestmark = pytest.mark.slow

FIRING_MARGIN_S = 2.0

SLA_YAML = """
calendars:
  office:
    timezone: Europe/Berlin
    hours: 24/7
policies:
  - name: urgent
    when: {priority: [P1, P2]}
    calendar: office
    targets: {first_response: 3s, resolution: 6s}
    warning_at: 50%
    escalations:
      - {after: 0m, notify: lead}
      - {after: 1s, raise_priority: true, reassign: team-lead}
  - name: normal
    calendar: office
    targets: {first_response: 1h, next_response: 2h, resolution: 1d}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "sla.yaml").write_text(SLA_YAML)
    return directory


@pytest.fixture
def sla_server(start_server: Callable[..., Server], config_dir: Path) -> Server:
    return start_server(config_dir=config_dir)


def complaint(event_id: str, customer: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "type": "complaint", "customer": {"id": customer}, **fields}


def cancellation(event_id: str, customer: str) -> dict[str, Any]:
    # subscription.cancelled opens a P2 case: the "urgent" policy with second-long targets.
    return {"id": event_id, "type": "subscription.cancelled", "customer": {"id": customer}}


def wait_case(client: httpx.Client, customer: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        items = client.get("/v1/cases", params={"customer": customer}).json()["items"]
        return items[0] if items else None

    case: dict[str, Any] = deadline_wait(found, timeout=60, message=f"no case for {customer}")
    return case


def action(client: httpx.Client, case_id: int, name: str, **fields: Any) -> httpx.Response:
    headers = {}
    if "key" in fields:
        headers["Idempotency-Key"] = fields.pop("key")
    return client.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": name, **fields},
        headers=headers,
    )


def fired(database: Path, case_id: int, kind: str) -> list[Any]:
    return query(
        database,
        "SELECT metric, kind, level, due_at, fired_at FROM sla_timers "
        "WHERE case_id = ? AND kind = ? AND fired_at IS NOT NULL ORDER BY due_at",
        (case_id, kind),
    )


def delay_s(row: Any) -> float:
    return (
        datetime.fromisoformat(row["fired_at"]) - datetime.fromisoformat(row["due_at"])
    ).total_seconds()


def test_actions_over_http_and_the_case_view(sla_server: Server) -> None:
    with sla_server.client() as client:
        assert client.post("/v1/events", json=complaint("a-1", "cus-a")).status_code == 202
        case = wait_case(client, "cus-a")
        cid = case["id"]

        refused = action(client, cid, "close")
        assert refused.status_code == 409
        body = refused.json()
        assert body["error"] == "illegal_transition"  # the specific code
        assert body["message"].startswith("cannot close a case that is new")
        assert "acknowledge" in body["allowed"]

        bad = action(client, cid, "assign")
        assert bad.status_code == 422
        assert bad.json()["message"] == "owner: required for this action"
        assert action(client, 999_999, "note", text="x").status_code == 404
        unknown = client.post(f"/v1/cases/{cid}/actions", json={"action": "fly"})
        assert unknown.status_code == 422

        first = action(client, cid, "assign", owner="ana", key="assign-1")
        again = action(client, cid, "assign", owner="ana", key="assign-1")
        assert first.status_code == again.status_code == 200
        assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
        assert action(client, cid, "assign", owner="ben", key="assign-1").status_code == 409

        assert action(client, cid, "acknowledge").json()["case"]["status"] == "acknowledged"
        reply = action(client, cid, "reply", text="We are on it.")
        assert reply.json()["case"]["status"] == "in_progress"
        assert [e["kind"] for e in reply.json()["entries"]] == ["case.reply", "case.status_changed"]

        detail = client.get(f"/v1/cases/{cid}").json()
        assert detail["owner"] == "ana"
        assert "wait_on_customer" in detail["allowed_actions"]
        # Only the case's own entries (other stages, e.g. playbooks, add theirs).
        kinds = [e["kind"] for e in detail["timeline"] if e["kind"].startswith("case.")]
        assert kinds == [
            "case.opened",
            "case.assigned",
            "case.status_changed",
            "case.reply",
            "case.status_changed",
        ]
        sla = detail["sla"]
        assert sla["policy"] == "normal"
        [first_response] = sla["measurements"]
        assert first_response["metric"] == "first_response"
        assert first_response["outcome"] == "met"
        assert first_response["wall_s"] >= 0
        assert {r["metric"] for r in sla["running"]} == {"resolution"}
        assert sla["running"][0]["due_at"] is not None

        action(client, cid, "wait_on_customer")
        paused = client.get(f"/v1/cases/{cid}").json()["sla"]
        assert paused["paused_since"] is not None
        assert paused["running"][0]["due_at"] is None


def test_the_timer_service_in_serve_fires_warnings_breaches_and_escalations(
    sla_server: Server,
) -> None:
    with sla_server.client() as client:
        assert client.post("/v1/events", json=cancellation("b-1", "cus-b")).status_code == 202
        cid = wait_case(client, "cus-b")["id"]

        def escalated() -> bool:
            return len(fired(sla_server.database, cid, "escalation")) >= 4

        deadline_wait(escalated, timeout=30, message=lambda: sla_server.output())
        detail = client.get(f"/v1/cases/{cid}").json()
    for kind in ("warning", "breach", "escalation"):
        for row in fired(sla_server.database, cid, kind):
            assert 0 <= delay_s(row) <= FIRING_MARGIN_S, (kind, dict(row))
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("sla.breached") == 2  # first response and resolution
    assert detail["priority"] == "P1"  # raised by escalation level 2
    assert detail["owner"] == "team-lead"
    # Every escalation reaches the outbox; two of them name people to notify.
    escalations = "SELECT count(*) FROM outbox WHERE topic = 'sla.escalation'"
    assert scalar(sla_server.database, escalations) == 4
    notified = escalations + " AND json_extract(payload, '$.notify') = 'lead'"
    assert scalar(sla_server.database, notified) == 2


def test_overdue_timers_fire_once_after_a_restart(sla_server: Server) -> None:
    with sla_server.client() as client:
        assert client.post("/v1/events", json=cancellation("c-1", "cus-c")).status_code == 202
        cid = wait_case(client, "cus-c")["id"]
    sla_server.stop()
    time.sleep(7)  # every deadline of the case passes while nothing runs
    sla_server.start()
    deadline_wait(
        lambda: len(fired(sla_server.database, cid, "escalation")) >= 4,
        timeout=30,
        message=lambda: sla_server.output(),
    )
    sla_server.stop()
    sla_server.start()
    time.sleep(1.5)
    assert (
        scalar(
            sla_server.database,
            "SELECT count(*) FROM case_timeline WHERE case_id = ? AND kind = 'sla.breached'",
            (cid,),
        )
        == 2
    )


def test_a_broken_sla_yaml_stops_serve_with_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "sla.yaml").write_text("policies:\n  - name: x\n    targets: {first_reply: 1h}\n")
    env = winback_env(tmp_path / "w.db", config_dir=tmp_path)
    result = run_cli(["serve"], env, tmp_path, timeout=60)
    assert result.returncode == 2, result
    assert "sla.yaml: policies[0].targets.first_reply: not one of" in result.stderr
    check = run_cli(["sla", "check"], env, tmp_path)
    assert check.returncode == 2
    (tmp_path / "sla.yaml").write_text(SLA_YAML)
    check = run_cli(["sla", "check"], env, tmp_path)
    assert check.returncode == 0, check
    assert "policy urgent (office): first_response 3s, resolution 6s" in check.stdout


def test_sla_recompute_after_editing_the_policy(
    start_server: Callable[..., Server], config_dir: Path
) -> None:
    server = start_server(config_dir=config_dir)
    with server.client() as client:
        client.post("/v1/events", json=complaint("d-1", "cus-d"))
        cid = wait_case(client, "cus-d")["id"]
    server.stop()
    (config_dir / "sla.yaml").write_text(
        SLA_YAML.replace("first_response: 1h", "first_response: 5h")
    )
    env = winback_env(server.database, config_dir=config_dir)
    result = run_cli(["sla", "recompute"], env, config_dir)
    assert result.returncode == 0, result
    assert "recomputed the SLA deadlines of 1 open case(s)" in result.stdout
    [row] = query(
        server.database,
        "SELECT c.opened_at, t.due_at FROM sla_timers t JOIN cases c ON c.id = t.case_id "
        "WHERE t.case_id = ? AND t.metric = 'first_response' AND t.kind = 'breach'",
        (cid,),
    )
    opened, due = (datetime.fromisoformat(row[k]) for k in ("opened_at", "due_at"))
    assert abs((due - opened).total_seconds() - 5 * 3600) < 5


def test_winback_worker_runs_the_timer_service(
    start_server: Callable[..., Server], config_dir: Path, tmp_path: Path
) -> None:
    server = start_server(config_dir=config_dir, processor="off")
    env = winback_env(server.database, config_dir=config_dir)
    log_path = tmp_path / "worker.log"
    worker = start_worker(env, tmp_path, log_path)
    try:
        with server.client() as client:
            assert client.post("/v1/events", json=cancellation("w-1", "cus-w")).status_code == 202
            cid = wait_case(client, "cus-w")["id"]
        deadline_wait(
            lambda: len(fired(server.database, cid, "breach")) >= 1,
            timeout=30,
            message=lambda: log_tail(log_path),
        )
        [row] = fired(server.database, cid, "breach")[:1]
        assert 0 <= delay_s(row) <= FIRING_MARGIN_S
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log_tail(log_path)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
