"""The HTTP API over real HTTP, against a real ``winback serve`` (processor in a child process).

Most tests share one server per module (``server``) and keep out of each other's way with
unique ids (``uid``); tests that need their own settings start their own (``start_server``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ._support import Server, deadline_wait, query, scalar

pytestmark = pytest.mark.slow

T0 = "2026-03-02T09:00:00+00:00"
PROCESS_TIMEOUT = 60.0


def event(
    event_id: str, customer: str | dict[str, Any], type_: str = "complaint", **fields: Any
) -> dict[str, Any]:
    """An event body; ``customer`` is an id or a whole customer object."""
    who = {"id": customer} if isinstance(customer, str) else customer
    body: dict[str, Any] = {"id": event_id, "type": type_, "customer": who}
    if type_ == "complaint":
        body.setdefault("text", "Still waiting for my refund.")
    body.update(fields)
    return body


def post(client: httpx.Client, body: Any) -> httpx.Response:
    return client.post("/v1/events", json=body)


def cases_of(client: httpx.Client, customer: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/cases", params={"customer": customer, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_for_case(
    client: httpx.Client, customer: str, ready: Callable[[dict[str, Any]], bool] = bool
) -> dict[str, Any]:
    """Poll until ``customer`` has a case (that satisfies ``ready``); return it."""

    def found() -> dict[str, Any] | None:
        items = cases_of(client, customer)
        return items[0] if items and ready(items[0]) else None

    case: dict[str, Any] = deadline_wait(
        found,
        timeout=PROCESS_TIMEOUT,
        message=lambda: f"no (ready) case for {customer}: {cases_of(client, customer)}",
    )
    return case


def stored_ids(server: Server, ids: list[str]) -> set[str]:
    marks = ",".join("?" * len(ids))
    rows = query(
        server.database, f"SELECT event_id FROM events WHERE event_id IN ({marks})", (*ids,)
    )
    return {row["event_id"] for row in rows}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- ingest ---------------------------------------------------------------------------------


def test_health_and_readiness(server: Server) -> None:
    with server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert body["database"] == "ok"
        assert body["migrations"] == "current"
        assert isinstance(body["processor_lag"], int)


def test_single_event_is_acknowledged_and_opens_a_case(server: Server, uid: str) -> None:
    customer = f"{uid}-c"
    with server.client() as client:
        response = post(client, event(f"{uid}-e1", customer, occurred_at=T0, channel="email"))
        assert response.status_code == 202, response.text
        assert response.json() == {
            "accepted": 1,
            "duplicates": 0,
            "events": [{"id": f"{uid}-e1", "status": "accepted"}],
        }
        # The acknowledgement means "committed": the event is in the file already.
        assert stored_ids(server, [f"{uid}-e1"]) == {f"{uid}-e1"}

        case = wait_for_case(client, customer)
        assert case["customer_id"] == customer
        assert case["status"] == "new"
        assert case["reason"] == "complaint"
        assert case["trigger_event_id"] == f"{uid}-e1"
        assert case["signal_count"] == 1

        detail = client.get(f"/v1/cases/{case['id']}").json()
        assert [e["id"] for e in detail["events"]] == [f"{uid}-e1"]
        assert detail["events"][0]["role"] == "trigger"
        assert detail["events"][0]["channel"] == "email"
        assert [t["kind"] for t in detail["timeline"]] == ["case.opened"]


def test_batch_is_acknowledged_per_event(server: Server, uid: str) -> None:
    batch = {
        "events": [
            event(f"{uid}-b1", f"{uid}-c1", "usage", attributes={"sessions": 3}),
            event(f"{uid}-b2", f"{uid}-c1", "survey.response", score={"kind": "nps", "value": 4}),
            event(f"{uid}-b3", f"{uid}-c2", "payment.failed", amount=49.0, currency="EUR"),
            event(f"{uid}-b4", f"{uid}-c3", "survey.response", score={"kind": "csat", "value": 5}),
        ]
    }
    with server.client() as client:
        response = post(client, batch)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["accepted"] == 4
        assert body["duplicates"] == 0
        assert body["events"] == [{"id": f"{uid}-b{i}", "status": "accepted"} for i in range(1, 5)]
        assert stored_ids(server, [f"{uid}-b{i}" for i in range(1, 5)]) == {
            f"{uid}-b{i}" for i in range(1, 5)
        }

        assert wait_for_case(client, f"{uid}-c1")["trigger_event_id"] == f"{uid}-b2"
        billing = wait_for_case(client, f"{uid}-c2")
        assert billing["category"] == "billing"
        server.wait_processed()
        assert cases_of(client, f"{uid}-c3") == []  # a CSAT of 5 is no reason for a case


def test_retry_is_a_duplicate_and_changes_nothing(server: Server, uid: str) -> None:
    customer = f"{uid}-c"
    first = event(f"{uid}-e1", customer, occurred_at=T0)
    no_time = event(f"{uid}-e2", customer, "survey.response", score={"kind": "nps", "value": 3})
    with server.client() as client:
        assert post(client, first).json()["accepted"] == 1
        assert post(client, no_time).json()["accepted"] == 1
        case = wait_for_case(client, customer, lambda c: c["signal_count"] == 2)
        server.wait_processed()
        customer_before = client.get(f"/v1/customers/{customer}").json()
        events_before = scalar(server.database, "SELECT count(*) FROM events")

        # The same events again, alone and in a batch: duplicates, nothing new stored.
        # (The event without occurred_at is a duplicate too, though its receipt time differs.)
        for body in (first, no_time, {"events": [no_time, first]}):
            response = post(client, body)
            assert response.status_code == 202, response.text
            reply = response.json()
            assert reply["accepted"] == 0
            assert reply["duplicates"] == len(body.get("events", [body]))
            assert {e["status"] for e in reply["events"]} == {"duplicate"}

        server.wait_processed()
        assert scalar(server.database, "SELECT count(*) FROM events") == events_before
        assert client.get(f"/v1/cases/{case['id']}").json()["signal_count"] == 2
        customer_after = client.get(f"/v1/customers/{customer}").json()
        assert customer_after["event_count"] == customer_before["event_count"] == 2
        assert [c["id"] for c in cases_of(client, customer)] == [case["id"]]


def test_same_id_with_different_content_is_409(server: Server, uid: str) -> None:
    customer = f"{uid}-c"
    original = event(f"{uid}-e1", customer, occurred_at=T0, text="The app crashed.")
    changed = {**original, "text": "Something else entirely."}
    with server.client() as client:
        assert post(client, original).status_code == 202

        response = post(client, changed)
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["error"] == "conflict"
        assert body["message"]
        assert body["conflicts"] == [{"path": "(body)", "id": f"{uid}-e1"}]

        # In a batch the whole batch is refused, including its new events.
        response = post(client, {"events": [event(f"{uid}-new", customer), changed]})
        assert response.status_code == 409, response.text
        assert response.json()["conflicts"] == [{"path": "events[1]", "id": f"{uid}-e1"}]
        assert stored_ids(server, [f"{uid}-new"]) == set()

        stored = query(
            server.database, "SELECT payload FROM events WHERE event_id = ?", (f"{uid}-e1",)
        )
        assert len(stored) == 1
        assert "The app crashed." in stored[0]["payload"]
        # The new event was not stored by the refused batch: sending it now accepts it.
        assert post(client, event(f"{uid}-new", customer)).json()["accepted"] == 1


def test_invalid_batch_is_422_with_paths_and_stores_nothing(server: Server, uid: str) -> None:
    customer = f"{uid}-c"
    good = [event(f"{uid}-ok{i}", customer, occurred_at=T0) for i in range(3)]
    bad = {
        "id": f"{uid}-bad",
        "type": "survey.response",
        "customer": {"id": customer, "email": "not-an-email"},
        "score": {"kind": "nps", "value": 11},
        "occurred_at": "yesterday",
        "colour": "blue",
    }
    with server.client() as client:
        response = post(client, {"events": [good[0], bad, good[1], good[2]]})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "validation_failed"
        assert body["message"]
        paths = {e["path"] for e in body["errors"]}
        assert all(e["message"] for e in body["errors"])
        assert "events[1].customer.email" in paths
        assert "events[1].occurred_at" in paths
        assert "events[1].colour" in paths
        assert any(p.startswith("events[1].score") for p in paths)
        assert all(p.startswith("events[1].") for p in paths), paths

        # Nothing of the batch was stored: not in the file, and sending the good ones now
        # accepts them (rather than calling them duplicates).
        ids = [e["id"] for e in [*good, bad]]
        assert stored_ids(server, ids) == set()
        server.wait_processed()
        assert cases_of(client, customer) == []
        assert client.get(f"/v1/customers/{customer}").status_code == 404
        again = post(client, {"events": good}).json()
        assert again["accepted"] == 3

        # Other shapes of invalid bodies.
        for body_, path in [
            ([good[0]], "(body)"),
            ({"events": []}, "events"),
            ({"events": "x"}, "events"),
            ({"events": [good[0]], "extra": 1}, "(body)"),
            ({"id": f"{uid}-x", "type": "teleport", "customer": {"id": customer}}, "type"),
            ({"id": f"{uid}-y", "type": "complaint"}, "customer"),
        ]:
            response = post(client, body_)
            assert response.status_code == 422, (body_, response.text)
            assert path in {e["path"] for e in response.json()["errors"]}, response.text

        too_many = {"events": [event(f"{uid}-m{i}", customer) for i in range(1001)]}
        response = post(client, too_many)
        assert response.status_code == 422
        assert response.json()["errors"][0]["path"] == "events"
        assert stored_ids(server, [f"{uid}-m0", f"{uid}-m1000"]) == set()


def test_malformed_json_is_400(server: Server, uid: str) -> None:
    with server.client() as client:
        for raw in (b'{"id": "x", "type": ', b"not json at all", b""):
            response = client.post(
                "/v1/events", content=raw, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["error"] == "bad_request"
            assert "malformed JSON" in body["message"]


def test_body_over_the_limit_is_413(start_server: Callable[..., Server], uid: str) -> None:
    server = start_server(max_body_bytes=2048)
    customer = f"{uid}-c"
    big = {"events": [event(f"{uid}-e{i}", customer, text="x" * 300) for i in range(10)]}
    with server.client() as client:
        response = post(client, big)
        assert response.status_code == 413, response.text
        body = response.json()
        assert body["error"] == "payload_too_large"
        assert "2048" in body["message"]

        # Without a Content-Length (chunked), the limit holds while streaming.
        def chunks() -> Any:
            raw = httpx.Request("POST", "/", json=big).read()
            for start in range(0, len(raw), 512):
                yield raw[start : start + 512]

        response = client.post(
            "/v1/events", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "payload_too_large"
        assert stored_ids(server, [f"{uid}-e{i}" for i in range(10)]) == set()

        # Under the limit is fine.
        response = post(client, event(f"{uid}-e0", customer))
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1


# -- cases ----------------------------------------------------------------------------------


def test_signals_from_several_channels_consolidate_into_one_case(server: Server, uid: str) -> None:
    customer = f"{uid}-c"
    signals = [
        event(f"{uid}-mail", customer, channel="email", text="Charged twice."),
        event(f"{uid}-usage", customer, "usage", channel="app"),
        event(f"{uid}-chat", customer, channel="chat", text="Nobody answers by email."),
        event(
            f"{uid}-nps",
            customer,
            "survey.response",
            channel="web",
            score={"kind": "nps", "value": 2},
            text="Billing is a mess.",
        ),
        event(f"{uid}-promoter", customer, "survey.response", score={"kind": "nps", "value": 9}),
        event(f"{uid}-pay", customer, "payment.failed", amount=49.0, currency="EUR"),
    ]
    # Every signal joins the case; so does the promoter's answer (the customer wrote on their
    # open case), but not the usage event.
    triggering = [f"{uid}-mail", f"{uid}-chat", f"{uid}-nps", f"{uid}-promoter", f"{uid}-pay"]
    with server.client() as client:
        for body in signals:  # one request each, so they are logged in this order
            assert post(client, body).status_code == 202
        case = wait_for_case(client, customer, lambda c: c["signal_count"] == 5)
        server.wait_processed()

        cases = cases_of(client, customer)
        assert len(cases) == 1, cases
        assert cases[0]["id"] == case["id"]
        assert case["trigger_event_id"] == f"{uid}-mail"
        assert case["status"] == "new"
        assert case["priority"] == "P2"  # raised by the NPS 2, never lowered again
        assert case["category"] == "billing"

        detail = client.get(f"/v1/cases/{case['id']}").json()
        assert [e["id"] for e in detail["events"]] == triggering
        assert [e["role"] for e in detail["events"]] == [
            "trigger",
            "attached",
            "attached",
            "attached",
            "attached",
        ]
        assert [e.get("channel") for e in detail["events"]] == ["email", "chat", "web", None, None]
        assert detail["events"][2]["score"] == {"kind": "nps", "value": 2}
        assert detail["events"][4]["amount"] == 49.0
        assert detail["events"][4]["currency"] == "EUR"

        timeline = detail["timeline"]
        assert [t["kind"] for t in timeline] == [
            "case.opened",
            "case.attached",
            "case.attached",
            "case.customer_contact",
            "case.attached",
        ]
        assert [t["data"]["event_id"] for t in timeline] == triggering
        assert [t["event_seq"] for t in timeline] == [e["seq"] for e in detail["events"]]
        assert all(t["actor"] == "winback:processor" for t in timeline)
        assert all(t["summary"] for t in timeline)


def test_cases_filter_by_status_and_customer(server: Server, uid: str) -> None:
    mine, other = f"{uid}-mine", f"{uid}-other"
    with server.client() as client:
        post(client, event(f"{uid}-e1", mine))
        post(client, event(f"{uid}-e2", other))
        wait_for_case(client, mine)
        wait_for_case(client, other)

        response = client.get("/v1/cases", params={"status": "new", "customer": mine})
        assert response.status_code == 200
        items = response.json()["items"]
        assert [c["customer_id"] for c in items] == [mine]
        assert items[0]["status"] == "new"
        assert response.json()["next_cursor"] is None

        several = client.get(
            "/v1/cases", params=[("status", "acknowledged"), ("status", "new"), ("customer", mine)]
        ).json()["items"]
        assert [c["customer_id"] for c in several] == [mine]
        assert cases_of(client, mine, status="closed") == []
        assert cases_of(client, f"{uid}-nobody") == []

        response = client.get("/v1/cases", params={"status": "bogus"})
        assert response.status_code == 422
        assert response.json()["error"] == "validation_failed"
        assert any("status" in e["path"] for e in response.json()["errors"])


def walk(client: httpx.Client, params: dict[str, Any], max_pages: int) -> list[int]:
    """Follow ``next_cursor`` from the first page to the last; return the case ids seen."""
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(max_pages + 1):
        page_params = dict(params) if cursor is None else {**params, "cursor": cursor}
        response = client.get("/v1/cases", params=page_params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= params["limit"]
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            assert len(seen) == len(set(seen)), "a case was returned twice"
            return seen
    pytest.fail(f"pagination did not end after {max_pages + 1} pages: {seen}")


def test_cursor_pagination_walks_every_case_once(server: Server, uid: str) -> None:
    with server.client() as client:
        post(client, {"events": [event(f"{uid}-e{i}", f"{uid}-c{i}") for i in range(7)]})
        server.wait_processed()
        expected = [
            row["id"] for row in query(server.database, "SELECT id FROM cases ORDER BY id DESC")
        ]
        assert len(expected) >= 7

        assert walk(client, {"limit": 3}, len(expected)) == expected  # newest first, once each
        assert walk(client, {"limit": 500}, 1) == expected
        new_ids = [
            row["id"]
            for row in query(
                server.database, "SELECT id FROM cases WHERE status = 'new' ORDER BY id DESC"
            )
        ]
        assert walk(client, {"limit": 2, "status": "new"}, len(new_ids)) == new_ids

        response = client.get("/v1/cases", params={"cursor": "garbage!"})
        assert response.status_code == 422
        assert response.json()["error"] == "validation_failed"
        assert client.get("/v1/cases", params={"limit": 0}).status_code == 422
        assert client.get("/v1/cases", params={"limit": 501}).status_code == 422


# -- customers ------------------------------------------------------------------------------


def test_customer_profile_later_event_wins_and_missing_field_keeps(
    server: Server, uid: str
) -> None:
    customer = f"{uid}-ada"
    first = event(
        f"{uid}-e1",
        {
            "id": customer,
            "name": "Ada Old",
            "email": "ada@old.example.com",
            "plan": "basic",
            "attributes": {"tier": "silver", "region": "eu"},
        },
        "usage",
        occurred_at="2026-03-02T10:00:00Z",
    )
    later = event(
        f"{uid}-e2",
        {"id": customer, "name": "Ada New", "plan": "pro", "attributes": {"tier": "gold"}},
        "usage",
        occurred_at="2026-03-02T11:00:00Z",
    )
    late_arrival = event(  # logged last, but it happened first: it must not win
        f"{uid}-e3",
        {"id": customer, "name": "Ada Stale", "phone": "+49 30 1234567"},
        "usage",
        occurred_at="2026-03-02T09:00:00Z",
    )
    with server.client() as client:
        for body in (first, later, late_arrival):
            assert post(client, body).status_code == 202

        def profile() -> dict[str, Any] | None:
            response = client.get(f"/v1/customers/{customer}")
            if response.status_code == 404:
                return None
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body if body["event_count"] == 3 else None

        got: dict[str, Any] = deadline_wait(
            profile, timeout=PROCESS_TIMEOUT, message=f"customer {customer} not at 3 events"
        )
        assert got["id"] == customer
        assert got["name"] == "Ada New"  # the later event wins
        assert got["plan"] == "pro"
        # The test's admin key may see raw contact details (docs/privacy.md):
        assert got["email"] == "ada@old.example.com"  # a missing field does not erase
        assert got["phone"] == "+49 30 1234567"  # a late event still fills an empty field
        assert got["attributes"] == {"tier": "gold", "region": "eu"}
        assert got["segment"] is None
        assert parse_time(got["first_seen_at"]) == datetime(2026, 3, 2, 9, tzinfo=UTC)
        assert parse_time(got["last_event_at"]) == datetime(2026, 3, 2, 11, tzinfo=UTC)
        assert got["open_case"] is None
        assert [e["id"] for e in got["recent_events"]] == [f"{uid}-e2", f"{uid}-e1", f"{uid}-e3"]

        assert post(client, event(f"{uid}-e4", customer)).status_code == 202
        case = wait_for_case(client, customer)
        with_case = client.get(f"/v1/customers/{customer}").json()
        assert with_case["open_case"]["id"] == case["id"]
        assert with_case["name"] == "Ada New"


def test_not_found_uses_the_error_shape(server: Server, uid: str) -> None:
    with server.client() as client:
        for path in (
            "/v1/cases/987654321",
            f"/v1/customers/{uid}-nobody",
            "/v1/no-such-route",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            body = response.json()
            assert body["error"] == "not_found"
            assert isinstance(body["message"], str)
            assert body["message"]
        response = client.get("/v1/cases/not-a-number")
        assert response.status_code == 422
        assert response.json()["error"] == "validation_failed"
        response = client.delete("/v1/cases/1")
        assert response.status_code == 405
        assert response.json()["error"] == "method_not_allowed"


# -- operations -----------------------------------------------------------------------------


def metric_samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_accepted_duplicates_rejected(server: Server, uid: str) -> None:
    accepted = ("winback_events_accepted_total", ())
    duplicates = ("winback_events_duplicate_total", ())

    def rejected(reason: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        return ("winback_events_rejected_total", (("reason", reason),))

    customer = f"{uid}-c"
    with server.client() as client:
        before = metric_samples(client)
        post(client, {"events": [event(f"{uid}-e{i}", customer) for i in range(3)]})
        post(client, event(f"{uid}-e0", customer))  # duplicate
        post(client, {"events": [event(f"{uid}-e1", customer), event(f"{uid}-e9", customer)]})
        post(client, event(f"{uid}-e2", customer, text="changed"))  # conflict
        post(client, event(f"{uid}-bad", customer, "teleport"))  # invalid
        client.post("/v1/events", content=b"{", headers={"content-type": "application/json"})
        server.wait_processed()
        after = metric_samples(client)

        def delta(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
            return after.get(key, 0.0) - before.get(key, 0.0)

        assert delta(accepted) == 4
        assert delta(duplicates) == 2
        assert delta(rejected("conflict")) == 1
        assert delta(rejected("invalid")) == 1
        assert delta(rejected("malformed")) == 1
        assert ("winback_ingest_ack_seconds_count", ()) in after
        assert after[("winback_processor_lag_events", ())] == 0
        cases = scalar(server.database, "SELECT count(*) FROM cases")
        assert after[("winback_cases_opened", ())] == cases
        assert after[("winback_event_failures", ())] == 0


def test_openapi_documents_every_route_and_the_event_fields(server: Server) -> None:
    with server.client() as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        spec = response.json()

    paths = spec["paths"]
    expected = {
        "/v1/events": "post",
        "/v1/cases": "get",
        "/v1/cases/{case_id}": "get",
        "/v1/customers/{customer_id}": "get",
        "/healthz": "get",
        "/readyz": "get",
        "/metrics": "get",
    }
    for path, method in expected.items():
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"
        assert paths[path][method].get("summary"), f"{path} has no summary"

    post_events = paths["/v1/events"]["post"]
    body_schema = post_events["requestBody"]["content"]["application/json"]["schema"]
    refs = {option["$ref"] for option in body_schema["oneOf"]}
    assert refs == {"#/components/schemas/EventIn", "#/components/schemas/EventBatchIn"}
    assert {"202", "400", "409", "413", "422"} <= set(post_events["responses"])

    list_params = {p["name"] for p in paths["/v1/cases"]["get"]["parameters"]}
    assert {"status", "customer", "limit", "cursor"} <= list_params

    schemas = spec["components"]["schemas"]
    event_in = schemas["EventIn"]["properties"]
    for name in (
        "id",
        "type",
        "occurred_at",
        "customer",
        "channel",
        "text",
        "score",
        "amount",
        "currency",
        "ticket",
        "attributes",
    ):
        assert name in event_in, f"EventIn does not document {name}"
    assert set(schemas["EventIn"]["required"]) >= {"id", "type", "customer"}
    assert "email" in schemas["CustomerIn"]["properties"]
    assert {"kind", "value"} <= set(schemas["ScoreIn"]["properties"])
    assert "events" in schemas["EventBatchIn"]["properties"]
    assert "complaint" in event_in["type"]["description"]

    # Every reference in the document resolves.
    def refs_in(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs_in(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs_in(v)]
        return []

    for ref in refs_in(spec):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling reference {ref}"
