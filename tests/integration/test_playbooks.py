"""Playbooks in the processor (through the composition root) and ``winback rules dry-run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from winback.bootstrap import build_stages
from winback.cli import app
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.pipeline.processor import Processor
from winback.store.tables import case_timeline, cases, metadata, outbox

from .support import body, log_events, nps

LATE = "My parcel is late again and nobody answers. This is terrible service."
CANCEL = "I will cancel my subscription if this is not fixed today, awful"


def run_processor(engine: Engine, clock: FrozenClock, config_dir: Path | None = None) -> None:
    settings = load_settings(
        database_url=str(engine.url), config_dir=config_dir, models_dir=Path("/nonexistent")
    )
    processor = Processor(engine, build_stages(settings), clock)
    while processor.run_once().processed:
        pass


def all_cases(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.customer_id: r for r in conn.execute(sa.select(cases))}


def test_default_playbooks_open_cases_the_builtin_rule_ignored(
    sqlite_engine: Engine, frozen_clock: FrozenClock
) -> None:
    now = frozen_clock.now()
    log_events(
        sqlite_engine,
        now,
        body("e1", "message", "c-late", text=LATE),
        body("e2", "message", "c-cancel", text=CANCEL, channel="email"),
        body("e3", "refund.requested", "c-refund", amount=20.0, currency="EUR"),
        body("e4", "delivery.delayed", "c-delay"),
        body("e5", "message", "c-happy", text="Thanks, all good"),
        nps("e6", 2, "c-nps"),
    )
    run_processor(sqlite_engine, frozen_clock)
    found = all_cases(sqlite_engine)
    assert set(found) == {"c-late", "c-cancel", "c-refund", "c-delay", "c-nps"}
    assert found["c-late"].decided_by == "playbook:signals@2/negative-message"
    assert found["c-late"].category == "delivery"
    assert found["c-cancel"].priority == "P2"
    assert found["c-cancel"].severity == "high"
    assert found["c-nps"].priority == "P2"
    assert found["c-refund"].category == "billing"
    with sqlite_engine.connect() as conn:
        entries = conn.execute(
            sa.select(case_timeline.c.kind, case_timeline.c.data).where(
                case_timeline.c.case_id == found["c-cancel"].id
            )
        ).all()
        acks = conn.execute(
            sa.select(outbox.c.payload).where(outbox.c.topic == "case.acknowledgement")
        ).all()
    assert [e.kind for e in entries] == ["case.opened"]  # one entry per event
    applied = entries[0].data["playbook"]
    assert "escalations/cancellation-intent" in applied["rules"]
    assert applied["handoff"] == ["cancellation intent"]
    assert applied["remedies"][:2] == ["loyalty_offer", "callback"]
    ack = {a.payload["customer_id"]: a.payload for a in acks}
    assert ack["c-cancel"]["template"] == "default"
    assert ack["c-cancel"]["channel"] == "email"
    assert ack["c-cancel"]["case_id"] == found["c-cancel"].id
    assert ack["c-delay"]["template"] == "delivery_delay"


def write_playbook(config_dir: Path, text: str) -> Path:
    (config_dir / "playbooks").mkdir(parents=True, exist_ok=True)
    path = config_dir / "playbooks" / "custom.yaml"
    path.write_text(text)
    return config_dir


def test_config_playbooks_assign_hold_out_and_suppress(
    sqlite_engine: Engine, frozen_clock: FrozenClock, tmp_path: Path
) -> None:
    config = write_playbook(
        tmp_path,
        """
playbook: custom
version: 4
mode: first_match
rules:
  - name: strategic-accounts
    when: {customer.segment: strategic}
    then: {suppress: true, case: none}
  - name: complaints
    when: {event.type: complaint}
    then: {priority: P2, severity: medium, assign: {agent: ana}, control: 0.5}
