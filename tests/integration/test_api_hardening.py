"""Inputs that used to end in a 500: each is now a 4xx in the error shape, and nothing is stored.

Runs on SQLite and on PostgreSQL, which refuses some values SQLite stores (NUL in text) and
overflows differently (64-bit ids). See docs/api.md, "Errors".
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_processor, build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.store import migrate
from winback.store.tables import (
    case_actions,
    case_timeline,
    cases,
    customers,
    events,
    remedy_grants,
    routing_agents,
)

from .support import authenticate, body

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TOO_BIG = 99999999999999999999999  # past 64 bits
JUST_TOO_BIG = 2**63
NUL = "a\x00b"
TABLES = (events, customers, cases, case_timeline, case_actions, remedy_grants, routing_agents)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    """The app, processor off and clock frozen, with one customer's open case (id 1)."""
    # Validation is under test, not overload: no shedding on the event loop's lag (a loaded
    # test machine would otherwise answer 503 where the test expects 4xx).
    settings = Settings(
        database_url=database_url,
        processor="off",
        models_dir=tmp_path / "models",
        ingest_max_loop_lag_seconds=0,
    )
    clock = FrozenClock(NOW)
    container = build_runtime(settings, clock)
    migrate.upgrade(container.engine)
    with authenticate(TestClient(create_app(container)), container.engine) as client:
        seed = body("seed", "complaint", "cus-1", text="Charged twice.")
        assert client.post("/v1/events", json=seed).status_code == 202
        build_processor(settings, container.engine, clock).run_until_idle()
        assert client.get("/v1/cases/1").status_code == 200
        yield client, container.engine
    container.close()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in TABLES
        }


def _refused(
    api: tuple[TestClient, Engine], method: str, url: str, status: int = 422, **kwargs: Any
) -> dict[str, Any]:
    """Send the request; check the status, the error shape and that no table changed."""
    client, engine = api
    before = _counts(engine)
    response = client.request(method, url, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == {400: "bad_request", 422: "validation_failed"}[status]
    assert error["message"]
    assert _counts(engine) == before
    return error


def _paths(error: dict[str, Any]) -> list[str]:
    return [e["path"] for e in error.get("errors") or []]


# -- integers past 64 bits -----------------------------------------------------------------------
@pytest.mark.parametrize("case_id", [TOO_BIG, JUST_TOO_BIG, 0])
@pytest.mark.parametrize(
    ("method", "template", "json"),
    [
        ("GET", "/v1/cases/{}", None),
        ("GET", "/v1/cases/{}/recommendations", None),
        ("POST", "/v1/cases/{}/actions", {"action": "note", "text": "hi"}),
    ],
)
def test_a_case_id_outside_64_bits_is_a_field_error(
    api: tuple[TestClient, Engine], method: str, template: str, json: Any, case_id: int
) -> None:
    error = _refused(api, method, template.format(case_id), json=json)

    assert _paths(error) == ["path.case_id"]


@pytest.mark.parametrize("grant_id", [TOO_BIG, JUST_TOO_BIG])
def test_a_grant_id_outside_64_bits_is_a_field_error(
    api: tuple[TestClient, Engine], grant_id: int
) -> None:
    action = {"action": "approve", "grant_id": grant_id}

    error = _refused(api, "POST", "/v1/cases/1/actions", json=action)

    assert _paths(error) == ["body.grant_id"]


def test_a_cursor_naming_an_id_outside_64_bits_is_refused(api: tuple[TestClient, Engine]) -> None:
    cursor = base64.urlsafe_b64encode(f"c:{TOO_BIG}".encode()).decode()

    error = _refused(api, "GET", f"/v1/cases?cursor={cursor}")

    assert error["message"] == "cursor: not a cursor this API returned"


def test_an_infinite_remedy_amount_is_a_field_error(api: tuple[TestClient, Engine]) -> None:
    raw = (
        b'{"action": "apply_remedy", '
        b'"remedy": "credit", "amount": Infinity, "idempotency_key": "k-inf"}'
    )

    error = _refused(
        api,
        "POST",
        "/v1/cases/1/actions",
        content=raw,
        headers={"content-type": "application/json"},
    )

    assert _paths(error) == ["body.amount"]


# -- event times ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_an_event_time_outside_the_utc_range_is_a_field_error(
    api: tuple[TestClient, Engine], stamp: str
) -> None:
    batch = {"events": [body("ok"), body("bad", occurred_at=stamp)]}

    error = _refused(api, "POST", "/v1/events", json=batch)

    assert error["errors"] == [
        {
            "path": "events[1].occurred_at",
            "message": "out of range: in UTC it falls outside the years 1 to 9999",
        }
    ]


