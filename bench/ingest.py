"""Ingest benchmark: drive a real ``winback serve`` over HTTP on loopback.

Run with ``make bench`` (``.venv/bin/python bench/ingest.py``); ``--quick`` for a ~30 s smoke
run; ``--help`` for the knobs. Every phase starts its own server on a free port with a fresh
SQLite database (WAL, ``synchronous=FULL``) and stops it afterwards:

A1  throughput, single-event requests: ``--concurrency`` keep-alive connections, closed loop,
    for ``--duration`` seconds: accepted events/s and p50/p99 acknowledgement latency.
B   the naive baseline (``bench/naive_app.py``: one transaction per request) under the same
    load as A1; the ratio A1/B is what group commit buys.
A2  throughput, batched requests: ``--batch`` events per request on ``--batch-concurrency``
    connections.
C   event-to-case latency: open-loop, paced single-event requests at ``--rate`` events/s for
    ``--paced-duration`` seconds, each a ``complaint`` for a new customer; latency is the
    processor's ``cases.opened_at`` minus the client's send time.

The load generator is a minimal asyncio-streams HTTP/1.1 client (persistent connections,
request bytes assembled from pre-encoded parts, uvloop when installed) so that it costs the
two-core machine as little CPU as possible; its own CPU use is measured and reported, as is the
server's (the HTTP process and the processor child separately) and the rest of the machine's.

Results: a summary table on stdout and ``bench/results/ingest-<UTC timestamp>.json`` plus
``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_INGEST_EVENTS_PER_S = 3000.0
# The API key each Winback server under test accepts, by port (made by ``winback keys create``
# before the server starts; an older checkout without API keys gets none and no header).
API_KEYS: dict[int, str] = {}
TARGET_CASE_P99_MS = 100.0
TARGET_RATE_FOR_CASE_LATENCY = 1000.0
TARGET_NAIVE_RATIO = 2.0


# -- statistics ------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": _round(percentile(ms, 50)),
        "p90_ms": _round(percentile(ms, 90)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# -- CPU accounting (/proc) ------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds) of ``pid``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                parents[int(entry)] = stat[0]
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(frontier)
    return found


def _label(pid: int, root: int) -> str:
    if pid == root:
        return "server"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "resource_tracker" in cmdline:
        return "mp_resource_tracker"
    if "spawn_main" in cmdline:
        return "processor"
    return "other"


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


class CpuMeter:
    """CPU seconds used during a window: this client, the server tree by role, everything."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def _server(self) -> dict[int, tuple[str, float]]:
        if self.server_pid is None:
            return {}
        out: dict[int, tuple[str, float]] = {}
        for pid in _descendants(self.server_pid):
            stat = _proc_stat(pid)
            if stat is not None:
                out[pid] = (_label(pid, self.server_pid), stat[1])
        return out

    def start(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._client = usage.ru_utime + usage.ru_stime
        self._procs = self._server()
        self._busy, self._total = _machine_busy()
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._wall
        usage = resource.getrusage(resource.RUSAGE_SELF)
        client = usage.ru_utime + usage.ru_stime - self._client
        roles: dict[str, float] = {}
        for pid, (label, cpu) in self._server().items():
            roles[label] = roles.get(label, 0.0) + cpu - self._procs.get(pid, (label, 0.0))[1]
        busy, total = _machine_busy()
        machine = busy - self._busy
        ours = client + sum(roles.values())
        cores = (total - self._total) / wall if wall else 0.0
        return {
            "wall_s": round(wall, 2),
            "cores_seen": round(cores, 2),
            "cpu_s": {
                "client": round(client, 2),
                **{k: round(v, 2) for k, v in sorted(roles.items())},
                "other_processes": round(max(0.0, machine - ours), 2),
                "machine_busy": round(machine, 2),
            },
            # In cores (1.0 = one core fully busy for the whole window).
            "cores_used": {
                "client": round(client / wall, 2),
                **{k: round(v / wall, 2) for k, v in sorted(roles.items())},
                "other_processes": round(max(0.0, machine - ours) / wall, 2),
                "machine_busy": round(machine / wall, 2),
            },
        }


def cpu_per_event(usage: dict[str, Any], events: int) -> dict[str, float]:
    """CPU milliseconds per event by role: less sensitive to other load than events/s."""
    if not usage or not events:
        return {}
    roles = ("client", "server", "processor")
    return {r: round(usage["cpu_s"][r] * 1000 / events, 3) for r in roles if r in usage["cpu_s"]}


# -- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get_json(port: int, path: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON body); the body of an error answer too, when it is JSON."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, None


# The throughput phases measure how much ingest can take; A2 runs the processor hundreds of
# thousands of events behind by design, so the processor-lag bound (overload shedding, see
# docs/operations.md) is off for them. bench/overload.py measures shedding itself.
WINBACK_BENCH_ENV = {"WINBACK_INGEST_MAX_PROCESSOR_LAG": "0"}
# --no-shedding: every overload bound off, to compare ingest and the processor with code that
# had no shedding (older versions ignore these variables).
NO_SHEDDING_ENV = {
    "WINBACK_INGEST_MAX_PROCESSOR_LAG": "0",
    "WINBACK_INGEST_MAX_QUEUED_EVENTS": "0",
    "WINBACK_INGEST_MAX_QUEUE_WAIT_SECONDS": "0",
    "WINBACK_INGEST_MAX_LOOP_LAG_SECONDS": "0",
}


class Server:
    """A server subprocess on a free port with its own SQLite file; logs go to a file.

    ``settings`` are extra ``WINBACK_*`` variables for a Winback server."""

    def __init__(self, kind: str, workdir: Path, settings: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.settings = WINBACK_BENCH_ENV if settings is None else settings
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workdir))
        self.db = self.dir / f"{kind}.db"
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
        if self.kind == "winback":
            env.update(
                WINBACK_DATABASE_URL=f"sqlite:///{self.db}",
                WINBACK_HOST=HOST,
                WINBACK_PORT=str(self.port),
                WINBACK_LOG_LEVEL="warning",
            )
            env.update(self.settings)
            env.setdefault("WINBACK_SECRET_KEY", "bench-" + os.urandom(24).hex())
            made = subprocess.run(
                [str(BIN / "winback"), "keys", "create", "bench", "--scope", "events:write"],
                env=env,
                capture_output=True,
                check=False,
            )
            token = made.stdout.decode().strip()
            if made.returncode == 0 and token.startswith("wb_"):
                API_KEYS[self.port] = token
            cmd = [str(BIN / "winback"), "serve"]
            ready = "/readyz"
        else:
            cmd = [
                sys.executable,
                str(ROOT / "bench" / "naive_app.py"),
                "--port",
                str(self.port),
                "--database",
                str(self.db),
            ]
            ready = "/healthz"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = http_get_json(self.port, ready, timeout=1.0)
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server not ready after {timeout} s:\n{self.log_tail()}")

    def warm_up(self, timeout: float = 60.0) -> float:
        """Winback: send one event and wait until the processor (a child process that imports
        its code after the HTTP side is ready) has processed it. Returns the seconds waited."""
        if self.kind != "winback":
            return 0.0
        body = orjson.dumps(
            {"id": f"warm-up-{self.port}", "type": "login", "customer": {"id": "warm-up"}}
        )
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}/v1/events",
            data=body,
            headers={"Content-Type": "application/json", **authorization(self.port)},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            if resp.status != 202:
                raise RuntimeError(f"warm-up event refused: {resp.status}")
        caught_up, waited = self.wait_processor_caught_up(timeout)
        if not caught_up:
            raise RuntimeError(f"processor did not start in {timeout} s:\n{self.log_tail()}")
        return waited

    def processor_lag(self) -> int | None:
        if self.kind != "winback":
            return None
        with contextlib.suppress(OSError, ValueError):
            status, body = http_get_json(self.port, "/readyz", timeout=5.0)
            if status in (200, 503) and body is not None:
                lag = body.get("processor_lag")
                return None if lag is None else int(lag)
        return None

    def wait_processor_caught_up(self, timeout: float) -> tuple[bool, float]:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.processor_lag() == 0:
                return True, time.monotonic() - started
            time.sleep(0.05)
        return False, time.monotonic() - started

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def count_events(self) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


