"""OpenID Connect single sign-on (off unless ``WINBACK_OIDC_ISSUER`` is set).

:mod:`.provider` is the relying party (discovery, the authorization request, the code exchange,
the ID token's validation, the mapping to a Winback user and role); :mod:`.routes` the two
browser routes, ending in one injectable function, ``app.state.oidc_establish_session``.
"""

from __future__ import annotations

from fastapi import FastAPI

from winback.api.oidc.provider import (
    OidcClient,
    OidcConfig,
    OidcIdentity,
    OidcRefused,
    OidcUnavailable,
)
from winback.api.oidc.routes import EstablishSession, build_router, identity_as_json
from winback.clock import Clock
from winback.config import Settings

__all__ = [
    "EstablishSession",
    "OidcClient",
    "OidcConfig",
    "OidcIdentity",
    "OidcRefused",
    "OidcUnavailable",
    "identity_as_json",
    "install",
]


def install(
    app: FastAPI,
    settings: Settings,
    clock: Clock,
    establish_session: EstablishSession = identity_as_json,
) -> OidcClient | None:
    """Add the sign-in routes when single sign-on is configured; the client, or ``None``."""
    config = OidcConfig.from_settings(settings)
    if config is None:
        return None
    client = OidcClient(config, clock)
    app.state.oidc = client
    app.state.oidc_establish_session = establish_session
    app.include_router(build_router(client))
    return client
