"""Small fixed-seed runs, pinned: a change to what the simulator generates cannot go unnoticed.

The simulator is deterministic by seed, and refactoring it (moving code between modules,
renaming helpers) must not change a single byte it writes. Each case below runs a small
company and pins a SHA-256 of everything it produced (the events, the ground truth, the
summary and the response statistics), beside a readable summary that says what moved when the
hash does. The closed-loop case acknowledges and resolves problems, with and without remedies,
and writes ticket updates, so the response handlers are covered too.

A deliberate change to the model or the text changes these pins: update them in the same
commit and say why. They also depend on the time-zone database (offsets in ``occurred_at``),
so a tzdata release that changes a 2026 rule in one of the industries' cities would move them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from winback.sim.generator import SimConfig, Simulation
from winback.sim.truth import truth_records

CONTACTS = ("complaint", "message", "ticket.opened", "refund.requested", "payment.failed")


def _fingerprint(sim: Simulation, events: list[dict[str, Any]]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for event in events:
        digest.update(orjson.dumps(event) + b"\n")
    for record in truth_records(sim):
        digest.update(orjson.dumps(record) + b"\n")
    stats = sim.stats
    digest.update(
        orjson.dumps(
            [stats.acknowledged, stats.resolved, stats.remedies, stats.remedy_cost, stats.ack_waits]
        )
    )
    summary = sim.summary()
    return {
        "events": summary["events"],
        "churned": summary["churned"],
        "failures": summary["failures"],
        "acknowledged": stats.acknowledged,
        "resolved": stats.resolved,
        "remedies": stats.remedies,
        "sha256": digest.hexdigest(),
    }


def _open_loop(industry: str) -> dict[str, Any]:
    config = SimConfig(industry=industry, customers=80, days=60, seed=13, record_truth=True)
    sim = Simulation(config)
    return _fingerprint(sim, list(sim.events()))


def _closed_loop() -> dict[str, Any]:
    """Every contact acknowledged within hours; two in three resolved, half with a remedy."""
    sim = Simulation(SimConfig(industry="saas", customers=150, days=60, seed=21, record_truth=True))
    sim.emit_ticket_updates = True
    events: list[dict[str, Any]] = []
    t, n = 0.0, 0
    while not sim.finished:
        t = min(sim.horizon, t + 0.5)
        batch = sim.advance(t)
        events.extend(batch)
        for event in batch:
            if event["type"] not in CONTACTS:
                continue
            n += 1
            customer_id = event["customer"]["id"]
            sim.respond(customer_id, "ack", t + n % 7)
            if n % 3:
                sim.respond(customer_id, "resolve", t + 5 + n % 11, 25.0 if n % 2 else 0.0)
    return _fingerprint(sim, events)


PINNED: dict[str, dict[str, Any]] = {
    "bank": {
        "events": 1179, "churned": 2, "failures": 50,
        "acknowledged": 0, "resolved": 0, "remedies": 0,
        "sha256": "2e9794894348c505d562537cdf0fe1c4179550254155cd2c83cc02bf70cf1725",
    },
    "retail": {
        "events": 639, "churned": 7, "failures": 49,
        "acknowledged": 0, "resolved": 0, "remedies": 0,
        "sha256": "d52b1073be76a4476cda4f5e75fa5118a6feafeb2a81e982305238f90aceef96",
    },
    "saas": {
        "events": 1355, "churned": 3, "failures": 95,
        "acknowledged": 0, "resolved": 0, "remedies": 0,
        "sha256": "e982989ed191af20615972b6cf663bea915dd03736c621f0036121126a8280a9",
    },
    "telecom": {
        "events": 954, "churned": 2, "failures": 45,
        "acknowledged": 0, "resolved": 0, "remedies": 0,
        "sha256": "41c9b3fd023d47960e341a88ef6d8dc050943fefb7f512324f1e8ef78082c710",
    },
    "travel": {
        "events": 424, "churned": 5, "failures": 42,
        "acknowledged": 0, "resolved": 0, "remedies": 0,
        "sha256": "ec552db5b015d8ec32632c5ffc053a915536ce6170a2aac6bc22c92cf097d8b4",
    },
    "closed loop": {
        "events": 2388, "churned": 9, "failures": 86,
        "acknowledged": 49, "resolved": 38, "remedies": 17,
        "sha256": "08956973b2a3115b5d0107d119cf44e4b58579e6c9d5337228476317957ba114",
    },
}  # fmt: skip


@pytest.mark.parametrize("industry", ["bank", "retail", "saas", "telecom", "travel"])
def test_an_open_loop_run_is_byte_for_byte_the_pinned_one(industry: str) -> None:
    assert _open_loop(industry) == PINNED[industry]


def test_a_closed_loop_run_is_byte_for_byte_the_pinned_one() -> None:
    assert _closed_loop() == PINNED["closed loop"]
