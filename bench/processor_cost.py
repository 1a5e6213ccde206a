"""What the processor costs per event, by stage: CPU seconds per 1,000 events on SQLite.

    .venv/bin/python bench/processor_cost.py                 # 3 mixes x 3 repeats, median
    .venv/bin/python bench/processor_cost.py --profile       # plus one cProfile run per mix
    .venv/bin/python bench/processor_cost.py --mix nps --events 3000 --repeats 1

For each mix it builds a fresh SQLite database, appends the events (not measured), builds the
real processor with ``winback.bootstrap.build_processor`` and default settings (playbooks on,
the shipped text model, cold-start churn weights, built-in SLA policies) on a frozen clock, and
runs it until idle. CPU is ``time.process_time`` (this process, all threads), so other load on
the machine moves the figures far less than wall time would.

Per part, CPU seconds per 1,000 events:

- each stage's ``process()`` (the stage objects are wrapped with a timer);
- ``read``: reading the batch from the log (``read_after``);
- ``load``: loading the batch's customers, cases, SLA states and risk rows (``load_batch_unit``);
- ``flush``: ``BatchUnit.flush`` (building rows and the inserts/updates, inside the write), and
  within it ``flush.customers``, ``flush.risk`` (``customer_risk`` rows), ``flush.cases``,
  ``flush.text`` (``event_text``), ``flush.sla`` (``case_sla`` and ``sla_timers``); the rest of
  the flush (case links, timeline, outbox) is ``flush.rest``;
- ``other``: the rest of the round (connections, cursor compare-and-set, commit).

``gc`` is the CPU the cyclic garbage collector took during the run (already counted in
whichever part it interrupted). The timers themselves cost a little; ``timer_overhead`` is the
measured cost of the ``process_time`` calls they made (included in the stage figures).

Mixes (3,000 customers unless ``--customers``; events spread over the 30 days before the
frozen clock, in time order):

- ``complaints``: a complaint with written text for a new customer each time (every event opens
  a case; the ingest benchmark's phase C);
- ``nps``: NPS responses, every one with a comment matching the score (the worst case: text and
  a score on every event);
- ``mixed``: the ingest benchmark's demo-like mix: 45 % usage, 15 % purchases, 20 % NPS with a
  comment, 12 % complaints, 8 % logins;
- ``sim``: the company simulator's streams (all five industries, 120 days, every event type:
  tickets, refunds, cancellations, reviews, outages…), merged in time order, the first N events.

``--digest`` checks that a change leaves the processor's output alone: it runs each mix once
more, untimed, and prints a SHA-256 of everything the processor wrote (customers, cases, links,
timeline, outbox, text analyses, risk rows, SLA states and timers, failures; JSON documents
compared parsed, rows sorted), to compare against the same command on the code before.

``--compare OLD_SRC`` measures a change: it runs this script in child processes, alternating
``PYTHONPATH=OLD_SRC`` ("before") and this checkout's ``src`` ("after"), ``--repeats`` rounds of
one run each (interleaved, so both sides see the same machine), and reports each part's median
per side. To compare against a commit: ``git archive <commit> src | tar -x -C /tmp/old``, then
``--compare /tmp/old/src``.

Results: a table on stdout and ``bench/results/processor-cost-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import heapq
import io
import itertools
import json
import os
import platform
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import winback.bootstrap as bootstrap
import winback.pipeline.processor as processor_module
from winback.clock import FrozenClock
from winback.config import Settings
from winback.events.schema import parse_event
from winback.sim.generator import SimConfig, Simulation
from winback.sim.industries import INDUSTRIES
from winback.sim.text import COMPLAINTS, Writer
from winback.store import migrate, uow
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups

DIGEST_TABLES = (
    "customers",
    "cases",
    "case_events",
    "case_timeline",
    "outbox",
    "event_text",
    "customer_risk",
    "case_sla",
    "sla_timers",
    "event_failures",
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SPAN = timedelta(days=30)
TOPICS = sorted(COMPLAINTS)


# -- events ------------------------------------------------------------------------------------
def _times(rng: random.Random, n: int) -> list[datetime]:
    return sorted(NOW - SPAN * rng.random() for _ in range(n))


def _customer(cid: str) -> dict[str, Any]:
    return {"id": cid, "email": f"{cid}@example.com", "plan": "pro"}


def complaints(n: int, customers: int, seed: int) -> list[dict[str, Any]]:
    del customers  # a new customer each time
    rng = random.Random(seed)
    writer = Writer(rng, "the app", "EUR")
    out = []
    for i, at in enumerate(_times(rng, n)):
        tone = "angry" if rng.random() < 0.4 else "plain"
        out.append(
            {
                "id": f"c{i}",
                "type": "complaint",
                "channel": "chat",
                "customer": _customer(f"new-{i}"),
                "occurred_at": at.isoformat(),
                "text": writer.complaint(rng.choice(TOPICS), tone),
            }
        )
    return out


def _nps(rng: random.Random, writer: Writer) -> tuple[dict[str, Any], str]:
    score = rng.randint(0, 10)
    text = None
    while not text:  # every response carries a comment (the generator omits some)
        text = writer.survey_comment("nps", score, rng.choice(TOPICS), False, rng.random() < 0.3)
    return {"kind": "nps", "value": score}, text


def nps(n: int, customers: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    writer = Writer(rng, "the app", "EUR")
    out = []
    for i, at in enumerate(_times(rng, n)):
        score, text = _nps(rng, writer)
        out.append(
            {
                "id": f"n{i}",
                "type": "survey.response",
                "channel": "email",
                "customer": _customer(f"cust-{rng.randrange(customers):06d}"),
                "occurred_at": at.isoformat(),
                "score": score,
                "text": text,
            }
        )
    return out


def mixed(n: int, customers: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    writer = Writer(rng, "the app", "EUR")
    out = []
    for i, at in enumerate(_times(rng, n)):
        event: dict[str, Any] = {
            "id": f"m{i}",
            "customer": _customer(f"cust-{rng.randrange(customers):06d}"),
            "occurred_at": at.isoformat(),
        }
        roll = rng.random()
        if roll < 0.45:
            event.update(type="usage", attributes={"sessions": rng.randint(1, 20)})
        elif roll < 0.6:
            event.update(type="purchase", amount=49.0, currency="EUR")
        elif roll < 0.8:
            score, text = _nps(rng, writer)
            event.update(type="survey.response", channel="email", score=score, text=text)
        elif roll < 0.92:
            tone = "angry" if rng.random() < 0.4 else "plain"
            text = writer.complaint(rng.choice(TOPICS), tone)
            event.update(type="complaint", channel="chat", text=text)
        else:
            event.update(type="login", channel="web")
        out.append(event)
    return out


def sim(n: int, customers: int, seed: int) -> list[dict[str, Any]]:
    per_industry = max(20, customers // len(INDUSTRIES))
    streams = [
        Simulation(SimConfig(industry=name, customers=per_industry, days=120, seed=seed)).events()
        for name in INDUSTRIES
    ]
    merged = heapq.merge(*streams, key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    return list(itertools.islice(merged, n))


MIXES: dict[str, Callable[[int, int, int], list[dict[str, Any]]]] = {
    "complaints": complaints,
    "nps": nps,
    "mixed": mixed,
    "sim": sim,
}


# -- timing ------------------------------------------------------------------------------------
class Meter:
    """CPU seconds and call counts per part."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.calls = 0

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.process_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu[part] = self.cpu.get(part, 0.0) + clock() - start
                self.calls += 1

        return timed


