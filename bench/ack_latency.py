"""Automatic acknowledgement latency: from an event's arrival to the acknowledgement accepted
by a local SMTP server.

Run ``.venv/bin/python bench/ack_latency.py`` (``--rate`` events/s offered for ``--duration``
seconds; ``--quick`` for a short run). A real ``winback serve`` (``bench/ingest.py``'s
``Server``: a fresh SQLite file, the processor and the outbox relay in its child process)
sends e-mail to an SMTP server (aiosmtpd) in this process. Every event is a complaint from a
new customer with an e-mail address, so the shipped playbooks open a case and acknowledge it.
Requests of ``--batch`` events leave on schedule (open loop) whatever the answers do; an
event's arrival is the moment its request is written. Its acknowledgement is the message the
SMTP server accepts with ``X-Winback-Key: case.acknowledgement:<event id>``; latency is the
time between the two on this machine's monotonic clock.

Reported: offered and accepted events/s, acknowledgements received, latency p50/p95/p99/max,
and how many never came within ``--drain`` seconds after the last request.
Results: stdout and ``bench/results/ack-latency-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiosmtpd.controller import Controller

from ingest import BIN, HOST, RESULTS, Server, free_port


class Acks:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        key = str(headers["X-Winback-Key"])
        with self.lock:
            self.at.setdefault(key, time.monotonic())
        return "250 accepted"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def offer(
    port: int, rate: float, duration: float, batch: int
) -> tuple[dict[str, float], int, int]:
    """Send ``rate`` events/s for ``duration`` s; each event id's send time."""
    sent: dict[str, float] = {}
    accepted = refused = 0
    requests = int(rate * duration / batch)
    interval = batch / rate
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits) as client:

        async def send(n: int) -> None:
            nonlocal accepted, refused
            events = [
                {
                    "id": f"ack-{n}-{i}",
                    "type": "complaint",
                    "customer": {"id": f"c-{n}-{i}", "email": f"c{n}x{i}@example.com"},
                    "text": "My order never arrived and nobody answers.",
                }
                for i in range(batch)
            ]
            body = orjson.dumps({"events": events})
            now = time.monotonic()
            for e in events:
                sent[e["id"]] = now
            response = await client.post(
                "/v1/events", content=body, headers={"content-type": "application/json"}
            )
            if response.status_code == 202:
                accepted += batch
            else:
                refused += batch
                for e in events:
                    sent.pop(e["id"], None)

        start = time.monotonic()
        tasks = []
        for n in range(requests):
            due = start + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n)))
        await asyncio.gather(*tasks)
    return sent, accepted, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32, help="relay sends at once")
    parser.add_argument(
        "--relay-process",
        action="store_true",
        help="run the relay as its own process (`winback outbox relay`) instead of as threads "
        "of the processor's process",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.duration = min(args.rate, 100.0), 3.0
    acks = Acks()
    smtp_port = free_port()
    controller = Controller(acks, hostname=HOST, port=smtp_port)
    controller.start()
    settings = {
        "WINBACK_INGEST_MAX_PROCESSOR_LAG": "0",
        "WINBACK_SMTP_HOST": HOST,
        "WINBACK_SMTP_PORT": str(smtp_port),
        "WINBACK_SMTP_SENDER": "care@winback.test",
        "WINBACK_OUTREACH_CONCURRENCY": str(args.concurrency),
        "WINBACK_OUTREACH_FREQUENCY_CAP": "1000",
        "WINBACK_ROUTING_INTERVAL_SECONDS": "0",
    }
    if args.relay_process:
        settings["WINBACK_OUTREACH_RELAY"] = "false"
    relay: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        server = Server("winback", Path(tmp), settings)
        server.start()
        try:
            server.warm_up()
            if args.relay_process:
                env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
                env.update(settings, WINBACK_DATABASE_URL=f"sqlite:///{server.db}")
                env["WINBACK_LOG_LEVEL"] = "warning"
                relay = subprocess.Popen([str(BIN / "winback"), "outbox", "relay"], env=env)
                time.sleep(3)  # its imports
            sent, accepted, refused = asyncio.run(
                offer(server.port, args.rate, args.duration, args.batch)
            )
            last = time.monotonic()
            while time.monotonic() - last < args.drain:
                with acks.lock:
                    got = sum(1 for k in sent if f"case.acknowledgement:{k}" in acks.at)
                if got >= len(sent):
                    break
                time.sleep(0.2)
        finally:
            if relay is not None:
                relay.terminate()
                relay.wait(30)
            server.stop()
            controller.stop()
    with acks.lock:
        latencies = [
            acks.at[f"case.acknowledgement:{k}"] - t
            for k, t in sent.items()
            if f"case.acknowledgement:{k}" in acks.at
        ]
    result: dict[str, Any] = {
        "relay": "own process" if args.relay_process else "threads of the processor's process",
        "offered_events_per_s": args.rate,
        "duration_s": args.duration,
        "batch": args.batch,
        "accepted_events": accepted,
        "refused_events": refused,
        "acknowledged": len(latencies),
        "missing": len(sent) - len(latencies),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other work)",
    }
    if latencies:
        result["latency_s"] = {
            "p50": round(statistics.median(latencies), 3),
            "p95": round(percentile(latencies, 0.95), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
        }
    print(json.dumps(result, indent=2))
    name = "ack-latency-quick.json" if args.quick else "ack-latency-latest.json"
    if args.relay_process and not args.quick:
        name = "ack-latency-relay-process-latest.json"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
