"""Outreach's application services: webhook subscriptions, customer preferences, dead letters.

Each is one transaction through the repositories; the relay itself is
:mod:`winback.services.relay`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from winback.clock import Clock
from winback.errors import InvalidInput, NotFound
from winback.outreach.channels.webhook import new_secret
from winback.outreach.preferences import Preferences
from winback.store import deliveries as store
from winback.store import outreach_store
from winback.store.engine import write_connection

SUBSCRIBABLE_HINT = "an outbox topic (case.opened, case.status_changed, remedy.applied…) or *"


def _public(sub: dict[str, Any], with_secret: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in sub.items() if k != "secret"}
    if with_secret:
        out["secret"] = sub["secret"]
    return out


def create_subscription(
    engine: Engine, clock: Clock, url: str, topics: list[str], description: str | None
) -> dict[str, Any]:
    """A new subscription; the answer carries its signing secret (shown this once)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput("url: an absolute http(s) URL", field="url")
    cleaned = sorted({t.strip() for t in topics if t.strip()})
    if not cleaned:
        raise InvalidInput(f"topics: at least one, {SUBSCRIBABLE_HINT}", field="topics")
    with write_connection(engine) as conn, conn.begin():
        sub = outreach_store.create_subscription(
            conn, url, cleaned, new_secret(), description, clock.now()
        )
    return _public(sub, with_secret=True)


def subscriptions(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_public(s) for s in outreach_store.list_subscriptions(conn)]


def delete_subscription(engine: Engine, sub_id: int) -> None:
    with write_connection(engine) as conn, conn.begin():
        if not outreach_store.delete_subscription(conn, sub_id):
            raise NotFound(f"no webhook subscription {sub_id}")


def subscription_deliveries(
    engine: Engine, sub_id: int, limit: int, after_id: int
) -> list[dict[str, Any]]:
    """The subscription's delivery log (each delivery: state, tries, last error)."""
    with engine.connect() as conn:
        if outreach_store.get_subscription(conn, sub_id) is None:
            raise NotFound(f"no webhook subscription {sub_id}")
        return store.list_deliveries(
            conn, destination=f"webhook:{sub_id}", limit=limit, after_id=after_id
        )


def get_preferences(engine: Engine, customer_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        doc = outreach_store.get_preferences(conn, [customer_id]).get(customer_id)
    return Preferences.from_doc(doc).to_doc()


def set_preferences(
    engine: Engine, clock: Clock, customer_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    """Replace the customer's preferences (checked: ``InvalidInput`` names the field)."""
    prefs = Preferences.from_doc(doc).to_doc()
    with write_connection(engine) as conn, conn.begin():
        outreach_store.put_preferences(conn, customer_id, prefs, clock.now())
    return prefs


def list_outbox(
    engine: Engine, state: str | None, limit: int, after_id: int
) -> list[dict[str, Any]]:
    if state is not None and state not in store.STATES:
        raise InvalidInput(f"state: one of {', '.join(store.STATES)}", field="state")
    with engine.connect() as conn:
        return store.list_deliveries(conn, state=state, limit=limit, after_id=after_id)


def redrive(engine: Engine, clock: Clock, outbox_id: int) -> dict[str, Any]:
    """Send an outbox row's dead deliveries again (fresh tries, due now)."""
    with write_connection(engine) as conn, conn.begin():
        if not store.outbox_exists(conn, outbox_id):
            raise NotFound(f"no outbox row {outbox_id}")
        count = store.redrive(conn, outbox_id, clock.now())
    return {"outbox_id": outbox_id, "redriven": count}


def inbound_customer(engine: Engine, sender: str, in_reply_to: str | None) -> str:
    """Whose inbound e-mail this is: the customer the message it answers went to (by its
    ``Message-ID``), else the customer with the sender's address."""
    with engine.connect() as conn:
        if in_reply_to:
            found = outreach_store.customer_by_message_id(conn, in_reply_to.strip())
            if found is not None:
                return found
        found = outreach_store.customer_by_email(conn, sender)
    if found is None:
        raise NotFound(f"no customer with the address {sender!r}")
    return found