# -- a minimal HTTP/1.1 keep-alive client ----------------------------------------------------
class HttpError(Exception):
    pass


class Connection:
    """One persistent HTTP/1.1 connection; one request at a time (no pipelining)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        return cls(reader, writer)

    def send(self, request: bytes) -> None:
        self.writer.write(request)

    async def response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise HttpError(f"response without content-length: {head[:200]!r}")
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def authorization(port: int) -> dict[str, str]:
    token = API_KEYS.get(port)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def request_prefix(port: int) -> bytes:
    auth = "".join(f"{k}: {v}\r\n" for k, v in authorization(port).items())
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()


def build_request(prefix: bytes, body: bytes) -> bytes:
    return b"".join((prefix, str(len(body)).encode(), b"\r\n\r\n", body))


# -- events ----------------------------------------------------------------------------------
_COMPLAINTS = [
    "Still waiting for my refund after three weeks.",
    "The app crashed again during checkout.",
    "Why was I charged twice?",
    "The delivery is five days late and nobody answers the phone.",
]


class EventMaker:
    """Realistic-looking events (a demo-like mix) with unique ids; cheap to produce."""

    def __init__(self, run: str, customers: int, seed: int) -> None:
        self.run = run
        self._customers = customers
        self._rng = random.Random(seed)
        self._n = 0

    def _base(self, event_id: str, customer: str) -> dict[str, Any]:
        return {
            "id": event_id,
            "customer": {"id": customer, "email": f"{customer}@example.com", "plan": "pro"},
        }

    def mixed(self) -> dict[str, Any]:
        self._n += 1
        rng = self._rng
        event = self._base(
            f"{self.run}-{self._n:09d}", f"cust-{rng.randrange(self._customers):06d}"
        )
        event["occurred_at"] = datetime.now(UTC).isoformat()
        roll = rng.random()
        if roll < 0.45:
            event.update(type="usage", attributes={"sessions": rng.randint(1, 20)})
        elif roll < 0.6:
            event.update(type="purchase", amount=49.0, currency="EUR")
        elif roll < 0.8:
            event.update(
                type="survey.response",
                channel="email",
                score={"kind": "nps", "value": rng.randint(0, 10)},
                text="Support never got back to me.",
            )
        elif roll < 0.92:
            event.update(type="complaint", channel="chat", text=rng.choice(_COMPLAINTS))
        else:
            event.update(type="login", channel="web")
        return event

    def complaint(self, index: int) -> dict[str, Any]:
        """Built ahead of the paced phase, so without ``occurred_at`` (the server stamps the
        time of receipt)."""
        event = self._base(f"{self.run}-{index:09d}", f"{self.run}-cust-{index:09d}")
        event.update(type="complaint", channel="chat", text=_COMPLAINTS[index % len(_COMPLAINTS)])
        return event


# -- phases ----------------------------------------------------------------------------------
@dataclass
class ClosedLoopResult:
    events: int = 0
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


async def closed_loop(
    port: int,
    *,
    concurrency: int,
    batch: int,
    warmup: float,
    duration: float,
    maker: EventMaker,
    cpu: CpuMeter,
) -> dict[str, Any]:
    """``concurrency`` connections each send a request, await its answer, repeat."""
    prefix = request_prefix(port)
    conns = [await Connection.open(port) for _ in range(concurrency)]
    measured = ClosedLoopResult()
    acked_total = 0
    start = time.perf_counter()
    window_start = start + warmup
    window_end = window_start + duration
    cpu_started = False

    def body() -> bytes:
        if batch == 1:
            return orjson.dumps(maker.mixed())
        return orjson.dumps({"events": [maker.mixed() for _ in range(batch)]})

    async def worker(conn: Connection) -> None:
        nonlocal acked_total, cpu_started
        while True:
            request = build_request(prefix, body())
            sent = time.perf_counter()
            if sent >= window_end:
                return
            if sent >= window_start and not cpu_started:
                cpu_started = True
                cpu.start()
            conn.send(request)
            status, reply = await conn.response()
            done = time.perf_counter()
            ok = status == 202
            if ok:
                acked_total += batch
            if window_start <= sent and done <= window_end:
                measured.requests += 1
                if ok:
                    measured.events += batch
                    measured.latencies.append(done - sent)
                else:
                    measured.errors += 1
                    if len(measured.error_samples) < 5:
                        measured.error_samples.append(f"{status}: {reply[:200]!r}")

    await asyncio.gather(*(worker(c) for c in conns))
    usage = cpu.stop() if cpu_started else {}
    for conn in conns:
        await conn.close()
    return {
        "concurrency": concurrency,
        "batch": batch,
        "warmup_s": warmup,
        "duration_s": duration,
        "requests": measured.requests,
        "events": measured.events,
        "errors": measured.errors,
        "error_samples": measured.error_samples,
        "events_per_s": round(measured.events / duration, 1),
        "requests_per_s": round(measured.requests / duration, 1),
        "ack_latency": latency_summary(measured.latencies),
        "acked_events_total": acked_total,
        "cpu": usage,
        "cpu_ms_per_event": cpu_per_event(usage, measured.events),
    }


async def paced(
    port: int,
    *,
    rate: float,
    duration: float,
    maker: EventMaker,
    cpu: CpuMeter,
    batch: int = 1,
    max_connections: int = 256,
) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    """Open loop: request ``j`` is due at ``t0 + j * batch / rate`` whatever the answers do.

    Each event goes out on an idle connection; a new one is opened when all are busy (up to
    ``max_connections``; past that an event waits for a free one and is sent late, which the
    ``send_lateness_ms`` figures show). Returns the phase summary and, per event id, its
    scheduled and its actual send time (both ``time.time()`` scale; the actual one is taken
    just before the request is written).
    """
    prefix = request_prefix(port)
    total = int(rate * duration) // batch * batch
    requests: list[tuple[list[str], bytes]] = []
    for first in range(0, total, batch):
        events = [maker.complaint(i) for i in range(first, first + batch)]
        body = orjson.dumps(events[0] if batch == 1 else {"events": events})
        requests.append(([e["id"] for e in events], build_request(prefix, body)))
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(await Connection.open(port))
    opened = idle.qsize()
    sent_at: dict[str, tuple[float, float]] = {}
    lateness: list[float] = []
    latencies: list[float] = []
    errors: list[str] = []
    tasks: set[asyncio.Task[None]] = set()

    async def send(j: int, due: float, due_wall: float) -> None:
        nonlocal opened
        if not idle.empty():
            conn = idle.get_nowait()
        elif opened < max_connections:
            opened += 1
            conn = await Connection.open(port)
        else:
            conn = await idle.get()
        event_ids, request = requests[j]
        started = time.perf_counter()
        lateness.append(started - due)
        now_wall = time.time()
        for event_id in event_ids:
            sent_at[event_id] = (due_wall, now_wall)
        conn.send(request)
        status, reply = await conn.response()
        latencies.append(time.perf_counter() - started)
        if status != 202:
            errors.append(f"{status}: {reply[:200]!r}")
        idle.put_nowait(conn)

    cpu.start()
    t0 = time.perf_counter() + 0.05
    t0_wall = time.time() + (t0 - time.perf_counter())
    request_rate = rate / batch
    j = 0
    while j < len(requests):
        now = time.perf_counter()
        due = min(len(requests), int((now - t0) * request_rate) + 1) if now >= t0 else 0
        while j < due:
            offset = j / request_rate
            task = asyncio.create_task(send(j, t0 + offset, t0_wall + offset))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            j += 1
        await asyncio.sleep(max(0.0, t0 + j / request_rate - time.perf_counter()))
    send_window = time.perf_counter() - t0
    if tasks:
        await asyncio.gather(*tasks)
    usage = cpu.stop()
    while not idle.empty():
        await idle.get_nowait().close()
    late_ms = [x * 1000 for x in lateness]
    summary = {
        "offered_rate": rate,
        "duration_s": duration,
        "batch": batch,
        "events_sent": total,
        "achieved_send_rate": round(total / send_window, 1) if send_window else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "connections_used": opened,
        "send_lateness_ms": {
            "p50": _round(percentile(late_ms, 50), 3),
            "p99": _round(percentile(late_ms, 99), 3),
            "max": _round(max(late_ms) if late_ms else None, 3),
        },
        "ack_latency": latency_summary(latencies),
        "cpu": usage,
        "cpu_ms_per_event": cpu_per_event(usage, total),
    }
    return summary, sent_at


def case_latencies(db: Path, sent_at: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Join the cases the processor opened with the client's send times.

    ``opened_at`` is the processor's clock when it decided to open the case, taken just before
    its write transaction commits (so the commit's own fsync is not included).
    """
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT trigger_event_id, opened_at FROM cases").fetchall()
    from_send: list[float] = []
    from_schedule: list[float] = []
    for event_id, opened_at in rows:
        times = sent_at.get(event_id)
        if times is None:
            continue
        opened = datetime.fromisoformat(opened_at).replace(tzinfo=UTC).timestamp()
        from_schedule.append(opened - times[0])
        from_send.append(opened - times[1])
    summary = latency_summary(from_send)
    summary["from_schedule"] = latency_summary(from_schedule)
    summary["events"] = len(sent_at)
    summary["without_case"] = len(sent_at) - len(from_send)
    summary["negative"] = sum(1 for x in from_send if x < 0)
    return summary


