"""Features and cold-start scores on a fixed, varied event stream, pinned.

A seeded stream of 3,000 events (60 customers, 400 days, every event type the features read,
text analyses on some) is merged event by event into each customer's state; after each event
the features (as of the latest event, and for every fifth event as of ten days earlier, as
training computes them) and the cold-start score with its reasons are taken.
``pinned-features.json`` holds, as recorded before the feature and scoring code was optimised,
the SHA-256 of all of them and the sum of every numeric feature, so a change shows which
feature moved. Usage readings count in their cohort as they arrive (``usage_level``).

A deliberate change of a feature's definition or of the weights changes these figures: then
regenerate the file and say why in the commit::

    PYTHONPATH=src:tests python -m unit.risk.test_pinned_features
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from winback.customers.cohort import CohortUsage
from winback.customers.features import (
    DAY,
    FeatureState,
    Profile,
    apply_to_state,
    compute_features,
    epoch,
    record_sla_breach,
    usage_reading,
)
from winback.events.model import Event
from winback.risk.coldstart import ColdStartScorer

from .support import T0, Text, ev

PINNED = Path(__file__).with_name("data") / "pinned-features.json"
TYPES = (
    "complaint",
    "message",
    "ticket.opened",
    "ticket.updated",
    "ticket.closed",
    "survey.response",
    "payment.failed",
    "refund.requested",
    "delivery.delayed",
    "usage",
    "usage",
    "usage",
    "login",
    "purchase",
    "outage",
    "subscription.cancelled",
    "subscription.renewed",
    "review",
)


def stream(seed: int = 5, n: int = 3000) -> list[tuple[Event, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        type_ = rng.choice(TYPES)
        data: dict[str, Any] = {}
        if type_ in ("complaint", "message", "ticket.opened", "ticket.updated", "review"):
            data["text"] = "words"
            if rng.random() < 0.5:
                data["touchpoint"] = rng.choice(["billing", "delivery", "app"])
        if type_.startswith("ticket."):
            data["ticket"] = {"id": f"T{rng.randrange(4)}", "status": rng.choice(["open", "done"])}
        if type_ == "survey.response":
            kind = rng.choice(["nps", "csat", "ces"])
            low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
            data["score"] = {"kind": kind, "value": rng.randint(low, high)}
            if rng.random() < 0.6:
                data["text"] = "comment"
        if type_ == "usage":
            data["attributes"] = {"sessions": rng.randint(0, 20)}
        if type_ == "purchase":
            data["amount"] = round(rng.uniform(5, 200), 2)
        if type_ == "review":
            data["attributes"] = {"stars": rng.randint(1, 5)}
        text = None
        if "text" in data and rng.random() < 0.7:
            text = Text(
                sentiment=rng.choice(["negative", "neutral", "positive"]),
                category=rng.choice(["billing", "delivery", "technical"]),
                urgency=rng.choice([(), ("cancel_intent",), ("repeat_contact",)]),
            )
        day = i * 400 / n + rng.uniform(-3, 3)  # roughly in time order, some late arrivals
        if i % 3 == 0:
            day = float(round(day))  # whole days apart: on the windows' edges exactly
        customer = f"c{rng.randrange(60)}"
        out.append((ev(f"e{i:05d}", type_, day, customer=customer, seq=i + 1, **data), text))
    return out


def observations() -> tuple[str, dict[str, float]]:
    rng = random.Random(9)
    scorer = ColdStartScorer()
    states: dict[str, FeatureState] = {}
    profiles: dict[str, Profile] = {}
    sha = hashlib.sha256()
    sums: dict[str, float] = {}
    cohorts = CohortUsage()
    for i, (event, text) in enumerate(stream()):
        state = states.setdefault(event.customer_id, FeatureState())
        profile = profiles.setdefault(
            event.customer_id,
            Profile(
                first_seen_ts=epoch(T0) - rng.randrange(0, 800) * DAY,
                value=rng.choice([None, 120.0, 2500.0]),
                plan=rng.choice([None, "basic", "pro"]),
            ),
        )
        apply_to_state(state, event, text)
        reading = usage_reading(event)
        if reading is not None:
            cohorts.add(reading[0], profile.plan, reading[1])
        if i % 97 == 0:
            record_sla_breach(state, f"{i}:first_response:1", event.occurred_at)
        cuts: list[int | None] = [None]
        if i % 5 == 0 and state.max_ts is not None:
            cuts.append(state.max_ts - 10 * DAY)
        for as_of in cuts:
            features = compute_features(state, profile, as_of, cohorts)
            score = scorer.score(features)
            sha.update(json.dumps(features).encode())  # key order too
            sha.update(repr(score).encode())
            for name, value in features.items():
                if isinstance(value, int | float):
                    sums[name] = sums.get(name, 0.0) + value
    return sha.hexdigest(), {k: round(v, 6) for k, v in sorted(sums.items())}


def test_features_and_scores_are_what_they_were_on_a_fixed_stream() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    digest, sums = observations()
    moved = {k: (pinned["sums"].get(k), v) for k, v in sums.items() if pinned["sums"].get(k) != v}
    assert not moved, f"feature sums moved (pinned, now): {moved}"
    assert sums.keys() == pinned["sums"].keys()
    assert digest == pinned["sha256"], "features or scores changed (the sums did not)"


if __name__ == "__main__":
    digest, sums = observations()
    PINNED.write_text(json.dumps({"sha256": digest, "sums": sums}, indent=1) + "\n")
    print(f"wrote {PINNED}")
