"""Every route x every kind of caller, taken from the OpenAPI schema: anonymous callers get 401,
callers without the permission the route declares get 403, the others get past authorisation.

A route that declares no permission (no ``Require``/``Open`` dependency) has no
``x-permission`` in the schema, and the first test fails naming it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.identity import PUBLIC, ROLES, SCOPES, Principal, permits
from winback.store import migrate

from .support import as_user, with_key

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
PATH_VALUES = {"case_id": "1", "customer_id": "c1", "agent_id": "nobody", "name": "nobody"}
PATH_VALUES["key"] = "no-such-key"
PATH_VALUES.update(outbox_id="999999", subscription_id="999999")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Engine, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("matrix")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'w.db'}",
        processor="off",
        models_dir=tmp / "models",
        metrics_public=False,
        api_key_cache_seconds=0,
    )
    container = build_runtime(settings, FrozenClock(NOW))
    migrate.upgrade(container.engine)
    client = TestClient(create_app(container))
    schema = client.get("/openapi.json").json()
    return client, container.engine, schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


def test_every_route_declares_a_permission(app: tuple[TestClient, Engine, dict[str, Any]]) -> None:
    _, _, schema = app
    undeclared = [f"{m} {p}" for m, p, op in operations(schema) if "x-permission" not in op]
    assert undeclared == []
    assert len(operations(schema)) >= 20
    # The interactive docs know the credentials: a bearer API key or the session cookie.
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "session"}
    for _, _, op in operations(schema):
        guarded = op["x-permission"] != PUBLIC
        assert ("security" in op) is guarded
        if guarded:
            assert {"401", "403"} <= set(op["responses"])


def test_a_route_without_a_declared_permission_is_caught(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", processor="off")
    api = create_app(build_runtime(settings, FrozenClock(NOW)))
    extra = APIRouter()

    @extra.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    api.include_router(extra)
    api.openapi_schema = None
    op = api.openapi()["paths"]["/v1/forgotten"]["get"]
    assert "x-permission" not in op


CALLERS: list[tuple[str, str]] = (
    [("anonymous", "")] + [("user", role) for role in ROLES] + [("key", scope) for scope in SCOPES]
)


def _principal(kind: str, which: str) -> Principal | None:
    if kind == "user":
        return Principal(kind="user", name=f"u-{which}", role=which, credential="session")  # type: ignore[arg-type]
    if kind == "key":
        return Principal(
            kind="key", name="k", role=None, credential="key:1", scopes=frozenset({which})
        )
    return None


def _headers(engine: Engine, kind: str, which: str, counter: list[int]) -> dict[str, str]:
    if kind == "user":
        return as_user(engine, f"u-{which}", which)
    if kind == "key":
        counter[0] += 1
        return with_key(engine, f"k-{which.replace(':', '-')}-{counter[0]}", which)
    return {}


@pytest.mark.parametrize(("kind", "which"), CALLERS, ids=[f"{k}:{w}" for k, w in CALLERS])
def test_route_by_caller(
    app: tuple[TestClient, Engine, dict[str, Any]], kind: str, which: str
) -> None:
    client, engine, schema = app
    principal = _principal(kind, which)
    counter = [0]
    wrong: list[str] = []
    for method, path, op in operations(schema):
        permission = op["x-permission"]
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        headers = _headers(engine, kind, which, counter)
        kwargs: dict[str, Any] = {"headers": headers}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = {}
        status = client.request(method, url, **kwargs).status_code
        if permission == PUBLIC:
            expected = "open"
        elif principal is None:
            expected = "401"
        elif permits(principal, permission):
            expected = "allowed"
        else:
            expected = "403"
        ok = (
            (expected == "401" and status == 401)
            or (expected == "403" and status == 403)
            or (expected in ("open", "allowed") and status not in (401, 403))
        )
        if not ok:
            wrong.append(f"{method} {path} ({permission}): expected {expected}, got {status}")
    assert wrong == []


def test_metrics_are_open_by_default(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", processor="off")
    container = build_runtime(settings, FrozenClock(NOW))
    migrate.upgrade(container.engine)
    client = TestClient(create_app(container))
    assert client.get("/metrics").status_code == 200
    op = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert op["x-permission"] == "metrics:read"
    assert op["x-open-if"] == "WINBACK_METRICS_PUBLIC"
