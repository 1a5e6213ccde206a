"""The simulator's output: valid, deterministic, time-ordered, consistent with its truth."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from winback.events.schema import parse_event
from winback.sim.generator import SimConfig, Simulation
from winback.sim.industries import INDUSTRIES
from winback.sim.truth import truth_records

FAILURE_EVENTS = {"payment.failed", "delivery.delayed", "booking.error", "outage"}


def run(**kwargs: Any) -> tuple[Simulation, list[dict[str, Any]]]:
    sim = Simulation(SimConfig(**kwargs))
    return sim, list(sim.events())


def utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)


@pytest.mark.parametrize("industry", sorted(INDUSTRIES))
def test_every_event_validates_and_time_runs_forward(industry: str) -> None:
    _, events = run(industry=industry, customers=150, days=60, seed=11)
    assert len(events) > 150
    ids = set()
    previous = None
    for event in events:
        incoming = parse_event(event)
        assert incoming.occurred_at is not None  # always sent, with an offset
        assert event["occurred_at"][-1] == "Z" or event["occurred_at"][-6] in "+-"
        if previous is not None:
            assert incoming.occurred_at >= previous
        previous = incoming.occurred_at
        ids.add(event["id"])
    assert len(ids) == len(events)


def test_the_first_event_of_a_customer_carries_the_profile() -> None:
    _, events = run(industry="retail", customers=50, days=30, seed=2)
    seen: set[str] = set()
    for event in events:
        who = event["customer"]
        if who["id"] not in seen:
            assert {"name", "email", "segment", "plan", "value", "timezone"} <= set(who)
            seen.add(who["id"])
        else:
            assert set(who) == {"id"}


def test_same_seed_same_bytes_other_seed_other_company() -> None:
    def dump(seed: int) -> bytes:
        _, events = run(industry="saas", customers=120, days=45, seed=seed)
        return b"\n".join(orjson.dumps(e) for e in events)

    assert dump(5) == dump(5)
    assert dump(5) != dump(6)


def test_a_real_variety_of_events_and_words() -> None:
    _, events = run(industry="telecom", customers=600, days=90, seed=3)
    types = {e["type"] for e in events}
    assert types >= {
        "usage", "subscription.renewed", "complaint", "message", "ticket.opened",
        "payment.failed", "survey.response", "review", "outage", "subscription.cancelled",
    }  # fmt: skip
    complaints = [e["text"] for e in events if e["type"] == "complaint"]
    assert len(set(complaints)) > 0.9 * len(complaints)
    kinds = {e["score"]["kind"] for e in events if e["type"] == "survey.response"}
    assert kinds >= {"nps", "ces"}


def test_an_outage_hits_many_customers_at_once() -> None:
    _, events = run(industry="telecom", customers=1000, days=90, seed=4)
    by_outage: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] == "outage":
            by_outage[e["attributes"]["outage_id"]].add(e["occurred_at"][:16])
    assert by_outage
    sizes = [
        sum(1 for e in events if e["type"] == "outage" and e["attributes"]["outage_id"] == o)
        for o in by_outage
    ]
    assert max(sizes) >= 10


@pytest.mark.parametrize("industry", sorted(INDUSTRIES))
def test_open_loop_churn_falls_in_the_industry_band(industry: str) -> None:
    sim, _ = run(industry=industry, customers=2500, days=90, seed=7)
    low, high = INDUSTRIES[industry].churn_band
    assert low <= sim.summary()["churn_rate"] <= high


def test_ground_truth_agrees_with_the_events() -> None:
    sim, events = run(industry="saas", customers=800, days=90, seed=9, record_truth=True)
    records = list(truth_records(sim))
    assert records[0]["record"] == "run"
    customers = {r["id"]: r for r in records if r["record"] == "customer"}
    assert len(customers) == 800
    by_id = {e["id"]: e for e in events}
    mine: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        mine[e["customer"]["id"]].append(e)

    churned = [c for c in customers.values() if c["churned"]]
    assert churned
    for c in customers.values():
        cancels = [e for e in mine[c["id"]] if e["type"] == "subscription.cancelled"]
        if c["churned"]:
            assert len(cancels) == 1
            assert cancels[0]["occurred_at"] == c["churned_at"]
            last = max(utc(e["occurred_at"]) for e in mine[c["id"]])
            assert last == utc(c["churned_at"])  # nothing after leaving
            assert c["cumulative_hazard"] >= c["churn_threshold"]
        else:
            assert cancels == []

    failure_events = set()
    for c in customers.values():
        for f in c["failures"]:
            for event_id in f["event_ids"]:
                assert by_id[event_id]["customer"]["id"] == c["id"]
            first = by_id[f["event_ids"][0]] if f["event_ids"] else None
            if first is not None and first["type"] in FAILURE_EVENTS:
                assert first["occurred_at"] == f["at"]
                failure_events.add(first["id"])
    assert failure_events == {e["id"] for e in events if e["type"] in FAILURE_EVENTS}
    assert sum(len(c["failures"]) for c in customers.values()) == sim.summary()["failures"]


def test_usage_sags_before_churn() -> None:
    sim, events = run(industry="telecom", customers=3000, days=90, seed=7, record_truth=True)
    churned_at = {
        c.id: sim.time_of(c.churned_at) for c in sim.customers if c.churned_at is not None
    }
    before, others = [], []
    for e in events:
        if e["type"] != "usage":
            continue
        who = e["customer"]["id"]
        gb = e["attributes"]["data_gb"]
        if who in churned_at:
            days_left = (churned_at[who] - utc(e["occurred_at"])).total_seconds() / 86400
            if days_left < 14:
                before.append(gb)
        else:
            others.append(gb)
    assert before
    assert sum(before) / len(before) < 0.6 * sum(others) / len(others)
