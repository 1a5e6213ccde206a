"""The console in a real browser (Debian's Chromium, driven by Playwright) against a real
``winback serve``: an agent and a lead work a case end to end.

Skipped, with the reason, where no Chromium is installed (``.ci/run`` installs it on Debian).
With ``WINBACK_SCREENSHOTS=<folder>`` the journey saves a screenshot of each main page (the
ones in docs/console.md come from this run).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ._support import Server, scalar, sqlite_url

pytestmark = pytest.mark.slow

PEOPLE = {"ana": ("agent", "ana-password-1234"), "lea": ("lead", "lea-password-1234")}
SHOTS = os.environ.get("WINBACK_SCREENSHOTS")


def create_people(database: Path) -> None:
    from winback.identity import SYSTEM
    from winback.services.identity import create_user
    from winback.store.engine import make_engine, write_connection

    engine = make_engine(sqlite_url(database))
    try:
        with write_connection(engine) as conn, conn.begin():
            for name, (role, password) in PEOPLE.items():
                create_user(
                    conn, SYSTEM, name=name, role=role, password=password,
                    now=datetime.now(UTC), team="care",
                )  # fmt: skip
    finally:
        engine.dispose()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


def log_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/console")
    assert "/login" in page.url  # no session: the console asks who you are
    page.fill("#name", name)
    page.fill("#password", PEOPLE[name][1])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert re.search(r"/console(/|\?|$)", page.url.split("?next=")[0]), page.content()


def test_an_agent_and_a_lead_work_a_case_end_to_end(
    start_server: Callable[..., Server],
    browser: Any,
    tmp_path: Path,
) -> None:
    server = start_server(
        session_cookie_secure=False, routing_interval_seconds=0, analytics_interval_seconds=1
    )
    create_people(server.database)
    events = [
        {
            "id": f"e2e-{n}",
            "type": "delivery.delayed",
            "customer": {"id": f"cus-{n}", "name": f"Customer {n}", "value": 800},
            "text": "My parcel is a week late and nobody answers my e-mails.",
        }
        for n in range(3)
    ]
    with server.client() as client:
        assert client.post("/v1/events", json={"events": events}).status_code == 202
    server.wait_processed()
    base = server.base_url

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, base, "ana")
    # The queue, all open cases (an agent starts on their own, empty): the top case first.
    page.click("text=All open cases")
    rows = page.locator("tr[data-href]")
    assert rows.count() == 3
    shot(page, "queue")
    rows.first.locator("a").click()
    page.wait_for_url(re.compile(r"/console/cases/\d+"))
    case_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    assert page.locator("text=My parcel is a week late").count() == 1
    # Take it, reply, and make it right: a credit within the agent's limit, one above it.
    page.fill("#owner", "ana")
    page.click("form:has(#owner) button[type=submit]")
    page.wait_for_url(re.compile(r"done=assign"))
    page.fill("#text", "I am sorry. I have asked the courier and will write again today.")
    page.click("button[value=reply]")
    page.wait_for_url(re.compile(r"done=reply"))
    page.fill("#amount-credit", "20")
    page.click("button[data-remedy=credit]")
    page.wait_for_url(re.compile(r"done=apply_remedy"))
    page.fill("#amount-credit", "200")
    page.click("button[data-remedy=credit]")
    page.wait_for_url(re.compile(r"done=apply_remedy"))
    assert page.locator("text=pending_approval").count() == 1
    shot(page, "case")
    db = server.database
    assert scalar(db, "SELECT status FROM cases WHERE id = ?", (case_id,)) == "in_progress"
    granted = "SELECT amount, status FROM remedy_grants WHERE case_id = ? ORDER BY id"
    from ._support import query

    assert [tuple(r) for r in query(db, granted, (case_id,))] == [
        (20.0, "applied"),
        (200.0, "pending_approval"),
    ]
    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login"))

    # The lead approves it from the inbox.
    log_in(page, base, "lea")
    page.click("nav >> text=Approvals")
    assert page.locator(f"a[href='/console/cases/{case_id}']").count() == 1
    shot(page, "approvals")
    page.fill("input[name=reason]", "a week late: fair")
    page.click("button[value=approve]")
    page.wait_for_url(re.compile(r"done=approve"))
    assert page.locator("text=Nothing waits for a decision").count() == 1
    assert [tuple(r) for r in query(db, granted, (case_id,))][1] == (200.0, "applied")
    page.click("nav >> text=Dashboard")
    assert page.locator("figure.chart").count() == 7, page.content()[:3000]
    shot(page, "dashboard")
    page.click("text=Log out")

    # The agent resolves it.
    log_in(page, base, "ana")
    page.goto(f"{base}/console/cases/{case_id}")
    page.fill("#outcome", "credited and re-sent")
    page.fill("#root-cause", "courier delay")
    page.click("form:has(#outcome) button[type=submit]")
    page.wait_for_url(re.compile(r"done=resolve"))
    assert scalar(db, "SELECT status FROM cases WHERE id = ?", (case_id,)) == "resolved"
    actors = {r[0] for r in query(db, "SELECT actor FROM audit_log")}
    assert {"user:ana", "user:lea"} <= actors  # who did it, from the session, in the audit trail
