"""Every mutation the services make today leaves one audit record, written in its transaction,
read back through ``GET /v1/audit`` (SQLite and PostgreSQL): case actions, remedies, roster
changes and routing; a replayed or refused request leaves none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_runtime, build_stages
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.services.cases import perform_action
from winback.store.audit import verify
from winback.store.tables import audit_log, cases

from .support import as_user, body, count, log_events, rows

LATE = "My parcel is late again and nobody answers. This is terrible service."


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "agents.yaml").write_text("agents:\n  ana: {languages: [en], capacity: 2}\n")
    return directory


@pytest.fixture
def client(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        config_dir=config_dir,
        models_dir=tmp_path / "models",
        config_check_seconds=1e-6,
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    with TestClient(create_app(container)) as test_client:
        yield test_client


def open_case(engine: Engine, clock: FrozenClock, config_dir: Path, tmp_path: Path) -> int:
    log_events(engine, clock.now(), body("e1", "complaint", "cus-9", text=LATE))
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    Processor(engine, build_stages(settings), clock).run_until_idle()
    [row] = rows(engine, sa.select(cases.c.id).where(cases.c.customer_id == "cus-9"))
    return int(row.id)


def act(client: TestClient, case_id: int, key: str | None = None, **fields: Any) -> Any:
    """A case action by ``actor`` ("agent:ana": the user ana, an agent), through a session."""
    role, _, name = str(fields.pop("actor")).partition(":")
    fields.pop("role", None)  # the role is the user's, never the body's
    engine = client.app.state.container.engine  # type: ignore[attr-defined]
    headers = as_user(engine, name, role)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/v1/cases/{case_id}/actions", json=fields, headers=headers)


def admin(client: TestClient) -> dict[str, str]:
    return as_user(client.app.state.container.engine, "root", "admin")  # type: ignore[attr-defined]


def people(client: TestClient, *who: tuple[str, str]) -> None:
    """Create these users now (each creation is an audit record of its own)."""
    for name, role in who:
        as_user(client.app.state.container.engine, name, role)  # type: ignore[attr-defined]


def audit(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    reply = client.get("/v1/audit", params=query, headers=admin(client))
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def chain_ok(engine: Engine) -> bool:
    with engine.connect() as conn:
        return verify(conn).ok


def test_case_actions_are_audited_once_with_what_changed(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    case_id = open_case(engine, frozen_clock, config_dir, tmp_path)
    assert count(engine, audit_log) == 0  # the processor's own changes are not agents' actions
    frozen_clock.advance(timedelta(minutes=1))
    people(client, ("ana", "agent"), ("li", "lead"))  # their creation is audited too
    assert act(client, case_id, "a1", action="acknowledge", actor="agent:ana").status_code == 200
    assign = {"action": "assign", "actor": "lead:li", "owner": "ana", "reason": "cus-9 is VIP"}
    assert act(client, case_id, "a2", **assign).status_code == 200
    replay = act(client, case_id, "a2", **assign)
    assert replay.json()["replayed"] is True
    refused = act(client, case_id, "a3", action="resolve", actor="agent:ana")  # no outcome
    assert refused.status_code == 422
    assert act(client, case_id, None, action="note", actor="agent:ana", text="x").status_code == 200

    records = [r for r in audit(client, order="asc") if r["action"].startswith("case.")]
    assert [r["action"] for r in records] == ["case.acknowledge", "case.assign", "case.note"]
    ack, assigned, note = records
    assert ack["before"] == {"status": "new"}
    assert ack["after"] == {"status": "acknowledged"}
    assert ack["credential"] == "session"
    assert ack["subject_type"] == "case"
    assert ack["subject_id"] == str(case_id)
    assert ack["customer_id"] == "cus-9"
    assert ack["at"].startswith("2026-11-24T09:31:00")
    assert assigned["actor"] == "user:li"
    assert assigned["before"] == {"owner": None}
    assert assigned["after"] == {"owner": "ana"}
    assert assigned["personal"] == {"reason": "cus-9 is VIP"}
    assert note["before"] == {}
    assert assigned["details"]["version"] < note["details"]["version"]
    assert chain_ok(engine)


def test_remedies_are_audited_with_amount_and_decision(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    case_id = open_case(engine, frozen_clock, config_dir, tmp_path)
    people(client, ("ana", "agent"), ("bo", "agent"), ("li", "lead"))
    apply = {"action": "apply_remedy", "actor": "agent:ana", "remedy": "credit", "amount": 30}
    assert act(client, case_id, "r1", **apply).status_code == 200
    assert act(client, case_id, "r1", **apply).json()["replayed"] is True
    big = act(client, case_id, "r2", **{**apply, "amount": 200})
    grant_id = big.json()["entries"][0]["data"]["grant_id"]
    denied = act(client, case_id, "r3", action="approve", actor="agent:bo", grant_id=grant_id)
    assert denied.status_code == 403
    approve = {"action": "approve", "actor": "lead:li", "role": "lead", "grant_id": grant_id}
    assert act(client, case_id, "r4", **approve).status_code == 200
    pending = act(client, case_id, "r5", **{**apply, "remedy": "refund", "amount": 40})
    pending_id = pending.json()["entries"][0]["data"]["grant_id"]
    reject = {
        "action": "reject",
        "actor": "lead:li",
        "role": "lead",
        "grant_id": pending_id,
        "reason": "already refunded",
    }
    assert act(client, case_id, "r6", **reject).status_code == 200

    records = [r for r in audit(client, order="asc") if r["action"].startswith("remedy.")]
    assert [(r["action"], r["details"]["decision"], r["details"]["amount"]) for r in records] == [
        ("remedy.apply", "applied", 30),
        ("remedy.apply", "pending_approval", 200),
        ("remedy.approve", "applied", 200),
        ("remedy.apply", "pending_approval", 40),
        ("remedy.reject", "rejected", 40),
    ]
    approved = records[2]
    assert approved["subject_type"] == "remedy_grant"
    assert approved["subject_id"] == str(grant_id)
    assert approved["before"] == {"status": "pending_approval"}
    assert approved["after"] == {"status": "applied"}
    assert approved["details"]["role"] == "lead"
    assert records[1]["details"]["approver_role"] == "lead"
    assert records[4]["personal"] == {"reason": "already refunded"}
    applied = [r["seq"] for r in records if r["action"] == "remedy.apply"]
    assert [r["seq"] for r in audit(client, action="remedy.apply")] == applied[::-1]
    assert chain_ok(engine)


def test_roster_changes_and_routing_are_audited(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    people(client, ("bo", "agent"))  # an agent is a user: the roster changes only for one
    lead = as_user(engine, "li", "lead")

    def roster(**spec: Any) -> int:
        return client.put("/v1/routing/agents/bo", json=spec, headers=lead).status_code

    assert roster(capacity=3, languages=["en"]) == 200
    assert roster(capacity=3) == 200  # no change: no record
    assert roster(capacity=5) == 200
    created, changed = audit(client, action="roster.update", order="asc")
    # Creating the user put bo on the roster; the lead's first change is what it changed.
    assert created["details"] == {"created": False}
    assert created["after"]["capacity"] == 3
    assert created["after"]["languages"] == ["en"]
    assert created["actor"] == "user:li"
    assert changed["before"] == {"capacity": 3}
    assert changed["after"] == {"capacity": 5}

    case_id = open_case(engine, frozen_clock, config_dir, tmp_path)
    run = client.post("/v1/routing/run", headers=lead)
    assert run.status_code == 200, run.text
    [assigned] = audit(client, action="case.assign")
    assert assigned["actor"] == "system:routing"
    assert assigned["credential"] == "system"
    assert assigned["subject_id"] == str(case_id)
    assert chain_ok(engine)


def test_the_audit_api_filters_and_pages_by_sequence(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock
) -> None:
    people(client, *((f"a{i}", "agent") for i in range(7)))
    lead = as_user(engine, "li", "lead")
    for i in range(7):
        frozen_clock.advance(timedelta(minutes=1))
        put = client.put(f"/v1/routing/agents/a{i}", json={"capacity": i}, headers=lead)
        assert put.status_code == 200
    s = [r["seq"] for r in audit(client, action="roster.update", order="asc")]  # 7, ascending
    assert len(s) == 7

    def page(**query: Any) -> Any:
        return client.get(
            "/v1/audit", params={"action": "roster.update", **query}, headers=admin(client)
        ).json()

    first = page(limit=3)
    assert [r["seq"] for r in first["items"]] == [s[6], s[5], s[4]]
    assert first["next_cursor"] == s[4]
    second = page(limit=3, cursor=s[4])
    assert [r["seq"] for r in second["items"]] == [s[3], s[2], s[1]]
    last = page(limit=3, cursor=s[1])
    assert [r["seq"] for r in last["items"]] == [s[0]]
    assert last["next_cursor"] is None
    asc = page(order="asc", limit=2, cursor=s[1])
    assert [r["seq"] for r in asc["items"]] == [s[2], s[3]]
    subject = audit(client, subject_type="agent", subject_id="a3")
    assert [r["seq"] for r in subject] == [s[3]]
    window = audit(
        client,
        action="roster.update",
        since="2026-11-24T09:33:00Z",
        until="2026-11-24T09:35:00+00:00",
    )
    assert [r["seq"] for r in window] == [s[3], s[2]]
    assert audit(client, actor="user:nobody") == []
    for bad in ({"since": "2026-11-24T09:33:00"}, {"bogus": "1"}, {"cursor": 0}, {"limit": 501}):
        assert client.get("/v1/audit", params=bad, headers=admin(client)).status_code == 422


REMEDIES = """
roles:
  agent: {max_tier: 1, max_amount: 50}
