"""The security headers middleware on raw ASGI apps, and credential redaction in log text."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging

import pytest
from starlette.types import Message, Receive, Scope, Send

from winback.api.security import (
    CSP,
    SecurityHeaders,
    install_credential_redaction,
    redact_credentials,
)


def run(app: SecurityHeaders, path: str = "/x", kind: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": kind, "path": path, "headers": []}, receive, send))
    return sent


def answering(headers: list[tuple[bytes, bytes]], *chunks: bytes):  # type: ignore[no-untyped-def]
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1}
            )

    return app


def header(message: Message, name: bytes) -> bytes | None:
    return next((v for k, v in message["headers"] if k == name), None)


def test_a_routes_own_policy_and_headers_are_kept() -> None:
    own = [(b"content-security-policy", b"default-src 'none'"), (b"x-frame-options", b"SAMEORIGIN")]
    [start, _] = run(SecurityHeaders(answering(own, b"{}")))
    assert header(start, b"content-security-policy") == b"default-src 'none'"
    assert header(start, b"x-frame-options") == b"SAMEORIGIN"
    assert header(start, b"x-content-type-options") == b"nosniff"
    assert [k for k, _ in start["headers"]].count(b"x-frame-options") == 1


def test_inline_scripts_split_across_body_chunks_are_hashed_whole() -> None:
    script = b"const ui = SwaggerUIBundle({url: '/openapi.json'})"
    page = b"<html><script src='/a.js'></script><script>" + script + b"</script></html>"
    app = SecurityHeaders(answering([], page[:30], page[30:60], page[60:]), hashed_pages=["/docs"])
    start, body = run(app, "/docs")
    assert body == {"type": "http.response.body", "body": page}
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    csp = header(start, b"content-security-policy")
    assert csp == f"{CSP}; script-src 'self' 'sha256-{digest}'".encode()


def test_other_scopes_pass_through_untouched() -> None:
    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "lifespan.startup.complete"})

    assert run(SecurityHeaders(lifespan_app), kind="lifespan") == [
        {"type": "lifespan.startup.complete"}
    ]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer wbk_live_9f8e7d6c5b4a", "wbk_live_9f8e7d6c5b4a"),
        ("authorization=basic YWRtaW46aHVudGVyMg==", "YWRtaW46aHVudGVyMg=="),
        (
            '"GET /v1/auth/oidc/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj HTTP/1.1"',
            "SplxlOBeZQQYbYS6WxSbIA",
        ),
        ("/v1/auth/oidc/callback?code=abc&state=af0ifjsldkj", "af0ifjsldkj"),
        ("'query_string': b'code=Q2xpZW50Q29kZQ&state=x'", "Q2xpZW50Q29kZQ"),  # uvicorn's scope
        ("cookie: winback_session=s3ss10n-id-123; theme=dark", "s3ss10n-id-123"),
        ("(b'cookie', b'csrftoken=tok123456')", "tok123456"),
        ("token_endpoint body: grant_type=x&client_secret=hunter2hunter2", "hunter2hunter2"),
        ("?api_key=k-123456789", "k-123456789"),
        ("{'access_token': 'at-abc123', 'token_type': 'Bearer'}", "at-abc123"),
        ('{"password": "hunter2", "name": "ana"}', "hunter2"),
    ],
)
def test_credentials_are_redacted_from_log_text(text: str, secret: str) -> None:
    redacted = redact_credentials(text)
    assert secret not in redacted
    assert "[redacted]" in redacted


def test_text_without_credentials_is_left_alone() -> None:
    text = "case 42 assigned to ana; 3 events in 0.2 s"
    assert redact_credentials(text) is text
    near = "{'token_type': 'Bearer', 'status': 'open'} status=open&page=2"
    assert redact_credentials(near) == near


def test_log_records_are_redacted_with_their_arguments_and_types_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_credential_redaction()
    with caplog.at_level(logging.INFO, logger="winback.test"):
        logging.getLogger("winback.test").info(
            '%s - "%s %s" %d', "127.0.0.1:5", "GET", "/cb?code=abcdef123&x=1", 200
        )
    [record] = caplog.records
    assert record.getMessage() == '127.0.0.1:5 - "GET /cb?code=[redacted]&x=1" 200'
    assert record.args is not None
    assert record.args[-1] == 200
