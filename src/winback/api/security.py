"""Security headers on every response, and credentials kept out of the logs.

:class:`SecurityHeaders` is a pure ASGI middleware (no per-request objects beyond a closure)
that adds to each HTTP response the headers below unless the route set its own:

- ``Content-Security-Policy``: :data:`CSP` — only this origin's scripts, styles, images and
  connections, no inline script, no plugins, no ``<base>`` elsewhere, never framed;
- ``X-Frame-Options: DENY`` (for browsers older than ``frame-ancestors``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (paths name customers
  and cases), a ``Permissions-Policy`` that turns off the powerful features nothing here uses,
  ``Cross-Origin-Opener-Policy: same-origin``;
- ``Strict-Transport-Security`` only when ``WINBACK_HSTS_SECONDS`` is set: TLS ends at the proxy
  in front, and only the operator knows every client comes over HTTPS.

The API reference pages need the smallest relaxation that lets them run offline
(fastapi-offline serves their scripts from this origin): Swagger UI's page (``/docs``) and its
OAuth2 redirect page each start with one inline script, allowed by its SHA-256 hash alone,
computed from the page actually sent (so a change of the page's text cannot silently need
``'unsafe-inline'``). ReDoc (``/redoc``) writes its styles at run time (styled-components),
shows icons as ``data:`` images and runs its search index in a ``blob:`` worker, so its page
alone gets :data:`STYLED_CSP`. Scripts stay same-origin-or-hashed everywhere; ReDoc's "powered
by" logo, from another host, stays blocked (the page works offline without it). Checked in
Chromium: neither page reports a violation it needs (tests/e2e/test_security_headers.py).

:func:`install_credential_redaction` makes every log record drop what authenticates someone:
``Authorization`` values (``Bearer …``, ``Basic …``), the OpenID Connect callback's ``code``
and ``state`` and any token, secret, password, key or session parameter, whether written
``name=value`` (URLs, forms, cookies) or ``"name": "value"`` (a logged dict or JSON), and the
values of cookies named after sessions, CSRF tokens or the sign-in. A line naming none of
those words costs one lower-casing and a few substring tests. It chains onto the record
factory, like the PII redaction of :mod:`winback.text.loading`, so it covers uvicorn's
loggers and every library.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'"
#: ReDoc's page: styles written at run time, icons as data: images, search in a blob: worker.
STYLED_CSP = (
    CSP + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


class SecurityHeaders:
    """Add the security headers to every HTTP response (see the module's docstring).

    ``hashed_pages``: paths whose HTML carries inline scripts to allow by hash (Swagger UI);
    ``styled_pages``: paths that write inline styles at run time (ReDoc).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_seconds: int = 0,
        hashed_pages: Iterable[str] = (),
        styled_pages: Iterable[str] = (),
    ) -> None:
        self.app = app
        headers = list(_COMMON)
        if hsts_seconds:
            headers.append(
                (
                    b"strict-transport-security",
                    f"max-age={hsts_seconds}; includeSubDomains".encode(),
                )
            )
        self.headers = tuple(headers)
        self.hashed_pages = frozenset(hashed_pages)
        self.styled_pages = frozenset(styled_pages)
        self.csp = CSP.encode()
        self.styled_csp = STYLED_CSP.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in self.hashed_pages:
            await self._hashed(scope, receive, send)
            return
        csp = self.styled_csp if path in self.styled_pages else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._add(message.get("headers", []), csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _hashed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) page until it is complete, then allow its inline scripts by hash."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            hashes = " ".join(
                "'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'"
                for s in _INLINE_SCRIPT.findall(body)
            )
            csp = self.csp + (f"; script-src 'self' {hashes}".encode() if hashes else b"")
            await send({**start, "headers": self._add(start.get("headers", []), csp)})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)

    def _add(self, headers: Iterable[tuple[bytes, bytes]], csp: bytes) -> list[tuple[bytes, bytes]]:
        out = list(headers)
        present = {name.lower() for name, _ in out}
        if b"content-security-policy" not in present:
            out.append((b"content-security-policy", csp))
        out.extend((name, value) for name, value in self.headers if name not in present)
        return out


# -- credentials out of the logs ------------------------------------------------------------
#: Authorization: Bearer <token> / Basic <credentials>
_SCHEME = re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{4,}")
#: name=value in URLs, forms and cookies; _replace decides whether the name is a secret's.
_PARAM = re.compile(r"(?<![\w.-])(?P<name>[\w.-]{1,64})=(?P<value>[^&\s\"';,]+)")
#: "name": "value" in logged dicts and JSON ({'access_token': '…'}).
_QUOTED = re.compile(
    r"""(?P<q>['"])(?P<name>[\w.-]{1,64})(?P=q)(?P<sep>\s*:\s*)(?P<v>['"])[^'"]*(?P=v)"""
)
#: Parameters whose value is a credential (?code=…&state=…, access_token=…, api_key=…).
_SECRET_NAMES = frozenset(
    {
        "code", "state", "nonce", "code_verifier", "id_token", "access_token", "refresh_token",
        "token", "client_secret", "secret", "password", "api_key", "apikey", "key", "session",
        "sessionid",
    }
)  # fmt: skip
#: Cookie names holding sessions or tokens (winback_session, csrftoken, winback_oidc…).
_SECRET_PARTS = ("session", "csrf", "xsrf", "oidc")
#: A line holds a credential only if it names one of these (lower case): the cheap test that
#: spares the pattern almost every log line.
_KEYWORDS = (
    "bearer", "basic", "code", "state", "nonce", "token", "secret", "password", "key",
    "session", "csrf", "xsrf", "oidc",
)  # fmt: skip
_installed = False


def redact_credentials(text: str) -> str:
    """``text`` with every credential-looking value replaced by ``[redacted]``."""
    lowered = text.lower()
    if not any(k in lowered for k in _KEYWORDS):
        return text
    text = _SCHEME.sub(r"\1[redacted]", text)
    return _QUOTED.sub(_replace_quoted, _PARAM.sub(_replace, text))


def _secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def _replace(match: re.Match[str]) -> str:
    name = match.group("name")
    return name + "=[redacted]" if _secret(name) else match.group(0)


def _replace_quoted(match: re.Match[str]) -> str:
    if not _secret(match.group("name")):
        return match.group(0)
    q, v = match.group("q"), match.group("v")
    return f"{q}{match.group('name')}{q}{match.group('sep')}{v}[redacted]{v}"


def install_credential_redaction() -> None:
    """Redact credentials in every log record from now on (idempotent; process-wide)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact_credentials(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_credentials(text)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact_arg(value: Any) -> Any:
    # Keep the type of arguments that cannot hold a secret (``%d`` needs an int).
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    redacted = redact_credentials(text)
    return value if redacted == text else redacted
