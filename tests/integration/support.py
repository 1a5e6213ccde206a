"""Helpers for the integration tests: building, logging and counting events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.events.ingest import GroupOutcome
from winback.events.schema import IncomingEvent, parse_event
from winback.store import migrate
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
    """The API on a migrated SQLite database in ``tmp_path``, processor off, clock frozen."""
    config = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        processor="off",
        models_dir=tmp_path / "models",
        **settings,
    )
    container = build_runtime(config, FrozenClock(now))
    migrate.upgrade(container.engine)
    return TestClient(create_app(container)), config, container.engine
