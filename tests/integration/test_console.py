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
from winback.store.tables import case_timeline, cases, remedy_grants

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
    # The same SLA policy for all: the case opened first is due first.
    assert order == [console.ids[c] for c in ("amy", "ben", "cat")]
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
