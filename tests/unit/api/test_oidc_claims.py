"""Verified claims to a Winback user: the name, the role through the map, allowed domains."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from winback.api.oidc import OidcClient, OidcConfig, OidcRefused
from winback.clock import FrozenClock
from winback.config import ConfigError, Settings

BASE = OidcConfig(
    issuer="https://idp.example.com",
    client_id="winback",
    client_secret="secret",
    redirect_url="https://winback.example.com/v1/auth/oidc/callback",
    scopes=("openid",),
    username_claim="preferred_username",
    role_claim="groups",
    role_map=(("wb-admins", "admin"), ("wb-support", "agent")),
    allowed_domains=(),
    leeway_seconds=60,
    login_timeout_seconds=600,
)


def identify(claims: dict[str, Any], **config: Any) -> Any:
    client = OidcClient(replace(BASE, **config), FrozenClock(datetime(2026, 12, 2, tzinfo=UTC)))
    return client.identity({"sub": "s-1", "preferred_username": "ana", **claims})


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["wb-support"], "agent"),
        ("wb-admins", "admin"),  # a single string
        (["wb-support", "wb-admins"], "admin"),  # the map's order decides, not the claim's
        (["other", 7, None, "wb-support"], "agent"),  # non-strings are ignored
    ],
)
def test_the_role_comes_through_the_map(groups: Any, role: str) -> None:
    assert identify({"groups": groups}).role == role


@pytest.mark.parametrize("groups", [[], ["admin"], None, {"wb-admins": True}, 3])
def test_no_mapped_role_is_a_refusal(groups: Any) -> None:
    with pytest.raises(OidcRefused) as refused:
        identify({"groups": groups})
    assert refused.value.code == "oidc_role_not_mapped"


def test_without_a_map_role_names_are_taken_as_they_are() -> None:
    assert identify({"groups": ["lead", "x"]}, role_map=()).role == "lead"
    with pytest.raises(OidcRefused):
        identify({"groups": ["superuser"]}, role_map=())


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 201, 42, None])
def test_an_unusable_user_name_is_a_refusal(name: Any) -> None:
    with pytest.raises(OidcRefused) as refused:
        identify({"preferred_username": name, "groups": ["wb-support"]})
    assert refused.value.code == "oidc_no_username"


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ana@example.com", True, True),
        ("ana@EXAMPLE.COM", None, True),  # not said: accepted
        ("ana@example.com", False, False),
        ("ana@sub.example.com", True, False),  # exact domains only
        ("ana@example.com.evil.test", True, False),
        ("example.com", True, False),
        (None, True, False),
    ],
)
def test_allowed_domains(email: Any, verified: Any, allowed: bool) -> None:
    claims = {"groups": ["wb-support"], "email": email, "email_verified": verified}
    if allowed:
        assert identify(claims, allowed_domains=("example.com",)).email == email.lower()
    else:
        with pytest.raises(OidcRefused) as refused:
            identify(claims, allowed_domains=("example.com",))
        assert refused.value.code == "oidc_domain_not_allowed"


def test_the_configuration_comes_from_settings() -> None:
    settings = Settings(
        oidc_issuer="https://idp.example.com",
        oidc_client_id="winback",
        oidc_client_secret="secret",
        oidc_redirect_url="https://winback.example.com/v1/auth/oidc/callback",
        oidc_role_map={"b": "lead", "a": "agent"},
        oidc_allowed_domains="Example.com, @other.org",
    )
    config = OidcConfig.from_settings(settings)
    assert config is not None
    assert config.role_map == (("b", "lead"), ("a", "agent"))
    assert config.allowed_domains == ("example.com", "other.org")
    assert config.client_secret == "secret"
    assert OidcConfig.from_settings(Settings()) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"oidc_issuer": "https://idp.example.com"}, "WINBACK_OIDC_CLIENT_ID"),
        (
            {"oidc_client_id": "c", "oidc_client_secret": "s", "oidc_issuer": "http://idp.test",
             "oidc_redirect_url": "https://w.example.com/cb"},
            "WINBACK_OIDC_ISSUER must be an https",
        ),
        (
            {"oidc_client_id": "c", "oidc_client_secret": "s", "oidc_issuer": "https://idp.test",
             "oidc_redirect_url": "https://w.example.com/cb", "oidc_scopes": "email"},
            "must include openid",
        ),
    ],
)  # fmt: skip
def test_incomplete_or_unsafe_settings_stop_the_start(settings: Any, message: str) -> None:
    from winback.config import load_settings

    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(**settings)
    assert "'s'" not in str(caught.value)  # the client secret is never echoed