# -- orchestration ---------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        "git_commit": commit,
    }


def run_closed(
    kind: str, workdir: Path, loop_runner: asyncio.Runner, **kwargs: Any
) -> dict[str, Any]:
    server = Server(kind, workdir)
    server.start()
    try:
        server.warm_up()
        maker = EventMaker(f"{kind}-b{kwargs['batch']}", customers=5000, seed=11)
        result = loop_runner.run(
            closed_loop(server.port, maker=maker, cpu=CpuMeter(server.proc.pid), **kwargs)
        )
        result["processor_lag_at_end"] = server.processor_lag()
    finally:
        server.stop()
    result["events_in_db"] = server.count_events()
    result["server_exit_code"] = server.proc.returncode if server.proc else None
    if result["errors"] or result["events_in_db"] < result["acked_events_total"]:
        result["server_log_tail"] = server.log_tail()
    return result


def run_paced(
    workdir: Path, loop_runner: asyncio.Runner, *, rate: float, duration: float, batch: int
) -> dict[str, Any]:
    server = Server("winback", workdir)
    server.start()
    try:
        server.warm_up()
        maker = EventMaker("paced", customers=0, seed=0)
        summary, sent_at = loop_runner.run(
            paced(
                server.port,
                rate=rate,
                duration=duration,
                batch=batch,
                maker=maker,
                cpu=CpuMeter(server.proc.pid if server.proc else None),
            )
        )
        caught_up, waited = server.wait_processor_caught_up(timeout=60)
        summary["processor_caught_up"] = caught_up
        summary["processor_catch_up_wait_s"] = round(waited, 2)
    finally:
        server.stop()
    summary["event_to_case"] = case_latencies(server.db, sent_at)
    summary["events_in_db"] = server.count_events()
    return summary


