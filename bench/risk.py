"""Churn-risk benchmark on the simulator, against its ground truth.

Run with ``.venv/bin/python bench/risk.py`` (``--help`` for the knobs). It simulates a company
(``Simulation(SimConfig(..., record_truth=True))``), then:

1. **cost per event**: runs every event, in time order, through the customer stage and the risk
   stage over an in-memory unit, timing ``RiskStage.process`` alone (p50/p99/max, in µs) —
   first with the cold-start score, then with a trained model;
2. **a model trained on history**: the first half of the run's events go through
   :func:`winback.risk.history.history_dataset` (features at cut-offs, churn within the horizon
   after) and :func:`winback.risk.training.fit_churn_model`;
3. **the live score against the truth**: every ``--every`` days, each customer who has not yet
   left is ranked by their latest live probability; the label is the truth's ``churned_at``
   within ``--horizon`` days after. ROC AUC per day, cold start and trained (the trained model
   is only judged on days after the data it was trained on ends);
4. **how early**: for customers who churned, the first moment in the ``--horizon`` days before
   they left that their live risk reached the top-decile threshold (the 90th percentile of all
   live scores at mid-run), in days before the cancellation.

Results: a summary on stdout and ``bench/results/risk-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from winback.clock import FrozenClock
from winback.customers.features import MAX_SIGNALS, RETENTION_DAYS
from winback.customers.profile import apply_event
from winback.events.model import Event
from winback.events.schema import parse_event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages.risk import RiskStage, assess
from winback.risk.coldstart import ColdStartScorer
from winback.risk.history import MODEL_CATEGORICAL, history_dataset
from winback.risk.model import ModelScorer
from winback.risk.scoring import Scorer
from winback.risk.training import fit_churn_model
from winback.sim.generator import SimConfig, Simulation
from winback.text.analyzer import TextAnalyzer

RESULTS = Path(__file__).parent / "results"
ANALYZER = TextAnalyzer()  # the text stage's default model, as the processor runs it


def to_events(bodies: list[dict[str, Any]]) -> list[Event]:
    out = []
    for seq, body in enumerate(bodies, start=1):
        incoming = parse_event(body)
        at = incoming.occurred_at or datetime.now(UTC)
        out.append(
            Event(
                seq,
                incoming.event_id,
                incoming.type,
                incoming.customer_id,
                at,
                at,
                {**incoming.payload, "occurred_at": at.isoformat()},
            )
        )
    return out


def replay(
    events: list[Event], scorer: Scorer, snapshot_days: list[datetime]
) -> tuple[
    list[float],
    dict[datetime, dict[str, float]],
    dict[datetime, dict[str, float]],
    dict[str, list[tuple[datetime, float]]],
]:
    """Run the events through the stage; return per-event stage times (µs), the latest live
    score of every customer at each snapshot time, the same customers re-scored as of that
    time (what a daily re-score would show), and each customer's score path."""
    unit = MemoryUnit(FrozenClock(events[0].occurred_at))
    stage = RiskStage(scorer)
    times: list[float] = []
    snapshots: dict[datetime, dict[str, float]] = {}
    rescored: dict[datetime, dict[str, float]] = {}
    paths: dict[str, list[tuple[datetime, float]]] = {}
    pending = list(snapshot_days)
    for event in events:
        while pending and event.occurred_at > pending[0]:
            day = pending.pop(0)
            snapshots[day] = {k: r.probability for k, r in unit.risks.items()}
            rescored[day] = {}
            for k, r in unit.risks.items():
                _, again = assess(
                    stage.scorer, r.state, unit.customers[k], day, cohorts=unit.cohorts
                )
                rescored[day][k] = again.probability
        customer = apply_event(
            unit.customers.get(event.customer_id),
            event.customer,
            event.occurred_at,
            event.occurred_at,
        )
        unit.customers[customer.id] = customer
        ctx = EventContext(event=event, customer=customer)
        text = event.text
        if text and text.strip():  # what the text stage leaves (not timed: its own benchmark)
            ctx.text = ANALYZER.analyze(text)
        started = time.perf_counter_ns()
        stage.process(ctx, unit)
        times.append((time.perf_counter_ns() - started) / 1000)
        result = ctx.risk
        assert result is not None
        paths.setdefault(event.customer_id, []).append((event.occurred_at, result.probability))
    return times, snapshots, rescored, paths


