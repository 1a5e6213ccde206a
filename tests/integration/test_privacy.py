"""Customers' privacy on SQLite and PostgreSQL: payment data never stored, export covers every
table with customer data, erasure leaves no trace of the customer anywhere in the database
(a search of every column of every table), and retention prunes old payloads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from winback.bootstrap import build_stages, build_workers, load_sla
from winback.cli import app as cli_app
from winback.clock import FrozenClock
from winback.config import Settings, load_settings
from winback.errors import Conflict, NotFound
from winback.events.schema import EventIn, parse_event
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.remedies.config import load_catalogue
from winback.services.cases import perform_action
from winback.services.privacy import (
    RetentionService,
    erase_customer,
    export_customer,
)
from winback.services.remedies import perform_remedy_action
from winback.services.sla_timers import TimerService
from winback.store import audit, migrate
from winback.store import engine as engine_module
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups
from winback.store.privacy import CUSTOMER_TABLES, NOT_CUSTOMER_DATA
from winback.store.tables import (
    audit_log,
    case_actions,
    case_timeline,
    cases,
    customers,
    event_text,
    events,
    metadata,
    outbox,
    remedy_grants,
)

from .support import api_app, as_user, body, count, log_events, nps, rows, with_key

ANA = Principal(kind="user", name="ana", role="agent", credential="session")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"

SLA = """
policies:
  - name: standard
    targets: {first_response: 1h, resolution: 8h}
    warning_at: 50%
"""
PLAYBOOK = """
playbook: privacy
version: 1
mode: all_match
rules:
  - name: complaints
    when: {event.type: complaint}
    then: {priority: P3, category: delivery, remedies: [credit]}
