"""Kill -9 of the outbox relay during delivery: nothing lost, repeats only in the window.

Run with ``.venv/bin/python bench/relay_kill.py --trials 20`` (SQLite in a temporary file) or
``--database-url postgresql://…`` (an empty database or schema).

``--messages`` replies to ``--customers`` customers are queued in the outbox; a real SMTP
server (aiosmtpd, in this process, a small delay per message to widen the window) records every
message it accepts with its ``Message-ID`` and ``X-Winback-Key``. Each trial starts
``winback outbox relay`` as a child process and ``SIGKILL``\\ s it once the server has accepted
a random number of new messages — while the relay is delivering. After each kill the harness
notes which deliveries the database had recorded as delivered. A last relay then finishes
the work.

Checked:

- **no message lost**: every key accepted by the server, every delivery ``delivered``;
- **repeats only in the window**: a key the server accepted twice had been accepted and *not*
  recorded as delivered when a relay was killed (the window between the provider accepting a
  message and the relay recording it), and every copy carries the same ``Message-ID``;
- **order per customer**: each customer's messages were first accepted in outbox order.

Results: a summary on stdout and ``bench/results/relay-kill-latest[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

import winback
from winback.cases.effects import Effect
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.outbox import write_effects
from winback.store.tables import customers, outbox_deliveries

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(winback.__file__).resolve().parent.parent


class Recorder:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str, float]] = []  # key, message-id, time

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content)
        await asyncio.sleep(self.delay)
        with self.lock:
            self.accepted.append(
                (str(message["X-Winback-Key"]), str(message["Message-ID"]), time.monotonic())
            )
        return "250 accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _queue(engine: sa.Engine, messages: int, customer_count: int) -> list[str]:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            customers.insert(),
            [
                {
                    "id": f"k{c}",
                    "email": f"k{c}@example.com",
                    "attributes": {},
                    "field_times": {},
                    "first_seen_at": now,
                    "last_event_at": now,
                    "event_count": 1,
                    "updated_at": now,
                }
                for c in range(customer_count)
            ],
        )
        keys = [f"case.reply:kill:{i:05d}" for i in range(messages)]
        write_effects(
            conn,
            [
                Effect("case.reply", key, {"customer_id": f"k{i % customer_count}", "text": key})
                for i, key in enumerate(keys)
            ],
            now,
        )
    return keys


def _delivered(engine: sa.Engine) -> set[str]:
    from winback.store.tables import outbox

    with engine.connect() as conn:
        query = (
            sa.select(outbox.c.idempotency_key)
            .join(outbox_deliveries, outbox_deliveries.c.outbox_id == outbox.c.id)
            .where(outbox_deliveries.c.state == "delivered")
        )
        return set(conn.execute(query).scalars())


def _relay(database_url: str, port: int, lease: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "WINBACK_DATABASE_URL": database_url,
        "WINBACK_SMTP_HOST": "127.0.0.1",
        "WINBACK_SMTP_PORT": str(port),
        "WINBACK_SMTP_SENDER": "care@winback.test",
        "WINBACK_OUTREACH_LEASE_SECONDS": str(lease),
        "WINBACK_OUTREACH_BATCH_SIZE": "20",
        "WINBACK_OUTREACH_CONCURRENCY": "4",
        "WINBACK_OUTREACH_POLL_SECONDS": "0.05",
        "WINBACK_LOG_LEVEL": "warning",
    }
    code = "from winback.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "outbox", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_trials(
    database_url: str,
    *,
    trials: int,
    messages: int,
    customer_count: int,
    seed: int = 1,
    delay: float = 0.002,
    lease: float = 1.0,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run the kill trials against an empty database at ``database_url``; see the module."""
    rng = random.Random(seed)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    keys = _queue(engine, messages, customer_count)
    recorder = Recorder(delay)
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    kills: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        share = max(1, messages // (trials + 2))
        for _ in range(trials):
            before = recorder.count()
            target = before + rng.randint(1, share)
            child = _relay(database_url, port, lease)
            deadline = time.monotonic() + timeout
            while recorder.count() < target and time.monotonic() < deadline:
                if child.poll() is not None:
                    raise RuntimeError(f"the relay exited by itself ({child.returncode})")
                time.sleep(0.001)
            child.send_signal(signal.SIGKILL)
            child.wait()
            at = time.monotonic()
            kills.append({"at": at, "accepted": recorder.count(), "recorded": _delivered(engine)})
        child = _relay(database_url, port, lease)
        deadline = time.monotonic() + timeout
        while len(_delivered(engine)) < messages and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        child.wait(30)
    finally:
        controller.stop()
    elapsed = time.monotonic() - started
    with recorder.lock:
        accepted = list(recorder.accepted)
    engine.dispose()
    copies: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for key, mid, at in accepted:
        copies[key].append((mid, at))
    delivered = _delivered(make_engine(database_url))
    lost = [k for k in keys if k not in copies or k not in delivered]
    repeats = {k: v for k, v in copies.items() if len(v) > 1}
    other_ids = [k for k, v in repeats.items() if len({mid for mid, _ in v}) != 1]
    outside = []
    for key, seen in repeats.items():
        first = seen[0][1]
        # Accepted before a kill and not yet recorded as delivered at that kill: the window.
        if not any(first <= kill["at"] and key not in kill["recorded"] for kill in kills):
            outside.append(key)
    order_broken = []
    firsts = {k: v[0][1] for k, v in copies.items()}
    for c in range(customer_count):
        mine = [k for i, k in enumerate(keys) if i % customer_count == c and k in firsts]
        if [firsts[k] for k in mine] != sorted(firsts[k] for k in mine):
            order_broken.append(f"k{c}")
    return {
        "database": engine.dialect.name,
        "trials": trials,
        "messages": messages,
        "customers": customer_count,
        "accepted_by_smtp": len(accepted),
        "lost": lost,
        "repeats": len(repeats),
        "repeated_copies": sum(len(v) - 1 for v in repeats.values()),
        "repeats_with_another_message_id": other_ids,
        "repeats_outside_the_window": outside,
        "customers_out_of_order": order_broken,
        "kills_at_accepted": [k["accepted"] for k in kills],
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'kill.db'}"
        result = run_trials(
            url,
            trials=args.trials,
            messages=args.messages,
            customer_count=args.customers,
            seed=args.seed,
        )
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs (shared)"
    print(json.dumps(result, indent=2))
    suffix = "-postgresql" if result["database"] == "postgresql" else ""
    out = ROOT / "bench" / "results" / f"relay-kill-latest{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    ok = not (
        result["lost"]
        or result["repeats_with_another_message_id"]
        or result["repeats_outside_the_window"]
        or result["customers_out_of_order"]
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
