"""Login, logout and who am I (``/v1/auth``); people (``/v1/users``) and API keys
(``/v1/keys``) for admins.

``POST /v1/auth/login`` with ``{"name", "password"}`` sets the ``winback_session`` cookie
(HttpOnly, SameSite=Lax, Secure unless ``WINBACK_SESSION_COOKIE_SECURE=false`` or demo mode)
and the readable ``winback_csrf`` cookie, and answers the CSRF token that requests changing
something must send in ``X-CSRF-Token``. A wrong name or password is the same ``401`` either
way; too many failures for a name or from an address answer ``429`` with ``Retry-After``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ConfigDict, Field

from winback.api.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Authenticator,
    Open,
    PrincipalDep,
    Require,
    authenticator,
)
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody, json_response
from winback.api.fields import NulFreeModel
from winback.api.oidc.provider import OidcIdentity
from winback.api.ratelimit import RateLimits, enforce
from winback.bootstrap import Runtime
from winback.errors import NotFound, TooManyAttempts, Unauthenticated
from winback.identity import SCOPES, Principal, permissions_of
from winback.services import identity as service
from winback.store import identity as store
from winback.store.engine import write_connection

router = APIRouter(tags=["identity"])

RoleName = Literal["agent", "lead", "manager", "admin", "analyst"]  # winback.identity.ROLES


class LoginIn(NulFreeModel):
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class UserIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: RoleName
    password: str | None = Field(None, min_length=1, max_length=1024)
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    team: str | None = Field(None, max_length=64)


class UserChange(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    active: Literal[False] | None = Field(None, description="false: disable the user.")
    password: str | None = Field(None, min_length=1, max_length=1024)


class KeyIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(min_length=1, description="Of: " + ", ".join(SCOPES))


def _me(principal: Principal) -> dict[str, Any]:
    return {
        "kind": principal.kind,
        "name": principal.name,
        "actor": principal.actor,
        "role": principal.role,
        "team": principal.team,
        "scopes": sorted(principal.scopes),
        "permissions": sorted(permissions_of(principal)),
    }


def _client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


@router.post(
    "/v1/auth/login",
    summary="Log in with a user name and password: sets the session cookie",
    dependencies=[Depends(Open())],
    responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def login(body: LoginIn, request: Request, container: RuntimeDep) -> Response:
    principal, token, csrf = password_login(request, container, body.name, body.password)
    response = json_response({"user": _me(principal), "csrf_token": csrf})
    set_session_cookies(response, container, token, csrf)
    return response


def password_login(
    request: Request, container: Runtime, name: str, password: str
) -> tuple[Principal, str, str]:
    """Check a password login (throttled, audited) and start a session: the principal, the
    session token and its CSRF token. Raises ``Unauthenticated`` or ``TooManyAttempts``
    (the API's login and the console's login form both come here)."""
    settings = container.settings
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is not None:  # attempts per name and per address, before any password check
        enforce(limits.logins, name.strip().lower()[:200], "login attempts")
        enforce(limits.addresses, _client(request) or "unknown", "login attempts")
    policy = service.LoginPolicy(
        max_failures_per_name=settings.login_max_failures,
        max_failures_per_address=settings.login_max_failures_per_address,
        window=timedelta(minutes=settings.login_lockout_minutes),
        lockout=timedelta(minutes=settings.login_lockout_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
    )
    with write_connection(container.engine) as conn, conn.begin():
        result = service.login(
            conn, name, password, _client(request), container.clock.now(), policy
        )
    if result.principal is None or result.token is None:
        if result.retry_after is not None:
            raise TooManyAttempts(result.retry_after)
        raise Unauthenticated("wrong user name or password")
    return result.principal, result.token, authenticator(request).csrf_token(result.token)


def set_session_cookies(response: Response, container: Runtime, token: str, csrf: str) -> None:
    """The session cookie (HttpOnly) and the readable CSRF cookie (double submit)."""
    settings = container.settings
    max_age = int(settings.session_hours * 3600)
    secure = settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure, path="/"
    )


def end_session(request: Request, container: Runtime, response: Response) -> None:
    """End the request's session (if any) and drop its cookies from ``response``."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with write_connection(container.engine) as conn, conn.begin():
            service.logout(conn, token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post(
    "/v1/auth/logout",
    summary="End this session (the cookie stops working everywhere)",
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
def logout(request: Request, container: RuntimeDep, principal: PrincipalDep) -> Response:
    response = json_response({"logged_out": principal.actor})
    end_session(request, container, response)
    return response


@router.get("/v1/auth/me", summary="Who the credential says you are, and what you may do")
def me(principal: PrincipalDep) -> dict[str, Any]:
    return _me(principal)


# -- people ----------------------------------------------------------------------------------
UsersAdmin = Annotated[Principal, Depends(Require("users:manage"))]
KeysAdmin = Annotated[Principal, Depends(Require("keys:manage"))]


@router.get("/v1/users", summary="People: name, role, team, whether active")
def list_users(container: RuntimeDep, _: UsersAdmin) -> dict[str, Any]:
    with container.engine.connect() as conn:
        return {"users": [u.public() for u in store.list_users(conn)]}


@router.post(
    "/v1/users",
    status_code=201,
    summary="Create a person (an agent or lead joins the routing roster)",
    responses={409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def create_user(body: UserIn, container: RuntimeDep, actor: UsersAdmin) -> dict[str, Any]:
    with write_connection(container.engine) as conn, conn.begin():
        user = service.create_user(
            conn,
            actor,
            name=body.name,
            role=body.role,
            password=body.password,
            now=container.clock.now(),
            display_name=body.display_name,
            email=body.email,
            team=body.team,
        )
    return user.public()


@router.patch(
    "/v1/users/{name}",
    summary="Change a person's role, password, or disable them (their sessions end)",
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def change_user(
    name: Annotated[str, Path(max_length=64)],
    body: UserChange,
    container: RuntimeDep,
    actor: UsersAdmin,
) -> dict[str, Any]:
    now = container.clock.now()
    with write_connection(container.engine) as conn, conn.begin():
        if body.password is not None:
            service.set_password(conn, actor, name, body.password, now)
        if body.role is not None:
            service.set_role(conn, actor, name, body.role, now)
        if body.active is False:
            service.disable_user(conn, actor, name, now)
        user = store.get_user(conn, name)
    if user is None:
        raise NotFound(f"no user {name!r}", field="name")
    return user.public()


# -- API keys --------------------------------------------------------------------------------
@router.get("/v1/keys", summary="API keys (never their tokens)")
def list_keys(container: RuntimeDep, _: KeysAdmin) -> dict[str, Any]:
    with container.engine.connect() as conn:
        return {"keys": [k.public() for k in store.list_keys(conn)]}


@router.post(
    "/v1/keys",
    status_code=201,
    summary="Create an API key; its token is in this answer only",
    responses={409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def create_key(body: KeyIn, container: RuntimeDep, actor: KeysAdmin) -> dict[str, Any]:
    with write_connection(container.engine) as conn, conn.begin():
        token, key = service.create_key(conn, actor, body.name, body.scopes, container.clock.now())
    return {**key.public(), "token": token}


@router.delete(
    "/v1/keys/{key}",
    summary="Revoke an API key (by id or name)",
    responses={404: {"model": ErrorBody}},
)
def revoke_key(
    key: Annotated[str, Path(max_length=64)],
    request: Request,
    container: RuntimeDep,
    actor: KeysAdmin,
) -> dict[str, Any]:
    with write_connection(container.engine) as conn, conn.begin():
        revoked = service.revoke_key(conn, actor, key, container.clock.now())
    authenticator(request).forget_keys()
    return revoked.public()


def sso_session(container: Runtime, auth: Authenticator) -> Any:
    """The single sign-on callback's last step (``api/oidc``): the verified person's session,
    then the console."""

    async def establish(identity: OidcIdentity) -> Response:
        def start() -> service.LoginResult:
            with write_connection(container.engine) as conn, conn.begin():
                return service.sso_login(
                    conn,
                    name=identity.name,
                    role=identity.role,
                    email=identity.email,
                    credential=identity.credential,
                    client=None,
                    now=container.clock.now(),
                    lifetime=timedelta(hours=container.settings.session_hours),
                )

        result = await anyio.to_thread.run_sync(start)
        if result.token is None:
            raise Unauthenticated(f"{identity.name!r} is disabled in Winback")
        response = RedirectResponse("/console", status_code=303)
        csrf = auth.csrf_token(result.token)
        set_session_cookies(response, container, result.token, csrf)
        return response

    return establish
