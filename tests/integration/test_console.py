"""The console's pages over a real store: the queue, a case's story, acting, approvals, live."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.bootstrap import build_runtime, build_stages
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.console.app import create_app
from winback.console.auth import console_principal
from winback.console.live import ChangeFeed
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.store.tables import case_timeline, cases, remedy_grants, sla_timers

from .support import body, log_events, rows

CARD = "4111 1111 1111 1111"
ANA = Principal(kind="user", name="ana", role="agent", credential="session", team="care")
BO = Principal(kind="user", name="bo", role="agent", credential="session", team="care")
LEA = Principal(kind="user", name="lea", role="lead", credential="session", team="care")


@dataclass
class Console:
    client: TestClient
    engine: Engine
    ids: dict[str, int]
    clock: FrozenClock

    def as_(self, principal: Principal) -> TestClient:
        async def who() -> Principal:
            return principal

        self.client.app.dependency_overrides[console_principal] = who  # type: ignore[attr-defined]
        return self.client

    def case(self, customer: str) -> sa.Row[tuple[object, ...]]:
        [row] = rows(self.engine, sa.select(cases).where(cases.c.id == self.ids[customer]))
        return row


@pytest.fixture
def console(engine: Engine, frozen_clock: FrozenClock, tmp_path: Path) -> Iterator[Console]:
    (tmp_path / "config").mkdir()
    settings = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        config_dir=tmp_path / "config",
        models_dir=tmp_path / "models",
        processor="off",
        session_cookie_secure=False,  # the test client speaks plain http
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    processor = Processor(engine, build_stages(settings), frozen_clock)
    texts = {
        "amy": f"My parcel never came and you charged card {CARD} twice. Refund me!",
        "ben": "The app crashes every time I open my bill.",
        "cat": "Still waiting for the technician, third day now.",
    }
    for customer, text in texts.items():
        fields = {"customer_fields": {"segment": "gold", "value": 900, "name": customer.title()}}
        log_events(
            engine,
            frozen_clock.now(),
            body(f"{customer}-1", "complaint", customer, text=text, **fields),
        )
        processor.run_until_idle()
        frozen_clock.advance(timedelta(minutes=5))
    ids = {r.customer_id: r.id for r in rows(engine, sa.select(cases))}
    assert set(ids) == set(texts)
    with TestClient(create_app(container), follow_redirects=False) as client:
        yield Console(client, engine, ids, frozen_clock)


def act(client: TestClient, case_id: int, **form: str) -> object:
    return client.post(f"/console/cases/{case_id}/act", data=form)


def test_without_a_session_every_page_sends_the_browser_to_login(console: Console) -> None:
    for path in ("/console", f"/console/cases/{console.ids['amy']}", "/console/approvals"):
        response = console.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/console")
    assert console.client.get("/").headers["location"] == "/console"


def test_the_queue_lists_open_cases_most_urgent_deadline_first(console: Console) -> None:
    page = console.as_(LEA).get("/console?view=open")
    assert page.status_code == 200
    order = [int(n) for n in re.findall(r'data-href="/console/cases/(\d+)"', page.text)]
    # Earliest unfired SLA breach first, as the timers say.
    due = {}
    for timer in rows(console.engine, sa.select(sla_timers).where(sla_timers.c.kind == "breach")):
        if timer.fired_at is None:
            due[timer.case_id] = min(due.get(timer.case_id, timer.due_at), timer.due_at)
    assert order == sorted(due, key=lambda case_id: (due[case_id], case_id))
    assert len(order) == 3
    assert "gold" in page.text
    assert "900" in page.text
    assert "data-countdown" in page.text


def test_my_cases_are_the_ones_i_own(console: Console) -> None:
    client = console.as_(ANA)
    assert act(client, console.ids["ben"], action="assign", owner="ana").status_code == 303
    page = client.get("/console?view=mine")
    order = [int(n) for n in re.findall(r'data-href="/console/cases/(\d+)"', page.text)]
    assert order == [console.ids["ben"]]
    rows_only = client.get("/console/rows?view=mine")
    assert rows_only.status_code == 200
    assert "<html" not in rows_only.text
    assert f"/console/cases/{console.ids['ben']}" in rows_only.text


def test_the_case_page_tells_the_story_with_the_card_number_never_shown(console: Console) -> None:
    case_id = console.ids["amy"]
    act(console.as_(ANA), case_id, action="assign", owner="ana")
    own = console.as_(ANA).get(f"/console/cases/{case_id}")
    assert own.status_code == 200
    assert "My parcel never came" in own.text
    assert CARD not in own.text  # the text stage redacts payment cards for everyone
    assert "Amy" in own.text  # the owner sees the customer's name
    other = console.as_(BO).get(f"/console/cases/{case_id}")
    assert "hidden for your role" in other.text
    assert "Amy" not in other.text
    assert "SLA clocks" in own.text
    assert "first response" in own.text


def test_an_action_changes_the_case_and_a_refused_one_changes_nothing(console: Console) -> None:
    client = console.as_(ANA)
    case_id = console.ids["cat"]
    done = act(client, case_id, action="reply", text="We are sending someone today.")
    assert done.status_code == 303
    assert done.headers["location"].endswith("?done=reply")
    assert console.case("cat").status == "in_progress"
    before = console.case("cat").version
    refused = act(client, case_id, action="resume")
    assert refused.status_code == 409
    assert "cannot resume a case that is in_progress" in refused.text
    assert console.case("cat").version == before
    missing = act(client, case_id, action="resolve", outcome="fixed")
    assert missing.status_code == 422
    assert "root_cause" in missing.text


def test_a_remedy_within_the_limit_applies_once_and_one_above_waits_for_a_lead(
    console: Console,
) -> None:
    client = console.as_(ANA)
    case_id = console.ids["amy"]
    page = client.get(f"/console/cases/{case_id}")
    assert "Make it right" in page.text
    form = {"action": "apply_remedy", "remedy": "credit", "amount": "20", "token": "t-1"}
    assert act(client, case_id, **form).status_code == 303
    assert act(client, case_id, **form).status_code == 303  # a double click
    granted = rows(
        console.engine, sa.select(remedy_grants).where(remedy_grants.c.case_id == case_id)
    )
    assert [(g.amount, g.status) for g in granted] == [(20.0, "applied")]

    big = {"action": "apply_remedy", "remedy": "credit", "amount": "200", "token": "t-2"}
    assert act(client, case_id, **big).status_code == 303
    [pending] = rows(
        console.engine, sa.select(remedy_grants).where(remedy_grants.c.status == "pending_approval")
    )
    inbox = console.as_(LEA).get("/console/approvals")
    assert f"/console/cases/{case_id}" in inbox.text
    assert "200" in inbox.text
    decided = act(
        console.as_(LEA), case_id, action="approve", grant_id=str(pending.id), back="approvals"
    )
    assert decided.status_code == 303
    assert decided.headers["location"].startswith("/console/approvals")
    [after] = rows(console.engine, sa.select(remedy_grants).where(remedy_grants.c.id == pending.id))
    assert after.status == "applied"
    assert after.decided_by == "user:lea"
    assert "Nothing waits for a decision" in console.as_(LEA).get("/console/approvals").text


def test_the_change_feed_wakes_listeners_when_a_case_changes(console: Console) -> None:
    feed = ChangeFeed(console.engine, poll_seconds=0.05)

    async def scenario() -> list[int | None]:
        seen: list[int | None] = []
        listener = feed.listen()
        first = asyncio.ensure_future(anext(listener))
        await asyncio.sleep(0.2)
        assert not first.done()  # nothing changed yet: no wake-up
        await asyncio.to_thread(act, console.as_(ANA), console.ids["ben"], action="note", text="x")
        seen.append(await asyncio.wait_for(first, 5))
        await listener.aclose()
        return seen

    [version] = asyncio.run(scenario())
    with console.engine.connect() as conn:
        assert version == conn.execute(sa.select(sa.func.max(case_timeline.c.id))).scalar()


@pytest.fixture
def real_login(console: Console) -> TestClient:
    """The console without the test's principal override: people log in for real."""
    from datetime import UTC, datetime

    from winback.identity import SYSTEM
    from winback.services.identity import create_user
    from winback.store.engine import write_connection

    with write_connection(console.engine) as conn, conn.begin():
        create_user(
            conn, SYSTEM, name="ana", role="agent", password="ana-password-1234",
            now=datetime.now(UTC),
        )  # fmt: skip
    console.client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    return console.client


