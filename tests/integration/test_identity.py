"""People, sessions and API keys through the HTTP API, on SQLite and PostgreSQL: login sets a
secure session cookie, logout ends it, cookie requests need the CSRF token, failed logins lock
a name (known or not) and an address, keys work until revoked, ingest takes only JSON, and the
actor of an action is whoever the credential says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.bootstrap import build_processor, build_runtime
from winback.clock import FrozenClock
from winback.config import ConfigError, Settings, load_settings
from winback.identity import SYSTEM
from winback.services import identity as identity_service
from winback.store.engine import write_connection
from winback.store.tables import api_keys, case_timeline, remedy_grants, routing_agents, sessions

from .support import api_app, as_user, authenticate, body, with_key

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
def runtime(engine: Engine, frozen_clock: FrozenClock, tmp_path: Path) -> Iterator[Any]:
    settings = load_settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        models_dir=tmp_path / "models",
        processor="off",
        login_max_failures=3,
        login_max_failures_per_address=5,
        login_lockout_minutes=10,
        api_key_cache_seconds=0,
        ingest_max_loop_lag_seconds=0,  # a shared test machine: no shedding here
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    return container


@pytest.fixture
def client(runtime: Any) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url="https://testserver") as test_client:
        yield test_client


def create_user(engine: Engine, name: str, role: str, password: str | None = PASSWORD) -> None:
    with write_connection(engine) as conn, conn.begin():
        identity_service.create_user(conn, SYSTEM, name=name, role=role, password=password, now=NOW)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/login", json={"name": name, "password": password})


# -- login, me, logout -------------------------------------------------------------------------
def test_login_sets_a_secure_session_cookie_and_logout_ends_it(
    client: TestClient, engine: Engine
) -> None:
    create_user(engine, "ana", "agent")
    assert client.get("/v1/auth/me").status_code == 401

    reply = login(client, "ana")
    assert reply.status_code == 200, reply.text
    cookies = [v for k, v in reply.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("winback_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session or "samesite=lax" in session.lower()
    assert "Secure" in session
    csrf_cookie = next(c for c in cookies if c.startswith("winback_csrf="))
    assert "HttpOnly" not in csrf_cookie
    token = session.split(";", 1)[0].split("=", 1)[1]
    with engine.connect() as conn:  # only the hash of the token is stored
        stored = [r.token_hash for r in conn.execute(sa.select(sessions))]
    assert stored == [identity_service.token_hash(token)]
    assert token not in stored

    me = client.get("/v1/auth/me").json()
    assert me["actor"] == "user:ana"
    assert me["role"] == "agent"
    assert "cases:act" in me["permissions"]

    csrf = reply.json()["csrf_token"]
    # Without the CSRF token a cookie request that changes something is refused.
    refused = client.post("/v1/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    out = client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    # The old cookie no longer works, even sent again by hand.
    client.cookies.clear()
    again = client.get("/v1/auth/me", headers={"Cookie": f"winback_session={token}"})
    assert again.status_code == 401
    assert again.json()["error"] == "unauthenticated"
    assert again.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    client: TestClient, engine: Engine
) -> None:
    create_user(engine, "ana", "agent")
    wrong = login(client, "ana", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_failed_logins_lock_the_name_then_retry_after(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock
) -> None:
    create_user(engine, "ana", "agent")
    for _ in range(3):
        assert login(client, "ana", "wrong password!").status_code in (401, 429)
    locked = login(client, "ana")  # the right password, but locked
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 600
    # An unknown name locks the same way: a lock does not reveal that a user exists.
    for _ in range(3):
        login(client, "ghost", "wrong password!")
    assert login(client, "ghost", "whatever").status_code == 429
    frozen_clock.advance(timedelta(minutes=11))
    assert login(client, "ana").status_code == 200


def test_failed_logins_from_one_address_lock_it_for_every_name(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock
) -> None:
    create_user(engine, "bo", "agent")
    for i in range(5):
        login(client, f"guess{i}", "wrong password!")
    blocked = login(client, "bo")
    assert blocked.status_code == 429
    frozen_clock.advance(timedelta(minutes=11))
    assert login(client, "bo").status_code == 200


def test_a_disabled_user_cannot_log_in_and_their_sessions_end(
    client: TestClient, engine: Engine
) -> None:
    create_user(engine, "cy", "agent")
    assert login(client, "cy").status_code == 200
    assert client.get("/v1/auth/me").status_code == 200
    admin = as_user(engine, "root", "admin")
    off = client.patch("/v1/users/cy", json={"active": False}, headers=admin)
    assert off.status_code == 200, off.text
    assert client.get("/v1/auth/me").status_code == 401
    client.cookies.clear()
    assert login(client, "cy").status_code == 401
    with engine.connect() as conn:
        status = conn.execute(
            sa.select(routing_agents.c.status).where(routing_agents.c.id == "cy")
        ).scalar_one()
    assert status == "offline"


# -- users and keys over the API ---------------------------------------------------------------
def test_admins_create_users_and_keys_the_token_is_shown_once(
    client: TestClient, engine: Engine
) -> None:
    admin = as_user(engine, "root", "admin")
    made = client.post(
        "/v1/users",
        json={"name": "dee", "role": "lead", "password": PASSWORD, "team": "billing"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert "password" not in made.text
    assert "hash" not in made.text
    assert (
        client.post("/v1/users", json={"name": "dee", "role": "agent"}, headers=admin).status_code
        == 409
    )
    assert (
        client.post(
            "/v1/users", json={"name": "eve", "role": "agent", "password": "short"}, headers=admin
        ).status_code
        == 422
    )
    assert login(client, "dee").json()["user"]["role"] == "lead"

    key = client.post("/v1/keys", json={"name": "crm", "scopes": ["events:write"]}, headers=admin)
    assert key.status_code == 201, key.text
    token = key.json()["token"]
    assert token.startswith("wb_")
    assert len(token) > 40
    listed = client.get("/v1/keys", headers=admin).json()["keys"]
    assert [k["name"] for k in listed] == ["crm"]
    assert token not in str(listed)
    with engine.connect() as conn:
        assert token not in str(list(conn.execute(sa.select(api_keys))))
    bad = client.post("/v1/keys", json={"name": "x", "scopes": ["everything"]}, headers=admin)
    assert bad.status_code == 422


def test_an_api_key_sends_events_until_revoked_and_records_its_last_use(
    client: TestClient, engine: Engine, frozen_clock: FrozenClock
) -> None:
    admin = as_user(engine, "root", "admin")
    token = client.post(
        "/v1/keys", json={"name": "crm", "scopes": ["events:write"]}, headers=admin
    ).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    client.cookies.clear()
    sent = client.post("/v1/events", json=body("k1"), headers=bearer)
    assert sent.status_code == 202, sent.text
    with engine.connect() as conn:
        used = conn.execute(sa.select(api_keys.c.last_used_at)).scalar_one()
    assert used == frozen_clock.now()
    # The key may send events and nothing else.
    assert client.get("/v1/cases", headers=bearer).status_code == 403
    # Not JSON: 415, nothing stored.
    plain = client.post(
        "/v1/events", content=b'{"id": "x"}', headers={**bearer, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert plain.json()["error"] == "unsupported_media_type"
    assert client.post("/v1/events", content=b"{}", headers=bearer).status_code == 415  # none
    typed = {**bearer, "Content-Type": "application/vnd.acme+json; charset=utf-8"}
    assert client.post("/v1/events", json=body("k1"), headers=typed).status_code == 202
    # Anonymous and a made-up key: 401.
    assert client.post("/v1/events", json=body("k2")).status_code == 401
    fake = {"Authorization": "Bearer wb_" + "A" * 43}
    assert client.post("/v1/events", json=body("k2"), headers=fake).status_code == 401
    revoked = client.delete("/v1/keys/crm", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    client.cookies.clear()
    assert client.post("/v1/events", json=body("k3"), headers=bearer).status_code == 401


def test_a_revoked_key_stops_working_once_the_cache_expires(runtime: Any, engine: Engine) -> None:
    """Another process revokes the key (not through this app): the cache keeps it working for
    at most WINBACK_API_KEY_CACHE_SECONDS."""
    import time

    runtime.settings = runtime.settings.model_copy(update={"api_key_cache_seconds": 0.3})
    with TestClient(create_app(runtime)) as client:
        with write_connection(engine) as conn, conn.begin():
            token, _ = identity_service.create_key(conn, SYSTEM, "crm", ["events:write"], NOW)
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.post("/v1/events", json=body("c1"), headers=bearer).status_code == 202
        with write_connection(engine) as conn, conn.begin():
            identity_service.revoke_key(conn, SYSTEM, "crm", NOW)
        time.sleep(0.4)
        assert client.post("/v1/events", json=body("c2"), headers=bearer).status_code == 401


# -- who acts on a case -----------------------------------------------------------------------
def test_the_actor_and_role_come_from_the_credential(
    runtime: Any, client: TestClient, engine: Engine
) -> None:
    authenticate(client, engine)
    assert client.post("/v1/events", json=body("e1", text="Charged twice!")).status_code == 202
    build_processor(runtime.settings, engine, runtime.clock).run_until_idle()
    ana = as_user(engine, "ana", "agent")
    # A role in the body is refused outright (it is not a field any more).
    claimed = client.post(
        "/v1/cases/1/actions",
        json={"action": "note", "text": "hi", "role": "manager"},
        headers=ana,
    )
    assert claimed.status_code == 422
    noted = client.post("/v1/cases/1/actions", json={"action": "note", "text": "hi"}, headers=ana)
    assert noted.status_code == 200, noted.text
    assert noted.json()["entries"][0]["actor"] == "user:ana"
    # An analyst reads but never acts.
    analyst = as_user(engine, "al", "analyst")
    assert client.get("/v1/cases/1", headers=analyst).status_code == 200
    assert (
        client.post(
            "/v1/cases/1/actions", json={"action": "note", "text": "x"}, headers=analyst
        ).status_code
        == 403
    )
    # Over her limit, ana's request waits for a lead; she cannot approve it herself, nor can
    # a lead approve a request of their own.
    big = client.post(
        "/v1/cases/1/actions",
        json={"action": "apply_remedy", "remedy": "credit", "amount": 200},
        headers={**ana, "Idempotency-Key": "r1"},
    )
    assert big.status_code == 200, big.text
    grant = big.json()["entries"][0]["data"]["grant_id"]
    own = client.post(
        "/v1/cases/1/actions",
        json={"action": "approve", "grant_id": grant},
        headers={**as_user(engine, "ana", "lead"), "Idempotency-Key": "r2"},
    )
    assert own.status_code == 403
    assert own.json()["error"] == "own_request"
    ok = client.post(
        "/v1/cases/1/actions",
        json={"action": "approve", "grant_id": grant},
        headers={**as_user(engine, "li", "lead"), "Idempotency-Key": "r3"},
    )
    assert ok.status_code == 200, ok.text
    with engine.connect() as conn:
        row = conn.execute(sa.select(remedy_grants)).one()
        actors = {r.actor for r in conn.execute(sa.select(case_timeline.c.actor))}
    assert (row.requested_by, row.decided_by) == ("user:ana", "user:li")
    assert {"user:ana", "user:li"} <= actors


def test_only_an_active_agent_user_joins_the_roster(client: TestClient, engine: Engine) -> None:
    lead = as_user(engine, "li", "lead")
    assert (
        client.put("/v1/routing/agents/ghost", json={"capacity": 2}, headers=lead).status_code
        == 404
    )
    as_user(engine, "al", "analyst")
    assert (
        client.put("/v1/routing/agents/al", json={"capacity": 2}, headers=lead).status_code == 409
    )
    as_user(engine, "ana", "agent")
    changed = client.put("/v1/routing/agents/ana", json={"capacity": 4}, headers=lead)
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] == 4
    listed = {a["id"]: a for a in client.get("/v1/routing/agents", headers=lead).json()["agents"]}
    assert listed["ana"]["routable"] is True
    client.patch("/v1/users/ana", json={"active": False}, headers=as_user(engine, "root", "admin"))
    listed = {a["id"]: a for a in client.get("/v1/routing/agents", headers=lead).json()["agents"]}
    assert listed["ana"]["routable"] is False
    assert listed["ana"]["status"] == "offline"
    agent = as_user(engine, "bo", "agent")
    assert (
        client.put("/v1/routing/agents/bo", json={"capacity": 9}, headers=agent).status_code == 403
    )


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [None, "short", "changeme-changeme-changeme-changeme", "a" * 40])
def test_the_api_refuses_to_start_without_a_strong_secret(
    tmp_path: Path, secret: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WINBACK_SECRET_KEY", raising=False)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", processor="off", secret_key=secret
    )
    with pytest.raises(ConfigError, match="WINBACK_SECRET_KEY"):
        create_app(build_runtime(settings))
    demo = settings.model_copy(update={"demo_mode": True})
    create_app(build_runtime(demo))  # demo mode: a random secret for the process
    assert demo.cookie_secure is False
    assert settings.cookie_secure is True


def test_routing_never_hands_a_case_to_a_disabled_user(
    runtime: Any, client: TestClient, engine: Engine
) -> None:
    admin = as_user(engine, "root", "admin")
    as_user(engine, "ana", "agent")
    as_user(engine, "bo", "agent")
    client.patch("/v1/users/bo", json={"active": False}, headers=admin)
    for i in range(3):
        event = body(f"e{i}", customer=f"c{i}", text="Nobody answers.")
        assert client.post("/v1/events", json=event, headers=admin).status_code == 202
    build_processor(runtime.settings, engine, runtime.clock).run_until_idle()
    run = client.post("/v1/routing/run", headers=admin).json()
    assert {a["agent"] for a in run["assigned"]} == {"ana"}
    assert "bo" not in run["open_cases_per_agent"]


def test_an_api_key_over_its_rate_and_logins_over_theirs_get_429_with_retry_after(
    tmp_path: Path,
) -> None:
    client, _, engine = api_app(
        tmp_path,
        datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        rate_limit_key_per_second=1,
        rate_limit_key_burst=3,
        rate_limit_login_per_second=0.01,
        rate_limit_login_burst=2,
    )
    key = with_key(engine, "reader", "cases:read")
    answers = [client.get("/v1/cases", headers=key).status_code for _ in range(5)]
    assert answers[:3] == [200, 200, 200]
    assert 429 in answers[3:]
    limited = client.get("/v1/cases", headers=key)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    other = with_key(engine, "other", "cases:read")  # each key its own bucket
    assert client.get("/v1/cases", headers=other).status_code == 200
    tries = [
        client.post("/v1/auth/login", json={"name": "nobody", "password": "wrong-password"})
        for _ in range(3)
    ]
    assert [t.status_code for t in tries] == [401, 401, 429]