class TimedStage:
    """A stage whose ``process()`` is timed; otherwise the stage itself."""

    def __init__(self, stage: Any, meter: Meter) -> None:
        self.name = stage.name
        self._process = meter.wrap(f"stage:{stage.name}", stage.process)

    def process(self, ctx: Any, unit: Any) -> None:
        self._process(ctx, unit)


def timer_call_cost() -> float:
    """CPU seconds one timed call adds (two ``process_time`` calls and the bookkeeping)."""
    meter = Meter()
    fn = meter.wrap("x", lambda: None)
    n = 200_000
    start = time.process_time()
    for _ in range(n):
        fn()
    with_timer = time.process_time() - start

    def bare() -> None:
        return None

    start = time.process_time()
    for _ in range(n):
        bare()
    return max(0.0, (with_timer - (time.process_time() - start)) / n)


# -- one run -----------------------------------------------------------------------------------
def run(
    bodies: list[dict[str, Any]], *, profile: bool = False, gc_mode: str = "on"
) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="winback-cost-"))
    url = f"sqlite:///{directory / 'w.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    events = [parse_event(b) for b in bodies]
    for i in range(0, len(events), 5000):
        append_groups(engine, [events[i : i + 5000]], NOW)
    settings = Settings(database_url=url, models_dir=directory / "models")

    meter = Meter()
    build_stages = bootstrap.build_stages
    patches: list[tuple[Any, str, str]] = [
        (processor_module, "read_after", "read"),
        (processor_module, "load_batch_unit", "load"),
        (uow.BatchUnit, "flush", "flush"),
        (uow.BatchUnit, "_flush_customers", "flush.customers"),
        (uow, "write_customer_risks", "flush.risk"),
        (uow.BatchUnit, "_flush_cases", "flush.cases"),  # before the cases repository
        (uow, "insert_cases", "flush.cases"),  # with it (one of the two exists)
        (uow, "update_cases", "flush.cases"),
        (uow.BatchUnit, "_flush_text", "flush.text"),
        (uow, "write_sla", "flush.sla"),
    ]
    # The script measures this checkout and older ones (--compare): what a version lacks is
    # simply not timed separately.
    patches = [p for p in patches if hasattr(p[0], p[1])]
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]

    def timed_stages(*args: Any) -> list[Any]:
        return [TimedStage(x, meter) for x in build_stages(*args)]

    bootstrap.build_stages = timed_stages  # type: ignore[assignment]
    for owner, attr, part in patches:
        setattr(owner, attr, meter.wrap(part, getattr(owner, attr)))
    gc_cpu = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_cpu[1] = time.process_time()
        else:
            gc_cpu[0] += time.process_time() - gc_cpu[1]

    gc.callbacks.append(on_gc)
    try:
        processor = bootstrap.build_processor(settings, engine, FrozenClock(NOW))
        if gc_mode == "freeze":  # what a worker could do once it has built its processor
            gc.collect()
            gc.freeze()
        elif gc_mode == "off":
            gc.disable()
        profiler = cProfile.Profile() if profile else None
        start = time.process_time()
        if profiler is not None:
            profiler.enable()
        n = processor.run_until_idle()
        if profiler is not None:
            profiler.disable()
        total = time.process_time() - start
    finally:
        gc.callbacks.remove(on_gc)
        gc.enable()
        gc.unfreeze()
        bootstrap.build_stages = build_stages  # type: ignore[assignment]
        for owner, attr, original in saved:
            setattr(owner, attr, original)
        engine.dispose()
    if n != len(bodies):
        raise SystemExit(f"processed {n} of {len(bodies)} events")
    per_k = 1000 / n
    parts = {k: v * per_k for k, v in meter.cpu.items() if not k.startswith("flush.")}
    flush_parts = {k: v * per_k for k, v in meter.cpu.items() if k.startswith("flush.")}
    parts["other"] = total * per_k - sum(parts.values())
    flush_parts["flush.rest"] = parts.get("flush", 0.0) - sum(flush_parts.values())
    out: dict[str, Any] = {
        "events": n,
        "cpu_s_per_1000": {"total": total * per_k, **parts, **flush_parts, "gc": gc_cpu[0] * per_k},
        "timed_calls": meter.calls,
    }
    if profiler is not None:
        out["profile"] = _profile_summary(profiler)
    return out


