"""``GET /v1/cases`` as the agents' queue, on SQLite and PostgreSQL: every filter, every sort,
keyset pages, the next SLA deadline, team and risk on each row, and 422s for what it does not
know. The cases come from events run through the real processor (playbooks, SLA, risk) and
from agents' actions through the API; the expected answers are computed here from the tables.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from winback.api.app import create_app
from winback.api.cases import PRIORITY_VALUES, SortValue
from winback.bootstrap import build_runtime, build_stages
from winback.cases.model import PRIORITIES
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.pipeline.processor import Processor
from winback.store import queries
from winback.store.tables import cases, customer_risk, sla_timers

from .support import api_app, authenticate, body, log_events, nps, rows

MINUTE = timedelta(minutes=1)

# Priority, category and team come from this playbook, by the customer's segment.
PLAYBOOK = """\
playbook: queue
version: 1
rules:
  - name: vip
    when: {event.type: complaint, customer.segment: vip}
    then: {priority: P1, category: billing, assign: {team: vip-desk}}
  - name: smb
    when: {event.type: complaint, customer.segment: smb}
    then: {priority: P2, category: delivery, assign: {team: logistics}}
  - name: rest
    when: {event.type: complaint}
    then: {priority: P3, category: delivery}
"""

# customer -> segment; opened ten minutes apart in this order.
SEGMENTS = {"a": "vip", "b": "smb", "c": "retail", "d": "vip", "e": "retail", "f": "smb"}


@dataclass
class Queue:
    client: TestClient
    engine: Engine
    ids: dict[str, int]  # customer -> case id

    def get(self, *params: tuple[str, Any]) -> Any:
        response = self.client.get("/v1/cases", params=list(params))
        assert response.status_code == 200, response.text
        return response.json()

    def customers(self, *params: tuple[str, Any]) -> list[str]:
        """The customers of the page's cases, in order (``limit=500``: one page)."""
        by_id = {case_id: customer for customer, case_id in self.ids.items()}
        return [by_id[c["id"]] for c in self.get(*params, ("limit", 500))["items"]]


@pytest.fixture
def queue(engine: Engine, frozen_clock: FrozenClock, tmp_path: Path) -> Iterator[Queue]:
    config_dir = tmp_path / "config"
    (config_dir / "playbooks").mkdir(parents=True)
    (config_dir / "playbooks" / "queue.yaml").write_text(PLAYBOOK)
    settings = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        config_dir=config_dir,
        models_dir=tmp_path / "models",
        processor="off",
    )
    container = build_runtime(settings, frozen_clock)
    container.engine.dispose()
    container.engine = engine
    processor = Processor(engine, build_stages(settings), frozen_clock)
    with authenticate(TestClient(create_app(container)), engine, "ana", "agent") as client:
        for customer, segment in SEGMENTS.items():
            fields = {"customer_fields": {"segment": segment}, "text": "Still no refund."}
            log_events(
                engine, frozen_clock.now(), body(f"{customer}-1", "complaint", customer, **fields)
            )
            processor.run_until_idle()
            frozen_clock.advance(10 * MINUTE)
        # c is angrier: two more complaints (attached) and a detractor score raise its risk.
        log_events(
            engine,
            frozen_clock.now(),
            body("c-2", "complaint", "c", text="Still waiting, again."),
            body("c-3", "complaint", "c", text="Third time I write."),
            nps("c-4", 0, "c"),
        )
        processor.run_until_idle()
        ids = {r.customer_id: r.id for r in rows(engine, sa.select(cases))}
        assert set(ids) == set(SEGMENTS)

        def act(customer: str, action: str, **params: Any) -> None:
            frozen_clock.advance(MINUTE)
            response = client.post(
                f"/v1/cases/{ids[customer]}/actions",
                json={"action": action, **params},
            )
            assert response.status_code == 200, response.text

        act("d", "assign", owner="ana")
        act("d", "reply", text="We are on it.")  # first response met
        act("b", "assign", owner="bo")
        act("b", "acknowledge")
        act("e", "start")
        act("e", "wait_on_customer")  # paused: no SLA deadline pending
        act("f", "start")
        act("f", "resolve", outcome="refunded", root_cause="late parcel")
        yield Queue(client, engine, ids)


