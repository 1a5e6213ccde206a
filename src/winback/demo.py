"""``winback demo``: a simulated company's events streamed into a live server, and a simulated
team working the cases.

The stream comes from the company simulator (:mod:`winback.sim.live`): seeded customers with
usage, renewals, failures, outages, complaints, surveys, reviews and churn, sent over HTTP to
the running server at a pace a person can follow, with a running summary. The demo's own
configuration (:data:`DEMO_CONFIG`: a four-agent team and SLA targets of minutes, so clocks warn
and breach while a newcomer watches) is copied next to the database, where it can be edited.

The demo creates its people (an admin, a lead, a manager, the four agents of its roster, an
analyst) with passwords generated for this run, and an API key for its own event stream:
nothing ships with a password that would work anywhere else.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from winback.clock import SystemClock
from winback.identity import Principal
from winback.services.identity import create_key, create_user
from winback.sim.live import DemoCompany, demo_events, stream, summarize
from winback.sim.team import DemoTeam
from winback.store.engine import make_engine, write_connection

DEMO_CONFIG = Path(__file__).parent / "sim" / "demo_config"
# The roster's agents the simulated team works as; the first agent is left to the person.
PERSON_AGENT = "ana"
TEAM_AGENTS = ("ben", "chloe", "dev")
LEAD = "lea"


def write_demo_config(target: Path) -> Path:
    """A fresh copy of the demo's configuration in ``target`` (replacing what was there)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(DEMO_CONFIG, target)
    return target


__all__ = [
    "DEMO_CONFIG",
    "LEAD",
    "PERSON_AGENT",
    "TEAM_AGENTS",
    "DemoCompany",
    "DemoTeam",
    "create_demo_identities",
    "demo_events",
    "stream",
    "summarize",
    "write_demo_config",
]

DEMO_PEOPLE: tuple[tuple[str, str], ...] = (
    ("admin", "admin"),
    ("lea", "lead"),
    ("max", "manager"),
    ("ana", "agent"),
    ("ben", "agent"),
    ("chloe", "agent"),
    ("dev", "agent"),
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