def login(client: TestClient, password: str, **headers: str) -> object:
    return client.post(
        "/login",
        data={"name": "ana", "password": password, "next": "/console/approvals"},
        headers={"Sec-Fetch-Site": "same-origin", **headers},
    )


def test_logging_in_sets_the_session_and_goes_where_the_person_was_going(
    console: Console, real_login: TestClient
) -> None:
    wrong = login(real_login, "not-the-password")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.text
    assert "winback_session" not in real_login.cookies
    cross_site = login(real_login, "ana-password-1234", **{"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403  # another site may not log a browser in
    assert "winback_session" not in real_login.cookies
    done = login(real_login, "ana-password-1234")
    assert done.status_code == 303
    assert done.headers["location"] == "/console/approvals"
    assert real_login.get("/console").status_code == 200


def test_a_form_without_its_csrf_token_changes_nothing(
    console: Console, real_login: TestClient
) -> None:
    assert login(real_login, "ana-password-1234").status_code == 303
    case_id = console.ids["ben"]
    page = real_login.get(f"/console/cases/{case_id}")
    [token] = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[:1]
    before = console.case("ben").version
    forged = act(real_login, case_id, action="note", text="from elsewhere")
    assert forged.status_code == 403
    assert console.case("ben").version == before
    ok = act(real_login, case_id, action="note", text="mine", csrf_token=token)
    assert ok.status_code == 303
    assert console.case("ben").version == before + 1
    out = real_login.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert real_login.get("/console").status_code == 303  # the session has ended


def test_login_only_follows_console_addresses() -> None:
    from winback.console.views import _safe_next

    assert _safe_next("/console/cases/3") == "/console/cases/3"
    for elsewhere in ("https://evil.example/console", "//evil.example/console", "/docs", None):
        assert _safe_next(elsewhere) == "/console"


def test_the_dashboard_charts_the_cases_for_leads_and_not_for_agents(console: Console) -> None:
    from winback.services.analytics import AnalyticsUpdater

    act(console.as_(ANA), console.ids["cat"], action="reply", text="On it.")
    AnalyticsUpdater(console.engine, console.clock, 1).round()  # the read models catch up
    page = console.as_(LEA).get("/console/dashboard")
    assert page.status_code == 200
    assert page.text.count('<figure class="chart">') == 7
    assert "Cases opened and resolved per day" in page.text
    # Three cases opened today, in the numbers behind the chart and the headline.
    assert "<dt>Cases opened</dt><dd>3</dd>" in page.text
    assert 'role="img"' in page.text
    assert "<script" not in page.text.split("</head>")[1]  # no inline script (CSP)
    refused = console.as_(ANA).get("/console/dashboard")
    assert refused.status_code == 403


def test_the_dashboard_before_the_read_models_have_anything(console: Console) -> None:
    page = console.as_(LEA).get("/console/dashboard")
    assert page.status_code == 200
    assert "<dt>Cases opened</dt><dd>0</dd>" in page.text
    assert "no data yet" in page.text