def table(engine: Engine) -> dict[int, dict[str, Any]]:
    """Each case's row, with its next breach/warning and risk computed here, in Python."""
    found = {r.id: dict(r._mapping) for r in rows(engine, sa.select(cases))}
    risk = {r.customer_id: r.probability for r in rows(engine, sa.select(customer_risk))}
    pending = rows(engine, sa.select(sla_timers).where(sla_timers.c.fired_at.is_(None)))
    for case_id, case in found.items():
        mine = [t for t in pending if t.case_id == case_id]
        breach = sorted((t.due_at, t.metric) for t in mine if t.kind == "breach")
        warning = sorted(t.due_at for t in mine if t.kind == "warning")
        case["next_due_at"], case["next_due_metric"] = breach[0] if breach else (None, None)
        case["next_warning_at"] = warning[0] if warning else None
        case["risk"] = risk.get(case["customer_id"])
    return found


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def expected_order(engine: Engine, sort: str) -> list[int]:
    """Case ids in ``sort`` order: values ascending (``-``: descending), ties by id in the same
    direction, cases without a value last either way."""
    key = sort.removeprefix("-")
    field = queries.QUEUE_SORT_FIELDS[key]
    descending = sort.startswith("-")
    found = table(engine).values()
    valued = sorted(
        (c for c in found if c[field] is not None),
        key=lambda c: (c[field], c["id"]),
        reverse=descending,
    )
    empty = sorted(
        (c for c in found if c[field] is None), key=lambda c: c["id"], reverse=descending
    )
    return [c["id"] for c in valued + empty]


def test_each_row_carries_its_next_deadline_team_and_risk(queue: Queue) -> None:
    items = {c["id"]: c for c in queue.get(("limit", 500))["items"]}
    expected = table(queue.engine)
    assert set(items) == set(expected)
    for case_id, case in expected.items():
        item = items[case_id]
        assert at(item["next_due_at"]) == case["next_due_at"]
        assert item["next_due_metric"] == case["next_due_metric"]
        assert at(item["next_warning_at"]) == case["next_warning_at"]
        assert item["risk"] == case["risk"]
        assert (item["status"], item["owner"]) == (case["status"], case["owner"])
    a, d, e, f = (items[queue.ids[c]] for c in "adef")
    # a: P1 under the built-in 24/7 defaults: first response due 1 h after it opened, the
    # warning at 80 % of it; d (P1, replied to): the resolution target, 1 day.
    opened = datetime.fromisoformat(a["opened_at"])
    assert at(a["next_due_at"]) == opened + timedelta(hours=1)
    assert a["next_due_metric"] == "first_response"
    assert at(a["next_warning_at"]) == opened + timedelta(minutes=48)
    assert a["team"] == d["team"] == "vip-desk"
    assert items[queue.ids["b"]]["team"] == "logistics"
    assert items[queue.ids["c"]]["team"] is None
    assert d["next_due_metric"] == "resolution"
    assert at(d["next_due_at"]) == datetime.fromisoformat(d["opened_at"]) + timedelta(days=1)
    assert e["next_due_at"] is None  # waiting on the customer: every clock paused
    assert (f["next_due_at"], f["next_warning_at"]) == (None, None)  # resolved
    assert [bool(r["text"]) for r in a["risk_reasons"]] == [True] * 3
    risks = {c["risk"] for c in items.values()}
    assert None not in risks
    assert len(risks) > 1  # the sort by risk below has work to do


