"""``winback demo``: a small company's events streamed into a live server.

A stand-in stream until the simulator arrives: a few dozen customers with usage, purchases,
surveys (some of them detractors), complaints, failed payments and the odd cancellation,
sent over HTTP to the running server at a pace a person can follow.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

_NAMES = ["Ada", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas"]
_SEGMENTS = ["smb", "mid-market", "enterprise"]
_COMPLAINTS = [
    "Still waiting for my refund after three weeks.",
    "Thanks for nothing, the app crashed again during checkout.",
    "Third time I'm asking: why was I charged twice?",
    "The delivery is five days late and nobody answers the phone.",
    "Your agent hung up on me.",
]
_COMMENTS = {
    "low": ["Support never got back to me.", "Too slow, too many bugs.", "Billing is a mess."],
    "mid": ["It's fine, nothing special.", "Works, mostly."],
    "high": ["Great service, thank you!", "Quick and friendly help."],
}


def demo_events(seed: int = 7, customers: int = 40) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    people = [
        {
            "id": f"demo-{i:03d}",
            "name": f"{rng.choice(_NAMES)} {chr(65 + i % 26)}.",
            "email": f"customer{i}@example.com",
            "segment": rng.choice(_SEGMENTS),
            "plan": rng.choice(["basic", "pro", "business"]),
            "value": float(rng.choice([600, 1200, 4800, 24000])),
        }
        for i in range(customers)
    ]
    n = 0
    while True:
        n += 1
        person = rng.choice(people)
        base: dict[str, Any] = {
            "id": f"demo-{seed}-{n}",
            "occurred_at": datetime.now(UTC).isoformat(),
            "customer": person,
        }
        roll = rng.random()
        if roll < 0.45:
            yield {**base, "type": "usage", "attributes": {"sessions": rng.randint(1, 20)}}
        elif roll < 0.6:
            yield {
                **base,
                "type": "purchase",
                "amount": rng.choice([19.0, 49.0, 99.0]),
                "currency": "EUR",
            }
        elif roll < 0.8:
            score = rng.choice([0, 2, 4, 5, 6, 7, 8, 9, 9, 10, 10])
            band = "low" if score <= 6 else "mid" if score <= 8 else "high"
            yield {
                **base,
                "type": "survey.response",
                "channel": "email",
                "score": {"kind": "nps", "value": score},
                "text": rng.choice(_COMMENTS[band]),
            }
        elif roll < 0.92:
            yield {
                **base,
                "type": "complaint",
                "channel": rng.choice(["email", "chat", "phone"]),
                "text": rng.choice(_COMPLAINTS),
            }
        elif roll < 0.98:
            yield {**base, "type": "payment.failed", "amount": 49.0, "currency": "EUR"}
        else:
            yield {
                **base,
                "type": "subscription.cancelled",
                "text": "Cancelling, it's not worth it.",
            }


def stream(
    base_url: str,
    stop: threading.Event,
    *,
    rate: float = 5.0,
    limit: int | None = None,
    seed: int = 7,
    report: Any = print,
) -> int:
    """Send demo events to ``base_url`` at ``rate`` per second until ``stop`` (or ``limit``)."""
    sent = 0
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for _ in range(600):  # wait for the server to come up
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if stop.wait(0.1):
                return 0
        for event in demo_events(seed):
            if stop.is_set() or (limit is not None and sent >= limit):
                break
            response = client.post("/v1/events", json=event)
            if response.status_code != 202:
                report(f"demo: event refused ({response.status_code}): {response.text}")
            sent += 1
            if sent % 25 == 0:
                cases = client.get("/v1/cases", params={"limit": 500}).json()["items"]
                report(f"demo: {sent} events sent, {len(cases)} recovery cases so far")
            stop.wait(1.0 / rate)
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