remedies:
  goodwill: {kind: credit, label: Goodwill credit, tier: 1, default_amount: 20, max_amount: 50}
"""


def test_configuration_reloads_and_refusals_are_audited(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        config_dir=config_dir,
        models_dir=tmp_path / "models",
        config_check_seconds=1e-6,
    )
    runtime = build_runtime(settings, frozen_clock)
    runtime.engine.dispose()
    runtime.engine = engine
    remedies = config_dir / "remedies.yaml"
    try:
        assert "credit" in runtime.sources.remedies.get().remedies  # the shipped defaults
        remedies.write_text(REMEDIES)
        assert set(runtime.sources.remedies.get().remedies) == {"goodwill"}
        remedies.write_text(REMEDIES + "  broken: {kind: credit\n")
        runtime.sources.remedies.get()
        runtime.sources.remedies.get()  # the same broken file again: no second record
        runtime.config_audit.flush()
    finally:
        runtime.config_audit.close()
    with engine.connect() as conn:
        reloaded, refused = (r._mapping for r in conn.execute(sa.select(audit_log)))
        assert verify(conn).ok
    assert reloaded["action"] == "config.reload"
    assert refused["action"] == "config.refused"
    assert reloaded["actor"] == "system:winback"
    assert reloaded["credential"] == "system"
    assert reloaded["subject_type"] == "config"
    assert reloaded["subject_id"] == "remedies.yaml"
    details = orjson.loads(reloaded["details"])
    assert details["files"] == [
        {
            "path": str(remedies),
            "size": len(REMEDIES),
            "sha256": hashlib.sha256(REMEDIES.encode()).hexdigest(),
        }
    ]
    assert "remedies.yaml" in orjson.loads(refused["details"])["error"]


def test_concurrent_case_actions_keep_one_chain(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    """Case actions on eight threads, on the same and on different cases: each takes the case
    row first and the chain's lock last, so none deadlocks and the chain verifies."""
    customers = [f"c{i}" for i in range(4)]
    log_events(engine, frozen_clock.now(), *[body(f"e{c}", "complaint", c) for c in customers])
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    Processor(engine, build_stages(settings), frozen_clock).run_until_idle()
    case_ids = [int(r.id) for r in rows(engine, sa.select(cases.c.id))]
    sla = build_runtime(settings, frozen_clock).sources.sla.get()

    def note(i: int) -> None:
        params = {"text": f"note {i}"}
        who = Principal(kind="user", name=f"a{i % 3}", role="agent", credential="session")
        perform_action(engine, frozen_clock, sla, case_ids[i % 4], "note", who, params)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(note, range(80)))
    assert count(engine, audit_log) == 80
    assert chain_ok(engine)
