"""Risk that moves with time, in the running system on both databases: the re-score worker's
batches, its ``risk.jumped`` effect, rows the processor wrote meanwhile, and a newly activated
churn model applied without a restart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from winback.bootstrap import build_risk_rescorer, build_sources, build_stages, build_workers
from winback.cli import app
from winback.clock import FrozenClock
from winback.config import Settings
from winback.models.registry import ModelRegistry
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.risk.coldstart import COLD_START_VERSION, ColdStartScorer
from winback.risk.model import Encoder, Linear, TrainedChurnModel
from winback.services.risk_rescore import RiskRescorer, rescored
from winback.store.risk_store import stale_risks
from winback.store.tables import customer_risk, outbox

from .support import body, log_events, rows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=31)  # a month of silence


def usage_history(customer: str) -> list[dict[str, Any]]:
    """Two months of daily use, the last day being NOW."""
    return [
        body(
            f"{customer}-u{day}",
            "usage",
            customer,
            occurred_at=(NOW - timedelta(days=59 - day)).isoformat(),
            attributes={"sessions": 3},
        )
        for day in range(60)
    ]


def risk_rows(engine: Engine) -> dict[str, Any]:
    return {r.customer_id: r for r in rows(engine, sa.select(customer_risk))}


def jumps(engine: Engine) -> list[Any]:
    """The re-score's ``risk.jumped`` effects (the processor's are keyed by event id)."""
    query = sa.select(outbox).where(
        outbox.c.topic == "risk.jumped", outbox.c.idempotency_key.like("risk.jumped:rescore:%")
    )
    return rows(engine, query)


def process(engine: Engine, at: datetime) -> None:
    Processor(engine, default_stages(), FrozenClock(at)).run_until_idle()


def test_a_batch_re_scores_the_silent_flags_the_jump_once_and_leaves_fresh_rows(
    engine: Engine,
) -> None:
    log_events(engine, NOW, *usage_history("quiet"), *usage_history("fresh"))
    process(engine, NOW)
    # "fresh" wrote something a minute ago: it is not due.
    log_events(engine, LATER - timedelta(minutes=1), body("f-1", "login", "fresh"))
    process(engine, LATER - timedelta(minutes=1))
    before = risk_rows(engine)
    clock = FrozenClock(LATER)
    rescorer = RiskRescorer(engine, clock, ColdStartScorer(), interval_seconds=300, batch_size=1)

    done = rescorer.rescore_due()

    after = risk_rows(engine)
    assert done.customers == ["quiet"]
    assert (done.rescored, done.skipped, done.jumped, done.failed) == (1, 0, 1, 0)
    quiet = after["quiet"]
    assert quiet.probability > before["quiet"].probability + 0.3
    assert quiet.features["usage_trend"] == -1.0
    assert quiet.as_of == LATER
    assert quiet.updated_at == LATER
    assert quiet.jumped_at == LATER
    assert quiet.state == before["quiet"].state
    assert after["fresh"] == before["fresh"]
    [jump] = jumps(engine)
    assert jump.idempotency_key == f"risk.jumped:rescore:quiet:{LATER.isoformat()}"
    assert jump.payload["customer_id"] == "quiet"
    assert jump.payload["previous"] == before["quiet"].probability
    # Nothing is due again until an interval later; then the same risk is no new jump.
    assert rescorer.rescore_due().selected == 0
    clock.advance(timedelta(seconds=301))
    again = rescorer.rescore_due()
    assert sorted(again.customers) == ["fresh", "quiet"]
    assert again.jumped == 0
    assert len(jumps(engine)) == 1


def test_a_row_the_processor_wrote_meanwhile_is_not_clobbered(engine: Engine) -> None:
    log_events(engine, NOW, *usage_history("moved"), *usage_history("still"))
    process(engine, NOW)
    rescorer = RiskRescorer(engine, FrozenClock(LATER), ColdStartScorer(), interval_seconds=300)
    with engine.connect() as conn:
        read = stale_risks(conn, LATER, 10)
    plans = [rescored(r, None, ColdStartScorer(), LATER) for r in read]
    assert {p.risk.customer_id for p in plans} == {"moved", "still"}
    assert all(p.jump is not None for p in plans)
    # Meanwhile the customer comes back and the processor scores them with the new event.
    log_events(engine, LATER + timedelta(seconds=1), body("m-1", "login", "moved"))
    process(engine, LATER + timedelta(seconds=1))
    by_processor = risk_rows(engine)["moved"]

    written = rescorer.write(plans)

    assert [p.risk.customer_id for p in written] == ["still"]
    after = risk_rows(engine)
    assert after["moved"] == by_processor
    assert "m-1" in after["moved"].state["s"]
    assert after["still"].updated_at == LATER
    assert [j.payload["customer_id"] for j in jumps(engine)] == ["still"]


def _model(intercept: float) -> TrainedChurnModel:
    """A one-input logistic model: p = sigmoid(intercept + complaints_30d)."""
    return TrainedChurnModel(
        kind="logistic",
        encoder=Encoder(["complaints_30d"], [0.0]),
        model=Linear(np.zeros(1), np.ones(1), np.ones(1), intercept),
        platt=(1.0, 0.0),
        horizon_days=30,
    )


def test_a_newly_activated_model_applies_to_the_running_processor_and_to_everyone(
    engine: Engine, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    # The check interval is far shorter than activating a model takes.
    settings = Settings(models_dir=models, config_check_seconds=1e-6)
    sources = build_sources(settings)
    processor = Processor(engine, build_stages(settings, sources), FrozenClock(NOW))
    log_events(engine, NOW, body("a-1", "login", "active"), body("q-1", "login", "quiet"))
    processor.run_until_idle()
    assert {r.model_version for r in risk_rows(engine).values()} == {COLD_START_VERSION}
    version = ModelRegistry(models).save("churn", _model(1.0))
    activated = CliRunner().invoke(
        app, ["models", "activate", version, "--models-dir", str(models)]
    )
    assert activated.exit_code == 0, activated.output

    log_events(engine, NOW, body("a-2", "login", "active"))
    processor.run_until_idle()  # the same processor, stages and sources as before

    found = risk_rows(engine)
    assert found["active"].model_version == version
    assert found["active"].probability == round(1 / (1 + np.exp(-1.0)), 6)
    assert found["quiet"].model_version == COLD_START_VERSION
    # The re-score applies the new model to the customer with no event, though not yet due.
    rescorer = build_risk_rescorer(settings, engine, FrozenClock(NOW), sources)
    done = rescorer.rescore_due()
    assert done.customers == ["quiet"]
    assert done.jumped == 0  # a new model's first score is a baseline
    found = risk_rows(engine)
    assert found["quiet"].model_version == version
    assert found["quiet"].probability == found["active"].probability


def test_the_worker_round_goes_on_while_batches_are_full_then_waits(engine: Engine) -> None:
    log_events(engine, NOW, *(body(f"e-{i}", "login", f"c{i}") for i in range(3)))
    process(engine, NOW)
    clock = FrozenClock(LATER)
    rescorer = RiskRescorer(
        engine, clock, ColdStartScorer(), interval_seconds=300, batch_size=2, check_seconds=10
    )

    waits = [rescorer.round() for _ in range(3)]

    # The model pass (every row has the active model: nothing), a full due batch, the rest;
    # then the wait until the next look: check_seconds, as the next row is due in 300 s.
    assert waits == [0.0, 0.0, 10.0]
    assert rescorer.totals.rescored == 3
    assert {r.updated_at for r in risk_rows(engine).values()} == {LATER}
    clock.advance(timedelta(seconds=299))
    assert rescorer.round() == 1.0  # not due yet: no query, the second left to wait
    assert rescorer.totals.selected == 3
    clock.advance(timedelta(seconds=2))
    assert [rescorer.round(), rescorer.round()] == [0.0, 10.0]
    assert rescorer.totals.rescored == 6


def test_build_workers_adds_the_re_score_worker_unless_the_interval_is_zero(
    engine: Engine, tmp_path: Path
) -> None:
    stop = threading.Event()
    base: dict[str, Any] = {
        "models_dir": tmp_path / "m",
        "sla_timers": False,
        "retention_days": 0,
        "analytics_interval_seconds": 0,
    }
    base["outreach_relay"] = False  # its workers are tested in test_outreach_relay.py
    on = build_workers(Settings(**base, routing_interval_seconds=0), engine, stop)
    off = build_workers(
        Settings(**base, routing_interval_seconds=0, risk_rescore_interval_seconds=0),
        engine,
        stop,
    )
    assert [w.name for w in on] == ["winback-processor", "winback-risk-rescore"]
    assert [w.name for w in off] == ["winback-processor"]
