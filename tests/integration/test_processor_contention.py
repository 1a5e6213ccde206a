"""A busy support floor never stalls the processor.

Agents acting on open cases bump the cases' versions, so a processor batch computed from
older state fails its version check. The batch is then redone at once with its cases locked,
so every round makes progress: with a backlog of 2,000 events and agents writing ten notes a
second on the very cases the backlog touches, the lag falls with every round until it is gone.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.bootstrap import load_sla
from winback.clock import SystemClock
from winback.config import load_settings
from winback.errors import WinbackError
from winback.identity import Principal
from winback.pipeline.processor import Processor, processor_lag
from winback.pipeline.stages import default_stages
from winback.services.cases import perform_action
from winback.store.tables import cases

from .support import body, log_events, nps

ANA = Principal(kind="user", name="ana", role="agent", credential="test")

CUSTOMERS = 200
BACKLOG = 2_000
ACTIONS_PER_SECOND = 10
LIMIT_SECONDS = 60

pytestmark = pytest.mark.slow


def test_agents_acting_on_a_backlog_never_stall_the_processor(engine: Engine) -> None:
    clock = SystemClock()
    # Batches of 100: the backlog takes twenty rounds, so the agents' actions (every case is in
    # every batch) land inside rounds, between a batch's read and its write.
    processor = Processor(engine, default_stages(), clock, batch_size=100)
    now = datetime.now(UTC)
    log_events(engine, now, *(body(f"open-{i}", "complaint", f"c{i}") for i in range(CUSTOMERS)))
    processor.run_until_idle()
    with engine.connect() as conn:
        open_ids = list(conn.execute(sa.select(cases.c.id)).scalars())
    assert len(open_ids) == CUSTOMERS

    rng = random.Random(7)
    backlog = [nps(f"b-{n}", rng.randint(0, 6), f"c{n % CUSTOMERS}") for n in range(BACKLOG)]
    for start in range(0, BACKLOG, 500):
        log_events(engine, now, *backlog[start : start + 500])

    sla = load_sla(load_settings())
    stop = threading.Event()
    acted: list[int] = []

    def agents() -> None:
        while not stop.wait(1 / ACTIONS_PER_SECOND):
            case_id = rng.choice(open_ids)
            try:
                perform_action(engine, clock, sla, case_id, "note", ANA, {"text": "busy"})
                acted.append(case_id)
            except WinbackError:
                pass

    floor = threading.Thread(target=agents, daemon=True)
    floor.start()
    while not acted:  # the floor is busy before the processor starts on the backlog
        time.sleep(0.01)
    lags, redone = [], 0
    deadline = time.monotonic() + LIMIT_SECONDS
    try:
        with engine.connect() as conn:
            lags.append(processor_lag(conn))
        while lags[-1] > 0 and time.monotonic() < deadline:
            redone += processor.run_once().redone_locked
            with engine.connect() as conn:
                lags.append(processor_lag(conn))
    finally:
        stop.set()
        floor.join(10)
    assert lags[0] == BACKLOG
    assert lags[-1] == 0, f"the processor stalled: lag after each round {lags}"
    assert all(later < earlier for earlier, later in pairwise(lags)), lags
    assert acted, "the agents never acted: the test proved nothing"
    assert redone, "no batch met a moved case: the test proved nothing"
