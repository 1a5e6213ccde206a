"""Crash test: SIGKILL the server (and its processor) mid-load, restart, and check the file.

Several threads send single events and small batches (several events per customer, several
complaints per customer, events that open no case) to a real ``winback serve`` whose processor
runs in a child process. Mid-load the whole process group gets SIGKILL; the server restarts on
the same SQLite file, senders retry what got no answer, more load follows, it is killed again,
restarted again. Once ``/readyz`` reports no processor lag, the SQLite file itself must show:

- every acknowledged (202) event id is stored;
- every case-triggering event is linked to a case exactly once and has exactly one timeline
  entry (and one outbox effect); events that trigger nothing are linked to nothing;
- no customer has more than one open case, and there is one case per customer that sent at
  least one triggering event (nothing closes cases yet);
- each customer counted each of its events exactly once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._support import Server, read_only

pytestmark = pytest.mark.slow

OPEN_STATUSES = ("new", "acknowledged", "in_progress", "waiting_on_customer", "reopened")
CUSTOMERS = 40  # cust-N: any kind of event
QUIET_CUSTOMERS = 10  # quiet-N: only events that open no case
THREADS = 4
KILL_AFTER_ACKS = 150  # per phase: acknowledged events before the SIGKILL
BASE_TIME = datetime(2026, 3, 1, 8, tzinfo=UTC)


def triggers(event_type: str, payload: dict[str, Any]) -> bool:
    """The foundation's built-in rule, restated independently of the code under test."""
    if event_type in {"complaint", "payment.failed", "subscription.cancelled"}:
        return True
    if event_type == "survey.response":
        kind, value = payload["score"]["kind"], payload["score"]["value"]
        return (
            (kind == "nps" and value <= 6)
            or (kind == "csat" and value <= 2)
            or (kind == "ces" and value >= 5)
        )
    return False


