"""Remedies and routing through the HTTP API, on SQLite and PostgreSQL: recommendations,
apply/approve/reject with idempotency and limits, agents and routing runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_runtime, build_stages
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.pipeline.processor import Processor
from winback.store.tables import case_timeline, cases, outbox, remedy_grants

from .support import as_user, authenticate, body, count, log_events, rows

LATE = "My parcel is late again and nobody answers. This is terrible service."


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "agents.yaml").write_text(
        "agents:\n"
        "  ana: {languages: [en], capacity: 2}\n"
        "  bo: {languages: [en], capacity: 2}\n"
        "  pt-only: {languages: [pt], capacity: 5}\n"
    )
    return directory


@pytest.fixture
def client(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        config_dir=config_dir,
        models_dir=tmp_path / "models",
        # The tests edit configuration files and act at once: look at them on every use.
        config_check_seconds=1e-6,
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    with authenticate(TestClient(create_app(container)), engine) as test_client:
        yield test_client


def process(engine: Engine, clock: FrozenClock, config_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    Processor(engine, build_stages(settings), clock).run_until_idle()


def case_of(engine: Engine, customer: str) -> Any:
    [row] = rows(engine, sa.select(cases).where(cases.c.customer_id == customer))
    return row


def act(
    client: TestClient,
    case_id: int,
    key: str | None = None,
    *,
    who: tuple[str, str] = ("ana", "agent"),
    **fields: Any,
) -> Any:
    """Post a case action as the user ``who`` = (name, role)."""
    engine = client.app.state.container.engine  # type: ignore[attr-defined]
    headers = as_user(engine, *who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/v1/cases/{case_id}/actions", json=fields, headers=headers)


def test_recommendations_rank_and_explain(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    log_events(
        engine,
        frozen_clock.now(),
        body("e1", "delivery.delayed", "c1", customer_fields={"value": 2500.0, "segment": "smb"}),
    )
    process(engine, frozen_clock, config_dir, tmp_path)
    case = case_of(engine, "c1")
    reply = client.get(f"/v1/cases/{case.id}/recommendations")
    assert reply.status_code == 200, reply.text
    data = reply.json()
    names = [r["remedy"] for r in data["recommendations"]]
    assert data["context"]["playbook_remedies"] == ["credit", "replacement"]
    assert names[0] in ("credit", "replacement")
    top = data["recommendations"][0]
    assert "recommended by the playbooks for this case" in top["reasons"]
    excluded = {e["remedy"]: e["reason"] for e in data["excluded"]}
    assert "fee_waiver" in excluded
    assert "billing" in excluded["fee_waiver"]
    assert client.get("/v1/cases/999999/recommendations").status_code == 404
    # Whose limits apply comes from the credential, not from the request.
    assert data["role"] == "agent"  # the admin grants no remedies: an agent's limits are shown
    as_lead = client.get(
        f"/v1/cases/{case.id}/recommendations", headers=as_user(engine, "li", "lead")
    )
    assert as_lead.json()["role"] == "lead"


def test_apply_approve_reject_idempotent_and_never_over_the_limit(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    log_events(engine, frozen_clock.now(), body("e1", "complaint", "c1", text=LATE))
    process(engine, frozen_clock, config_dir, tmp_path)
    case_id = case_of(engine, "c1").id
    # No idempotency key: refused, nothing applied.
    no_key = act(client, case_id, action="apply_remedy", remedy="credit")
    assert no_key.status_code == 422
    first = act(client, case_id, "k1", action="apply_remedy", remedy="credit", amount=30)
    assert first.status_code == 200, first.text
    assert [e["kind"] for e in first.json()["entries"]] == ["remedy.applied"]
    again = act(client, case_id, "k1", action="apply_remedy", remedy="credit", amount=30)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert count(engine, remedy_grants) == 1
    assert count(engine, outbox, outbox.c.topic == "remedy.applied") == 1
    [effect] = rows(engine, sa.select(outbox).where(outbox.c.topic == "remedy.applied"))
    assert effect.idempotency_key.startswith("remedy.applied:")
    assert effect.payload["amount"] == 30
    assert effect.payload["idempotency_key"] == "k1"
    # Above the agent's limit: sent for approval to a lead, not applied.
    big = act(client, case_id, "k2", action="apply_remedy", remedy="credit", amount=200)
    assert big.status_code == 200
    [entry] = big.json()["entries"]
    assert entry["kind"] == "remedy.approval_requested"
    assert entry["data"]["approver_role"] == "lead"
    grant_id = entry["data"]["grant_id"]
    assert count(engine, outbox, outbox.c.topic == "remedy.applied") == 1
    assert count(engine, outbox, outbox.c.topic == "remedy.approval_requested") == 1
    # An agent cannot approve; a lead can, once.
    denied = act(client, case_id, "k3", action="approve", who=("bo", "agent"), grant_id=grant_id)
    assert denied.status_code == 403
    assert denied.json()["error"] == "role_not_allowed"
    ok = act(client, case_id, "k4", action="approve", who=("li", "lead"), grant_id=grant_id)
    assert ok.status_code == 200, ok.text
    assert [e["kind"] for e in ok.json()["entries"]] == ["remedy.approved", "remedy.applied"]
    twice = act(client, case_id, "k5", action="approve", who=("li", "lead"), grant_id=grant_id)
    assert twice.status_code == 409
    assert count(engine, outbox, outbox.c.topic == "remedy.applied") == 2
    # The customer cap (300 per 90 days for credit): 30 + 200 given, 100 more is refused.
    capped = act(
        client,
        case_id,
        "k6",
        action="apply_remedy",
        who=("mo", "manager"),
        remedy="credit",
        amount=100,
    )
    assert capped.status_code == 409
    assert "customer cap" in capped.json()["message"]
    # Reject a pending request.
    pending = act(client, case_id, "k7", action="apply_remedy", remedy="refund", amount=40)
    pending_id = pending.json()["entries"][0]["data"]["grant_id"]
    rejected = act(
        client,
        case_id,
        "k8",
        action="reject",
        who=("li", "lead"),
        grant_id=pending_id,
        reason="no",
    )
    assert rejected.status_code == 200
    assert rejected.json()["entries"][0]["kind"] == "remedy.rejected"
    statuses = dict(rows(engine, sa.select(remedy_grants.c.id, remedy_grants.c.status)))
    assert sorted(statuses.values()) == ["applied", "applied", "rejected"]
    audit = [
        r.kind
        for r in rows(
            engine, sa.select(case_timeline.c.kind).where(case_timeline.c.case_id == case_id)
        )
    ]
    assert audit.count("remedy.applied") == 2
    assert "remedy.rejected" in audit
    unknown = act(client, case_id, "k9", action="apply_remedy", remedy="gold")
    assert unknown.status_code == 409


def test_routing_assigns_least_loaded_and_requeues_offline(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    en = {"language": "en"}
    log_events(
        engine,
        frozen_clock.now(),
        *[body(f"e{i}", "complaint", f"c{i}", customer_fields=en) for i in range(4)],
        body("p1", "complaint", "cp", customer_fields={"language": "pt"}),
    )
    process(engine, frozen_clock, config_dir, tmp_path)
    for name in ("ana", "bo", "pt-only"):  # an agent is a user (docs/routing.md)
        as_user(engine, name, "agent")
    run = client.post("/v1/routing/run").json()
    owners = {c.customer_id: c.owner for c in rows(engine, sa.select(cases))}
    assert owners["cp"] == "pt-only"
    en_owners = [owners[f"c{i}"] for i in range(4)]
    assert sorted(en_owners) == ["ana", "ana", "bo", "bo"]
    assert run["open_cases_per_agent"] == {"ana": 2, "bo": 2, "pt-only": 1}
    assigned = rows(engine, sa.select(case_timeline).where(case_timeline.c.kind == "case.assigned"))
    assert len(assigned) == 5
    assert all(r.actor == "system:routing" for r in assigned)
    # Ana goes offline; after the grace her cases go to whoever has room (a new agent).
    assert client.put("/v1/routing/agents/ana", json={"status": "offline"}).status_code == 200
    # Only a user can be put on the roster; creating an agent user adds them (available).
    assert client.put("/v1/routing/agents/cy", json={"capacity": 3}).status_code == 404
    as_user(engine, "cy", "agent")
    assert (
        client.put("/v1/routing/agents/cy", json={"languages": ["en"], "capacity": 3}).status_code
        == 200
    )
    early = client.post("/v1/routing/run", params={"grace_minutes": 15}).json()
    assert early["requeued"] == []
    assert early["assigned"] == []
    frozen_clock.advance(timedelta(minutes=16))
    later = client.post("/v1/routing/run", params={"grace_minutes": 15}).json()
    assert len(later["requeued"]) == 2
    assert {a["agent"] for a in later["assigned"]} == {"cy"}
    owners = {c.customer_id: c.owner for c in rows(engine, sa.select(cases))}
    assert "ana" not in owners.values()
    agents = {a["id"]: a for a in client.get("/v1/routing/agents").json()["agents"]}
    assert agents["ana"]["status"] == "offline"
    assert agents["cy"]["capacity"] == 3


def test_a_playbook_team_limits_routing_to_its_members(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    (config_dir / "teams.yaml").write_text("teams:\n  vip-desk: {members: [bo]}\n")
    (config_dir / "playbooks").mkdir()
    (config_dir / "playbooks" / "vip.yaml").write_text(
        "playbook: vip\nversion: 1\nrules:\n"
        "  - name: vip\n    when: {event.type: complaint, customer.segment: vip}\n"
        "    then: {priority: P2, assign: {team: vip-desk}}\n"
        "  - name: rest\n    when: {event.type: complaint}\n    then: {priority: P3}\n"
    )
    vip = {"segment": "vip", "language": "en"}
    log_events(
        engine,
        frozen_clock.now(),
        body("v1", "complaint", "v1", customer_fields=vip, channel="chat"),
        body("v2", "complaint", "v2", customer_fields=vip, channel="chat"),
        body("r1", "complaint", "r1", customer_fields={"language": "en"}),
    )
    process(engine, frozen_clock, config_dir, tmp_path)
    for name in ("ana", "bo"):
        as_user(engine, name, "agent")
    run = client.post("/v1/routing/run").json()
    owners = {c.customer_id: c.owner for c in rows(engine, sa.select(cases))}
    assert owners["v1"] == owners["v2"] == "bo"
    assert owners["r1"] == "ana"
    assert run["open_cases_per_agent"]["bo"] == 2


def test_the_routing_loop_assigns_without_being_asked(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    import threading
    import time

    from winback.bootstrap import build_workers

    log_events(engine, frozen_clock.now(), body("e1", "complaint", "c1"))
    process(engine, frozen_clock, config_dir, tmp_path)
    settings = load_settings(
        config_dir=config_dir, models_dir=tmp_path / "models", routing_interval_seconds=0.05
    )
    stop = threading.Event()
    [routing] = [
        w for w in build_workers(settings, engine, stop, clock=frozen_clock) if "routing" in w.name
    ]
    routing.start()
    try:
        deadline = time.monotonic() + 30
        while case_of(engine, "c1").owner is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        routing.stop()
    assert case_of(engine, "c1").owner in {"ana", "bo"}
    assert routing.health()["rounds"] >= 1
    off = load_settings(models_dir=tmp_path / "models", routing_interval_seconds=0)
    assert not [w for w in build_workers(off, engine, stop) if "routing" in w.name]