def evaluate(phases: dict[str, Any]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    single = phases.get("A1_single")
    batched = phases.get("A2_batched")
    naive = phases.get("B_naive")
    if single:
        value = single["events_per_s"]
        targets["ingest_single_events_per_s"] = {
            "target": f">= {TARGET_INGEST_EVENTS_PER_S:.0f}",
            "value": value,
            "met": value >= TARGET_INGEST_EVENTS_PER_S,
            "margin_pct": round((value / TARGET_INGEST_EVENTS_PER_S - 1) * 100, 1),
        }
    if batched:
        value = batched["events_per_s"]
        targets["ingest_batched_events_per_s"] = {
            "target": f">= {TARGET_INGEST_EVENTS_PER_S:.0f}",
            "value": value,
            "met": value >= TARGET_INGEST_EVENTS_PER_S,
            "margin_pct": round((value / TARGET_INGEST_EVENTS_PER_S - 1) * 100, 1),
        }
    if single and naive and naive["events_per_s"]:
        ratio = single["events_per_s"] / naive["events_per_s"]
        targets["ratio_vs_naive"] = {
            "target": f">= {TARGET_NAIVE_RATIO:.1f}x",
            "value": round(ratio, 2),
            "met": ratio >= TARGET_NAIVE_RATIO,
            "margin_pct": round((ratio / TARGET_NAIVE_RATIO - 1) * 100, 1),
        }
    paced_phase = phases.get("C_event_to_case")
    if paced_phase:
        # Judged from the scheduled send times: when the server falls behind and the client
        # runs out of connections, requests leave late, and that wait counts too.
        e2c = paced_phase["event_to_case"]
        p99 = max(e2c["p99_ms"] or 0.0, e2c["from_schedule"]["p99_ms"] or 0.0) or None
        complete = paced_phase["event_to_case"]["without_case"] == 0
        rate_ok = (
            paced_phase["offered_rate"] >= TARGET_RATE_FOR_CASE_LATENCY
            and paced_phase["batch"] == 1
        )
        met = p99 is not None and p99 <= TARGET_CASE_P99_MS and complete and rate_ok
        targets["event_to_case_p99_ms"] = {
            "target": f"<= {TARGET_CASE_P99_MS:.0f} ms at {TARGET_RATE_FOR_CASE_LATENCY:.0f}/s",
            "value": p99,
            "offered_rate": paced_phase["offered_rate"],
            "every_event_got_a_case": complete,
            "met": met,
            "margin_pct": None if p99 is None else round((p99 / TARGET_CASE_P99_MS - 1) * 100, 1),
        }
    return targets


def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Left-align the first column, right-align the others; a rule under the header."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    lines = [fmt(header)]
    lines.append("-" * len(lines[0]))
    lines.extend(fmt(row) for row in rows)
    return lines


def print_summary(result: dict[str, Any], path: Path) -> None:
    phases = result["phases"]
    rows = []
    for key, title in (
        ("A1_single", "A1 winback, 1 event/request"),
        ("B_naive", "B  naive, 1 event/request"),
        ("A2_batched", "A2 winback, batched"),
    ):
        p = phases.get(key)
        if not p:
            continue
        cores = p.get("cpu", {}).get("cores_used", {})
        rows.append(
            (
                f"{title} (c={p['concurrency']}, b={p['batch']})",
                _fmt(p["events_per_s"]),
                _fmt(p["ack_latency"]["p50_ms"], ".1f"),
                _fmt(p["ack_latency"]["p99_ms"], ".1f"),
                _fmt(p["errors"], "d"),
                _fmt(cores.get("client"), ".2f"),
                _fmt(cores.get("server"), ".2f"),
                _fmt(cores.get("processor"), ".2f"),
                _fmt(cores.get("other_processes"), ".2f"),
                _fmt(p.get("cpu_ms_per_event", {}).get("server"), ".3f"),
            )
        )
    print()
    header = (
        "phase",
        "events/s",
        "ack p50 ms",
        "ack p99 ms",
        "errors",
        "client",
        "server",
        "proc.",
        "others",
        "server ms/ev",
    )
    for text in _table(header, rows):
        print(text)
    print(
        "(client/server/proc./others: CPU cores used during the measured window by this client, "
        "the server's HTTP process, its processor child, and everything else on the machine; "
        "server ms/ev: the HTTP process's CPU time per event)"
    )
    c = phases.get("C_event_to_case")
    if c:
        e2c = c["event_to_case"]
        print(
            f"\nC  event-to-case at {c['offered_rate']:.0f} events/s offered "
            f"({c['events_sent']} complaints, {c['batch']} per request, open loop, "
            f"sent at {c['achieved_send_rate']}/s):"
        )
        print(
            f"   event-to-case p50 {_fmt(e2c['p50_ms'], '.1f')} ms, "
            f"p99 {_fmt(e2c['p99_ms'], '.1f')} ms, max {_fmt(e2c['max_ms'], '.1f')} ms; "
            f"{e2c['without_case']} events without a case; "
            f"p99 from the scheduled send time {_fmt(e2c['from_schedule']['p99_ms'], '.1f')} ms"
        )
        cores = c["cpu"]["cores_used"]
        print(
            f"   CPU cores: client {cores['client']:.2f}, server {cores.get('server', 0):.2f}, "
            f"processor {cores.get('processor', 0):.2f}, "
            f"other processes {cores['other_processes']:.2f}"
        )
        print(
            f"   ack p50 {_fmt(c['ack_latency']['p50_ms'], '.1f')} ms, "
            f"p99 {_fmt(c['ack_latency']['p99_ms'], '.1f')} ms; "
            f"send lateness p99 {_fmt(c['send_lateness_ms']['p99'], '.2f')} ms; "
            f"errors {c['errors']}"
        )
    print("\ntargets:")
    for name, t in result["targets"].items():
        verdict = "MET" if t["met"] else "MISSED"
        margin = "" if t["margin_pct"] is None else f" ({t['margin_pct']:+.1f}% vs target)"
        print(f"   {name:<30} {t['value']!s:>10}  target {t['target']:<22} {verdict}{margin}")
    print(f"\nresults: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Winback ingest benchmark (real server, HTTP on loopback, SQLite WAL).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per A1/A2/B phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=64, help="connections for A1 and B")
    parser.add_argument("--batch", type=int, default=100, help="events per request in A2")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="connections for A2")
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s offered in C")
    parser.add_argument("--paced-duration", type=float, default=30.0, help="seconds of C")
    parser.add_argument(
        "--paced-batch", type=int, default=1, help="events per request in C (diagnostics)"
    )
    parser.add_argument(
        "--phases", default="A1,B,A2,C", help="which phases to run, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run of about 30 s")
    parser.add_argument(
        "--no-shedding", action="store_true", help="turn every overload bound off (comparisons)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the databases go")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--fail-on-miss", action="store_true", help="exit 1 when a target is missed"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio in the client")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 3.0)
        args.warmup = min(args.warmup, 0.5)
        args.paced_duration = min(args.paced_duration, 4.0)
    return args


