"""Overload benchmark: drive a real ``winback serve`` well past what it can take, and see that
excess is shed (``503`` + ``Retry-After``) while accepted requests are still answered quickly.

Run ``.venv/bin/python bench/overload.py`` (about 1.5 minutes; 3 with ``--unbounded``);
``--quick`` for a short smoke run; ``--help`` for the knobs. Each phase starts its own server
(``bench/ingest.py``'s ``Server``: a fresh SQLite file, WAL, ``synchronous=FULL``, the processor
in a child process) with the shipped overload settings unless ``--set`` changes them:

S  sustainable rate: ``--calibrate-concurrency`` keep-alive connections in a closed loop for
   ``--calibrate-duration`` seconds, every overload bound off; the accepted events/s is the
   rate the server sustains (skipped when ``--sustainable`` gives it).
O  overload: open loop at ``--factor`` times that rate (or ``--rate``) for ``--duration``
   seconds: requests leave on schedule whatever the answers do, each on an idle one of
   ``--max-connections`` keep-alive connections opened beforehand (when all are busy a request
   waits in the client and is sent late, which ``send_lateness_ms`` shows). Reported: accepted
   and shed events/s, the ack latency of accepted requests (p50/p99 from the moment each was
   written), how fast a shed request is answered, a per-second timeline, ``/readyz`` sampled
   every 0.5 s (how often not ready, and why), the commit queue's largest depth and the
   server's shed counters from ``/metrics``. At the end the database must hold exactly the
   accepted events (and the warm-up one): shed requests store nothing.
X  shed cost: the closed loop of S against a server that sheds every request; the HTTP
   process's CPU per shed request, to compare with S's per accepted one (``--no-shed-cost``
   skips it). CPU time is less sensitive to other load on the machine than rates are.
U  (``--unbounded``) the same load with every overload bound off (the behaviour before load
   shedding): for comparison.

Results: a summary on stdout and ``bench/results/overload-<UTC timestamp>.json`` (plus
``overload-latest.json``; a ``--quick`` run writes ``…-quick.json`` and never replaces it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ingest import (
    HOST,
    RESULTS,
    Connection,
    CpuMeter,
    EventMaker,
    Server,
    _loop_factory,
    _round,
    _table,
    authorization,
    build_request,
    closed_loop,
    http_get_json,
    latency_summary,
    machine_info,
    percentile,
    request_prefix,
)

UNBOUNDED = {
    "WINBACK_INGEST_MAX_QUEUED_EVENTS": "0",
    "WINBACK_INGEST_MAX_QUEUE_WAIT_SECONDS": "0",
    "WINBACK_INGEST_MAX_LOOP_LAG_SECONDS": "0",
    "WINBACK_INGEST_MAX_PROCESSOR_LAG": "0",
}


def _retry_after(head: bytes) -> str | None:
    lower = head.lower()
    at = lower.find(b"\r\nretry-after:")
    if at < 0:
        return None
    end = lower.index(b"\r\n", at + 2)
    return head[at + 14 : end].strip().decode()


async def _response(conn: Connection) -> tuple[int, bytes, bytes]:
    """(status, head, body) of one response on ``conn``."""
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    end = lower.index(b"\r\n", at + 2)
    length = int(lower[at + 17 : end])
    body = await conn.reader.readexactly(length) if length else b""
    return int(head[9:12]), head, body


async def sample_readiness(
    port: int, stop: asyncio.Event, every: float = 0.5
) -> list[dict[str, Any]]:
    """``/readyz`` every ``every`` seconds on a connection of its own, until ``stop``."""
    samples: list[dict[str, Any]] = []
    conn = await Connection.open(port)
    request = f"GET /readyz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    started = time.perf_counter()
    try:
        while not stop.is_set():
            asked = time.perf_counter()
            conn.send(request)
            status, _, body = await _response(conn)
            ready = orjson.loads(body)
            samples.append(
                {
                    "t_s": round(asked - started, 2),
                    "status": status,
                    "answer_ms": round((time.perf_counter() - asked) * 1000, 1),
                    "queue_events": ready.get("ingest_queue_events"),
                    "processor_lag": ready.get("processor_lag"),
                    "reasons": ready.get("reasons", []),
                }
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await conn.close()
    return samples


async def open_loop(
    port: int,
    *,
    rate: float,
    duration: float,
    batch: int,
    maker: EventMaker,
    max_connections: int,
    cpu: CpuMeter,
) -> dict[str, Any]:
    """Requests of ``batch`` events due at ``t0 + j * batch / rate`` for ``duration`` s."""
    prefix = request_prefix(port)
    # Every connection is opened before the load starts, as senders with persistent
    # connections keep them: the run measures requests, not a burst of TCP handshakes.
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for first in range(0, max_connections, 64):
        chunk = range(first, min(max_connections, first + 64))
        for conn in await asyncio.gather(*(Connection.open(port) for _ in chunk)):
            idle.put_nowait(conn)
    busiest = 0
    accepted: list[float] = []  # ack latency of each accepted request
    shed: list[float] = []  # answer latency of each shed request
    lateness: list[float] = []
    # (written at, seconds from t0; answer: "accepted", "shed" or "other"; latency in seconds)
    records: list[tuple[float, str, float]] = []
    # Accepted requests, from their scheduled send time: what an open-loop sender waits,
    # including the time a request waited in this client for a free connection.
    accepted_from_schedule: list[float] = []
    retry_after: dict[str, int] = {}
    errors: list[str] = []
    counts = {"accepted_events": 0, "shed_events": 0, "other": 0}
    tasks: set[asyncio.Task[None]] = set()

    def body() -> bytes:
        if batch == 1:
            return orjson.dumps(maker.mixed())
        return orjson.dumps({"events": [maker.mixed() for _ in range(batch)]})

    async def send(due: float) -> None:
        nonlocal busiest
        request = build_request(prefix, body())
        conn = idle.get_nowait() if not idle.empty() else await idle.get()
        busiest = max(busiest, max_connections - idle.qsize())
        started = time.perf_counter()
        lateness.append(started - due)
        conn.send(request)
        status, head, reply = await _response(conn)
        took = time.perf_counter() - started
        idle.put_nowait(conn)
        if status == 202:
            accepted.append(took)
            accepted_from_schedule.append(time.perf_counter() - due)
            counts["accepted_events"] += batch
            answer = "accepted"
        elif status == 503 and b'"overloaded"' in reply:
            shed.append(took)
            counts["shed_events"] += batch
            value = _retry_after(head) or "missing"
            retry_after[value] = retry_after.get(value, 0) + 1
            answer = "shed"
        else:
            counts["other"] += 1
            if len(errors) < 5:
                errors.append(f"{status}: {reply[:200]!r}")
            answer = "other"
        records.append((started - t0, answer, took))

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_readiness(port, stop))
    cpu.start()
    request_rate = rate / batch
    total = int(duration * request_rate)
    t0 = time.perf_counter() + 0.05
    j = 0
    while j < total:
        now = time.perf_counter()
        due = min(total, int((now - t0) * request_rate) + 1) if now >= t0 else 0
        while j < due:
            task = asyncio.create_task(send(t0 + j / request_rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            j += 1
        await asyncio.sleep(max(0.0, t0 + j / request_rate - time.perf_counter()))
    send_window = time.perf_counter() - t0
    drain_started = time.perf_counter()
    if tasks:
        await asyncio.gather(*tasks)
    drain = time.perf_counter() - drain_started
    usage = cpu.stop()
    stop.set()
    readiness = await sampler
    while not idle.empty():
        await idle.get_nowait().close()
    late_ms = [x * 1000 for x in lateness]
    sent_events = total * batch
    written_in_window = sum(1 for written, _, _ in records if written <= duration)
    return {
        "offered_rate": rate,
        "duration_s": duration,
        "batch": batch,
        "requests_sent": total,
        "events_sent": sent_events,
        "scheduling_window_s": round(send_window, 2),
        # Requests actually written to a connection within the window: less than offered when
        # every connection was busy and requests waited in the client (see send_lateness_ms).
        "achieved_send_rate": round(written_in_window * batch / duration, 1),
        "accepted_events": counts["accepted_events"],
        "shed_events": counts["shed_events"],
        "other_answers": counts["other"],
        "other_samples": errors,
        "accepted_events_per_s": round(counts["accepted_events"] / duration, 1),
        "shed_events_per_s": round(counts["shed_events"] / duration, 1),
        "shed_fraction": round(counts["shed_events"] / sent_events, 3) if sent_events else None,
        "ack_latency_accepted": latency_summary(accepted),
        "ack_latency_accepted_from_schedule": latency_summary(accepted_from_schedule),
        "answer_latency_shed": latency_summary(shed),
        "retry_after_values": retry_after,
        "answers_drained_after_send_window_s": round(drain, 2),
        "connections": max_connections,
        "connections_busy_max": busiest,
        "send_lateness_ms": {
            "p50": _round(percentile(late_ms, 50), 3),
            "p99": _round(percentile(late_ms, 99), 3),
            "max": _round(max(late_ms) if late_ms else None, 3),
        },
        "readiness": summarise_readiness(readiness),
        "timeline": timeline(records, batch),
        "cpu": usage,
    }


def timeline(records: list[tuple[float, str, float]], batch: int) -> list[dict[str, Any]]:
    """Per second of write time: events written, accepted, shed; accepted latency p50/p99."""
    seconds: dict[int, list[tuple[str, float]]] = {}
    for written, answer, took in records:
        seconds.setdefault(int(written), []).append((answer, took))
    rows = []
    for second in sorted(seconds):
        answers = seconds[second]
        ok = [took * 1000 for answer, took in answers if answer == "accepted"]
        rows.append(
            {
                "second": second,
                "written": len(answers) * batch,
                "accepted": len(ok) * batch,
                "shed": sum(1 for answer, _ in answers if answer == "shed") * batch,
                "accepted_p50_ms": _round(percentile(ok, 50), 1),
                "accepted_p99_ms": _round(percentile(ok, 99), 1),
            }
        )
    return rows


def summarise_readiness(samples: list[dict[str, Any]]) -> dict[str, Any]:
    not_ready = [s for s in samples if s["status"] != 200]
    reasons: dict[str, int] = {}
    for sample in not_ready:
        for reason in sample["reasons"]:
            key = reason.split(":")[0].split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
    queues = [s["queue_events"] for s in samples if s["queue_events"] is not None]
    lags = [s["processor_lag"] for s in samples if s["processor_lag"] is not None]
    return {
        "samples": len(samples),
        "not_ready": len(not_ready),
        "reasons": reasons,
        "queue_events_max": max(queues) if queues else None,
        "processor_lag_max": max(lags) if lags else None,
        "answer_ms_p99": _round(percentile([s["answer_ms"] for s in samples], 99), 1),
        "series": samples,
    }


def shed_counters(port: int) -> dict[str, float]:
    """The server's ``winback_ingest_shed_*`` counters (and the queue gauges) by name."""
    from prometheus_client.parser import text_string_to_metric_families

    with contextlib.suppress(OSError):
        import urllib.request

        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(("winback_ingest_shed", "winback_ingest_queue")):
                    label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    out[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
        return out
    return {}


def run_calibration(
    workdir: Path, runner: asyncio.Runner, settings: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    # Capacity, not policy: with the bounds on, a busy machine sheds even in a closed loop.
    server = Server("winback", workdir, {**settings, **UNBOUNDED})
    server.start()
    try:
        server.warm_up()
        maker = EventMaker("calibrate", customers=5000, seed=7)
        assert server.proc is not None
        result = runner.run(
            closed_loop(
                server.port,
                concurrency=args.calibrate_concurrency,
                batch=args.batch,
                warmup=args.warmup,
                duration=args.calibrate_duration,
                maker=maker,
                cpu=CpuMeter(server.proc.pid),
            )
        )
    finally:
        server.stop()
    return result


def run_shed_cost(
    workdir: Path, runner: asyncio.Runner, settings: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """The same closed loop as S against a server that sheds every request: the HTTP process's
    CPU per shed request (processor off, two events logged, processor-lag bound 1)."""
    server = Server(
        "winback",
        workdir,
        {**settings, "WINBACK_PROCESSOR": "off", "WINBACK_INGEST_MAX_PROCESSOR_LAG": "1"},
    )
    server.start()
    try:
        seed = {
            "events": [
                {"id": f"seed-{i}", "type": "login", "customer": {"id": "s"}} for i in range(2)
            ]
        }
        assert post_json(server.port, seed) == 202
        probe = {"id": "probe", "type": "login", "customer": {"id": "s"}}
        deadline = time.monotonic() + 30
        while post_json(server.port, probe) != 503:  # the background lag reading saw them
            if time.monotonic() > deadline:
                raise RuntimeError("the server never started shedding")
            time.sleep(0.1)
        maker = EventMaker("shed-cost", customers=5000, seed=5)
        assert server.proc is not None
        result = runner.run(
            closed_loop(
                server.port,
                concurrency=args.calibrate_concurrency,
                batch=args.batch,
                warmup=args.warmup,
                duration=args.calibrate_duration,
                maker=maker,
                cpu=CpuMeter(server.proc.pid),
            )
        )
    finally:
        server.stop()
    requests = result["requests"]
    server_cpu = result["cpu"].get("cpu_s", {}).get("server")
    return {
        "requests": requests,
        "shed": requests - result["events"] // args.batch,
        "requests_per_s": result["requests_per_s"],
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_request": (
            round(server_cpu * 1000 / requests, 3) if server_cpu and requests else None
        ),
        "cpu": result["cpu"],
    }


def post_json(port: int, payload: Any) -> int:
    """POST ``payload`` to /v1/events; the status."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}/v1/events",
        data=orjson.dumps(payload),
        headers={"Content-Type": "application/json", **authorization(port)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def run_overload(
    workdir: Path,
    runner: asyncio.Runner,
    settings: dict[str, str],
    *,
    name: str,
    rate: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    server = Server("winback", workdir, settings)
    server.start()
    try:
        server.warm_up()
        maker = EventMaker(name, customers=5000, seed=11)
        assert server.proc is not None
        result = runner.run(
            open_loop(
                server.port,
                rate=rate,
                duration=args.duration,
                batch=args.batch,
                maker=maker,
                max_connections=args.max_connections,
                cpu=CpuMeter(server.proc.pid),
            )
        )
        result["server_counters"] = shed_counters(server.port)
        status, ready = http_get_json(server.port, "/readyz", timeout=10)
        result["readyz_after"] = {"status": status, "body": ready}
    finally:
        server.stop()
    result["server_settings"] = settings
    result["events_in_db"] = server.count_events()
    # The warm-up event is in the database too; nothing of a shed request may be.
    result["db_holds_exactly_the_accepted_events"] = (
        result["events_in_db"] == result["accepted_events"] + 1
    )
    return result


def print_summary(result: dict[str, Any], path: Path) -> None:
    calibration = result["phases"].get("S_sustainable")
    if calibration:
        ack = calibration["ack_latency"]
        print(
            f"\nS  sustainable: {calibration['events_per_s']:,.0f} events/s accepted in a closed "
            f"loop (c={calibration['concurrency']}), ack p50 {ack['p50_ms']} ms, p99 "
            f"{ack['p99_ms']} ms, {calibration['errors']} non-202 answers"
        )
    shed_cost = result["phases"].get("X_shed_cost")
    if shed_cost:
        accepted_ms = (calibration or {}).get("cpu_ms_per_event", {}).get("server")
        print(
            f"X  shed cost: {shed_cost['server_cpu_ms_per_request']} ms of the HTTP process's "
            f"CPU per shed request ({shed_cost['shed']} of {shed_cost['requests']} shed)"
            + (f"; per accepted event in S: {accepted_ms} ms" if accepted_ms else "")
        )
    rows = []
    for key in ("O_overload", "U_unbounded"):
        p = result["phases"].get(key)
        if not p:
            continue
        acc, shed = p["ack_latency_accepted"], p["answer_latency_shed"]
        scheduled = p["ack_latency_accepted_from_schedule"]
        rows.append(
            (
                key,
                f"{p['offered_rate']:,.0f}",
                f"{p['achieved_send_rate'] or 0:,.0f}",
                f"{p['accepted_events_per_s']:,.0f}",
                f"{p['shed_events_per_s']:,.0f}",
                str(p["other_answers"]),
                str(acc["p50_ms"]),
                str(acc["p99_ms"]),
                str(scheduled["p99_ms"]),
                str(shed["p99_ms"]),
                f"{p['readiness']['not_ready']}/{p['readiness']['samples']}",
                str(p["readiness"]["queue_events_max"]),
                "yes" if p["db_holds_exactly_the_accepted_events"] else "NO",
            )
        )
    header = (
        "phase",
        "offered/s",
        "sent/s",
        "accepted/s",
        "shed/s",
        "other",
        "ack p50 ms",
        "ack p99 ms",
        "sched. p99 ms",
        "shed p99 ms",
        "not ready",
        "max queue",
        "db = accepted",
    )
    print()
    for line in _table(header, rows):
        print(line)
    print(
        "(events/s; ack p50/p99: accepted requests, from the moment each was written; sched. "
        "p99: the same from its scheduled send time, with any wait for a free connection; shed "
        "p99: how fast a 503 came back; not ready: /readyz samples; max queue: events waiting "
        "for the committer, largest /readyz sample)"
    )
    print(f"\nresults: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Winback overload benchmark (real server, open loop past its capacity).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of overload")
    parser.add_argument("--factor", type=float, default=3.0, help="offered / sustainable rate")
    parser.add_argument("--rate", type=float, default=None, help="offered events/s (no factor)")
    parser.add_argument(
        "--sustainable", type=float, default=None, help="skip calibration: events/s sustained"
    )
    parser.add_argument("--calibrate-duration", type=float, default=10.0)
    parser.add_argument("--calibrate-concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured calibration s")
    parser.add_argument("--batch", type=int, default=1, help="events per request")
    parser.add_argument("--max-connections", type=int, default=1024)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="WINBACK_X=V",
        help="a server setting for the overload phase (repeatable)",
    )
    parser.add_argument(
        "--unbounded", action="store_true", help="also run the load with every bound off"
    )
    parser.add_argument("--no-shed-cost", action="store_true", help="skip phase X")
    parser.add_argument("--quick", action="store_true", help="smoke run of about 20 s")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 6.0)
        args.calibrate_duration = min(args.calibrate_duration, 4.0)
        args.warmup = min(args.warmup, 0.5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.set)
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="winback-overload-", dir=args.workdir))
    factory = _loop_factory(args.no_uvloop)
    result: dict[str, Any] = {
        "benchmark": "winback-overload",
        "started_at": started.isoformat(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "settings": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "client_loop": "uvloop" if factory else "asyncio",
            "database": "SQLite, WAL, synchronous=FULL (a fresh file per phase)",
        },
        "phases": {},
    }
    phases: dict[str, Any] = result["phases"]
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: the machine is busy (load average {load:.2f}): figures are preliminary")
    failed = False
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            sustainable = args.sustainable
            if args.rate is None and sustainable is None:
                print(f"phase S: closed loop for {args.calibrate_duration:.0f} s ...", flush=True)
                phases["S_sustainable"] = run_calibration(workdir, runner, settings, args)
                sustainable = phases["S_sustainable"]["events_per_s"]
            if not args.no_shed_cost:
                print(f"phase X: shedding everything for {args.calibrate_duration:.0f} s ...")
                phases["X_shed_cost"] = run_shed_cost(workdir, runner, settings, args)
            rate = args.rate if args.rate is not None else args.factor * float(sustainable or 0)
            result["offered_rate"] = rate
            print(f"phase O: {rate:,.0f} events/s offered for {args.duration:.0f} s ...")
            phases["O_overload"] = run_overload(
                workdir, runner, settings, name="overload", rate=rate, args=args
            )
            if args.unbounded:
                print(f"phase U: the same, every bound off, for {args.duration:.0f} s ...")
                phases["U_unbounded"] = run_overload(
                    workdir,
                    runner,
                    {**settings, **UNBOUNDED},
                    name="unbounded",
                    rate=rate,
                    args=args,
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
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    path = args.out / f"overload-{started.strftime('%Y%m%dT%H%M%SZ')}{suffix}.json"
    text = json.dumps(result, indent=2) + "\n"
    path.write_text(text)
    (args.out / f"overload-latest{suffix}.json").write_text(text)
    print_summary(result, path)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
