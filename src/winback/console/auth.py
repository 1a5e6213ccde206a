"""Who is at the console: the principal behind the session cookie, or a trip to the login page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from winback.identity import Principal


class LoginRequired(Exception):
    """No valid session: the console sends the browser to ``/login``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.location = f"/login?next={quote(next_url, safe='/')}"


async def console_principal(request: Request) -> Principal:
    raise LoginRequired(request.url.path)


ConsolePrincipal = Annotated[Principal, Depends(console_principal)]


def may_see_raw(principal: Principal, case_owner: str | None) -> bool:
    """Raw personal data for the case's owner and for leads and above; redacted otherwise."""
    if principal.role in {"lead", "manager", "admin"}:
        return True
    return principal.role == "agent" and case_owner == principal.name