def _profile_summary(profiler: cProfile.Profile, top: int = 40) -> dict[str, str]:
    summary = {}
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(key).print_stats(top)
        summary[key] = buffer.getvalue()
    return summary


def digest(bodies: list[dict[str, Any]]) -> str:
    """SHA-256 of what the real processor writes for ``bodies`` (see the module docstring)."""
    directory = Path(tempfile.mkdtemp(prefix="winback-digest-"))
    url = f"sqlite:///{directory / 'w.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    events = [parse_event(b) for b in bodies]
    for i in range(0, len(events), 5000):
        append_groups(engine, [events[i : i + 5000]], NOW)
    settings = Settings(database_url=url, models_dir=directory / "models")
    bootstrap.build_processor(settings, engine, FrozenClock(NOW)).run_until_idle()
    engine.dispose()
    sha = hashlib.sha256()
    with sqlite3.connect(directory / "w.db") as conn:
        for table in DIGEST_TABLES:
            rows = [
                json.dumps([_canonical(v) for v in row], sort_keys=True)
                for row in conn.execute(f"SELECT * FROM {table}")
            ]
            sha.update(f"{table}:{len(rows)}\n".encode())
            for line in sorted(rows):
                sha.update(line.encode() + b"\n")
    return sha.hexdigest()


