"""The outbox relay against real servers on loopback, on SQLite and PostgreSQL.

An automatic acknowledgement travels from an event through the processor and the relay to a
real SMTP server (aiosmtpd) in the customer's language, its ``Message-ID`` derived from the
outbox key; failures back off and end as dead letters that a re-drive sends again; one
customer's failing messages hold back only their own stream; two relays deliver each message
once; a claim whose relay died is taken again with the same key; webhooks are signed and
verified with the Standard Webhooks reference library; SMS goes through a local fake of
Twilio's Messages API; preferences suppress or defer, saying why on the case's timeline.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from winback.bootstrap import build_stages, build_workers
from winback.cases.effects import Effect
from winback.clock import FrozenClock, SystemClock
from winback.config import Settings, load_settings
from winback.identity import Principal
from winback.outreach.channels.base import Channel
from winback.outreach.channels.smtp import SmtpChannel, SmtpConfig, message_id
from winback.outreach.channels.twilio import TwilioChannel, TwilioConfig
from winback.outreach.channels.webhook import WebhookChannel
from winback.outreach.retry import RetryPolicy
from winback.outreach.templates import load_templates
from winback.pipeline.processor import Processor
from winback.services import outreach
from winback.services.cases import perform_action
from winback.services.relay import Relay, RelayConfig
from winback.sla.config import load_sla_config
from winback.sla.engine import SlaEngine
from winback.store import migrate
from winback.store.deliveries import claim_due, mark_delivered
from winback.store.engine import write_connection
from winback.store.outbox import write_effects
from winback.store.sla_store import load_sla_states
from winback.store.tables import case_timeline, customers, outbox_deliveries
from winback.store.types import JSONDoc, UTCDateTime

from .outreach_support import Received, http_server, smtp_server
from .support import body, log_events, rows

SENDER = "care@winback.test"
FROZEN_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


BO = Principal(kind="user", name="bo", role="agent", credential="session")


@pytest.fixture
def smtp() -> Iterator[tuple[int, Received]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    assert frozen_clock.now() == FROZEN_AT
    return frozen_clock


def make_relay(
    engine: Engine,
    clock: FrozenClock,
    channels: dict[str, Channel],
    *,
    webhooks: bool = False,
    **config: Any,
) -> Relay:
    return Relay(
        engine,
        clock,
        channels=channels,
        webhooks=WebhookChannel(SystemClock().now, 5) if webhooks else None,
        templates=load_templates(),
        sla=SlaEngine(load_sla_config(None)),
        config=RelayConfig(**{"concurrency": 4, **config}),
    )


def email(port: int) -> dict[str, Channel]:
    return {"email": SmtpChannel(SmtpConfig("127.0.0.1", port, sender=SENDER, timeout=5))}


def add_customer(engine: Engine, cid: str, **fields: Any) -> None:
    now = FROZEN_AT
    with engine.begin() as conn:
        conn.execute(
            customers.insert().values(
                id=cid,
                attributes={},
                field_times={},
                first_seen_at=now,
                last_event_at=now,
                event_count=1,
                updated_at=now,
                **fields,
            )
        )


def queue(engine: Engine, *effects: Effect) -> None:
    with engine.begin() as conn:
        write_effects(conn, effects, FROZEN_AT)


def reply(key: str, customer: str, text: str = "We are on it.") -> Effect:
    return Effect("case.reply", key, {"customer_id": customer, "text": text})


def deliveries(engine: Engine) -> list[Any]:
    return rows(engine, sa.select(outbox_deliveries).order_by(outbox_deliveries.c.id))


def timeline(engine: Engine, kind: str) -> list[Any]:
    query = sa.select(case_timeline).where(case_timeline.c.kind == kind)
    return rows(engine, query.order_by(case_timeline.c.id))


def process(engine: Engine, clock: FrozenClock, tmp_path: Any) -> None:
    settings = load_settings(models_dir=tmp_path / "models")
    processor = Processor(engine, build_stages(settings), clock)
    while processor.run_once().processed:
        pass


def test_an_automatic_acknowledgement_reaches_a_real_smtp_server_in_the_customers_language(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received], tmp_path: Any
) -> None:
    port, received = smtp
    customer = {"email": "ana@example.com", "name": "Ana Ruiz", "language": "es"}
    log_events(
        engine,
        FROZEN_AT,
        body("evt-1", "complaint", "cus-1", text="Never arrived.", customer_fields=customer),
    )
    process(engine, clock, tmp_path)
    relay = make_relay(engine, clock, email(port))

    # Two outbox rows fanned out (case.opened, case.acknowledgement), one message sent.
    assert relay.run_once() == 3
    [mail] = received.to("ana@example.com")
    key = "case.acknowledgement:evt-1"
    assert mail["Message-ID"] == message_id(key, SENDER)
    assert mail["X-Winback-Key"] == key
    [case_id] = [r.case_id for r in deliveries(engine)]
    assert mail["Subject"] == f"Hemos recibido tu mensaje (caso #{case_id})"
    assert not mail.is_multipart()  # the Spanish set has no HTML part
    assert "Hola Ana" in mail.get_payload(decode=True).decode()
    [sent] = timeline(engine, "outreach.sent")
    assert sent.case_id == case_id
    assert sent.data["first_response"] is True
    assert sent.data["provider_ref"] == mail["Message-ID"]
    [row] = deliveries(engine)
    assert (row.state, row.attempts, row.channel) == ("delivered", 1, "email")
    # The acknowledgement was the first response: that clock stopped, met, when it was sent.
    with engine.connect() as conn:
        state = load_sla_states(conn, [case_id])[case_id]
    assert "first_response" not in state.clocks
    [measured] = [m for m in state.history if m.metric == "first_response"]
    assert (measured.stopped_at, measured.outcome) == (FROZEN_AT, "met")

    assert relay.run_once() == 0  # nothing twice
    assert len(received.accepted) == 1


def test_failures_back_off_then_become_dead_letters_that_a_redrive_sends_with_the_same_id(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    received.refuse = lambda _m: "451 4.3.0 try again later"
    add_customer(engine, "cus-1", email="ana@example.com")
    queue(engine, reply("case.reply:1:v2:0", "cus-1"))
    retry = RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=60)
    relay = make_relay(engine, clock, email(port), retry=retry)

    relay.run_once()
    [row] = deliveries(engine)
    assert (row.state, row.attempts) == ("pending", 1)
    assert FROZEN_AT + timedelta(seconds=5) <= row.available_at <= FROZEN_AT + timedelta(seconds=10)
    assert "451" in row.last_error
    assert relay.run_once() == 0  # backing off
    clock.advance(timedelta(seconds=10))
    relay.run_once()
    clock.advance(timedelta(seconds=20))
    relay.run_once()
    [row] = deliveries(engine)
    assert (row.state, row.attempts) == ("dead", 3)
    assert len(received.refused) == 3
    assert len({m["Message-ID"] for m in received.refused}) == 1

    dead = outreach.list_outbox(engine, "dead", 10, 0)
    assert [d["idempotency_key"] for d in dead] == ["case.reply:1:v2:0"]
    received.refuse = lambda _m: None
    assert outreach.redrive(engine, clock, row.outbox_id) == {
        "outbox_id": row.outbox_id,
        "redriven": 1,
    }
    relay.run_once()
    [row] = deliveries(engine)
    assert (row.state, row.attempts) == ("delivered", 1)
    [mail] = received.accepted
    assert mail["Message-ID"] == received.refused[0]["Message-ID"]


def test_a_permanent_refusal_is_a_dead_letter_at_once(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    received.refuse = lambda _m: "550 5.1.1 no such mailbox"
    add_customer(engine, "cus-1", email="gone@example.com")
    queue(engine, reply("case.reply:1:v2:0", "cus-1"))
    make_relay(engine, clock, email(port)).run_once()
    [row] = deliveries(engine)
    assert (row.state, row.attempts) == ("dead", 1)
    assert "550" in row.last_error


def test_one_customers_failing_messages_hold_back_only_their_own_stream_and_keep_order(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    received.refuse = lambda m: "451 busy" if m["To"] == "a@example.com" else None
    add_customer(engine, "a", email="a@example.com")
    add_customer(engine, "b", email="b@example.com")
    queue(
        engine,
        reply("case.reply:a:1", "a", "first"),
        reply("case.reply:a:2", "a", "second"),
        reply("case.reply:b:1", "b", "other"),
    )
    relay = make_relay(engine, clock, email(port), retry=RetryPolicy(base_seconds=1))
    relay.run_once()
    assert [m["X-Winback-Key"] for m in received.accepted] == ["case.reply:b:1"]
    assert [m["X-Winback-Key"] for m in received.refused] == ["case.reply:a:1"]
    states = {r.outbox_id: (r.state, r.attempts) for r in deliveries(engine)}
    assert sorted(states.values()) == [("delivered", 1), ("pending", 0), ("pending", 1)]

    received.refuse = lambda _m: None
    clock.advance(timedelta(seconds=5))
    while relay.run_once():
        pass
    assert [m["X-Winback-Key"] for m in received.to("a@example.com")] == [
        "case.reply:a:1",
        "case.reply:a:2",
    ]


def test_two_relays_deliver_every_message_once_and_in_order_per_customer(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    for c in range(10):
        add_customer(engine, f"c{c}", email=f"c{c}@example.com")
    queue(
        engine,
        *[reply(f"case.reply:c{c}:{n}", f"c{c}", f"n{n}") for n in range(4) for c in range(10)],
    )
    relays = [make_relay(engine, clock, email(port), batch_size=7) for _ in range(2)]
    errors: list[BaseException] = []

    def run(relay: Relay) -> None:
        try:
            idle = 0
            while idle < 3:
                idle = 0 if relay.run_once() else idle + 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    keys = [m["X-Winback-Key"] for m in received.accepted]
    assert len(keys) == 40
    assert len(set(keys)) == 40  # no repeats without a crash
    for c in range(10):
        mine = [k for k in keys if k.startswith(f"case.reply:c{c}:")]
        assert mine == [f"case.reply:c{c}:{n}" for n in range(4)]
    assert {r.state for r in deliveries(engine)} == {"delivered"}


def test_a_claim_whose_relay_died_is_taken_again_after_its_lease_with_the_same_key(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    add_customer(engine, "cus-1", email="ana@example.com")
    queue(engine, reply("case.reply:1:v2:0", "cus-1"))
    relay = make_relay(engine, clock, email(port), lease=timedelta(seconds=30))
    relay.dispatch()
    with write_connection(engine) as conn, conn.begin():  # a relay claims, then dies
        [lost] = claim_due(conn, clock.now(), 10, timedelta(seconds=30), "dead-relay")
    assert relay.run_once() == 0  # still leased
    clock.advance(timedelta(seconds=31))
    assert relay.run_once() == 1
    [row] = deliveries(engine)
    assert (row.state, row.attempts) == ("delivered", 2)
    with write_connection(engine) as conn, conn.begin():  # the dead relay's late record
        assert not mark_delivered(conn, lost, clock.now(), "late")
    [mail] = received.accepted
    assert mail["X-Winback-Key"] == "case.reply:1:v2:0"


def test_a_claim_is_a_compare_and_set_two_claims_never_share_a_delivery(
    engine: Engine, clock: FrozenClock
) -> None:
    add_customer(engine, "c", email="c@example.com")
    queue(engine, *[reply(f"case.reply:x{n}", f"c{n}") for n in range(6)])
    for n in range(6):
        add_customer(engine, f"c{n}", email=f"c{n}@example.com")
    make_relay(engine, clock, {"email": _NeverUsed()}).dispatch()
    lease = timedelta(seconds=30)
    if engine.dialect.name == "postgresql":
        # Two transactions at once: the second skips the rows the first has locked.
        with engine.connect() as first, engine.connect() as second, first.begin():
            a = claim_due(first, clock.now(), 4, lease, "a")
            with second.begin():
                b = claim_due(second, clock.now(), 10, lease, "b")
    else:
        with write_connection(engine) as conn, conn.begin():
            a = claim_due(conn, clock.now(), 4, lease, "a")
        with write_connection(engine) as conn, conn.begin():
            b = claim_due(conn, clock.now(), 10, lease, "b")
    assert len(a) == 4
    assert len(b) == 2
    assert not {d.id for d in a} & {d.id for d in b}
    tokens = {r.claim_token for r in deliveries(engine)}
    assert tokens == {"a", "b"}


class _NeverUsed:
    name = "email"

    def send(self, message: Any) -> str:  # pragma: no cover - the test only claims
        raise AssertionError("not sent in this test")


def test_webhooks_are_signed_with_the_standard_webhooks_scheme_and_logged_per_subscription(
    engine: Engine, clock: FrozenClock
) -> None:
    with http_server() as receiver:
        sub = outreach.create_subscription(
            engine, clock, f"{receiver.url}/hooks", ["remedy.applied"], "billing"
        )
        other = outreach.create_subscription(engine, clock, f"{receiver.url}/all", ["*"], None)
        queue(
            engine,
            Effect("remedy.applied", "remedy.applied:g1", {"customer_id": "c", "amount": 5.0}),
            Effect("case.opened", "case.opened:e1", {"customer_id": "c"}),
        )
        relay = make_relay(engine, clock, {}, webhooks=True)
        while relay.run_once():  # one customer's two changes to /all go one after the other
            pass
        by_path: dict[str, list[Any]] = {}
        for request in receiver.requests:
            by_path.setdefault(request.path, []).append(request)
        [hook] = by_path["/hooks"]
        verified = Webhook(sub["secret"]).verify(hook.body, hook.headers)
        assert verified["type"] == "remedy.applied"
        assert verified["data"]["amount"] == 5.0
        assert hook.headers["webhook-id"] == "remedy.applied:g1"
        assert sorted(r.headers["webhook-id"] for r in by_path["/all"]) == [
            "case.opened:e1",
            "remedy.applied:g1",
        ]
        tampered = dict(
            hook.headers, **{"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
        )
        with pytest.raises(Exception, match="signature"):
            Webhook(sub["secret"]).verify(hook.body, tampered)
        log = outreach.subscription_deliveries(engine, sub["id"], 10, 0)
        assert [(d["topic"], d["state"]) for d in log] == [("remedy.applied", "delivered")]
        assert len(outreach.subscription_deliveries(engine, other["id"], 10, 0)) == 2

        # A receiver's 5xx is retried, a 4xx is refused for good.
        answers = iter([(503, {}), (400, {"error": "no"})])
        receiver.answer = lambda _r: next(answers)
        queue(engine, Effect("remedy.applied", "remedy.applied:g2", {"customer_id": "d"}))
        outreach.delete_subscription(engine, other["id"])
        relay.run_once()
        clock.advance(timedelta(minutes=5))
        relay.run_once()
        log = outreach.subscription_deliveries(engine, sub["id"], 10, 0)
        assert [(d["state"], d["attempts"]) for d in log] == [("delivered", 1), ("dead", 2)]
        assert "HTTP 400" in log[1]["last_error"]


def test_sms_goes_through_twilios_messages_api_shape_with_the_key_and_the_provider_sid(
    engine: Engine, clock: FrozenClock
) -> None:
    with http_server() as fake:
        fake.answer = lambda _r: (201, {"sid": "SM0123", "status": "queued"})
        add_customer(engine, "cus-1", phone="+34600111222", email="ana@example.com")
        outreach.set_preferences(engine, clock, "cus-1", {"channel": "sms"})
        queue(engine, reply("case.reply:1:v2:0", "cus-1", "Refund sent."))
        twilio = TwilioConfig("AC123", "secret-token", sms_from="+15550001", base_url=fake.url)
        relay = make_relay(engine, clock, {"sms": TwilioChannel(twilio, "sms"), **_unused_email()})
        relay.run_once()
        [request] = fake.requests
        assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
        assert (
            request.headers["Authorization"]
            == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
        )
        assert request.headers["Idempotency-Key"] == "case.reply:1:v2:0"
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        assert form["To"] == "%2B34600111222"
        assert form["From"] == "%2B15550001"
        assert "Refund+sent." in form["Body"]
        [row] = deliveries(engine)
        assert (row.state, row.channel, row.provider_ref) == ("delivered", "sms", "SM0123")


def _unused_email() -> dict[str, Channel]:
    return {"email": _NeverUsed()}


def test_a_message_that_may_not_go_says_why_on_the_case_timeline(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received], tmp_path: Any
) -> None:
    port, received = smtp
    fields = {"email": "ana@example.com", "timezone": "Europe/Madrid"}
    log_events(
        engine,
        FROZEN_AT,
        body("evt-1", "complaint", "cus-1", text="Broken.", customer_fields=fields),
        body("evt-2", "complaint", "cus-2", text="Broken.", customer_fields=fields),
    )
    outreach.set_preferences(engine, clock, "cus-1", {"opt_out_channels": ["email"]})
    # 09:30 UTC is 10:30 in Madrid: inside these quiet hours.
    outreach.set_preferences(engine, clock, "cus-2", {"quiet_hours": "10:00-12:00"})
    process(engine, clock, tmp_path)
    relay = make_relay(engine, clock, email(port))
    relay.run_once()
    assert received.accepted == []
    [suppressed] = timeline(engine, "outreach.suppressed")
    assert "opted out of email" in suppressed.summary
    [deferred] = timeline(engine, "outreach.deferred")
    assert deferred.data["until"] == "2026-11-24T11:00:00+00:00"
    states = sorted((r.customer_id, r.state) for r in deliveries(engine))
    assert states == [("cus-1", "suppressed"), ("cus-2", "pending")]
    clock.advance(timedelta(hours=1, minutes=31))
    relay.run_once()
    assert [m["To"] for m in received.accepted] == ["ana@example.com"]


def test_rows_queued_before_the_relay_existed_are_history_not_messages(
    engine: Engine, clock: FrozenClock
) -> None:
    migrate.downgrade(engine, "0008")
    old = sa.table(
        "outbox",
        sa.column("topic"),
        sa.column("idempotency_key"),
        sa.column("payload", JSONDoc),
        sa.column("created_at", UTCDateTime()),
        sa.column("available_at", UTCDateTime()),
        sa.column("attempts"),
    )
    with engine.begin() as conn:
        conn.execute(
            old.insert().values(
                topic="case.reply",
                idempotency_key="case.reply:old",
                payload={"customer_id": "c"},
                created_at=FROZEN_AT,
                available_at=FROZEN_AT,
                attempts=0,
            )
        )
    migrate.upgrade(engine)
    relay = make_relay(engine, clock, {}, webhooks=True)
    assert relay.dispatch() == 0
    queue(engine, reply("case.reply:new", "c"))
    assert relay.dispatch() == 1


def test_build_workers_runs_the_relay_fan_out_and_a_lane_per_configured_channel(
    engine: Engine, tmp_path: Any
) -> None:
    base: dict[str, Any] = {
        "models_dir": tmp_path / "m",
        "sla_timers": False,
        "routing_interval_seconds": 0,
        "risk_rescore_interval_seconds": 0,
        "retention_days": 0,
        "analytics_interval_seconds": 0,
    }
    stop = threading.Event()
    names = [w.name for w in build_workers(Settings(**base, smtp_host="127.0.0.1"), engine, stop)]
    assert names == [
        "winback-processor",
        "winback-outbox-dispatch",
        "winback-outbox-email",
        "winback-outbox-webhook",
    ]
    off = build_workers(Settings(**base, outreach_relay=False), engine, stop)
    assert [w.name for w in off] == ["winback-processor"]


def test_an_agents_reply_goes_to_the_customer_by_their_channel_with_the_agents_words(
    engine: Engine, clock: FrozenClock, smtp: tuple[int, Received], tmp_path: Any
) -> None:
    port, received = smtp
    fields = {"email": "ana@example.com", "name": "Ana Ruiz"}
    log_events(
        engine, FROZEN_AT, body("evt-1", "complaint", "cus-1", text="Late.", customer_fields=fields)
    )
    process(engine, clock, tmp_path)
    relay = make_relay(engine, clock, email(port))
    while relay.run_once():
        pass
    [case_id] = {r.case_id for r in deliveries(engine)}
    sla = SlaEngine(load_sla_config(None))
    perform_action(engine, clock, sla, case_id, "reply", BO, {"text": "Your parcel left today."})
    while relay.run_once():
        pass
    ack, answer = received.to("ana@example.com")
    assert ack["X-Winback-Key"] == "case.acknowledgement:evt-1"
    assert answer["Subject"] == f"Re: your case #{case_id}"
    plain = answer.get_payload()[0].get_payload(decode=True).decode()
    assert "Hello Ana," in plain
    assert "Your parcel left today." in plain
    sent = timeline(engine, "outreach.sent")
    assert [s.data["template"] for s in sent] == ["acknowledgement", "reply"]
    assert [s.data["first_response"] for s in sent] == [True, False]
