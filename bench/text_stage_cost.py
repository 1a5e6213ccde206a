"""What the text stage costs the processor: the same 6,000 text events (simulator complaints and
messages, 3,000 customers) through the default stages with and without the text stage, on SQLite.

    .venv/bin/python bench/text_stage_cost.py

Results are in docs/benchmarks.md ("Text understanding").
"""

import random
import tempfile
import time
from datetime import UTC, datetime

from winback.clock import FrozenClock
from winback.events.schema import parse_event
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.sim.text import COMPLAINTS, Writer
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
rng = random.Random(1)
w = Writer(rng, "the app", "EUR")


def run(with_text):
    d = tempfile.mkdtemp()
    eng = make_engine(f"sqlite:///{d}/w.db")
    migrate.upgrade(eng)
    evs = [
        parse_event(
            {
                "id": f"e{i}",
                "type": "complaint" if i % 2 else "message",
                "customer": {"id": f"c{i % 3000}"},
                "occurred_at": NOW.isoformat(),
                "text": w.complaint(rng.choice(list(COMPLAINTS)), "plain"),
            }
        )
        for i in range(6000)
    ]
    for k in range(0, 6000, 1000):
        append_groups(eng, [evs[k : k + 1000]], NOW)
    stages = default_stages()
    if not with_text:
        stages = [s for s in stages if s.name != "text"]
    p = Processor(eng, stages, FrozenClock(NOW))
    t = time.perf_counter()
    n = p.run_until_idle()
    dt = time.perf_counter() - t
    print("with text" if with_text else "without text", n, f"{n / dt:.0f} events/s")


if __name__ == "__main__":
    for with_text in (False, True, False, True):
        run(with_text)