def _loop_factory(no_uvloop: bool) -> Any:
    if no_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_shedding:
        WINBACK_BENCH_ENV.update(NO_SHEDDING_ENV)
    phases_wanted = {p.strip().upper() for p in args.phases.split(",") if p.strip()}
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="winback-bench-", dir=args.workdir))
    factory = _loop_factory(args.no_uvloop)
    result: dict[str, Any] = {
        "benchmark": "winback-ingest",
        "started_at": started.isoformat(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "settings": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "client_loop": "uvloop" if factory else "asyncio",
            "database": "SQLite, WAL, synchronous=FULL (a fresh file per phase)",
            "server_settings": WINBACK_BENCH_ENV,
            "workdir": str(workdir),
        },
        "phases": {},
    }
    phases: dict[str, Any] = result["phases"]
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1) / 2:
        print(
            f"note: the machine is already busy (1-minute load average {load:.2f}); "
            "figures will be lower than on an idle machine (see 'others' below)",
            flush=True,
        )
    failed = False
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            closed = {"warmup": args.warmup, "duration": args.duration}
            plan = [
                ("A1", "A1_single", "winback", {"concurrency": args.concurrency, "batch": 1}),
                ("B", "B_naive", "naive", {"concurrency": args.concurrency, "batch": 1}),
                (
                    "A2",
                    "A2_batched",
                    "winback",
                    {"concurrency": args.batch_concurrency, "batch": args.batch},
                ),
            ]
            for code, key, kind, knobs in plan:
                if code not in phases_wanted:
                    continue
                print(f"phase {key}: {kind}, {knobs} for {args.duration:.0f} s ...", flush=True)
                phases[key] = run_closed(kind, workdir, runner, **closed, **knobs)
                print(f"   {phases[key]['events_per_s']:,.0f} events/s", flush=True)
            if "C" in phases_wanted:
                print(
                    f"phase C_event_to_case: {args.rate:.0f} events/s "
                    f"for {args.paced_duration:.0f} s ...",
                    flush=True,
                )
                phases["C_event_to_case"] = run_paced(
                    workdir,
                    runner,
                    rate=args.rate,
                    duration=args.paced_duration,
                    batch=args.paced_batch,
                )
    except Exception as exc:
        failed = True
        result["error"] = repr(exc)
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["finished_at"] = datetime.now(UTC).isoformat()
    result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    result["targets"] = evaluate(phases)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if args.quick else ""  # a smoke run never replaces latest.json
    path = args.out / f"ingest-{stamp}{suffix}.json"
    text = json.dumps(result, indent=2) + "\n"
    path.write_text(text)
    (args.out / f"latest{suffix}.json").write_text(text)
    print_summary(result, path)
    if failed:
        return 2
    if args.fail_on_miss and not all(t["met"] for t in result["targets"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
