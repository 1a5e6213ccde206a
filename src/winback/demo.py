"""``winback demo``: a simulated company's events streamed into a live server.

The stream comes from the company simulator (:mod:`winback.sim.live`): seeded customers with
usage, renewals, failures, outages, complaints, surveys, reviews and churn, sent over HTTP to
the running server at a pace a person can follow, with a running summary.

The demo creates its people (an admin, a lead, two agents, an analyst) with passwords generated
for this run, and an API key for its own event stream: nothing ships with a password that
would work anywhere else.
"""

from __future__ import annotations

import secrets

from winback.clock import SystemClock
from winback.identity import Principal
from winback.services.identity import create_key, create_user
from winback.sim.live import DemoCompany, demo_events, stream, summarize
from winback.store.engine import make_engine, write_connection

__all__ = ["DemoCompany", "create_demo_identities", "demo_events", "stream", "summarize"]

DEMO_PEOPLE: tuple[tuple[str, str], ...] = (
    ("admin", "admin"),
    ("lea", "lead"),
    ("ana", "agent"),
    ("bo", "agent"),
    ("al", "analyst"),
)
DEMO_KEY_SCOPES = ("events:write", "cases:read", "customers:read")


def create_demo_identities(database_url: str) -> tuple[list[tuple[str, str, str]], str]:
    """Create the demo's people and its stream's key in a migrated database; returns
    ``[(name, role, password)]`` and the key's token."""
    operator = Principal(kind="operator", name="demo", role=None, credential="cli")
    engine = make_engine(database_url)
    people = []
    try:
        with write_connection(engine) as conn, conn.begin():
            now = SystemClock().now()
            for name, role in DEMO_PEOPLE:
                password = secrets.token_urlsafe(12)
                create_user(conn, operator, name=name, role=role, password=password, now=now)
                people.append((name, role, password))
            token, _ = create_key(conn, operator, "demo-stream", DEMO_KEY_SCOPES, now)
    finally:
        engine.dispose()
    return people, token