# (query, the customers whose cases it keeps); the values of one parameter are ORed, the
# parameters ANDed.
FILTERS: list[tuple[list[tuple[str, str]], str]] = [
    ([("status", "new")], "ac"),
    ([("status", "new"), ("status", "acknowledged")], "abc"),
    ([("status", "in_progress"), ("status", "waiting_on_customer")], "de"),
    ([("open", "true")], "abcde"),
    ([("open", "false")], "f"),
    ([("open", "true"), ("status", "resolved")], ""),
    ([("owner", "ana")], "d"),
    ([("owner", "none")], "acef"),
    ([("owner", "ana"), ("owner", "bo")], "bd"),
    ([("owner", "bo"), ("owner", "none")], "abcef"),
    ([("team", "vip-desk")], "ad"),
    ([("team", "logistics"), ("team", "vip-desk")], "abdf"),
    ([("team", "none")], "ce"),
    ([("team", "none"), ("team", "logistics")], "bcef"),
    ([("priority", "P1")], "ad"),
    ([("priority", "P2"), ("priority", "P3")], "bcef"),
    ([("category", "billing")], "ad"),
    ([("category", "delivery")], "bcef"),
    ([("category", "other")], ""),
    ([("customer", "c")], "c"),
    ([("open", "true"), ("team", "logistics"), ("owner", "bo")], "b"),
    ([("priority", "P1"), ("owner", "none")], "a"),
]


def test_each_filter_keeps_the_cases_it_names(queue: Queue) -> None:
    for params, customers in FILTERS:
        assert sorted(queue.customers(*params)) == list(customers), params


def test_the_due_queue_is_one_statement_a_page_and_two_when_deadlines_run_out(
    queue: Queue,
) -> None:
    statements: list[str] = []

    def record(*args: Any) -> None:
        # The queue's reads (not SQLite's BEGIN, nor the ingest lag watcher's reads of the log
        # and the cursor, which run on their own thread whenever they are due).
        sql = args[2]
        if sql.lstrip().upper().startswith("SELECT") and " cases" in sql:
            statements.append(sql)

    sa.event.listen(queue.engine, "before_cursor_execute", record)
    try:
        # vip-desk has two open cases with a deadline: a page of one is all deadlines; a page
        # of 500 runs out of them and reads the cases without one as well.
        for limit, expected in ((1, 1), (500, 2)):
            statements.clear()
            queue.get(("sort", "due"), ("team", "vip-desk"), ("open", "true"), ("limit", limit))
            assert len(statements) == expected, statements
        for limit in (1, 500):  # other sorts: one statement whatever the page size
            statements.clear()
            queue.get(("sort", "-risk"), ("team", "vip-desk"), ("open", "true"), ("limit", limit))
            assert len(statements) == 1, statements
    finally:
        sa.event.remove(queue.engine, "before_cursor_execute", record)


SORTS = list(get_args(SortValue))


def test_the_sorts_are_the_ones_the_query_knows() -> None:
    keys = set(queries.QUEUE_SORT_FIELDS)
    assert set(SORTS) == keys | {f"-{k}" for k in keys}
    assert get_args(PRIORITY_VALUES) == PRIORITIES


def test_the_due_sort_puts_the_earliest_deadline_first(queue: Queue) -> None:
    # a (P1, first response 1 h) first; e (paused) and f (resolved) have no deadline: last,
    # in id order (e before f, reversed by -due).
    assert queue.customers(("sort", "due")) == ["a", "b", "c", "d", "e", "f"]
    assert queue.customers(("sort", "-due")) == ["d", "c", "b", "a", "f", "e"]
    assert queue.customers(("sort", "priority")) == ["a", "d", "b", "f", "c", "e"]
    assert queue.customers(("sort", "-risk"))[0] == "c"
    assert queue.customers(("sort", "due"), ("open", "true"), ("owner", "none")) == ["a", "c", "e"]


def walk(queue: Queue, *params: tuple[str, Any], limit: int = 2) -> list[int]:
    """Follow ``next_cursor`` from the first page to the last; the case ids seen, in order."""
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(20):
        extra = [] if cursor is None else [("cursor", cursor)]
        page = queue.get(*params, ("limit", limit), *extra)
        assert len(page["items"]) <= limit
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    pytest.fail(f"pages did not end: {seen}")


def test_each_sort_orders_and_pages_with_ties_by_id_and_missing_values_last(
    queue: Queue,
) -> None:
    # A customer not scored yet (no customer_risk row) comes last in either risk order; the
    # others tie on the cold-start risk but c's, so ties by id are exercised too.
    with queue.engine.begin() as conn:
        conn.execute(customer_risk.delete().where(customer_risk.c.customer_id == "b"))
    for sort in SORTS:
        expected = expected_order(queue.engine, sort)
        page = [c["id"] for c in queue.get(("sort", sort), ("limit", 500))["items"]]
        assert page == expected, sort
        # Pages of one start after every row, also inside the cases without a value.
        for limit in (1, 2):
            assert walk(queue, ("sort", sort), limit=limit) == expected, (sort, limit)


