"""``GET /v1/auth/oidc/login`` and ``GET /v1/auth/oidc/callback``: single sign-on in a browser.

``login`` sends the browser to the provider with a fresh ``state``, ``nonce`` and PKCE
challenge, and keeps those three (and an expiry) in a cookie signed with the client secret
(itsdangerous; HttpOnly, ``SameSite=Lax`` so that it comes back on the provider's top-level
redirect, ``Secure`` when the redirect URL is https, scoped to ``/v1/auth/oidc``). The
``callback`` checks the returned ``state`` against the cookie, completes the sign-in
(:meth:`~winback.api.oidc.provider.OidcClient.complete`), drops the cookie whatever the outcome
(a sign-in is completed at most once per login), and hands the verified identity to ONE
function, :data:`EstablishSession`, found on ``app.state.oidc_establish_session``: by default
:func:`identity_as_json`, which creates nothing and shows who signed in; the identity core puts
its session creation there. Refusals answer 401 in the error shape (503 when the provider
cannot be reached), and nothing is created.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer

from winback.api.errors import error_response, json_response
from winback.api.oidc.provider import OidcClient, OidcIdentity, OidcRefused

log = logging.getLogger(__name__)

COOKIE = "winback_oidc"
COOKIE_PATH = "/v1/auth/oidc"

#: What the callback ends in: create the session for a verified identity, answer the browser.
EstablishSession = Callable[[OidcIdentity], Awaitable[Response]]


async def identity_as_json(identity: OidcIdentity) -> Response:
    """The stand-in session: who signed in, as JSON; nothing is created."""
    return json_response(
        {
            "issuer": identity.issuer,
            "subject": identity.subject,
            "name": identity.name,
            "email": identity.email,
            "role": identity.role,
            "actor": identity.principal().actor,
            "credential": identity.credential,
        }
    )


def build_router(client: OidcClient) -> APIRouter:
    """The two routes for ``client``'s provider."""
    router = APIRouter(prefix="/v1/auth/oidc", tags=["auth"])
    config = client.config
    signer = URLSafeSerializer(config.client_secret, salt="winback.oidc.login")
    secure = config.redirect_url.startswith("https://")

    @router.get(
        "/login",
        status_code=302,
        response_class=RedirectResponse,
        summary="Sign in through the OpenID Connect provider (a browser redirect)",
        responses={503: {"description": "The provider cannot be reached."}},
    )
    async def login() -> Response:
        try:
            start = await client.login_request()
        except OidcRefused as exc:
            return _refusal(exc)
        expires = int(client.clock.now().timestamp()) + config.login_timeout_seconds
        cookie = signer.dumps([start.state, start.nonce, start.verifier, expires])
        response = RedirectResponse(start.url, status_code=302)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=config.login_timeout_seconds,
            path=COOKIE_PATH,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get(
        "/callback",
        summary="Where the provider sends the browser back; ends in a session",
        responses={
            401: {"description": "The sign-in is refused; nothing is created."},
            503: {"description": "The provider cannot be reached."},
        },
    )
    async def callback(
        request: Request,
        code: Annotated[str | None, Query(max_length=4096)] = None,
        state: Annotated[str | None, Query(max_length=512)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        try:
            nonce, verifier = _check_state(request.cookies.get(COOKIE), state)
            if error is not None or not code:
                # The provider said no (the user cancelled, or is not allowed to use Winback).
                raise OidcRefused("oidc_provider_refused", "the provider did not sign the user in")
            identity = await client.complete(code, nonce, verifier)
        except OidcRefused as exc:
            log.info("oidc: sign-in refused (%s)", exc.code)
            response = _refusal(exc)
        else:
            establish: EstablishSession = request.app.state.oidc_establish_session
            response = await establish(identity)
        response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=secure, httponly=True)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _check_state(cookie: str | None, state: str | None) -> tuple[str, str]:
        if not cookie or not state:
            raise OidcRefused("oidc_bad_state", "no sign-in was started from this browser")
        try:
            saved, nonce, verifier, expires = signer.loads(cookie)
        except (BadSignature, ValueError, TypeError) as exc:
            raise OidcRefused("oidc_bad_state", "the sign-in cookie is not valid") from exc
        if client.clock.now().timestamp() > expires:
            raise OidcRefused("oidc_bad_state", "the sign-in took too long; start again")
        if not hmac.compare_digest(str(saved).encode(), state.encode()):
            raise OidcRefused("oidc_bad_state", "the sign-in state does not match")
        return str(nonce), str(verifier)

    return router


def _refusal(exc: OidcRefused) -> Response:
    return error_response(exc.status, exc.message, code=exc.code)