def _canonical(value: Any) -> Any:
    """A stored value as data: JSON text parsed (key order and spacing do not matter)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# -- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--mix",
        choices=[*MIXES, "all"],
        default="all",
        help="all: complaints, nps and mixed (and sim too with --digest)",
    )
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="one more run per mix, profiled")
    parser.add_argument(
        "--gc",
        choices=["on", "freeze", "off"],
        default="on",
        help="the garbage collector as it is, frozen after start-up (gc.freeze), or off",
    )
    parser.add_argument("--digest", action="store_true", help="print output digests, no timing")
    parser.add_argument(
        "--compare", type=Path, metavar="OLD_SRC", help="before/after against another src/"
    )
    parser.add_argument("--label", default="", help="a word to put in the results file name")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where to save")
    args = parser.parse_args(argv)

    mixes = [m for m in MIXES if m != "sim"] if args.mix == "all" else [args.mix]
    if args.digest:
        for mix in MIXES if args.mix == "all" else mixes:
            bodies = MIXES[mix](args.events, args.customers, args.seed)
            print(f"{mix} {args.events} events, seed {args.seed}: {digest(bodies)}")
        return 0
    if args.compare is not None:
        return compare(args, argv if argv is not None else sys.argv[1:])
    per_call = timer_call_cost()
    report: dict[str, Any] = {
        "benchmark": "processor_cost",
        "command": "python bench/processor_cost.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "events": args.events,
        "customers": args.customers,
        "repeats": args.repeats,
        "gc": args.gc,
        "unit": "CPU seconds (time.process_time) per 1,000 events, median of the repeats",
        "timer_call_cost_us": round(per_call * 1e6, 3),
        "mixes": {},
    }
    for mix in mixes:
        bodies = MIXES[mix](args.events, args.customers, args.seed)
        runs = [run(bodies, gc_mode=args.gc) for _ in range(args.repeats)]
        keys = list(runs[0]["cpu_s_per_1000"])
        median = {
            k: round(statistics.median(r["cpu_s_per_1000"].get(k, 0.0) for r in runs), 4)
            for k in keys
        }
        overhead = statistics.median(r["timed_calls"] for r in runs) * per_call * 1000 / args.events
        entry: dict[str, Any] = {
            "median": median,
            "runs": [{k: round(v, 4) for k, v in r["cpu_s_per_1000"].items()} for r in runs],
            "timer_overhead": round(overhead, 4),
        }
        if args.profile:
            entry["profile"] = run(bodies, profile=True, gc_mode=args.gc)["profile"]
        report["mixes"][mix] = entry
        _print(mix, entry)
    if not args.no_save:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        label = f"-{args.label}" if args.label else ""
        path = args.results_dir / f"processor-cost{label}-{stamp}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results: {path}")
    return 0


def compare(args: argparse.Namespace, argv: list[str]) -> int:
    """Interleaved child runs of the old and the current code (see the module docstring)."""
    sides = {"before": args.compare.resolve(), "after": ROOT / "src"}
    common = ["--mix", args.mix, "--events", str(args.events), "--customers", str(args.customers)]
    common += ["--seed", str(args.seed), "--gc", args.gc, "--repeats", "1"]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.repeats):
            for side, src in sides.items():
                out = Path(scratch) / f"{side}-{round_}"
                subprocess.run(
                    [sys.executable, __file__, *common, "--results-dir", str(out)],
                    check=True,
                    env={**os.environ, "PYTHONPATH": str(src)},
                    stdout=subprocess.DEVNULL,
                )
                [result] = out.glob("*.json")
                for mix, entry in json.loads(result.read_text())["mixes"].items():
                    runs.setdefault(mix, {}).setdefault(side, []).extend(entry["runs"])
    report: dict[str, Any] = {
        "benchmark": "processor_cost",
        "command": "python bench/processor_cost.py " + " ".join(argv),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "before": str(sides["before"]),
        "after": str(sides["after"]),
        "unit": "CPU seconds (time.process_time) per 1,000 events, median of interleaved runs",
        "mixes": {},
    }
    for mix, by_side in runs.items():
        parts = list(by_side["before"][0])
        medians = {
            side: {k: round(statistics.median(r.get(k, 0.0) for r in rs), 4) for k in parts}
            for side, rs in by_side.items()
        }
        report["mixes"][mix] = {"median": medians, "runs": by_side}
        print(f"\n{mix}: CPU s per 1,000 events, median of {args.repeats} interleaved runs each")
        for k in parts:
            before, after = medians["before"][k], medians["after"][k]
            change = f"{(after / before - 1) * 100:+6.1f} %" if before else ""
            print(f"  {k:<24} {before:8.3f} -> {after:8.3f}  {change}")
    if not args.no_save:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        label = f"-{args.label}" if args.label else ""
        path = args.results_dir / f"processor-cost-compare{label}-{stamp}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results: {path}")
    return 0


def _print(mix: str, entry: dict[str, Any]) -> None:
    median = entry["median"]
    print(f"\n{mix}: CPU s per 1,000 events (median of {len(entry['runs'])})")
    for key, value in median.items():
        share = value / median["total"] * 100 if median["total"] else 0.0
        print(f"  {key:<28} {value:8.3f}  {share:5.1f} %")
    print(f"  (timer overhead, included above: {entry['timer_overhead']:.3f}; gc and flush.* are")
    print("   already counted in the parts above)")
    if "profile" in entry:
        print(entry["profile"]["tottime"][:6000])


if __name__ == "__main__":
    raise SystemExit(main())
