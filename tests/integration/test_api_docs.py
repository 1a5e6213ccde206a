"""The API reference pages (/docs, /redoc) work offline: every asset comes from the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .support import api_app

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'|spec-url="([^"]+)\"""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_reference_loads_nothing_from_another_host(tmp_path: Path, page: str) -> None:
    client, _, _ = api_app(tmp_path, NOW)
    with client:
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE) is None, html
        assets = [next(g for g in m.groups() if g) for m in ASSET.finditer(html)]
        assert any(a.endswith(".js") for a in assets), html  # the page's script is among them
        assert "/openapi.json" in assets, html
        for url in assets:
            assert url.startswith("/"), url
            fetched = client.get(url)
            assert fetched.status_code == 200, url
            assert len(fetched.content) > 100, url
        scripts = [client.get(a) for a in assets if a.endswith(".js")]
        assert all("javascript" in s.headers["content-type"] for s in scripts)


def test_swagger_ui_sends_the_schema_to_no_validator(tmp_path: Path) -> None:
    client, _, _ = api_app(tmp_path, NOW)
    with client:
        html = client.get("/docs").text
    assert '"validatorUrl": null' in html
