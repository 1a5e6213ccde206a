"""What the playbooks cost the processor (issue 7): the same events through the processor with
the built-in decision rule and with the default playbooks, on SQLite, interleaved runs; and the
playbook evaluation alone, per event.

    .venv/bin/python bench/playbook_stage_cost.py

Events: 30,000 complaints for new customers (the ingest benchmark's phase C mix: each opens a
case), then a mixed 30,000 (complaints, messages with text, surveys, payments, usage).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from winback.clock import FrozenClock
from winback.events.model import Event
from winback.events.schema import parse_event
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.playbooks.engine import evaluate
from winback.playbooks.loader import default_playbooks
from winback.playbooks.model import Facts
from winback.sources import Source
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TEXTS = ["My parcel is late again, terrible service.", "Thanks, all good.", "I want to cancel."]


def complaints(n: int) -> list[dict[str, object]]:
    return [{"id": f"e{i}", "type": "complaint", "customer": {"id": f"c{i}"}} for i in range(n)]


def mixed(n: int) -> list[dict[str, object]]:
    rng = random.Random(3)
    out: list[dict[str, object]] = []
    for i in range(n):
        kind = rng.choice(["complaint", "message", "survey.response", "payment.failed", "usage"])
        body: dict[str, object] = {"id": f"m{i}", "type": kind, "customer": {"id": f"c{i % 5000}"}}
        if kind in ("complaint", "message"):
            body["text"] = rng.choice(TEXTS)
        if kind == "survey.response":
            body["score"] = {"kind": "nps", "value": rng.randint(0, 10)}
        out.append(body)
    return out


def run(bodies: list[dict[str, object]], playbooks: bool) -> float:
    directory = tempfile.mkdtemp()
    engine = make_engine(f"sqlite:///{directory}/w.db")
    migrate.upgrade(engine)
    events = [parse_event(b) for b in bodies]
    for i in range(0, len(events), 5000):
        append_groups(engine, [events[i : i + 5000]], NOW)
    book = Source.fixed("playbooks", default_playbooks()) if playbooks else None
    stages = default_stages(playbooks=book)
    processor = Processor(engine, stages, FrozenClock(NOW), batch_size=500)
    start = time.perf_counter()
    processor.run_until_idle()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(bodies) / elapsed


def main() -> None:
    book = default_playbooks()
    facts = [
        Facts(Event(i, f"e{i}", t, f"c{i}", NOW, NOW, {"type": t}))
        for i, t in enumerate(["complaint", "usage", "message", "survey.response"] * 25_000)
    ]
    start = time.perf_counter()
    for f in facts:
        evaluate(book, f)
    per_event = (time.perf_counter() - start) / len(facts) * 1e6
    print(f"playbook evaluation alone: {per_event:.1f} µs per event ({len(book.rule_ids())} rules)")
    for label, bodies in (
        ("30,000 complaints", complaints(30_000)),
        ("30,000 mixed", mixed(30_000)),
    ):
        rates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(3):
            for with_playbooks in (False, True):
                rates[with_playbooks].append(run(bodies, with_playbooks))
        base, pb = statistics.median(rates[False]), statistics.median(rates[True])
        print(
            f"{label}: processor {base:,.0f} events/s with the built-in rule, {pb:,.0f} with the "
            f"default playbooks ({(pb / base - 1) * 100:+.1f} %), median of 3 interleaved runs"
        )


if __name__ == "__main__":
    main()
