"""Outreach over HTTP and the command line: webhook subscriptions, preferences, template
previews, dead letters and re-drive, inbound e-mail; `winback outbox` and `winback templates`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from winback.bootstrap import build_stages
from winback.cases.effects import Effect
from winback.cli import app
from winback.clock import FrozenClock
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.services.cases import perform_action
from winback.sla.config import load_sla_config
from winback.sla.engine import SlaEngine
from winback.store.engine import write_connection
from winback.store.outbox import write_effects
from winback.store.tables import cases, events, outbox_deliveries

from .support import api_app, body, log_events, rows

AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


BO = Principal(kind="user", name="bo", role="agent", credential="session")


@pytest.fixture
def api(tmp_path: Path) -> Any:
    return api_app(tmp_path, AT)


def test_webhook_subscriptions_are_created_with_a_secret_listed_without_it_and_deleted(
    api: Any,
) -> None:
    client, _settings, _engine = api
    made = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/w", "topics": ["case.opened"]}
    )
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks").json()["subscriptions"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0]
    assert client.get(f"/v1/webhooks/{sub['id']}/deliveries").json() == {"deliveries": []}
    assert client.delete(f"/v1/webhooks/{sub['id']}").status_code == 204
    assert client.delete(f"/v1/webhooks/{sub['id']}").status_code == 404
    assert client.get("/v1/webhooks").json()["subscriptions"] == []
    bad = client.post("/v1/webhooks", json={"url": "ftp://x", "topics": ["case.opened"]})
    assert bad.status_code == 422


def test_preferences_are_set_read_and_checked(api: Any) -> None:
    client, _settings, _engine = api
    assert client.get("/v1/customers/cus-1/preferences").json()["channel"] is None
    doc = {"channel": "sms", "opt_out_kinds": ["marketing"], "quiet_hours": "21:00-08:00"}
    put = client.put("/v1/customers/cus-1/preferences", json=doc)
    assert put.status_code == 200, put.text
    got = client.get("/v1/customers/cus-1/preferences").json()
    assert (got["channel"], got["opt_out_kinds"], got["quiet_hours"]) == (
        "sms",
        ["marketing"],
        "21:00-08:00",
    )
    bad = client.put("/v1/customers/cus-1/preferences", json={"timezone": "Mars/Base"})
    assert bad.status_code == 422
    assert "timezone" in bad.text


def test_a_template_preview_renders_in_the_language_asked_for(api: Any) -> None:
    client, _settings, _engine = api
    shown = client.post(
        "/v1/templates/preview",
        json={"template": "acknowledgement", "language": "fr", "case": {"id": 42}},
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["subject"] == "Nous avons bien reçu votre message (dossier n° 42)"
    missing = client.post("/v1/templates/preview", json={"template": "nope"})
    assert missing.status_code == 422


def test_dead_letters_are_listed_and_redriven(api: Any) -> None:
    client, _settings, engine = api
    with write_connection(engine) as conn, conn.begin():
        write_effects(conn, [Effect("case.opened", "case.opened:e1", {"customer_id": "c"})], AT)
        outbox_id = conn.execute(sa.text("SELECT id FROM outbox")).scalar_one()
        conn.execute(
            outbox_deliveries.insert().values(
                outbox_id=outbox_id,
                destination="webhook:1",
                channel="webhook",
                stream="webhook:1:c",
                customer_id="c",
                state="dead",
                attempts=8,
                available_at=AT,
                created_at=AT,
                last_error="webhook answered HTTP 500",
            )
        )
    metrics = client.get("/metrics").text
    assert 'winback_outbox_deliveries{state="dead"} 1.0' in metrics
    assert 'winback_outbox_deliveries{state="pending"} 0.0' in metrics
    # The test wrote the delivery itself: its outbox row was never marked fanned out.
    assert "winback_outbox_undispatched 1.0" in metrics
    dead = client.get("/v1/outbox", params={"state": "dead"}).json()["deliveries"]
    assert [(d["outbox_id"], d["idempotency_key"]) for d in dead] == [(outbox_id, "case.opened:e1")]
    assert client.get("/v1/outbox", params={"state": "lost"}).status_code == 422
    done = client.post(f"/v1/outbox/{outbox_id}/redrive")
    assert done.json() == {"outbox_id": outbox_id, "redriven": 1}
    assert client.get("/v1/outbox", params={"state": "dead"}).json()["deliveries"] == []
    [row] = rows(engine, sa.select(outbox_deliveries))
    assert (row.state, row.attempts) == ("pending", 0)
    assert client.post("/v1/outbox/999/redrive").status_code == 404

    result = CliRunner().invoke(
        app, ["outbox", "list", "--state", "pending"], env={"WINBACK_DATABASE_URL": str(engine.url)}
    )
    assert result.exit_code == 0, result.output
    assert f"outbox {outbox_id}" in result.output
    assert "pending" in result.output


def test_an_inbound_email_joins_the_open_case_and_resumes_a_case_waiting_on_the_customer(
    api: Any, tmp_path: Path
) -> None:
    client, settings, engine = api
    fields = {"email": "Ana@Example.com"}
    log_events(
        engine, AT, body("evt-1", "complaint", "cus-1", text="Late.", customer_fields=fields)
    )
    clock = FrozenClock(AT)
    processor = Processor(engine, build_stages(settings), clock)
    processor.run_once()
    [case_id] = [r.id for r in rows(engine, sa.select(cases.c.id))]
    sla = SlaEngine(load_sla_config(None))
    perform_action(engine, clock, sla, case_id, "start", BO, {})
    perform_action(engine, clock, sla, case_id, "wait_on_customer", BO, {})

    sent = client.post(
        "/v1/inbound/email",
        json={
            "from": "Ana <ana@example.com>",
            "subject": "Re: your case",
            "text": "Here is my order number: 1234",
            "message_id": "<abc@mail.example.com>",
        },
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["customer_id"] == "cus-1"
    [logged] = rows(engine, sa.select(events).where(events.c.type == "message"))
    assert logged.event_id == "email:<abc@mail.example.com>"
    processor.run_once()
    [status] = [r.status for r in rows(engine, sa.select(cases.c.status))]
    assert status == "in_progress"
    unknown = client.post("/v1/inbound/email", json={"from": "who@nowhere.test", "text": "hi"})
    assert unknown.status_code == 404


def test_templates_check_names_the_file_and_line_of_a_broken_template(tmp_path: Path) -> None:
    good = CliRunner().invoke(app, ["templates", "check"], env={"WINBACK_CONFIG_DIR": ""})
    assert good.exit_code == 0, good.output
    assert "templates: ok (en, es, fr)" in good.output
    broken = tmp_path / "templates" / "en"
    broken.mkdir(parents=True)
    (broken / "reply.txt").write_text("Hi\n{{ customer.name }\n")
    bad = CliRunner().invoke(app, ["templates", "check", "--config-dir", str(tmp_path)])
    assert bad.exit_code == 2
    assert "reply.txt:2:" in bad.output.replace("\n", "")