def test_an_event_from_the_far_future_is_refused_naming_the_skew(
    api: tuple[TestClient, Engine],
) -> None:
    error = _refused(api, "POST", "/v1/events", json=body("far", occurred_at="9999-01-01T00:00Z"))

    assert error["errors"] == [
        {
            "path": "occurred_at",
            "message": "9999-01-01T00:00:00+00:00 is more than 300 s in the future "
            "(the server's time is 2026-11-24T09:30:00+00:00)",
        }
    ]


def test_an_event_within_the_skew_is_accepted(api: tuple[TestClient, Engine]) -> None:
    client, _ = api
    ahead = body("ahead", occurred_at="2026-11-24T09:35:00Z")  # the clock + 300 s

    assert client.post("/v1/events", json=ahead).status_code == 202


def test_the_skew_is_a_setting(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, processor="off", max_future_skew_seconds=0)
    container = build_runtime(settings, FrozenClock(NOW))
    migrate.upgrade(container.engine)
    with authenticate(TestClient(create_app(container)), container.engine) as client:
        now = client.post("/v1/events", json=body("now", occurred_at=NOW.isoformat()))
        later = client.post("/v1/events", json=body("later", occurred_at="2026-11-24T09:30:01Z"))
    container.close()

    assert now.status_code == 202
    assert later.status_code == 422
    assert "is more than 0 s in the future" in later.json()["errors"][0]["message"]


# -- deeply nested JSON --------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [500, 1000])
def test_json_nested_hundreds_of_levels_in_an_event_is_a_field_error(
    api: tuple[TestClient, Engine], depth: int
) -> None:
    nested = "[" * (depth - 3) + "]" * (depth - 3)  # inside {"attributes": {"k": ...}}
    raw = (
        '{"id": "deep", "type": "complaint", "customer": {"id": "cus-1"}, '
        f'"attributes": {{"k": {nested}}}}}'
    )

    error = _refused(
        api, "POST", "/v1/events", content=raw, headers={"content-type": "application/json"}
    )

    assert error["errors"] == [
        {"path": "attributes", "message": "attributes may nest at most 32 levels deep"}
    ]


def test_json_nested_past_the_parser_limit_is_a_malformed_body(
    api: tuple[TestClient, Engine],
) -> None:
    raw = '{"id": "deep", "attributes": ' + "[" * 1100 + "]" * 1100 + "}"

    error = _refused(
        api,
        "POST",
        "/v1/events",
        status=400,
        content=raw,
        headers={"content-type": "application/json"},
    )

    assert error["message"].startswith("malformed JSON")


# -- NUL characters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "action"),
    [
        ("text", {"action": "note"}),
        ("owner", {"action": "assign"}),
        ("reason", {"action": "escalate"}),
        ("outcome", {"action": "resolve"}),
        ("root_cause", {"action": "resolve", "outcome": "refunded"}),
        ("remedy", {"action": "apply_remedy", "idempotency_key": "k-1"}),
        ("idempotency_key", {"action": "note", "text": "hi"}),
    ],
)
def test_a_nul_in_an_action_field_is_a_field_error(
    api: tuple[TestClient, Engine], field: str, action: dict[str, Any]
) -> None:
    sent = {**action, field: NUL}

    error = _refused(api, "POST", "/v1/cases/1/actions", json=sent)

    assert error["errors"] == [
        {"path": f"body.{field}", "message": "must not contain NUL characters (\\u0000)"}
    ]


def test_a_nul_in_the_idempotency_key_header_is_a_field_error(
    api: tuple[TestClient, Engine],
) -> None:
    note = {"action": "note", "text": "hi"}

    error = _refused(
        api, "POST", "/v1/cases/1/actions", json=note, headers={"Idempotency-Key": NUL}
    )

    assert _paths(error) == ["header.idempotency-key"]


@pytest.mark.parametrize(
    ("agent", "field"),
    [
        ({"name": NUL}, "body.name"),
        ({"teams": ["support", NUL]}, "body.teams"),
        ({"categories": [NUL]}, "body.categories"),
        ({"languages": [NUL]}, "body.languages"),
        ({"channels": [NUL]}, "body.channels"),
        ({"segments": [NUL]}, "body.segments"),
    ],
)
def test_a_nul_in_an_agent_field_is_a_field_error(
    api: tuple[TestClient, Engine], agent: dict[str, Any], field: str
) -> None:
    error = _refused(api, "PUT", "/v1/routing/agents/ana", json=agent)

    assert _paths(error) == [field]


@pytest.mark.parametrize(
    ("method", "url", "path"),
    [
        ("PUT", "/v1/routing/agents/a%00b", "path.agent_id"),
        ("GET", "/v1/customers/a%00b", "path.customer_id"),
        ("GET", "/v1/cases?customer=a%00b", "query.customer"),
    ],
)
def test_a_nul_in_a_path_or_query_string_is_a_field_error(
    api: tuple[TestClient, Engine], method: str, url: str, path: str
) -> None:
    error = _refused(api, method, url, json={} if method == "PUT" else None)

    assert _paths(error) == [path]
