"""Churn risk in the running system (issue 5): stored per customer on both databases, the
``risk.jumped`` effect, the API, and training from the store's own history."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from winback.bootstrap import build_processor, build_stages
from winback.cli import app
from winback.clock import FrozenClock
from winback.config import Settings
from winback.events.schema import parse_event
from winback.models.registry import ModelRegistry
from winback.pipeline.processor import Processor
from winback.pipeline.stages import RiskStage, default_stages
from winback.risk.coldstart import COLD_START_VERSION
from winback.risk.model import ModelScorer
from winback.risk.training import fits_per_model
from winback.sim.generator import SimConfig, Simulation
from winback.store import migrate
from winback.store.eventlog import append_groups
from winback.store.tables import customer_risk, outbox, usage_cohorts

from .support import api_app, body, log_events, nps, rows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def at(day: float) -> str:
    return (NOW - timedelta(days=30) + timedelta(days=day)).isoformat()


def history(customer: str, prefix: str) -> list[dict[str, Any]]:
    return [
        body(f"{prefix}-1", "login", customer, occurred_at=at(0)),
        body(f"{prefix}-2", "complaint", customer, occurred_at=at(20), text="I was overcharged"),
        body(f"{prefix}-3", "complaint", customer, occurred_at=at(21), text="Charged twice!"),
        nps(f"{prefix}-4", 2, customer, occurred_at=at(22)),
        body(f"{prefix}-5", "complaint", customer, occurred_at=at(23), text="Still overcharged"),
    ]


def test_the_processor_keeps_each_customers_risk_and_flags_a_jump(engine: Engine) -> None:
    log_events(engine, NOW, *history("cus-1", "a"), body("q-1", "login", "cus-2"))
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    found = {r.customer_id: r for r in rows(engine, sa.select(customer_risk))}
    assert set(found) == {"cus-1", "cus-2"}
    angry, quiet = found["cus-1"], found["cus-2"]
    assert angry.probability > 0.5 > 0.2 > quiet.probability
    assert angry.model_version == COLD_START_VERSION
    assert angry.horizon_days == 90
    assert angry.features["complaints_7d"] == 3
    assert angry.features["last_nps"] == 2
    texts = [r["text"] for r in angry.reasons]
    assert texts[0].startswith("3 complaints")
    assert angry.jumped_at is not None
    jumps = rows(engine, sa.select(outbox).where(outbox.c.topic == "risk.jumped"))
    assert jumps
    assert {j.payload["customer_id"] for j in jumps} == {"cus-1"}


def test_late_and_out_of_order_events_give_the_same_risk(engine: Engine) -> None:
    ordered = history("cus-a", "a")
    shuffled = history("cus-b", "b")
    random.Random(3).shuffle(shuffled)
    log_events(engine, NOW, *ordered)
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    for event in shuffled:  # one at a time: each is late for the ones logged before it
        log_events(engine, NOW, event)
        Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    found = {r.customer_id: r for r in rows(engine, sa.select(customer_risk))}
    assert found["cus-a"].probability == found["cus-b"].probability
    assert found["cus-a"].features == found["cus-b"].features


def test_usage_readings_are_counted_per_cohort_and_a_low_user_reads_below_it(
    engine: Engine,
) -> None:
    plan = {"plan": "postpaid"}
    bodies = []
    for week in range(6):
        for i in range(8):
            customer = f"cus-{i}"
            gb = 1.0 if i == 0 else 4.0 + i / 10
            bodies.append(
                body(
                    f"u-{i}-{week}",
                    "usage",
                    customer,
                    occurred_at=at(week * 5),
                    attributes={"data_gb": gb},
                    customer_fields=plan,
                )
            )
    # Two batches of events and two processor runs: the counts add up across batches.
    log_events(engine, NOW, *bodies[:20])
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    log_events(engine, NOW, *bodies[20:])
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    counts: dict[str, int] = {}
    for row in rows(engine, sa.select(usage_cohorts)):
        counts[row.cohort] = counts.get(row.cohort, 0) + row.readings
    assert counts == {"data_gb:postpaid": 48, "data_gb:*": 48}
    found = {r.customer_id: r for r in rows(engine, sa.select(customer_risk))}
    low, usual = found["cus-0"], found["cus-5"]
    assert -0.85 < low.features["usage_level"] < -0.7
    assert abs(usual.features["usage_level"]) < 0.15
    assert low.probability > usual.probability
    assert low.reasons[0]["feature"] == "usage_level"


def test_the_api_shows_risk_and_lists_customers_most_at_risk(tmp_path: Path) -> None:
    client, config, engine = api_app(tmp_path, NOW)
    with client:
        log_events(engine, NOW, *history("cus-1", "a"), body("q-1", "login", "cus-2"))
        build_processor(config, engine, FrozenClock(NOW)).run_until_idle()
        customer = client.get("/v1/customers/cus-1").json()
        listed = client.get("/v1/customers", params={"order": "-risk"}).json()["items"]
        only_high = client.get("/v1/customers", params={"min_risk": 0.5}).json()["items"]
        bad = client.get("/v1/customers", params={"order": "name"})
        [case] = client.get("/v1/cases", params={"customer": "cus-1"}).json()["items"]
        on_case = client.get(f"/v1/cases/{case['id']}").json()["customer_risk"]
    risk = customer["risk"]
    assert risk["model_version"] == COLD_START_VERSION
    assert risk["reasons"][0]["text"].startswith("3 complaints")
    assert risk["features"]["complaints_7d"] == 3
    assert risk["horizon_days"] == 90
    assert [c["id"] for c in listed] == ["cus-1", "cus-2"]
    assert listed[0]["probability"] == risk["probability"]
    assert listed[0]["reasons"]
    assert [c["id"] for c in only_high] == ["cus-1"]
    assert bad.status_code == 422
    assert on_case["probability"] == risk["probability"]
    assert on_case["reasons"] == risk["reasons"]


def _simulated_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    from winback.store.engine import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    sim = Simulation(SimConfig(industry="telecom", customers=250, days=220, seed=5))
    bodies = list(sim.events())
    for start in range(0, len(bodies), 1000):
        groups = [[parse_event(b) for b in bodies[start : start + 1000]]]
        append_groups(engine, groups, NOW)
    engine.dispose()
    return url


def test_train_from_history_then_activate_and_the_processor_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _simulated_store(tmp_path)
    models = tmp_path / "models"
    monkeypatch.setenv("WINBACK_DATABASE_URL", url)
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "churn", "--models-dir", str(models), "--step-days", "15"]
    )
    assert trained.exit_code == 0, trained.output
    assert "history:" in trained.output
    assert "not active" in trained.output
    # Progress on stderr (a line per tenth of the work where stderr is not a terminal).
    assert "replaying history: events" in trained.stderr
    assert "fitting on" in trained.stderr
    assert f"{fits_per_model()}/{fits_per_model()}" in trained.stderr
    [info] = ModelRegistry(models).list("churn")
    assert info.meta["source"] == "history"
    assert info.metrics["chosen"] in ("logistic", "gradient_boosting")
    assert "grouped by customer" in info.metrics["validation"]
    assert 0.0 < info.metrics["roc_auc"] <= 1.0
    listed = runner.invoke(app, ["models", "list", "--models-dir", str(models)])
    assert listed.exit_code == 0
    assert info.version in listed.output
    assert not listed.output.startswith("*")
    activated = runner.invoke(
        app, ["models", "activate", info.version, "--models-dir", str(models)]
    )
    assert activated.exit_code == 0, activated.output
    assert ModelRegistry(models).active("churn") == info.version
    settings = Settings(database_url=url, models_dir=models)
    [stage] = [s for s in build_stages(settings) if s.name == "risk"]
    assert isinstance(stage, RiskStage)
    assert isinstance(stage.scorer, ModelScorer)
    assert stage.scorer.version == info.version
    missing = runner.invoke(app, ["models", "activate", "churn-nope", "--models-dir", str(models)])
    assert missing.exit_code == 2


def test_too_short_a_history_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine
) -> None:
    log_events(sqlite_engine, NOW, *history("cus-1", "a"))
    monkeypatch.setenv("WINBACK_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["train", "churn", "--models-dir", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "history too short" in result.output


def _customer_csv(path: Path, n: int = 300) -> None:
    rng = random.Random(2)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "contract", "tickets", "tenure", "churned"])
        for i in range(n):
            contract = rng.choice(["monthly", "yearly"])
            tickets, tenure = rng.randint(0, 6), rng.randint(1, 60)
            logit = -1 + (1.2 if contract == "monthly" else -1) + 0.5 * tickets - tenure / 20
            churned = logit + rng.gauss(0, 1) > 0
            writer.writerow([f"c{i}", contract, tickets, tenure, "Yes" if churned else "No"])


def test_train_and_evaluate_from_a_csv(tmp_path: Path) -> None:
    data = tmp_path / "customers.csv"
    _customer_csv(data)
    models, out = tmp_path / "models", tmp_path / "eval.json"
    runner = CliRunner()
    trained = runner.invoke(
        app,
        [
            "train",
            "churn",
            "--csv",
            str(data),
            "--label",
            "churned",
            "--id",
            "customer_id",
            "--models-dir",
            str(models),
            "--activate",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert f"fitting on 300 rows {fits_per_model()}/{fits_per_model()}" in trained.stderr
    [info] = ModelRegistry(models).list("churn")
    assert info.active
    assert info.meta["inputs"]["categorical"] == ["contract"]
    assert "customer_id" not in info.meta["inputs"]["numeric"]
    model = ModelRegistry(models).load(info.version).artifact
    risky = model.score({"contract": "monthly", "tickets": "6", "tenure": 2})
    assert risky.probability > 0.7
    assert risky.reasons
    evaluated = runner.invoke(
        app,
        [
            "evaluate",
            "churn",
            "--csv",
            str(data),
            "--label",
            "churned",
            "--id",
            "customer_id",
            "--folds",
            "3",
            "--out",
            str(out),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    total = 3 * fits_per_model()
    assert "cross-validating 300 rows 1/" in evaluated.stderr
    assert f"cross-validating 300 rows {total}/{total} (fold 3/3, " in evaluated.stderr
    report = json.loads(out.read_text())
    assert report["roc_auc"] > 0.75
    for key in ("pr_auc", "brier", "reliability", "top_decile_lift"):
        assert key in report
    assert "ROC AUC" in evaluated.output
    wrong = runner.invoke(app, ["evaluate", "churn", "--csv", str(data), "--label", "nope"])
    assert wrong.exit_code == 2
    assert "no column 'nope'" in wrong.output


def test_an_sla_breach_the_customer_suffered_counts_from_their_next_event(engine: Engine) -> None:
    from winback.services.sla_timers import TimerService
    from winback.sla.config import parse_sla
    from winback.sla.engine import SlaEngine

    config = parse_sla(
        {"policies": [{"name": "fast", "targets": {"first_response": "1h", "resolution": "8h"}}]}
    )
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, business hours
    clock = FrozenClock(start)
    log_events(engine, start, body("s-1", "complaint", "cus-1", occurred_at=start.isoformat()))
    Processor(engine, default_stages(sla=SlaEngine(config)), clock).run_until_idle()
    [before] = rows(engine, sa.select(customer_risk))
    assert before.features["sla_breaches_7d"] == 0
    clock.advance(timedelta(hours=2))  # nobody answered within the hour
    fired = TimerService(engine, clock, SlaEngine(config)).fire_due()
    assert any(f.kind == "breach" for f in fired)
    later = clock.now().isoformat()
    log_events(engine, clock.now(), body("s-2", "message", "cus-1", occurred_at=later, text="?"))
    Processor(engine, default_stages(sla=SlaEngine(config)), clock).run_until_idle()
    [after] = rows(engine, sa.select(customer_risk))
    assert after.features["sla_breaches_7d"] == 1
    assert after.probability > before.probability
