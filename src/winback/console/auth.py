"""Who is at the console: the principal behind the session cookie, or a trip to the login page.

The console uses the API's sessions (:mod:`winback.api.auth`): the same cookie, the same
server-side session, the same CSRF token — carried in a hidden ``csrf_token`` field of every
form instead of a header. A form without it (or with another session's) changes nothing.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from winback.api.auth import SESSION_COOKIE, authenticator
from winback.errors import CsrfFailed, Unauthenticated
from winback.identity import Principal, may_see_raw

__all__ = [
    "ConsolePrincipal",
    "LoginRequired",
    "check_csrf",
    "console_principal",
    "csrf_of",
    "may_see_raw",
]


class LoginRequired(Exception):
    """No valid session: the console sends the browser to ``/login``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.location = f"/login?next={quote(next_url, safe='/')}"


async def console_principal(request: Request) -> Principal:
    """The logged-in person (or an API key's holder); otherwise :class:`LoginRequired`."""
    try:
        # Read as a GET: a form's CSRF token is checked by the form handler (check_csrf).
        principal = await authenticator(request).principal(request, "GET")
    except Unauthenticated:
        principal = None
    if principal is None:
        raise LoginRequired(request.url.path)
    request.state.principal = principal
    return principal


ConsolePrincipal = Annotated[Principal, Depends(console_principal)]


def csrf_of(request: Request) -> str | None:
    """The CSRF token of the request's session, for the page's forms."""
    token = request.cookies.get(SESSION_COOKIE)
    return authenticator(request).csrf_token(token) if token else None


def check_csrf(request: Request, sent: object) -> None:
    """Refuse a form posted with the session cookie but without its CSRF token."""
    if request.cookies.get(SESSION_COOKIE) is None:
        return  # an API key in a header: no ambient credential to abuse
    expected = csrf_of(request) or ""
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed("the form is stale or came from elsewhere: reload the page and try again")
