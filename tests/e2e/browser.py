"""A real browser for the console's end-to-end tests: Debian's Chromium driven by Playwright.

Playwright's own browser download does not work offline, so the tests use the system's browser
(``/usr/bin/chromium``, or ``WINBACK_TEST_CHROMIUM``); without it, or without the ``playwright``
package, the tests are skipped with the reason shown.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WINBACK_TEST_CHROMIUM") or shutil.which("chromium") or ""


def chromium_or_skip() -> str:
    if not CHROMIUM or not Path(CHROMIUM).exists():
        pytest.skip("no Chromium (apt-get install chromium, or set WINBACK_TEST_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (make install-dev)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()
