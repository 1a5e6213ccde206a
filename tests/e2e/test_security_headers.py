"""In a real browser, the API reference pages work under their Content-Security-Policy.

Chromium loads ``/docs`` and ``/redoc`` from ``winback serve`` and reports every CSP violation
on its console; the pages must render their operations and report none, except ReDoc's "powered
by" logo, which it fetches from another host and which stays blocked (offline it is missing
anyway). Skipped where Playwright or a Chromium is not installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from ._support import Server

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_the_api_reference_runs_in_a_browser_under_its_policy(
    start_server: Callable[..., Server],
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server = start_server(processor="off")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for path, rendered in [("/docs", ".opblock"), ("/redoc", "[role=menuitem]")]:
                page = browser.new_page()
                messages: list[str] = []
                page.on("console", lambda m, out=messages: out.append(m.text))
                page.on("pageerror", lambda e, out=messages: out.append(str(e)))
                page.goto(server.base_url + path)
                page.wait_for_selector(rendered, timeout=20_000)
                assert page.locator(rendered).count() > 3, path
                violations = [
                    m
                    for m in messages
                    if "Content Security Policy" in m and "cdn.redoc.ly" not in m
                ]
                assert violations == [], (path, violations)
                assert not [m for m in messages if "Uncaught" in m], (path, messages)
                page.close()
        finally:
            browser.close()