def test_pages_keep_the_filters_and_the_default_cursor_is_unchanged(queue: Queue) -> None:
    open_ids = sorted((queue.ids[c] for c in "abcde"), reverse=True)
    assert walk(queue, ("open", "true")) == open_ids
    first = queue.get(("limit", 2))
    assert first["next_cursor"]
    # The default order (newest first) keeps the c:<id> cursor clients already hold.
    raw = base64.urlsafe_b64decode(first["next_cursor"] + "==").decode()
    assert raw == f"c:{first['items'][-1]['id']}"


def made_up(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_from_another_sort_or_made_up_is_a_422(queue: Queue) -> None:
    cursor = queue.get(("sort", "due"), ("limit", 1))["next_cursor"]
    assert cursor
    for params in (
        [("sort", "risk"), ("cursor", cursor)],
        [("cursor", cursor)],
        [("cursor", "garbage!")],
        [("sort", "due"), ("cursor", made_up(b'k:["due","soon",3]'))],
        [("sort", "due"), ("cursor", made_up(b'k:["due","2026-11-24T09:00:00",3]'))],  # naive
        [("sort", "opened"), ("cursor", made_up(b'k:["opened",null,3]'))],
        [("sort", "priority"), ("cursor", made_up(b'k:["priority","P9",3]'))],
        [("sort", "risk"), ("cursor", made_up(b'k:["risk","high",3]'))],
        [("sort", "risk"), ("cursor", made_up(b'k:["risk",0.5]'))],
    ):
        response = queue.client.get("/v1/cases", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"] == "validation_failed"
        assert response.json()["message"].startswith("cursor:")


# (query, the path of the one error it gets): unknown parameters and bad values.
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"assignee": "ana"}, "query.assignee"),
    ({"sort_by": "due"}, "query.sort_by"),
    ({"status": "bogus"}, "query.status.0"),
    ({"priority": "P9"}, "query.priority.0"),
    ({"sort": "name"}, "query.sort"),
    ({"sort": "-"}, "query.sort"),
    ({"open": "maybe"}, "query.open"),
    ({"limit": 0}, "query.limit"),
    ({"limit": 501}, "query.limit"),
    ({"owner": ""}, "query.owner.0"),
    ({"owner": "ana,bo"}, "query.owner.0"),  # several values: repeat the parameter
    ({"status": "new,acknowledged"}, "query.status.0"),
]


@pytest.fixture
def bare_client(tmp_path: Path) -> Iterator[TestClient]:
    """The API on an empty SQLite database: parameters are checked before any query."""
    client, _, _ = api_app(tmp_path, datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    with client:
        yield client


def test_an_unknown_parameter_or_value_is_a_422_naming_it(bare_client: TestClient) -> None:
    for params, path in REFUSED:
        response = bare_client.get("/v1/cases", params=params)
        assert response.status_code == 422, params
        answer = response.json()
        assert answer["error"] == "validation_failed", params
        assert [e["path"] for e in answer["errors"]] == [path], params
    assert bare_client.get("/v1/cases", params={"sort": "due", "open": "true"}).status_code == 200


def test_the_openapi_schema_documents_the_queue_parameters(bare_client: TestClient) -> None:
    spec = bare_client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/v1/cases"]["get"]["parameters"]}
    assert set(params) == {
        "status",
        "open",
        "owner",
        "team",
        "priority",
        "category",
        "customer",
        "sort",
        "limit",
        "cursor",
    }
    assert all(p.get("description") for name, p in params.items() if name != "limit")
    assert set(params["sort"]["schema"]["enum"]) == set(SORTS)
    assert params["priority"]["schema"]["items"]["enum"] == list(PRIORITIES)
    item = spec["components"]["schemas"]["CaseQueueRead"]["properties"]
    assert {"next_due_at", "next_due_metric", "next_warning_at", "team", "risk"} <= set(item)
