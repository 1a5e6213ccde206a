"""Schemathesis over every documented operation, on SQLite and on PostgreSQL.

Generated requests, valid and invalid (boundary values, out-of-range integers, NUL characters,
wrong types), go to the real ASGI app on a migrated database that holds a few cases and an
agent. Two checks per response: it is not a 5xx, and its status is one the OpenAPI schema
documents for the operation. Bounded for ``make test``: a fixed seed, a few examples per
operation and mode, no shrinking.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import status_code_conformance

from winback.api.app import create_app
from winback.bootstrap import build_processor, build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.store import migrate

from .support import as_user, body, nps, with_key

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
CONFIG: dict[str, Any] = {
    "seed": 20261124,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "generation": {
        "mode": "all",  # valid and invalid requests
        "max-examples": 15,  # per operation and mode, besides the coverage phase's boundaries
        "no-shrink": True,
        "database": "none",
    },
    "phases": {"stateful": {"enabled": False}},
}
CHECKS = [not_a_server_error, status_code_conformance]


def _spec() -> dict[str, Any]:
    """The OpenAPI schema the app serves (building it touches no database)."""
    container = build_runtime(Settings(database_url="sqlite:///:memory:", processor="off"))
    spec = create_app(container).openapi()
    container.engine.dispose()
    return spec


schema = schemathesis.openapi.from_dict(_spec(), config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ASGIClient]:
    """The app on a fresh database (SQLite, then PostgreSQL) with a few cases and an agent.

    The lifespan (the ingest committer) runs for the whole module under a TestClient;
    Schemathesis reaches the app through a client of its own that leaves the lifespan alone.
    """
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'winback.db'}"
    else:
        url = request.getfixturevalue("module_postgres_url")
    # Statuses are under test, not overload: no shedding on the event loop's lag.
    settings = Settings(
        database_url=url,
        processor="off",
        models_dir=tmp / "models",
        ingest_max_loop_lag_seconds=0,
    )
    clock = FrozenClock(NOW)
    container = build_runtime(settings, clock)
    migrate.upgrade(container.engine)
    api = create_app(container)
    as_user(container.engine, "ana", "agent")  # an agent is a user
    with_key(container.engine, "spare", "events:write")  # the admin key is not key 1
    admin = with_key(container.engine, "fuzz-admin", "admin")
    with TestClient(api, headers=admin) as client:  # runs the lifespan: the ingest committer
        seed = [
            body("s-1", "complaint", "cus-1", text="Billed twice, nobody answers."),
            nps("s-2", 2, "cus-2", text="Awful support."),
            body("s-3", "payment.failed", "cus-3", amount=49.0, currency="EUR"),
        ]
        assert client.post("/v1/events", json={"events": seed}).status_code == 202
        assert client.put("/v1/routing/agents/ana", json={"teams": ["support"]}).status_code == 200
        build_processor(settings, container.engine, clock).run_until_idle()
        assert client.get("/v1/cases").json()["items"], "the seed opened no case"
        session = ASGIClient(api)
        session.headers.update(admin)  # every generated request acts as an admin
        yield session
    container.close()


@schema.parametrize()
def test_no_server_error_and_only_documented_statuses(
    case: schemathesis.Case, app: ASGIClient
) -> None:
    case.call_and_validate(session=app, checks=CHECKS)