""",
    )
    bodies = [
        body(f"e{i}", "complaint", f"c{i}", text="bad", customer_fields={"segment": "smb"})
        for i in range(40)
    ]
    bodies.append(body("s1", "complaint", "vip", customer_fields={"segment": "strategic"}))
    log_events(sqlite_engine, frozen_clock.now(), *bodies)
    run_processor(sqlite_engine, frozen_clock, config)
    found = all_cases(sqlite_engine)
    with sqlite_engine.connect() as conn:
        held = conn.execute(
            sa.select(outbox.c.payload).where(outbox.c.topic == "playbook.holdout")
        ).all()
    held_customers = {h.payload["customer_id"] for h in held}
    assert "vip" not in found
    assert "vip" not in held_customers
    assert held_customers
    assert found
    assert held_customers.isdisjoint(found)
    assert held_customers | set(found) == {f"c{i}" for i in range(40)}
    assert all(h.payload["rule"] == "custom/complaints" for h in held)
    for case in found.values():
        assert (case.owner, case.priority, case.severity) == ("ana", "P2", "medium")
        assert case.decided_by == "playbook:custom@4/complaints"
    with sqlite_engine.connect() as conn:
        assigned = conn.execute(
            sa.select(case_timeline.c.case_id, case_timeline.c.data).where(
                case_timeline.c.kind == "case.assigned"
            )
        ).all()
    # Every assignment is on the timeline, once per case.
    assert len(assigned) == len(found)
    assert len({a.case_id for a in assigned}) == len(found)
    assert all(a.data["owner"] == "ana" for a in assigned)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr)
            for name, table in metadata.tables.items()
        }


def test_dry_run_over_the_event_log_changes_nothing(
    sqlite_engine: Engine,
    frozen_clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime, timedelta

    recent = datetime.now(UTC) - timedelta(days=2)
    at = recent.isoformat()
    log_events(
        sqlite_engine,
        frozen_clock.now(),
        body("d1", "complaint", "c1", text=LATE, occurred_at=at),
        body("d2", "complaint", "c1", text=LATE, occurred_at=at),
        body("d3", "payment.failed", "c2", occurred_at=at),
        body("d4", "usage", "c3", occurred_at=at),
        nps("d5", 1, "c4", occurred_at=at),
        body("old", "complaint", "c5", occurred_at=(recent - timedelta(days=60)).isoformat()),
    )
    before = snapshot(sqlite_engine)
    monkeypatch.setenv("WINBACK_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("WINBACK_MODELS_DIR", str(tmp_path / "models"))
    result = CliRunner().invoke(app, ["rules", "dry-run", "--since", "30d", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert snapshot(sqlite_engine) == before  # nothing written, not even the processor cursor
    assert report["events"] == 5  # the 60-day-old event is outside the window
    assert report["cases_opened"] == 3
    assert report["signals_attached"] == 1
    rules = {r["rule"]: r for r in report["rules"]}
    assert rules["signals/complaint"]["cases_opened"] == 1
    assert rules["signals/complaint"]["matched"] == 2
    assert rules["escalations/repeated-complaints"]["matched"] == 1
    assert rules["signals/payment-failed"]["priorities"] == {"P3": 1}
    assert rules["signals/payment-failed"]["remedies"] == {"fee_waiver": 1}
    assert rules["signals/payment-failed"]["cost"] == 15.0
    assert rules["signals/nps-detractor-severe"]["priorities"] == {"P2": 1}
    assert report["cost"] == pytest.approx(15.0 + 8.0)  # fee waiver + the detractor's callback
    text = CliRunner().invoke(app, ["rules", "dry-run", "--since", "30d"])
    assert text.exit_code == 0
    assert "nothing was changed" in text.stdout


def test_dry_run_from_a_file_and_argument_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINBACK_MODELS_DIR", str(tmp_path / "models"))
    path = tmp_path / "events.jsonl"
    records = [
        body("f1", "delivery.delayed", "a", occurred_at="2026-01-01T10:00:00Z"),
        body("f2", "message", "b", text=LATE, occurred_at="2026-01-01T11:00:00Z"),
        body("f3", "login", "b", occurred_at="2026-01-01T12:00:00Z"),
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")
    result = CliRunner().invoke(app, ["rules", "dry-run", "--events", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["events"] == 3
    assert report["cases_opened"] == 2
    assert report["acknowledgements"] == 1  # the delivery delay's acknowledgement
    both = CliRunner().invoke(app, ["rules", "dry-run", "--events", str(path), "--since", "3d"])
    assert both.exit_code == 2
    bad = CliRunner().invoke(app, ["rules", "dry-run", "--since", "soon"])
    assert bad.exit_code == 2


def test_rules_check(tmp_path: Path) -> None:
    ok = CliRunner().invoke(app, ["rules", "check", "--config-dir", str(tmp_path)])
    assert ok.exit_code == 0
    assert "signals@2,escalations@2" in ok.stdout
    write_playbook(
        tmp_path,
        "playbook: c\nversion: 1\nrules:\n  - name: a\n    when: {event.type: complaint}\n"
        "    then: {sla_policy: nope, remedies: [bogus], priorty: P1}\n",
    )
    bad = CliRunner().invoke(app, ["rules", "check", "--config-dir", str(tmp_path)])
    assert bad.exit_code == 2
    assert "custom.yaml:6: rules[0].then.priorty: unknown field" in bad.output.replace("\n", " ")


def test_a_playbook_names_the_sla_policy_and_it_sticks(
    sqlite_engine: Engine, frozen_clock: FrozenClock, tmp_path: Path
) -> None:
    from winback.identity import Principal
    from winback.services.cases import perform_action
    from winback.sla.config import SlaConfig, load_sla_config
    from winback.sla.engine import SlaEngine
    from winback.store.tables import case_sla

    (tmp_path / "sla.yaml").write_text(
        "policies:\n"
        "  - name: standard\n"
        "    targets: {first_response: 8h, resolution: 3d}\n"
        "  - name: vip\n"
        "    targets: {first_response: 15m, resolution: 1d}\n"
    )
    config = write_playbook(
        tmp_path,
        "playbook: p\nversion: 1\nrules:\n"
        "  - name: vip-complaint\n    when: {event.type: complaint, customer.segment: vip}\n"
        "    then: {priority: P3, sla_policy: vip}\n"
        "  - name: other\n    when: {event.type: complaint}\n    then: {priority: P3}\n",
    )
    log_events(
        sqlite_engine,
        frozen_clock.now(),
        body("v1", "complaint", "vip-1", customer_fields={"segment": "vip"}),
        body("o1", "complaint", "reg-1"),
    )
    run_processor(sqlite_engine, frozen_clock, config)
    found = all_cases(sqlite_engine)
    with sqlite_engine.connect() as conn:
        policies = dict(conn.execute(sa.select(case_sla.c.case_id, case_sla.c.policy)).all())
    assert policies[found["vip-1"].id] == "vip"
    assert policies[found["reg-1"].id] == "standard"
    # An agent's action re-tracks the clocks: the playbook's choice stays.
    sla: SlaConfig = load_sla_config(config)
    perform_action(
        sqlite_engine,
        frozen_clock,
        SlaEngine(sla),
        found["vip-1"].id,
        "escalate",
        Principal(kind="user", name="ana", role="agent", credential="test"),
        {"reason": "x"},
    )
    with sqlite_engine.connect() as conn:
        after = conn.execute(
            sa.select(case_sla.c.policy).where(case_sla.c.case_id == found["vip-1"].id)
        ).scalar_one()
    assert after == "vip"


def test_the_kill_switch_falls_back_to_the_builtin_rule(tmp_path: Path) -> None:
    on = load_settings(models_dir=tmp_path)
    off = load_settings(models_dir=tmp_path, playbooks=False)
    assert [s.name for s in build_stages(on)][3:6] == ["playbooks", "case", "sla"]
    assert "playbooks" not in [s.name for s in build_stages(off)]