def processor_overhead(bodies: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """The real processor on SQLite over the same events, with and without the risk stage:
    wall time per event, three runs each (interleaved), the best of each."""
    import tempfile

    from winback.pipeline.processor import Processor
    from winback.pipeline.stages import default_stages
    from winback.store import migrate
    from winback.store.engine import make_engine
    from winback.store.eventlog import append_groups

    now = datetime.now(UTC)
    best: dict[str, float] = {}
    for _attempt in range(3):
        for name in ("with_risk", "without_risk"):
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                engine = make_engine(f"sqlite:///{tmp}/bench.db")
                migrate.upgrade(engine)
                for start in range(0, len(bodies), 1000):
                    chunk = [parse_event(b) for b in bodies[start : start + 1000]]
                    append_groups(engine, [chunk], now)
                stages = default_stages()
                if name == "without_risk":
                    stages = [s for s in stages if s.name != "risk"]
                processor = Processor(engine, stages, FrozenClock(now))
                started = time.perf_counter()
                processor.run_until_idle()
                per_event = (time.perf_counter() - started) / len(bodies) * 1e6
                engine.dispose()
            best[name] = min(best.get(name, math.inf), per_event)
    return {
        "events": len(bodies),
        "us_per_event_with_risk": round(best["with_risk"], 1),
        "us_per_event_without_risk": round(best["without_risk"], 1),
        "us_per_event_added": round(best["with_risk"] - best["without_risk"], 1),
    }


def heavy_customer(samples: int = 1000) -> dict[str, Any]:
    """One customer at the state's size cap (MAX_SIGNALS within the retention): the stage's
    cost per further event, cold start."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    spacing = RETENTION_DAYS * 24.0 / (MAX_SIGNALS + samples)  # hours: all stay in retention
    unit = MemoryUnit(FrozenClock(start))
    stage = RiskStage(ColdStartScorer())
    times: list[float] = []
    for i in range(MAX_SIGNALS + samples):
        at = start + timedelta(hours=i * spacing)
        kind = "complaint" if i % 5 == 0 else "usage"
        data: dict[str, Any] = {"customer": {"id": "heavy"}}
        data.update(
            {"text": "still broken"} if kind == "complaint" else {"attributes": {"sessions": 3}}
        )
        event = Event(i + 1, f"h{i:06d}", kind, "heavy", at, at, data)
        customer = apply_event(unit.customers.get("heavy"), data["customer"], at, at)
        unit.customers["heavy"] = customer
        ctx = EventContext(event=event, customer=customer)
        started = time.perf_counter_ns()
        stage.process(ctx, unit)
        if i >= MAX_SIGNALS:
            times.append((time.perf_counter_ns() - started) / 1000)
    return {
        "signals_held": len(unit.risks["heavy"].state.signals),
        "stage_us_p50": round(pct(times, 50), 1),
        "stage_us_p99": round(pct(times, 99), 1),
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--industry", default="telecom")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=360)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument(
        "--processor-events",
        type=int,
        default=20000,
        help="events for the processor comparison (0: skip it)",
    )
    args = parser.parse_args()

    config = SimConfig(
        industry=args.industry,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        record_truth=True,
    )
    sim = Simulation(config)
    bodies = list(sim.events())
    events = to_events(bodies)
    events.sort(key=lambda e: (e.occurred_at, e.seq))
    start = sim.time_of(0.0)
    churned_at = {
        c.id: sim.time_of(c.churned_at) for c in sim.customers if c.churned_at is not None
    }
    horizon = timedelta(days=args.horizon)
    days = [start + timedelta(days=d) for d in range(args.every, args.days, args.every)]
    half = start + timedelta(days=args.days // 2)

    # A model trained on the first half of the run only.
    first_half = [e for e in events if e.occurred_at <= half]
    cancels = {}
    for e in first_half:
        if e.type == "subscription.cancelled":
            cancels.setdefault(e.customer_id, e.occurred_at)
    data = history_dataset(
        first_half, cancels, horizon_days=args.horizon, step_days=15, analyze=ANALYZER.analyze
    )
    fit = fit_churn_model(
        data.rows,
        data.labels,
        numeric=data.numeric,
        categorical=MODEL_CATEGORICAL,
        horizon_days=args.horizon,
        groups=data.groups,
    )
    trained = ModelScorer(fit.model, "churn-bench")

    report: dict[str, Any] = {
        "command": "python bench/risk.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "events": len(events),
        "customers": args.customers,
        "churned": len(churned_at),
        "training": {
            "events": len(first_half),
            "snapshots": len(data.rows),
            "churned_snapshots": sum(data.labels),
            "chosen": fit.metrics["chosen"],
            "validation_roc_auc": fit.metrics["roc_auc"],
        },
    }
    for name, scorer in (("cold_start", ColdStartScorer()), ("trained", trained)):
        times, snapshots, rescored, paths = replay(events, scorer, days)
        per_day = []
        for day, scores in snapshots.items():
            if name == "trained" and day < half:
                continue
            alive = [c for c in scores if c not in churned_at or churned_at[c] > day]
            y = [int(c in churned_at and churned_at[c] <= day + horizon) for c in alive]
            if 0 < sum(y) < len(y):
                live = [scores[c] for c in alive]
                again = [rescored[day][c] for c in alive]
                per_day.append(
                    {
                        "day": (day - start).days,
                        "customers": len(alive),
                        "churned": sum(y),
                        "roc_auc": round(float(roc_auc_score(y, live)), 4),
                        "roc_auc_rescored": round(float(roc_auc_score(y, again)), 4),
                    }
                )
        mid_day = min(snapshots, key=lambda d: abs((d - half).total_seconds()))
        mid = snapshots[mid_day]
        # The top-decile threshold among customers still there at mid-run.
        threshold = pct(
            [p for c, p in mid.items() if c not in churned_at or churned_at[c] > mid_day], 90
        )
        leads = []
        for customer_id, at in churned_at.items():
            path = [
                (t, p)
                for t, p in paths.get(customer_id, [])
                if at - horizon <= t < at - timedelta(seconds=1)
            ]
            crossed = [t for t, p in path if p >= threshold]
            if path:
                leads.append((at - crossed[0]).total_seconds() / 86400 if crossed else None)
        flagged = [x for x in leads if x is not None]
        report[name] = {
            "stage_us_p50": round(pct(times, 50), 1),
            "stage_us_p99": round(pct(times, 99), 1),
            "stage_us_max": round(max(times), 1),
            "roc_auc_by_day": per_day,
            "roc_auc_mean": round(statistics.fmean(d["roc_auc"] for d in per_day), 4)
            if per_day
            else None,
            # The same mean over the days the trained model is judged on (from mid-run).
            "roc_auc_mean_second_half": round(
                statistics.fmean(d["roc_auc"] for d in per_day if d["day"] >= (half - start).days),
                4,
            )
            if per_day
            else None,
            "roc_auc_rescored_mean": round(
                statistics.fmean(d["roc_auc_rescored"] for d in per_day), 4
            )
            if per_day
            else None,
            "top_decile_threshold": round(threshold, 4),
            "churners_with_events_before": len(leads),
            "churners_flagged_before": len(flagged),
            "lead_days_median": round(statistics.median(flagged), 1) if flagged else None,
            "lead_days_p25": round(pct(flagged, 25), 1) if flagged else None,
            "lead_days_p75": round(pct(flagged, 75), 1) if flagged else None,
        }
    report["heavy_customer"] = heavy_customer()
    if args.processor_events:
        report["processor"] = processor_overhead(bodies[: args.processor_events], RESULTS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"risk-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