def pick_customer(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"quiet-{rng.randrange(QUIET_CUSTOMERS)}"
    return f"cust-{rng.randrange(CUSTOMERS)}"


def make_event(
    rng: random.Random, event_id: str, customer: str, n: int, quiet: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id,
        "occurred_at": (BASE_TIME + timedelta(seconds=n)).isoformat(),
        "customer": {"id": customer, "plan": rng.choice(["basic", "pro"])},
    }
    roll = 0.45 + 0.55 * rng.random() if quiet else rng.random()
    if roll < 0.30:
        body |= {"type": "complaint", "channel": rng.choice(["email", "chat", "phone"])}
        body["text"] = "Still waiting, third time asking."
    elif roll < 0.45:
        kind, value = rng.choice([("nps", 2), ("nps", 6), ("csat", 1), ("ces", 6)])
        body |= {"type": "survey.response", "score": {"kind": kind, "value": value}}
    elif roll < 0.55:
        kind, value = rng.choice([("nps", 9), ("nps", 7), ("csat", 4), ("ces", 2)])
        body |= {"type": "survey.response", "score": {"kind": kind, "value": value}}
    elif roll < 0.60 and not quiet:
        body |= {"type": "payment.failed", "amount": 49.0, "currency": "EUR"}
    elif roll < 0.62 and not quiet:
        body |= {"type": "subscription.cancelled"}
    elif roll < 0.80:
        body |= {"type": "usage", "attributes": {"sessions": rng.randint(1, 9)}}
    elif roll < 0.90:
        body |= {"type": "purchase", "amount": 19.0, "currency": "EUR"}
    else:
        body |= {"type": "login"}
    return body


@dataclass
class Ledger:
    """What the senders know: every body sent, what was acknowledged, what got no answer."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    unanswered: list[list[dict[str, Any]]] = field(default_factory=list)
    shed: list[list[dict[str, Any]]] = field(default_factory=list)  # 503 overloaded: not stored
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    lag_at_kills: list[int] = field(default_factory=list)  # events not yet processed

    def ack(self, events: list[dict[str, Any]], response: httpx.Response) -> None:
        reply = response.json()
        with self.lock:
            self.acked.update(e["id"] for e in events)
            if [e["id"] for e in reply["events"]] != [e["id"] for e in events]:
                self.problems.append(f"202 for other ids: {reply}")


def request_body(events: list[dict[str, Any]]) -> dict[str, Any]:
    return events[0] if len(events) == 1 else {"events": events}


def shed(response: httpx.Response) -> bool:
    """A 503 that shed load (a busy machine can make the server shed): nothing was stored."""
    return response.status_code == 503 and response.json().get("error") == "overloaded"


def sender(
    server: Server,
    ledger: Ledger,
    phase: int,
    worker: int,
    stop: threading.Event,
    max_requests: int,
) -> None:
    rng = random.Random(phase * 100 + worker)
    n = 0
    with server.client(timeout=60) as client:
        for _ in range(max_requests):
            if stop.is_set():
                return
            events: list[dict[str, Any]] = []
            size = 1 if rng.random() < 0.5 else rng.randint(2, 5)
            focus = pick_customer(rng)
            for _ in range(size):
                n += 1
                # Batches mostly concern one customer: several signals land together.
                customer = focus if rng.random() < 0.7 else pick_customer(rng)
                event_id = f"p{phase}-w{worker}-{n}"
                quiet = customer.startswith("quiet-")
                events.append(make_event(rng, event_id, customer, phase * 100_000 + n, quiet))
            with ledger.lock:
                ledger.sent.update({e["id"]: e for e in events})
                ledger.requests += 1
            try:
                response = client.post("/v1/events", json=request_body(events))
            except httpx.TransportError:
                with ledger.lock:
                    ledger.unanswered.append(events)
                return  # the server is gone; the phase is over for this sender
            if response.status_code == 202:
                ledger.ack(events, response)
            elif shed(response):  # nothing was stored: send it again later, as a client should
                with ledger.lock:
                    ledger.shed.append(events)
            else:
                with ledger.lock:
                    ledger.problems.append(f"{response.status_code}: {response.text[:500]}")


def file_progress(database: Path) -> tuple[int, int]:
    """(last logged seq, processor cursor), read from the file."""
    conn = read_only(database)
    try:
        last = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        cursor = conn.execute("SELECT coalesce(max(position), 0) FROM processor_cursors")
        return int(last), int(cursor.fetchone()[0])
    finally:
        conn.close()


def run_load(
    server: Server,
    ledger: Ledger,
    phase: int,
    *,
    kill_after_acks: int | None,
    max_requests: int = 2_000,
    max_seconds: float = 40.0,
) -> None:
    """Send load from several threads; with ``kill_after_acks``, SIGKILL the server mid-load."""
    stop = threading.Event()
    with ledger.lock:
        acked_before = len(ledger.acked)
    threads = [
        threading.Thread(
            target=sender,
            args=(server, ledger, phase, w, stop, max_requests),
            name=f"load-{phase}-{w}",
            daemon=True,
        )
        for w in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + max_seconds
    _, cursor_before = file_progress(server.database)
    try:
        if kill_after_acks is not None:
            # Kill once enough was acknowledged *and* the processor is at work on this load,
            # so the kill interrupts both ingest and processing.
            while True:
                assert time.monotonic() < deadline, (
                    f"no kill point within {max_seconds:.0f}s: {len(ledger.acked)} acknowledged, "
                    f"processor at {file_progress(server.database)}; output:\n{server.output()}"
                )
                assert any(t.is_alive() for t in threads), "the load ended before the kill"
                with ledger.lock:
                    enough = len(ledger.acked) - acked_before >= kill_after_acks
                if enough and file_progress(server.database)[1] > cursor_before:
                    break
                time.sleep(0.02)
            server.kill()
            last, cursor = file_progress(server.database)
            ledger.lag_at_kills.append(last - cursor)
        else:
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not any(t.is_alive() for t in threads), "a sender did not finish"
    assert not ledger.problems, f"answers other than 202: {ledger.problems[:5]}"


def retry_unanswered(server: Server, ledger: Ledger) -> None:
    """Send again what got no answer (it was stored or not, and either way the retry is 202)
    or was shed (nothing was stored), after the Retry-After the server asked for."""
    with ledger.lock:
        pending = ledger.unanswered + ledger.shed
        ledger.unanswered, ledger.shed = [], []
    with server.client(timeout=60) as client:
        for events in pending:
            response = client.post("/v1/events", json=request_body(events))
            for _ in range(30):
                if not shed(response):
                    break
                time.sleep(float(response.headers["retry-after"]))
                response = client.post("/v1/events", json=request_body(events))
            assert response.status_code == 202, response.text
            statuses = {e["status"] for e in response.json()["events"]}
            assert statuses <= {"accepted", "duplicate"}
            ledger.ack(events, response)


def check_database(database: Path, ledger: Ledger) -> dict[str, int]:
    conn = read_only(database)
    try:
        rows = conn.execute(
            "SELECT seq, event_id, type, customer_id, payload FROM events"
        ).fetchall()
        stored = {r["event_id"]: r for r in rows}

        # Every acknowledged event is stored, and everything stored was sent by us, as sent.
        missing = ledger.acked - set(stored)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert set(stored) <= set(ledger.sent)
        for event_id, row in stored.items():
            payload = json.loads(row["payload"])
            assert payload["type"] == ledger.sent[event_id]["type"]
            assert payload["customer"]["id"] == row["customer_id"]

        # The processor got through everything, and nothing failed.
        position = conn.execute(
            "SELECT position FROM processor_cursors WHERE name = 'pipeline'"
        ).fetchone()
        assert position is not None
        assert position[0] == max(r["seq"] for r in rows)
        assert conn.execute("SELECT count(*) FROM event_failures").fetchone()[0] == 0

        triggering = {r["seq"]: r for r in rows if triggers(r["type"], json.loads(r["payload"]))}
        # The default playbooks also open (or join) a case when the churn risk jumps; whether it
        # jumps is the risk model's call, so those events are read from the store (each must
        # still be linked exactly once, like the others).
        jumped = {
            r[0]
            for r in conn.execute(
                "SELECT event_seq FROM case_timeline WHERE event_seq IS NOT NULL "
                "AND kind IN ('case.opened', 'case.attached') AND data LIKE '%churn risk jumped%'"
            )
        }
        triggering.update({r["seq"]: r for r in rows if r["seq"] in jumped})
        # A survey answer from a customer whose case is open joins it as well (cases stay open
        # here: nobody resolves them), whatever its score.
        with_case: set[str] = set()
        joining = {}
        for r in sorted(rows, key=lambda r: r["seq"]):
            if r["seq"] in triggering:
                with_case.add(r["customer_id"])
                joining[r["seq"]] = r
            elif r["type"] == "survey.response" and r["customer_id"] in with_case:
                joining[r["seq"]] = r
        links = Counter(r[0] for r in conn.execute("SELECT event_seq FROM case_events"))
        timeline = Counter(
            r[0]
            for r in conn.execute("SELECT event_seq FROM case_timeline WHERE event_seq IS NOT NULL")
        )
        for seq, row in joining.items():
            assert links[seq] == 1, f"event {row['event_id']} linked {links[seq]} times"
            assert timeline[seq] == 1, f"event {row['event_id']} has {timeline[seq]} entries"
        assert set(links) == set(joining), "an event that joins no case was linked"
        assert set(timeline) == set(joining)

        # The timeline's effects are queued once each.
        # (Only those: playbooks also queue acknowledgements, risk scoring risk.jumped.)
        outbox = conn.execute(
            "SELECT count(*) FROM outbox WHERE topic IN ('case.opened', 'case.attached', "
            "'case.reopened')"
        ).fetchone()[0]
        assert outbox == len(triggering)

        # One open case per customer; one case per customer with a triggering event.
        doubled = conn.execute(
            f"SELECT customer_id, count(*) FROM cases WHERE status IN "
            f"({','.join('?' * len(OPEN_STATUSES))}) GROUP BY customer_id HAVING count(*) > 1",
            OPEN_STATUSES,
        ).fetchall()
        assert doubled == [], f"customers with several open cases: {[tuple(d) for d in doubled]}"
        cases = conn.execute(
            "SELECT id, customer_id, status, trigger_event_id, signal_count FROM cases"
        ).fetchall()
        signalling = {r["customer_id"] for r in triggering.values()}
        assert len(cases) == len(signalling)
        assert {c["customer_id"] for c in cases} == signalling
        assert {c["status"] for c in cases} <= set(OPEN_STATUSES)

        # Each case: triggered by its customer's first signal, counting every event that joined
        # it once.
        per_case = Counter(r[0] for r in conn.execute("SELECT case_id FROM case_events"))
        for case in cases:
            signals = sorted(
                seq for seq, r in joining.items() if r["customer_id"] == case["customer_id"]
            )
            assert case["signal_count"] == per_case[case["id"]] == len(signals)
            assert case["trigger_event_id"] == triggering[signals[0]]["event_id"]

        # The customer stage ran exactly once per event.
        per_customer = Counter(r["customer_id"] for r in rows)
        counted = dict(conn.execute("SELECT id, event_count FROM customers").fetchall())
        assert counted == dict(per_customer)
        return {
            "events": len(rows),
            "triggering": len(triggering),
            "customers": len(counted),
            "cases": len(cases),
        }
    finally:
        conn.close()


def test_kill_9_mid_load_loses_nothing_and_duplicates_nothing(
    start_server: Callable[..., Server],
) -> None:
    started = time.monotonic()
    server = start_server()  # processor in a child process: the default
    ledger = Ledger()

    run_load(server, ledger, phase=1, kill_after_acks=KILL_AFTER_ACKS)
    assert ledger.unanswered, "no sender noticed the kill"
    server.start()
    retry_unanswered(server, ledger)

    run_load(server, ledger, phase=2, kill_after_acks=KILL_AFTER_ACKS)
    server.start()
    retry_unanswered(server, ledger)

    run_load(server, ledger, phase=3, kill_after_acks=None, max_requests=15)
    assert not ledger.unanswered
    retry_unanswered(server, ledger)  # what was shed, if anything
    server.wait_processed(timeout=120)
    with server.client() as client:
        assert client.get("/readyz").json()["processor_lag"] == 0

    figures = check_database(server.database, ledger)
    assert figures["events"] >= len(ledger.acked) >= 2 * KILL_AFTER_ACKS
    assert 0 < figures["cases"] < figures["customers"]  # the quiet ones have no case
    assert server.starts == 3
    elapsed = time.monotonic() - started
    print(
        f"crash test: {figures}, {ledger.requests} requests, "
        f"lag at the kills {ledger.lag_at_kills}, {elapsed:.1f}s"
    )