"""

# The customer to erase, and what identifies them.
VICTIM = "zq-victim-7731"
VICTIM_FIELDS = {
    "email": "zed.quillfeather@example.org",
    "name": "Zedekiah Quillfeather",
    "phone": "+44 20 7946 0958",
    "location": "Glimmerbrook",
    "attributes": {"loyalty": "platinum-zq-club"},
}
TICKET = "TCK-ZQ-99812"
WORDS = ("flibbertigibbet", "quokkaburger", "snorkelwhistle")
NEEDLES = (
    VICTIM,
    VICTIM_FIELDS["email"],
    VICTIM_FIELDS["name"],
    VICTIM_FIELDS["phone"],
    VICTIM_FIELDS["location"],
    "platinum-zq-club",
    TICKET,
    f"{VICTIM}-e1",
    *WORDS,
)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    (directory / "playbooks").mkdir(parents=True)
    (directory / "playbooks" / "privacy.yaml").write_text(PLAYBOOK)
    (directory / "sla.yaml").write_text(SLA)
    return directory


class World:
    """The processor, the services and a frozen clock over one database."""

    def __init__(self, engine: Engine, config_dir: Path, tmp_path: Path) -> None:
        self.engine = engine
        self.clock = FrozenClock(NOW)
        settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
        self.processor = Processor(engine, build_stages(settings), self.clock)
        self.sla = load_sla(settings)
        self.catalogue = load_catalogue(config_dir)

    def process(self, *bodies: dict[str, Any]) -> None:
        log_events(self.engine, self.clock.now(), *bodies)
        self.processor.run_until_idle()

    def case_of(self, customer: str) -> int:
        [row] = rows(self.engine, sa.select(cases.c.id).where(cases.c.customer_id == customer))
        return int(row.id)

    def act(self, case_id: int, action: str, key: str, **params: Any) -> None:
        perform_action(self.engine, self.clock, self.sla, case_id, action, ANA, params, key)

    def remedy(self, case_id: int, key: str, **params: Any) -> None:
        perform_remedy_action(
            self.engine, self.clock, self.catalogue, case_id, "apply_remedy", ANA,
            params, key,
        )  # fmt: skip


def story(
    world: World,
    customer: str,
    fields: dict[str, Any],
    prefix: str,
    words: tuple[str, ...] = WORDS,
) -> int:
    """A customer's whole story: events with text and a ticket, a case worked by an agent
    (keyed notes and replies), a remedy, SLA timers that fired. Returns the case id."""
    world.process(
        body(
            f"{prefix}-e1", "complaint", customer, customer_fields=fields,
            text=f"My parcel is lost, {words[0]} again! Call me on {fields.get('phone', '')} "
            f"or write to {fields.get('email', '')}. Card {CARD}.",
            ticket={"id": TICKET if customer == VICTIM else f"T-{prefix}"}, channel="email",
        ),
    )  # fmt: skip
    world.process(nps(f"{prefix}-e2", 2, customer, text=f"The {words[1]} support was slow."))
    world.process(body(f"{prefix}-e3", "purchase", customer, amount=49.0, currency="EUR"))
    case_id = world.case_of(customer)
    world.act(case_id, "acknowledge", f"{prefix}-ack")
    world.act(case_id, "note", f"{prefix}-note", text=f"{words[2]}: refund to IBAN {IBAN}")
    world.act(case_id, "reply", f"{prefix}-reply", text=f"Dear {fields.get('name', 'customer')}")
    world.remedy(case_id, f"{prefix}-credit", remedy="credit", amount=20, role="agent")
    world.clock.advance(timedelta(hours=2))
    TimerService(world.engine, world.clock, world.sla).fire_due()
    return case_id


def find_anywhere(engine: Engine, needle: str) -> list[str]:
    """``table.column`` of every column, in every table of the database, whose text holds
    ``needle`` (case-insensitive)."""
    found = []
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for table_name in inspector.get_table_names():
            table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
            for column in table.columns:
                text = sa.func.lower(sa.cast(column, sa.Text))
                query = sa.select(sa.func.count()).where(text.contains(needle.lower()))
                if conn.execute(query.select_from(table)).scalar_one():
                    found.append(f"{table_name}.{column.name}")
    return found


def test_every_table_says_whether_it_holds_customer_data() -> None:
    """A new table fails this until it is classified (and so exported and erased)."""
    assert set(CUSTOMER_TABLES).isdisjoint(NOT_CUSTOMER_DATA)
    assert set(metadata.tables) == set(CUSTOMER_TABLES) | set(NOT_CUSTOMER_DATA)
    for name, table in metadata.tables.items():
        if {"customer_id", "case_id", "event_seq"} & set(table.columns.keys()):
            assert name in CUSTOMER_TABLES, f"{name} ties rows to a customer: classify it"


def test_payment_data_is_never_stored(engine: Engine, config_dir: Path, tmp_path: Path) -> None:
    world = World(engine, config_dir, tmp_path)
    fields = {"email": "ann@example.com", "attributes": {"card_on_file": 4111111111111111}}
    story(world, "cus-pay", fields, "pay")
    # The same event again (with the raw card number) is still a duplicate, not a conflict.
    again = log_events(engine, world.clock.now(), *[_first_event("cus-pay", fields, "pay")])
    assert again.statuses == ["duplicate"]
    for needle in ("4111111111111111", CARD, "4111-1111", "DE89370400440532013000", IBAN):
        assert find_anywhere(engine, needle) == [], needle
    [payload] = [
        r.payload for r in rows(engine, sa.select(events).where(events.c.event_id == "pay-e1"))
    ]
    assert "Card [CARD]." in payload["text"]
    assert payload["customer"]["attributes"] == {"card_on_file": "[CARD]"}
    # E-mail addresses stay in the contact fields (messaging needs them) and in the payload.
    assert payload["customer"]["email"] == "ann@example.com"
    notes = rows(engine, sa.select(case_timeline.c.data).where(case_timeline.c.kind == "case.note"))
    assert notes[0].data["text"] == f"{WORDS[2]}: refund to IBAN [IBAN]"
    # The text stage still reports what the sender had written.
    pii = rows(engine, sa.select(event_text.c.pii))
    assert any("card" in r.pii for r in pii)


def _first_event(customer: str, fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    return body(
        f"{prefix}-e1", "complaint", customer, customer_fields=fields,
        text=f"My parcel is lost, {WORDS[0]} again! Call me on {fields.get('phone', '')} "
        f"or write to {fields.get('email', '')}. Card {CARD}.",
        ticket={"id": f"T-{prefix}"}, channel="email",
    )  # fmt: skip


def test_export_holds_every_table_of_the_customer_and_nothing_of_others(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    world = World(engine, config_dir, tmp_path)
    story(world, VICTIM, VICTIM_FIELDS, VICTIM)
    story(world, "cus-other", {"email": "other@example.com"}, "other", ("a-a", "b-b", "c-c"))
    who = {"actor": "user:dora", "credential": "session"}
    raw = export_customer(engine, world.clock, VICTIM, reveal=True, **who)
    redacted = export_customer(engine, world.clock, VICTIM, **who)
    with pytest.raises(NotFound):
        export_customer(engine, world.clock, "nobody", **who)
    exports = rows(engine, sa.select(audit_log).where(audit_log.c.action == "customer.export"))
    assert [(r.actor, r.credential, r.details) for r in exports] == [
        ("user:dora", "session", '{"redacted":false}'),
        ("user:dora", "session", '{"redacted":true}'),
    ]
    tables = raw["tables"]
    assert set(tables) == set(CUSTOMER_TABLES)
    # The story touches every table but the one for events a stage failed on, and the relay's
    # (no relay runs in this story; its deliveries are erased like the outbox rows they copy).
    empty = {name for name, found in tables.items() if not found}
    # (Nor the analytics worker, whose read models are erased with the rest.)
    assert empty == {
        "event_failures",
        "outbox_deliveries",
        "customer_preferences",
        "analytics_case_facts",
        "analytics_exposures",
        "analytics_customer_fates",
    }
    assert [e["event_id"] for e in tables["events"]] == [f"{VICTIM}-e{i}" for i in (1, 2, 3)]
    assert tables["customers"][0]["email"] == VICTIM_FIELDS["email"]
    assert all(row["payload"]["customer_id"] == VICTIM for row in tables["outbox"])
    text = orjson.dumps(raw).decode()
    assert "other@example.com" not in text
    assert "other-e1" not in text
    assert WORDS[0] in text
    # Without reveal: contact details and free text redacted, as on the read routes.
    shown = orjson.dumps(redacted).decode()
    assert redacted["redacted"] is True
    assert VICTIM_FIELDS["email"] not in shown
    assert VICTIM_FIELDS["phone"] not in shown
    assert "[EMAIL]" in shown


def test_erasure_leaves_no_trace_of_the_customer_anywhere(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    world = World(engine, config_dir, tmp_path)
    victim_case = story(world, VICTIM, VICTIM_FIELDS, VICTIM)
    others = ("otherword", "bystanding", "unrelated")
    story(world, "cus-other", {"email": "other@example.com", "name": "Olga Other"}, "other", others)
    for needle in NEEDLES:
        assert find_anywhere(engine, needle), f"the story never stored {needle!r}"
    before = _aggregates(engine)

    result = erase_customer(engine, world.clock, VICTIM, "user:dora", "session")

    assert set(result.counts) == set(CUSTOMER_TABLES)
    assert result.counts["audit_log"] > 0  # the story's case actions and remedies, scrubbed
    with engine.connect() as conn:
        assert audit.verify(conn).ok  # the hash chain still holds after the scrub
    [erased] = rows(engine, sa.select(audit_log).where(audit_log.c.action == "customer.erase"))
    assert erased.actor == "user:dora"
    assert erased.subject_id == case_customer(engine, victim_case)
    assert result.counts["events"] == 3
    assert result.counts["customers"] == 1
    for needle in NEEDLES:
        assert find_anywhere(engine, needle) == [], needle
    # Aggregates stay: counts, amounts, scores, statuses and times.
    assert _aggregates(engine) == before
    [case] = rows(engine, sa.select(cases).where(cases.c.id == victim_case))
    assert case.customer_id.startswith("erased-")
    assert case.status == "in_progress"
    # The other customer is untouched.
    assert find_anywhere(engine, "other@example.com")
    assert find_anywhere(engine, "Olga Other")
    assert find_anywhere(engine, "other-e1")
    assert find_anywhere(engine, "bystanding")
    # Erased once: nothing left to erase under that id.
    with pytest.raises(NotFound):
        erase_customer(engine, world.clock, VICTIM, "user:dora", "session")


def case_customer(engine: Engine, case_id: int) -> str:
    [case] = rows(engine, sa.select(cases.c.customer_id).where(cases.c.id == case_id))
    return str(case.customer_id)


def _aggregates(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        one = conn.execute
        return {
            "events": one(sa.select(sa.func.count()).select_from(events)).scalar_one(),
            "types": sorted(r[0] for r in one(sa.select(events.c.type))),
            "times": sorted(r[0] for r in one(sa.select(events.c.occurred_at))),
            "cases": sorted(tuple(r) for r in one(sa.select(cases.c.status, cases.c.opened_at))),
            "grants": sorted(r[0] for r in one(sa.select(remedy_grants.c.amount))),
            "timeline": one(sa.select(sa.func.count()).select_from(case_timeline)).scalar_one(),
            "actions": one(sa.select(sa.func.count()).select_from(case_actions)).scalar_one(),
            "outbox": one(sa.select(sa.func.count()).select_from(outbox)).scalar_one(),
            "customers": one(sa.select(sa.func.count()).select_from(customers)).scalar_one(),
            "sentiment": sorted(r[0] for r in one(sa.select(event_text.c.sentiment))),
        }


def test_a_later_event_of_an_erased_customer_starts_a_new_customer(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    world = World(engine, config_dir, tmp_path)
    story(world, VICTIM, VICTIM_FIELDS, VICTIM)
    erase_customer(engine, world.clock, VICTIM, "user:dora", "session")
    world.process(body("later-1", "message", VICTIM, text="Hello again"))
    [row] = rows(engine, sa.select(customers).where(customers.c.id == VICTIM))
    assert row.event_count == 1
    assert row.email is None
    assert count(engine, cases, cases.c.customer_id == VICTIM) == 0


def test_erasure_waits_for_the_customers_events_to_be_processed(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    world = World(engine, config_dir, tmp_path)
    world.process(body("p-1", "complaint", "cus-p", text="late"))
    log_events(engine, world.clock.now(), body("p-2", "message", "cus-p", text="not yet"))
    with pytest.raises(Conflict):
        erase_customer(engine, world.clock, "cus-p", "user:dora", "session")
    assert count(engine, events, events.c.customer_id == "cus-p") == 2  # nothing changed
    world.processor.run_until_idle()
    erase_customer(engine, world.clock, "cus-p", "user:dora", "session")
    assert count(engine, events, events.c.customer_id == "cus-p") == 0


def test_retention_prunes_old_payloads_in_batches_behind_the_processor(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    world = World(engine, config_dir, tmp_path)
    for i in range(5):
        world.process(
            body(f"old-{i}", "complaint", f"cus-{i}", customer_fields={"email": f"c{i}@x.org"},
                 text=f"{WORDS[0]} number {i}", channel="chat")
        )  # fmt: skip
    world.clock.advance(timedelta(days=40))
    world.process(body("young", "message", "cus-0", text=f"{WORDS[1]} is recent"))
    log_events(engine, world.clock.now(), body("unprocessed", "message", "cus-9", text="x"))
    world.clock.advance(timedelta(days=5))
    retention = RetentionService(engine, world.clock, days=30, batch=2, idle_seconds=7)
    assert retention.round() == 0.0  # a full batch: go again at once
    assert retention.run_until_done() == 3
    assert retention.pruned == 5
    assert find_anywhere(engine, WORDS[0]) == []
    assert find_anywhere(engine, WORDS[1])  # received 5 days ago: kept
    [old] = rows(engine, sa.select(events.c.payload).where(events.c.event_id == "old-3"))
    assert old.payload == {
        "channel": "chat", "customer": {"id": "cus-3"}, "pruned": True,
    }  # fmt: skip
    assert rows(engine, sa.select(customers.c.email).where(customers.c.id == "cus-3"))[0].email
    assert retention.round() == 7  # nothing left: wait
    # Much later the young event goes too, and the unprocessed one only once processed.
    world.clock.advance(timedelta(days=60))
    assert retention.run_until_done() == 1
    world.processor.run_until_idle()
    assert retention.run_until_done() == 1


def test_the_api_redacts_by_role_and_exports_and_erases(tmp_path: Path) -> None:
    client, _, engine = api_app(tmp_path, NOW)
    analyst = as_user(engine, "al", "analyst")  # reads, redacted
    lead = as_user(engine, "lea", "lead")  # sees raw personal data on every case
    admin = as_user(engine, "root", "admin")
    fields = {"email": "zed@example.org", "phone": "+44 20 7946 0958"}
    sent = client.post(
        "/v1/events",
        json=body("api-1", "complaint", "cus-api", customer_fields=fields,
                  text=f"Mail me at zed@example.org, card {CARD}"),
        headers=with_key(engine, "ingest", "events:write"),
    )  # fmt: skip
    assert sent.status_code == 202
    processor = Processor(
        engine, build_stages(load_settings(models_dir=tmp_path / "m")), FrozenClock(NOW)
    )
    processor.run_until_idle()

    shown = client.get("/v1/customers/cus-api", headers=analyst).json()
    assert shown["email"] == "[EMAIL]"
    assert shown["phone"] == "[PHONE]"
    assert shown["recent_events"][0]["text"] == "Mail me at [EMAIL], card [CARD]"
    case_id = shown["open_case"]["id"]
    noted = client.post(
        f"/v1/cases/{case_id}/actions",
        json={"action": "note", "text": "call +44 20 7946 0958"},
        headers=as_user(engine, "ana", "agent"),
    )
    assert noted.status_code == 200, noted.text
    detail = client.get(f"/v1/cases/{case_id}", headers=analyst).json()
    assert detail["timeline"][-1]["summary"] == "call [PHONE]"
    assert "zed@example.org" not in client.get("/v1/cases", headers=analyst).text
    revealed = client.get("/v1/customers/cus-api", headers=lead).json()
    assert revealed["email"] == "zed@example.org"
    assert revealed["recent_events"][0]["text"] == "Mail me at zed@example.org, card [CARD]"
    assert client.get(f"/v1/cases/{case_id}", headers=lead).json()["timeline"][-1]["summary"] == (
        "call +44 20 7946 0958"
    )

    assert client.get("/v1/customers/cus-api/export", headers=analyst).status_code == 403
    export = client.get("/v1/customers/cus-api/export", headers=admin)
    assert export.status_code == 200
    assert export.json()["tables"]["customers"][0]["email"] == "zed@example.org"
    assert client.get("/v1/customers/nobody/export", headers=admin).status_code == 404

    assert client.post("/v1/customers/cus-api/erase", headers=lead).status_code == 403
    erased = client.post("/v1/customers/cus-api/erase", headers=admin)
    assert erased.status_code == 200
    assert erased.json()["counts"]["events"] == 1
    assert client.get("/v1/customers/cus-api", headers=admin).status_code == 404
    assert client.post("/v1/customers/cus-api/erase", headers=admin).status_code == 404
    assert find_anywhere(engine, "zed@example.org") == []
    assert "winback_retention_position 0.0" in client.get("/metrics").text


def test_the_cli_exports_and_erases_after_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    world = World(engine, config_dir, tmp_path)
    world.process(body("c-1", "complaint", "cus-cli", customer_fields={"email": "c@cli.org"}))
    monkeypatch.setenv("WINBACK_DATABASE_URL", url)
    runner = CliRunner()

    exported = runner.invoke(cli_app, ["customers", "export", "cus-cli"])
    assert exported.exit_code == 0, exported.output
    assert orjson.loads(exported.stdout)["tables"]["customers"][0]["email"] == "c@cli.org"

    refused = runner.invoke(cli_app, ["customers", "erase", "cus-cli"], input="n\n")
    assert refused.exit_code != 0
    assert find_anywhere(engine, "c@cli.org")
    done = runner.invoke(cli_app, ["customers", "erase", "cus-cli"], input="y\n")
    assert done.exit_code == 0, done.output
    assert find_anywhere(engine, "c@cli.org") == []
    missing = runner.invoke(cli_app, ["customers", "export", "cus-cli"])
    assert missing.exit_code == 1
    engine.dispose()


def test_the_migration_replaces_payment_data_stored_before(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine that writes JSON as the versions before this one did: as given.
    monkeypatch.setattr(engine_module, "json_dumps", lambda v: orjson.dumps(v).decode())
    old = make_engine(database_url)
    migrate.upgrade(old, "0008")
    sent = body(
        "m-1", "complaint", "cus-m", text=f"card {CARD}, IBAN {IBAN}", occurred_at=NOW.isoformat()
    )
    payload = EventIn.model_validate(sent).model_dump(
        mode="json", exclude_none=True, exclude={"occurred_at"}
    )
    raw = f"{CARD} / {IBAN}"
    later = NOW + timedelta(seconds=1)
    with old.begin() as conn:
        conn.execute(
            events.insert().values(
                event_id="m-1", type="complaint", customer_id="cus-m", occurred_at=NOW,
                received_at=later, content_hash="old", payload=payload,
            )
        )  # fmt: skip
        conn.execute(
            customers.insert().values(
                id="cus-m", attributes={"card": raw}, field_times={}, first_seen_at=NOW,
                last_event_at=NOW, event_count=1, updated_at=NOW,
            )
        )  # fmt: skip
        case_id = conn.execute(
            cases.insert().values(
                customer_id="cus-m", status="new", priority="P3", reason=f"said {raw}",
                trigger_event_id="m-1", signal_count=1, opened_at=NOW, updated_at=NOW,
                decided_by="test", version=0, root_cause=raw,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            case_timeline.insert().values(
                case_id=case_id, at=NOW, kind="case.note", actor="agent:ana",
                summary=f"note {raw}", data={"text": raw},
            )
        )  # fmt: skip
        for key in ("k1", "k2"):
            conn.execute(
                case_actions.insert().values(
                    case_id=case_id, idempotency_key=key, request_hash="h",
                    response={"entries": [{"data": {"text": raw}}]}, created_at=NOW,
                )
            )  # fmt: skip
        conn.execute(
            outbox.insert().values(
                topic="case.reply", idempotency_key="case.reply:1", payload={"text": raw},
                created_at=NOW, available_at=NOW, attempts=0,
            )
        )  # fmt: skip
    assert find_anywhere(old, "4111 1111")
    assert find_anywhere(old, "DE89 3704")

    migrate.upgrade(old)

    assert find_anywhere(old, "4111 1111") == []
    assert find_anywhere(old, "DE89 3704") == []
    [stored] = rows(old, sa.select(events.c.payload))
    assert stored.payload["text"] == "card [CARD], IBAN [IBAN]"
    # The sender retrying the event is answered "duplicate", as for events stored since.
    [outcome] = append_groups(old, [[parse_event(sent)]], later)
    assert outcome.statuses == ["duplicate"]
    old.dispose()


def test_build_workers_adds_the_retention_worker_unless_the_period_is_zero(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    base: dict[str, Any] = {
        "models_dir": tmp_path / "m",
        "sla_timers": False,
        "routing_interval_seconds": 0,
        "risk_rescore_interval_seconds": 0,
        "outreach_relay": False,  # its workers are tested in test_outreach_relay.py
        "analytics_interval_seconds": 0,
    }
    stop = threading.Event()
    on = build_workers(Settings(**base), sqlite_engine, stop)
    off = build_workers(Settings(**base, retention_days=0), sqlite_engine, stop)
    assert [w.name for w in on] == ["winback-processor", "winback-retention"]
    assert [w.name for w in off] == ["winback-processor"]
