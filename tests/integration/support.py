"""Helpers for the integration tests: building, logging and counting events; credentials."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.api.auth import SESSION_COOKIE
from winback.bootstrap import build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.events.ingest import GroupOutcome
from winback.events.schema import IncomingEvent, parse_event
from winback.identity import SYSTEM
from winback.services import identity as identity_service
from winback.store import identity as identity_store
from winback.store import migrate
from winback.store.engine import write_connection
from winback.store.eventlog import append_groups


def body(
    event_id: str, event_type: str = "complaint", customer: str = "cus-1", **fields: Any
) -> dict[str, Any]:
    customer_fields = fields.pop("customer_fields", {})
    return {
        "id": event_id,
        "type": event_type,
        "customer": {"id": customer, **customer_fields},
        **fields,
    }


def nps(event_id: str, value: int, customer: str = "cus-1", **fields: Any) -> dict[str, Any]:
    score = {"kind": "nps", "value": value}
    return body(event_id, "survey.response", customer, score=score, **fields)


def incoming(event_id: str, event_type: str = "complaint", **fields: Any) -> IncomingEvent:
    return parse_event(body(event_id, event_type, **fields))


def log_events(engine: Engine, now: datetime, *bodies: dict[str, Any]) -> GroupOutcome:
    """Validate and log ``bodies`` as one request; fail the test on a conflict."""
    [outcome] = append_groups(engine, [[parse_event(b) for b in bodies]], now)
    assert not outcome.conflicts, outcome.conflicts
    return outcome


def count(engine: Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int(conn.execute(query).scalar_one())


def rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query))


def api_app(tmp_path: Path, now: datetime, **settings: Any) -> tuple[TestClient, Settings, Engine]:
    """The API on a migrated SQLite database in ``tmp_path``, processor off, clock frozen; the
    client acts as the admin ``root`` (see :func:`authenticate`)."""
    config = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        processor="off",
        models_dir=tmp_path / "models",
        **settings,
    )
    container = build_runtime(config, FrozenClock(now))
    migrate.upgrade(container.engine)
    client = TestClient(create_app(container))
    return authenticate(client, container.engine), config, container.engine


# -- credentials ---------------------------------------------------------------------------------
_NEVER = datetime(2100, 1, 1, tzinfo=UTC)


def as_user(
    engine: Engine, name: str, role: str = "agent", team: str | None = None
) -> dict[str, str]:
    """Headers that authenticate a request as the user ``name`` with ``role`` (created without a
    password when missing): a session cookie and its CSRF token, as a browser sends them."""
    now = datetime.now(UTC)
    with write_connection(engine) as conn, conn.begin():
        user = identity_store.get_user(conn, name)
        if user is None:
            user = identity_service.create_user(
                conn, SYSTEM, name=name, role=role, password=None, now=now, team=team
            )
        elif user.role != role:
            user = identity_service.set_role(conn, SYSTEM, name, role, now)
        token = secrets.token_urlsafe(16)
        identity_store.insert_session(
            conn, identity_service.token_hash(token), user.id, now, _NEVER, "test"
        )
    csrf = identity_service.csrf_token(os.environ["WINBACK_SECRET_KEY"], token)
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}


def with_key(engine: Engine, name: str, *scopes: str) -> dict[str, str]:
    """``Authorization`` for a new API key with ``scopes``."""
    with write_connection(engine) as conn, conn.begin():
        token, _ = identity_service.create_key(conn, SYSTEM, name, scopes, datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def authenticate(
    client: TestClient, engine: Engine, name: str = "root", role: str = "admin"
) -> TestClient:
    """Make ``client`` act as ``name`` (an admin by default) on every request."""
    client.headers.update(as_user(engine, name, role))
    return client
