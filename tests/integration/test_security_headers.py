"""Security headers on every answer, the API reference's narrow CSP exceptions, and CORS."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from winback.api.app import _Gate
from winback.api.security import CSP, STYLED_CSP

from .support import api_app

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def client(tmp_path: Path, **settings: Any) -> TestClient:
    test_client, _, _ = api_app(tmp_path, NOW, **settings)
    return test_client


def directives(csp: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/healthz", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/v1/cases/999999", None, 404),
        ("POST", "/v1/events", b"{not json", 400),
        ("POST", "/v1/events", b'{"events": [{"id": ""}]}', 422),
        ("GET", "/static-offline-docs/swagger-ui-bundle.js", None, 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    tmp_path: Path, method: str, path: str, body: bytes | None, status: int
) -> None:
    with client(tmp_path) as c:
        headers = {"content-type": "application/json"} if body is not None else {}
        response = c.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "script-src" not in policy  # default-src 'self': no inline script anywhere
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # off unless configured


def test_hsts_is_sent_only_when_configured(tmp_path: Path) -> None:
    with client(tmp_path, hsts_seconds=31_536_000) as c:
        response = c.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_swagger_ui_runs_its_inline_script_by_hash_and_nothing_else(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        for page in ("/docs", "/docs/oauth2-redirect"):
            response = c.get(page)
            assert response.status_code == 200
            inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
            assert len(inline) == 1, page
            digest = hashlib.sha256(inline[0].encode()).digest()
            policy = directives(response.headers["content-security-policy"])
            assert policy["script-src"] == [
                "'self'",
                f"'sha256-{base64.b64encode(digest).decode()}'",
            ], page
            assert "style-src" not in policy
            assert int(response.headers["content-length"]) == len(response.content)


def test_redoc_alone_may_write_styles_and_data_images(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        redoc = c.get("/redoc")
        docs = c.get("/docs")
    assert redoc.headers["content-security-policy"] == STYLED_CSP
    policy = directives(STYLED_CSP)
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "script-src" not in policy  # scripts: default-src 'self' only
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]
    assert CSP in docs.headers["content-security-policy"]


def test_the_overload_gate_stays_outermost(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        app: Any = c.app
        assert app.user_middleware[0].cls is _Gate


# -- CORS -------------------------------------------------------------------------------------
PREFLIGHT = {
    "origin": "https://app.example.com",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


def test_cors_is_off_unless_origins_are_configured(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        preflight = c.options("/v1/events", headers=PREFLIGHT)
        simple = c.get("/healthz", headers={"origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_cors_admits_the_configured_origins_with_api_keys_but_no_cookies(
    tmp_path: Path,
) -> None:
    with client(tmp_path, cors_origins="https://app.example.com") as c:
        preflight = c.options("/v1/events", headers=PREFLIGHT)
        simple = c.get("/healthz", headers={"origin": "https://app.example.com"})
        other = c.options("/v1/events", headers={**PREFLIGHT, "origin": "https://evil.test"})
        other_simple = c.get("/healthz", headers={"origin": "https://evil.test"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in preflight.headers
    assert preflight.headers["x-content-type-options"] == "nosniff"  # headers on preflights too
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "retry-after" in simple.headers["access-control-expose-headers"].lower()
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in other_simple.headers


def test_a_cors_origin_that_is_not_an_origin_stops_the_start() -> None:
    from winback.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="WINBACK_CORS_ORIGINS"):
        load_settings(cors_origins="https://app.example.com/path")
