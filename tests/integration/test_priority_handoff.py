"""Through the processor and a routing pass: the computed priority and its reason on the case's
timeline, and a playbook's handoff against automation (human queue or none)."""

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
from winback.store.tables import case_timeline, cases

from .support import as_user, authenticate, body, log_events, rows

PLAYBOOK = """
playbook: auto
version: 1
mode: all_match
priority:
  weights: {severity: 0.5, risk: 0, value: 0.5}
  value_scale: 2000
rules:
  - name: payment
    when: {event.type: payment.failed}
    then: {reason: payment failed, automate: true}
  - name: refund
    when: {event.type: refund.requested}
    then: {reason: refund requested, automate: true}
  - name: legal
    when: {event.type: refund.requested, customer.segment: press}
    then: {handoff: journalist asking for a refund}
  - name: complaint
    when: {event.type: complaint}
    then: {reason: complaint}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    (directory / "playbooks").mkdir(parents=True)
    (directory / "playbooks" / "auto.yaml").write_text(PLAYBOOK)
    (directory / "agents.yaml").write_text("agents:\n  ana: {capacity: 10}\n")
    return directory


@pytest.fixture
def client(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        config_dir=config_dir,
        models_dir=tmp_path / "models",
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    with authenticate(TestClient(create_app(container)), engine) as test_client:
        as_user(engine, "ana", "agent")  # the roster's agent is a user
        yield test_client


def process(engine: Engine, clock: FrozenClock, config_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    Processor(engine, build_stages(settings), clock).run_until_idle()


def by_customer(engine: Engine) -> dict[str, Any]:
    return {c.customer_id: c for c in rows(engine, sa.select(cases))}


def decision_entries(engine: Engine, case_id: int) -> list[Any]:
    return rows(
        engine,
        sa.select(case_timeline)
        .where(
            case_timeline.c.case_id == case_id,
            case_timeline.c.kind.in_(["case.opened", "case.attached"]),
        )
        .order_by(case_timeline.c.id),
    )


def test_automation_skips_the_human_queue_and_a_handoff_goes_to_people(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    now = frozen_clock.now()
    log_events(
        engine,
        now,
        body("e1", "payment.failed", "c-auto", amount=12.0, currency="EUR"),
        body("e2", "refund.requested", "c-press", customer_fields={"segment": "press"}),
        body("e3", "complaint", "c-plain", text="bad"),
        body("e4", "refund.requested", "c-auto2"),
    )
    process(engine, frozen_clock, config_dir, tmp_path)
    found = by_customer(engine)
    assert found["c-auto"].automated
    assert found["c-auto2"].automated
    assert not found["c-press"].automated
    assert found["c-press"].handoff == ["journalist asking for a refund"]
    assert not found["c-plain"].automated

    [auto] = decision_entries(engine, found["c-auto"].id)
    assert auto.summary.endswith("— handled by automation (no handoff reason)")
    assert auto.data["handling"] == "handled by automation (no handoff reason)"
    assert auto.data["playbook"]["automated"] is True
    [press] = decision_entries(engine, found["c-press"].id)
    assert press.data["handling"] == "needs a human: journalist asking for a refund"
    assert press.summary.endswith("— needs a human: journalist asking for a refund")
    [plain] = decision_entries(engine, found["c-plain"].id)
    assert "handling" not in plain.data

    run = client.post("/v1/routing/run").json()
    assert run["automated"] == sorted([found["c-auto"].id, found["c-auto2"].id])
    assert {a["case_id"] for a in run["assigned"]} == {found["c-press"].id, found["c-plain"].id}
    owners = {c: row.owner for c, row in by_customer(engine).items()}
    assert owners == {"c-auto": None, "c-auto2": None, "c-press": "ana", "c-plain": "ana"}
    api_case = client.get(f"/v1/cases/{found['c-auto'].id}").json()
    assert api_case["automated"] is True

    # The customer complains on the automated case: no rule asks for automation for that,
    # so the case goes back to people and the next pass gives it to an agent.
    frozen_clock.advance(timedelta(minutes=1))
    log_events(engine, frozen_clock.now(), body("e5", "complaint", "c-auto", text="still bad"))
    process(engine, frozen_clock, config_dir, tmp_path)
    case = by_customer(engine)["c-auto"]
    assert not case.automated
    attached = decision_entries(engine, case.id)[-1]
    assert attached.kind == "case.attached"
    assert attached.data["handling"] == (
        "back to the human queue: this signal's rules do not ask for automation"
    )
    again = client.post("/v1/routing/run").json()
    assert again["automated"] == [found["c-auto2"].id]
    assert [a["case_id"] for a in again["assigned"]] == [case.id]


def test_the_computed_priority_and_its_reason_are_on_the_timeline(
    engine: Engine, frozen_clock: FrozenClock, config_dir: Path, tmp_path: Path
) -> None:
    log_events(
        engine,
        frozen_clock.now(),
        body("e1", "complaint", "c-rich", text="bad", customer_fields={"value": 4000}),
        body("e2", "complaint", "c-poor", text="bad", customer_fields={"value": 10}),
    )
    process(engine, frozen_clock, config_dir, tmp_path)
    found = by_customer(engine)
    # severity medium 0.5 x 0.5 + value 0.5 x 1 (saturated at 2000) = 0.75: P1
    assert found["c-rich"].priority == "P1"
    # 0.25 + 0.5 x 10 / 2000 = 0.2525: P3
    assert found["c-poor"].priority == "P3"
    [entry] = decision_entries(engine, found["c-rich"].id)
    assert entry.data["priority"] == "P1"
    assert entry.data["playbook"]["priority_score"] == pytest.approx(0.75)
    reason = entry.data["playbook"]["priority_reason"]
    assert reason.startswith("score 0.75 (severity medium from the default, risk ")
    assert reason.endswith("value 4000 of 2000) → P1")
