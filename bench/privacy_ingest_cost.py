"""The CPU cost of payment-data redaction at ingest: ``parse_events`` per event, old code
against new, interleaved in one session.

    .venv/bin/python bench/privacy_ingest_cost.py --old /path/to/old/checkout [--rounds 5]

Each round runs a child process per side (``PYTHONPATH`` = that side's ``src``) that validates
the same events ``--repeat`` times and reports the CPU time per event (median of its
repetitions). Two workloads: ``mixed`` (``bench/ingest.py``'s event mix: no payment data, the
common case, which only pays the pre-check) and ``cards`` (the same mix with a card number or an
IBAN in every text: every event is scrubbed). The engine's JSON serializer
(``store.types.json_dumps``, which every JSON column is written through) is timed the same way
on the parsed payloads. Results: a table on stdout and ``bench/results/privacy-ingest-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

CHILD = r"""
import json, sys, time, random
sys.path.insert(0, sys.argv[1])
from ingest import EventMaker
from winback.events.schema import parse_events
from winback.store.types import json_dumps

workload, n, repeat = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
maker = EventMaker("bench", customers=5000, seed=7)
events = [maker.mixed() for _ in range(n)]
if workload == "cards":
    extra = [" card 4111 1111 1111 1111", " IBAN DE89 3704 0044 0532 0130 00"]
    for i, event in enumerate(events):
        event["text"] = event.get("text", "Hello.") + extra[i % 2]
        event.setdefault("type", "message")
batches = [{"events": events[i:i + 100]} for i in range(0, n, 100)]
parse, dump = [], []
for _ in range(repeat):
    start = time.process_time()
    parsed = [e for b in batches for e in parse_events(b)]
    parse.append((time.process_time() - start) / n)
    start = time.process_time()
    for e in parsed:
        json_dumps(e.payload)
    dump.append((time.process_time() - start) / n)
parsed_texts = [e.payload.get("text", "") for e in parsed]
print(json.dumps({
    "parse_us": sorted(parse)[len(parse) // 2] * 1e6,
    "dump_us": sorted(dump)[len(dump) // 2] * 1e6,
    "cards_left": sum("4111 1111" in t or "DE89 3704" in t for t in parsed_texts),
}))
"""


def run_side(src: Path, workload: str, n: int, repeat: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "bench"), workload, str(n), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sides = {"old": args.old / "src", "new": ROOT / "src"}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        w: {s: [] for s in sides} for w in ("mixed", "cards")
    }
    started = time.time()
    for _ in range(args.rounds):
        for workload in samples:
            for side, src in sides.items():
                samples[workload][side].append(run_side(src, workload, args.events, args.repeat))
    summary: dict[str, Any] = {}
    header = ("workload", "side", "parse µs/event", "json_dumps µs", "cards left")
    print(f"{header[0]:9} {header[1]:4} {header[2]:>15} {header[3]:>14} {header[4]:>11}")
    for workload, by_side in samples.items():
        summary[workload] = {}
        for side, runs in by_side.items():
            parse = statistics.median(r["parse_us"] for r in runs)
            dump = statistics.median(r["dump_us"] for r in runs)
            left = max(r["cards_left"] for r in runs)
            summary[workload][side] = {"parse_us": parse, "dump_us": dump, "cards_left": left}
            print(f"{workload:9} {side:4} {parse:15.2f} {dump:14.2f} {left:11d}")
        old, new = summary[workload]["old"]["parse_us"], summary[workload]["new"]["parse_us"]
        summary[workload]["parse_change_pct"] = (new - old) / old * 100
        print(f"{workload:9} parse: {summary[workload]['parse_change_pct']:+.1f} % new vs old")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "bench": "privacy_ingest_cost",
        "at": stamp,
        "args": {k: str(v) for k, v in vars(args).items()},
        "seconds": round(time.time() - started, 1),
        "cpus": os.cpu_count(),
        "summary": summary,
    }
    (RESULTS / f"privacy-ingest-{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
