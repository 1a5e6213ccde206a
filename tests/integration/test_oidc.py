"""Single sign-on through OpenID Connect, against a real provider on loopback with real tokens.

Each refusal answers 401 in the error shape and never reaches ``establish_session`` (nothing
is created); the happy path reaches it once with the verified identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.responses import Response
from fastapi.testclient import TestClient
from joserfc.jwk import OctKey

from winback.api.app import create_app
from winback.api.errors import json_response
from winback.api.oidc import OidcClient, OidcIdentity
from winback.bootstrap import build_runtime
from winback.clock import FrozenClock
from winback.config import ConfigError, Settings
from winback.store import migrate, tables

from .oidc_fake import CLIENT_ID, CLIENT_SECRET, FakeIssuer, free_port, new_key, running

FROZEN_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
REDIRECT = "http://localhost/v1/auth/oidc/callback"


@dataclass
class World:
    client: TestClient
    fake: FakeIssuer
    clock: FrozenClock
    oidc: OidcClient
    sessions: list[OidcIdentity]


def make_app(tmp_path: Path, clock: FrozenClock, issuer: str, **settings: Any) -> Any:
    settings = {"oidc_role_map": {"support-leads": "lead", "support-agents": "agent"}} | settings
    config = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        processor="off",
        models_dir=tmp_path / "models",
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_redirect_url=REDIRECT,
        **settings,
    )
    container = build_runtime(config, clock)
    migrate.upgrade(container.engine)
    return create_app(container)


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    settings: dict[str, Any] = getattr(request, "param", {})
    clock = FrozenClock(FROZEN_AT)
    with running(FakeIssuer(clock)) as fake:
        app = make_app(tmp_path, clock, fake.issuer, **settings)
        sessions: list[OidcIdentity] = []

        async def establish(identity: OidcIdentity) -> Response:
            sessions.append(identity)
            return json_response({"session": "made", "name": identity.name})

        app.state.oidc_establish_session = establish
        with TestClient(app) as client:
            yield World(client, fake, clock, app.state.oidc, sessions)


def start(world: World) -> httpx.URL:
    """Begin a sign-in; the provider's redirect back (the callback URL with code and state)."""
    login = world.client.get("/v1/auth/oidc/login", follow_redirects=False)
    assert login.status_code == 302, login.text
    back = httpx.get(login.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    return httpx.URL(back.headers["location"])


def finish(world: World, url: httpx.URL) -> httpx.Response:
    return world.client.get(url.path, params=url.params, follow_redirects=False)


def sign_in(world: World) -> httpx.Response:
    return finish(world, start(world))


def assert_refused(response: httpx.Response, world: World, code: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str)
    assert world.sessions == []  # nothing was created
    assert 'winback_oidc=""' in response.headers.get("set-cookie", "")  # the attempt is spent


# -- the happy path ---------------------------------------------------------------------------
def test_a_user_signs_in_with_state_nonce_and_pkce_and_gets_a_session(world: World) -> None:
    login = world.client.get("/v1/auth/oidc/login", follow_redirects=False)
    location = httpx.URL(login.headers["location"])
    assert location.path == "/authorize"
    params = location.params
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT
    assert params["scope"] == "openid email profile"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32
    assert params["code_challenge"]
    cookie = login.headers["set-cookie"]
    assert "winback_oidc=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/v1/auth/oidc" in cookie

    back = httpx.URL(httpx.get(str(location), follow_redirects=False).headers["location"])
    response = finish(world, back)

    assert response.status_code == 200, response.text
    assert response.json() == {"session": "made", "name": "ana"}
    [identity] = world.sessions
    assert identity == OidcIdentity(
        issuer=world.fake.issuer,
        subject="00u-ana",
        name="ana",
        email="ana@example.com",
        role="agent",
    )
    assert identity.principal().actor == "user:ana"
    assert identity.principal().credential == f"oidc:{world.fake.issuer}"
    assert 'winback_oidc=""' in response.headers["set-cookie"]  # used once, then dropped


def test_a_verified_sign_in_starts_a_session_for_that_person_and_opens_the_console(
    tmp_path: Path,
) -> None:
    clock = FrozenClock(FROZEN_AT)
    with running(FakeIssuer(clock)) as fake:
        # The test client speaks plain http: a Secure cookie would not come back.
        app = make_app(tmp_path, clock, fake.issuer, session_cookie_secure=False)
        with TestClient(app) as client:
            world = World(client, fake, clock, app.state.oidc, [])
            response = sign_in(world)
            assert response.status_code == 303, response.text
            assert response.headers["location"] == "/console"
            me = client.get("/v1/auth/me")  # the session cookie the sign-in set
            assert me.status_code == 200, me.text
            assert me.json()["name"] == "ana"
            assert me.json()["role"] == "agent"
            # A second sign-in finds the same person (created once, without a password).
            assert sign_in(world).status_code == 303
            engine = app.state.container.engine
            with engine.connect() as conn:
                users = conn.execute(sa.select(tables.users.c.name, tables.users.c.password_hash))
                assert [tuple(u) for u in users] == [("ana", None)]
                logins = conn.execute(
                    sa.select(tables.audit_log.c.credential).where(
                        tables.audit_log.c.action == "login"
                    )
                ).scalars()
                assert list(logins) == [f"oidc:{fake.issuer}"] * 2


def test_the_first_mapped_role_the_user_carries_wins(world: World) -> None:
    world.fake.user["roles"] = ["support-agents", "support-leads", "unrelated"]
    assert sign_in(world).status_code == 200
    assert world.sessions[0].role == "lead"  # "support-leads" comes first in the map


@pytest.mark.parametrize(
    "world", [{"oidc_role_claim": "realm_access.roles", "oidc_role_map": {}}], indirect=True
)
def test_without_a_map_a_nested_claim_naming_a_role_is_that_role(world: World) -> None:
    world.fake.user.pop("roles")
    world.fake.user["realm_access"] = {"roles": ["offline_access", "manager"]}
    assert sign_in(world).status_code == 200
    assert world.sessions[0].role == "manager"


# -- the token's refusals -----------------------------------------------------------------------
def test_an_expired_id_token_is_refused(world: World) -> None:
    now = int(FROZEN_AT.timestamp())
    world.fake.overrides = {"iat": now - 600, "exp": now - 120}  # past the 60 s leeway
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_expired_within_the_leeway_is_still_accepted(world: World) -> None:
    now = int(FROZEN_AT.timestamp())
    world.fake.overrides = {"iat": now - 300, "exp": now - 30}
    assert sign_in(world).status_code == 200


def test_a_token_issued_in_the_future_is_refused(world: World) -> None:
    now = int(FROZEN_AT.timestamp())
    world.fake.overrides = {"iat": now + 600, "exp": now + 900}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_for_another_audience_is_refused(world: World) -> None:
    world.fake.overrides = {"aud": "some-other-app"}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_for_several_audiences_needs_winback_as_authorized_party(world: World) -> None:
    world.fake.overrides = {"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_from_another_issuer_is_refused(world: World) -> None:
    world.fake.overrides = {"iss": "https://evil.example.com"}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
    world: World,
) -> None:
    world.fake.sign_with = new_key("key-1")  # same kid, another key: the signature fails
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_signed_with_hmac_and_the_client_secret_is_refused(world: World) -> None:
    world.fake.algorithm = "HS256"
    world.fake.sign_with = OctKey.import_key(CLIENT_SECRET.encode(), {"kid": "key-1"})
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_replayed_from_an_earlier_sign_in_is_refused_by_its_nonce(
    world: World,
) -> None:
    first = start(world)
    earlier_nonce = world.fake.grants[first.params["code"]].nonce
    assert finish(world, first).status_code == 200
    world.sessions.clear()
    world.fake.overrides = {"nonce": earlier_nonce}  # an old token, replayed
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_a_token_without_the_nonce_is_refused(world: World) -> None:
    world.fake.overrides = {"nonce": None}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


def test_an_access_token_hash_that_does_not_match_is_refused(world: World) -> None:
    world.fake.overrides = {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}
    assert_refused(sign_in(world), world, "oidc_invalid_token")


# -- the browser's refusals ---------------------------------------------------------------------
def test_a_callback_whose_state_does_not_match_is_refused(world: World) -> None:
    back = start(world)
    forged = back.copy_set_param("state", "x" * 43)
    assert_refused(finish(world, forged), world, "oidc_bad_state")


def test_a_callback_without_the_sign_in_cookie_is_refused(world: World) -> None:
    back = start(world)
    world.client.cookies.clear()  # a callback another browser was lured into
    assert_refused(finish(world, back), world, "oidc_bad_state")


def test_a_forged_sign_in_cookie_is_refused(world: World) -> None:
    back = start(world)
    world.client.cookies.clear()
    world.client.cookies.set("winback_oidc", "eyJmb3JnZWQiOnRydWV9.abc", path="/v1/auth/oidc")
    assert_refused(finish(world, back), world, "oidc_bad_state")


def test_a_sign_in_that_takes_too_long_is_refused(world: World) -> None:
    back = start(world)
    world.clock.advance(timedelta(seconds=601))
    assert_refused(finish(world, back), world, "oidc_bad_state")


def test_a_callback_replayed_after_its_sign_in_is_refused(world: World) -> None:
    back = start(world)
    assert finish(world, back).status_code == 200
    world.sessions.clear()
    assert_refused(finish(world, back), world, "oidc_bad_state")  # the cookie is gone


def test_the_provider_saying_no_is_a_refusal(world: World) -> None:
    back = start(world)
    denied = httpx.URL(back.path, params={"error": "access_denied", "state": back.params["state"]})
    assert_refused(finish(world, denied), world, "oidc_provider_refused")


def test_a_code_the_provider_refuses_is_a_refusal(world: World) -> None:
    back = start(world)
    world.fake.grants.clear()  # the code expired at the provider
    assert_refused(finish(world, back), world, "oidc_code_refused")


# -- who may sign in --------------------------------------------------------------------------
def test_a_user_without_a_mapped_role_is_refused(world: World) -> None:
    world.fake.user["roles"] = ["marketing"]
    assert_refused(sign_in(world), world, "oidc_role_not_mapped")


def test_a_user_without_a_user_name_is_refused(world: World) -> None:
    world.fake.user.pop("preferred_username")
    assert_refused(sign_in(world), world, "oidc_no_username")


@pytest.mark.parametrize("world", [{"oidc_allowed_domains": "example.com"}], indirect=True)
def test_an_e_mail_outside_the_allowed_domains_is_refused(world: World) -> None:
    world.fake.user["email"] = "ana@example.com.evil.test"
    assert_refused(sign_in(world), world, "oidc_domain_not_allowed")


@pytest.mark.parametrize("world", [{"oidc_allowed_domains": "example.com"}], indirect=True)
def test_an_unverified_e_mail_in_an_allowed_domain_is_refused(world: World) -> None:
    world.fake.user["email_verified"] = False
    assert_refused(sign_in(world), world, "oidc_domain_not_allowed")


@pytest.mark.parametrize(
    "world", [{"oidc_allowed_domains": "Example.com, other.org"}], indirect=True
)
def test_an_e_mail_in_an_allowed_domain_signs_in(world: World) -> None:
    world.fake.user["email"] = "Ana@EXAMPLE.com"
    assert sign_in(world).status_code == 200
    assert world.sessions[0].email == "ana@example.com"


# -- the provider's keys and documents --------------------------------------------------------
def test_a_rotated_key_is_fetched_once_and_then_used(world: World) -> None:
    assert sign_in(world).status_code == 200
    assert world.oidc.jwks_fetches == 1
    world.fake.rotate("key-2")
    world.clock.advance(timedelta(minutes=5))
    assert sign_in(world).status_code == 200  # unknown kid: the key set is fetched again
    assert world.oidc.jwks_fetches == 2
    assert sign_in(world).status_code == 200  # and kept
    assert world.oidc.jwks_fetches == 2
    assert [s.name for s in world.sessions] == ["ana", "ana", "ana"]


def test_unknown_key_ids_cannot_make_winback_hammer_the_provider(world: World) -> None:
    world.fake.rotate("key-2")
    assert sign_in(world).status_code == 200
    world.sessions.clear()
    world.fake.sign_with = new_key("forged-kid")
    for _ in range(3):
        assert_refused(sign_in(world), world, "oidc_invalid_token")
    assert world.oidc.jwks_fetches == 1  # fetched at most once per 30 s


def test_discovery_is_cached(world: World) -> None:
    assert sign_in(world).status_code == 200
    world.fake.discovery_extra = {"issuer": "https://changed.example.com"}
    assert sign_in(world).status_code == 200  # the cached document is still used
    world.clock.advance(timedelta(hours=1, seconds=1))
    response = sign_in_or_login_error(world)
    assert response.status_code == 503  # re-read: it names another issuer now
    assert response.json()["error"] == "oidc_unavailable"


def sign_in_or_login_error(world: World) -> httpx.Response:
    login = world.client.get("/v1/auth/oidc/login", follow_redirects=False)
    return login if login.status_code != 302 else finish(world, start(world))


def test_a_provider_that_cannot_be_reached_answers_503(tmp_path: Path) -> None:
    clock = FrozenClock(FROZEN_AT)
    app = make_app(tmp_path, clock, f"http://127.0.0.1:{free_port()}")
    with TestClient(app) as client:
        response = client.get("/v1/auth/oidc/login", follow_redirects=False)
    assert response.status_code == 503
    assert response.json()["error"] == "oidc_unavailable"


# -- configuration ----------------------------------------------------------------------------
def test_the_routes_exist_only_when_single_sign_on_is_configured(tmp_path: Path) -> None:
    config = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", processor="off")
    container = build_runtime(config, FrozenClock(FROZEN_AT))
    migrate.upgrade(container.engine)
    with TestClient(create_app(container)) as client:
        assert client.get("/v1/auth/oidc/login", follow_redirects=False).status_code == 404


def test_a_role_map_naming_no_role_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"WINBACK_OIDC_ROLE_MAP.*superuser"):
        make_app(
            tmp_path, FrozenClock(FROZEN_AT), "https://idp.example.com",
            oidc_role_map={"admins": "superuser"},
        )  # fmt: skip
