"""The live demo stream: what it sends, and how it behaves when the server goes away."""

from __future__ import annotations

import threading

import httpx
import pytest

from winback.sim import live
from winback.sim.live import DemoCompany, stream

COMPANY = DemoCompany(industry="telecom", customers=200, days=30, seed=3)


def _client_factory(handler: object) -> object:
    real = httpx.Client

    def make(**kwargs: object) -> httpx.Client:
        return real(transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]

    return make


def test_the_stream_reports_a_server_that_stops_answering_and_ends_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    posted: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"processor_lag": 0})
        if len(posted) >= 5:
            raise httpx.ConnectError("connection refused", request=request)
        posted.append({"path": request.url.path})
        return httpx.Response(202, json={"accepted": 1})

    monkeypatch.setattr(live.httpx, "Client", _client_factory(handler))
    lines: list[str] = []
    sent = stream(
        "http://demo.invalid", threading.Event(), rate=1000, company=COMPANY, report=lines.append
    )
    assert sent == 5
    assert lines == ["demo: the server at http://demo.invalid stopped answering; 5 events sent"]


def test_the_stream_sends_valid_events_and_summarises_every_25(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from winback.events.schema import parse_event

    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"processor_lag": 0})
        if request.url.path == "/v1/cases":
            return httpx.Response(200, json={"items": [{"id": 1}, {"id": 2}], "next_cursor": None})
        if request.url.path == "/v1/customers":
            assert request.url.params["min_risk"] == str(live.AT_RISK)
            return httpx.Response(200, json={"items": [{"id": "c"}]})
        bodies.append(request.content)
        return httpx.Response(202, json={"accepted": 1})

    monkeypatch.setattr(live.httpx, "Client", _client_factory(handler))
    lines: list[str] = []
    sent = stream(
        "http://demo.invalid",
        threading.Event(),
        rate=1000,
        limit=50,
        company=COMPANY,
        report=lines.append,
    )
    assert sent == 50
    assert len(bodies) == 50
    for body in bodies:
        parse_event(httpx.Response(200, content=body).json())  # Winback's own validation
    heads = [line.split(" (")[0] for line in lines]
    assert heads == ["demo: 25 events sent", "demo: 50 events sent"]
    assert lines[0].endswith("2 cases opened, 1 customers at risk (churn risk 30%+)")
