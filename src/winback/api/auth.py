"""Who is calling, and whether they may: the one dependency every route declares.

``Require("cases:act")`` resolves the request's credential into a
:class:`~winback.identity.Principal` and checks the permission
(:mod:`winback.identity.rules`); the application's OpenAPI schema records it on the operation
as ``x-permission`` (see :func:`permission_of`), and a test walks every route of the schema.
``Open()`` marks the few routes anyone may call (health, login). ``PrincipalDep`` is the
principal of any authenticated caller.

Credentials, in this order:

- ``Authorization: Bearer wb_…``: an API key. Lookups are cached in the process for
  ``WINBACK_API_KEY_CACHE_SECONDS`` (a revoked key stops working within that time), so the
  ingest hot path pays a dictionary lookup, not a query; the key's last use is written at most
  once a minute.
- the ``winback_session`` cookie of a login (:mod:`winback.api.identity`). A request that
  changes something (not GET/HEAD/OPTIONS) with the cookie must also carry the session's CSRF
  token in ``X-CSRF-Token`` (double submit: the token is in the login answer and in the
  readable ``winback_csrf`` cookie), so another site cannot make a browser act.

Anonymous: 401 (``unauthenticated``); not allowed: 403 (``forbidden``), in the error shape.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends
from fastapi.dependencies.models import Dependant
from sqlalchemy.engine import Engine
from starlette.requests import HTTPConnection, Request

from winback.api.ratelimit import RateLimits, enforce
from winback.clock import Clock
from winback.config import Settings
from winback.errors import CsrfFailed, Forbidden, Unauthenticated
from winback.identity import AUTHENTICATED, PUBLIC, Principal, permits
from winback.services import identity as service
from winback.store.engine import write_connection

SESSION_COOKIE = "winback_session"
CSRF_COOKIE = "winback_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_SECONDS = 60.0  # a key's last-used time is written at most this often
_CACHE_LIMIT = 10_000


class Authenticator:
    """Resolves credentials for one application (its engine, clock and settings)."""

    def __init__(self, engine: Engine, clock: Clock, settings: Settings, secret: str) -> None:
        self.engine, self.clock, self.settings, self.secret = engine, clock, settings, secret
        self.cache_seconds = settings.api_key_cache_seconds
        self._keys: dict[str, tuple[float, Principal | None, int | None]] = {}
        self._touched: dict[int, float] = {}

    # -- API keys --------------------------------------------------------------------------
    def _lookup_key(self, token: str) -> tuple[Principal | None, int | None]:
        with self.engine.connect() as conn:
            key = service.find_key(conn, token)
        return (None, None) if key is None else (service.key_principal(key), key.id)

    def _touch(self, key_id: int) -> None:
        with write_connection(self.engine) as conn, conn.begin():
            service.touch_key(conn, key_id, self.clock.now())

    async def key(self, token: str) -> Principal | None:
        """The principal of an API key token (cached), or None."""
        now = time.monotonic()
        cached = self._keys.get(token)
        if cached is None or cached[0] <= now:
            principal, key_id = await anyio.to_thread.run_sync(self._lookup_key, token)
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            cached = (now + self.cache_seconds, principal, key_id)
            if self.cache_seconds > 0:
                self._keys[token] = cached
        _, principal, key_id = cached
        if key_id is not None and now - self._touched.get(key_id, -TOUCH_SECONDS) >= TOUCH_SECONDS:
            self._touched[key_id] = now
            await anyio.to_thread.run_sync(self._touch, key_id)
        return principal

    def forget_keys(self) -> None:
        """Drop the key cache (after a revocation through this process)."""
        self._keys.clear()

    # -- sessions --------------------------------------------------------------------------
    def _lookup_session(self, token: str) -> Principal | None:
        with self.engine.connect() as conn:
            return service.session_principal(conn, token, self.clock.now())

    def csrf_token(self, session_token: str) -> str:
        return service.csrf_token(self.secret, session_token)

    # -- a request -------------------------------------------------------------------------
    async def principal(self, request: HTTPConnection, method: str) -> Principal | None:
        """The caller, or None when no credential was sent; raises
        :class:`~winback.errors.Unauthenticated` for a credential that is not (or no longer)
        valid and :class:`~winback.errors.CsrfFailed` for a cookie request without its token."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            principal = None
            if scheme.lower() == "bearer" and token.strip():
                principal = await self.key(token.strip())
            if principal is None:
                raise Unauthenticated("the API key is not valid (unknown or revoked)")
            limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
            if limits is not None:  # each key its own bucket (WINBACK_RATE_LIMIT_KEY_*)
                enforce(limits.keys, principal.credential)
            return principal
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            return None
        principal = await anyio.to_thread.run_sync(self._lookup_session, session)
        if principal is None:
            raise Unauthenticated("the session has ended; log in again")
        if method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.csrf_token(session).encode()):
                raise CsrfFailed(
                    "a request with the session cookie that changes something needs the "
                    "X-CSRF-Token header (the csrf_token of the login answer)"
                )
        return principal

    async def require(self, request: HTTPConnection, method: str, permission: str) -> Principal:
        principal = await self.principal(request, method)
        if principal is None:
            raise Unauthenticated(
                "authentication required: send Authorization: Bearer <API key>, or log in "
                "(POST /v1/auth/login) and send the session cookie"
            )
        if not permits(principal, permission):
            raise Forbidden(
                f"{principal.actor} may not do this (needs {permission})", permission=permission
            )
        return principal


def authenticator(request: HTTPConnection) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


class Require:
    """The dependency a route declares: ``Depends(Require("cases:read"))``. It returns the
    caller's principal (also left on ``request.state.principal``).

    ``open_if`` names a boolean setting that, when true, opens the route to anyone (``/metrics``
    with ``WINBACK_METRICS_PUBLIC``)."""

    def __init__(self, permission: str, *, open_if: str | None = None) -> None:
        self.permission = permission
        self.open_if = open_if

    async def __call__(self, request: Request) -> Principal:
        auth = authenticator(request)
        if self.open_if is not None and getattr(auth.settings, self.open_if):
            principal = await auth.principal(request, request.method)
            request.state.principal = principal
            return principal  # type: ignore[return-value]  # None: open to anyone
        principal = await auth.require(request, request.method, self.permission)
        request.state.principal = principal
        return principal


class Open:
    """The marker of a route anyone may call (``x-permission: public``)."""

    permission = PUBLIC
    open_if = None

    async def __call__(self) -> None:
        return None


PrincipalDep = Annotated[Principal, Depends(Require(AUTHENTICATED))]


def permission_of(dependant: Dependant) -> tuple[str, str | None] | None:
    """The permission a route declares (and the setting that may open it), found among its
    dependencies; None when it declares none (the route x role test fails on such a route)."""
    call: Callable[..., Any] | None = dependant.call
    if isinstance(call, Require | Open):
        return call.permission, call.open_if
    for sub in dependant.dependencies:
        found = permission_of(sub)
        if found is not None:
            return found
    return None
