"""The live demo stream: a simulated company's events sent to a running Winback over HTTP.

The company is the simulator's (seeded, with failures, contacts, surveys and churn). To keep
the interesting part visible, the demo sends only one routine activity event in
``keep_routine`` (usage, logins, purchases, renewals; every other event is sent). Events are
sent at ``rate`` per second; with ``speed`` set, also no faster than the simulated clock at
``speed`` simulated hours per real second. Each event's ``occurred_at`` is the moment it is
sent, so Winback's timelines read naturally; the simulated time is shown in the summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from winback.sim.compare import ROUTINE
from winback.sim.generator import SimConfig, Simulation


@dataclass(frozen=True)
class DemoCompany:
    industry: str = "telecom"
    customers: int = 2000
    days: int = 365
    seed: int = 7
    keep_routine: int = 5


def demo_events(company: DemoCompany, start: datetime) -> Iterator[tuple[float, dict[str, Any]]]:
    """(simulated hours, event) for the demo company, in time order, routine thinned."""
    sim = Simulation(
        SimConfig(company.industry, company.customers, company.days, company.seed, start)
    )
    routine = 0
    t = 0.0
    while t < sim.horizon:
        t = min(sim.horizon, t + 6.0)
        for event in sim.advance(t):
            if event["type"] in ROUTINE:
                routine += 1
                if routine % company.keep_routine:
                    continue
            at = datetime.fromisoformat(event["occurred_at"])
            yield sim.hours_at(at), event


AT_RISK = 0.3  # the demo counts a customer "at risk" from this churn probability (90 days)


def summarize(client: httpx.Client, pages: int = 20) -> tuple[int, int]:
    """(cases opened, customers at risk) as the API shows them: cases from ``GET /v1/cases``,
    and customers whose churn risk is at least :data:`AT_RISK` from
    ``GET /v1/customers?order=-risk`` (500 at most are counted)."""
    opened = 0
    cursor: str | None = None
    for _ in range(pages):
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/cases", params=params).json()
        opened += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    risky = client.get(
        "/v1/customers", params={"order": "-risk", "min_risk": AT_RISK, "limit": 500}
    ).json()
    return opened, len(risky["items"])


def stream(
    base_url: str,
    stop: threading.Event,
    *,
    rate: float = 5.0,
    limit: int | None = None,
    company: DemoCompany | None = None,
    speed: float | None = None,
    report: Callable[[str], Any] = print,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    token: str | None = None,
) -> int:
    """Send the company's events to ``base_url`` until ``stop`` (or ``limit`` events), with the
    API key ``token`` (scopes events:write, cases:read, customers:read)."""
    company = company or DemoCompany()
    sent = 0
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=10, headers=headers) as client:
        for _ in range(600):  # wait for the server to come up
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if stop.wait(0.1):
                return 0
        began = clock()
        start = began.replace(second=0, microsecond=0)
        sim_time = start
        for hours, event in demo_events(company, start):
            if stop.is_set() or (limit is not None and sent >= limit):
                break
            if speed:
                due = began + timedelta(seconds=hours / speed)
                wait = (due - clock()).total_seconds()
                if wait > 0 and stop.wait(wait):
                    break
            sim_time = start + timedelta(hours=hours)
            event["occurred_at"] = clock().isoformat()
            try:
                response = client.post("/v1/events", json=event)
                if response.status_code != 202:
                    report(f"demo: event refused ({response.status_code}): {response.text}")
                sent += 1
                if sent % 25 == 0:
                    opened, at_risk = summarize(client)
                    report(
                        f"demo: {sent} events sent (simulated {sim_time:%a %d %b %H:%M}), "
                        f"{opened} cases opened, {at_risk} customers at risk "
                        f"(churn risk {AT_RISK:.0%}+)"
                    )
            except httpx.TransportError:
                if not stop.is_set():  # not our own shutdown: say so, once, and stop quietly
                    report(f"demo: the server at {base_url} stopped answering; {sent} events sent")
                return sent
            stop.wait(1.0 / rate)
        else:
            report(f"demo: the simulated {company.days} days are over")
        # With a limit the server stops after us: let the processor catch up first (bounded),
        # or a slow-starting processor leaves the demo's database without its cases.
        for _ in range(600 if limit is not None and sent >= limit else 0):
            try:
                if client.get("/readyz").json().get("processor_lag") == 0:
                    break
            except httpx.TransportError:
                pass
            if stop.wait(0.1):
                break
    return sent
