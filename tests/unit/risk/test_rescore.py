"""Risk that moves with time: re-scoring a customer's stored row later, with no new event."""

from __future__ import annotations

from datetime import timedelta

from winback.clock import FrozenClock
from winback.customers.features import Profile, as_datetime, compute_features
from winback.customers.profile import Customer, apply_event
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages.risk import JUMP_TOPIC, RiskStage
from winback.risk.coldstart import COLD_START_VERSION, ColdStartScorer
from winback.risk.scoring import CustomerRisk
from winback.services.risk_rescore import rescored

from .support import T0, ev

DAYS = 60  # a customer who used the product every day for two months, then went silent


def processed(events: list[Event]) -> tuple[CustomerRisk, Customer, MemoryUnit]:
    """The customer's row as the processor's risk stage leaves it after ``events``."""
    unit = MemoryUnit(FrozenClock(T0 + timedelta(days=DAYS)))
    stage = RiskStage()
    customer: Customer | None = None
    for event in events:
        customer = apply_event(customer, event.customer, event.occurred_at, T0)
        stage.process(EventContext(event=event, customer=customer), unit)
    assert customer is not None
    return unit.risks["c1"], customer, unit


def daily_usage() -> list[Event]:
    return [
        ev(f"u{day}", "usage", day, seq=day + 1, attributes={"sessions": 3}) for day in range(DAYS)
    ]


def test_silence_raises_the_risk_when_re_scored_later_with_no_new_event() -> None:
    row, customer, _ = processed(daily_usage())
    last_event = as_datetime(row.state.max_ts or 0)
    later = last_event + timedelta(days=31)

    plan = rescored(row, customer, ColdStartScorer(), later)

    assert abs(row.features["usage_trend"]) < 0.1  # as of the last event: usage as usual
    assert abs(row.features["activity_trend"]) < 0.1
    assert plan.risk.features["usage_trend"] == -1.0  # as of now: none in 30 days
    assert plan.risk.features["activity_trend"] == -1.0
    assert plan.risk.features["days_since_last_event"] == 31.0
    assert plan.risk.probability > row.probability + 0.3
    assert any(r["feature"] == "usage_trend" for r in plan.risk.reasons)
    assert plan.risk.as_of == later
    assert plan.risk.updated_at == later
    assert plan.read_at == row.updated_at
    assert plan.risk.state is row.state  # the feature state is the processor's alone
    assert plan.jump is not None
    assert plan.jump.topic == JUMP_TOPIC
    assert plan.jump.key == f"risk.jumped:rescore:c1:{later.isoformat()}"
    assert plan.jump.payload["previous"] == row.probability
    assert plan.jump.payload["event_id"] is None
    assert plan.risk.jumped_at == later


def test_complaints_age_out_of_their_windows_as_time_passes() -> None:
    events = [
        ev("a", "login", 0, seq=1),
        *(ev(f"c{i}", "complaint", 40 + i, seq=2 + i, text="awful") for i in range(3)),
    ]
    row, customer, _ = processed(events)
    later = as_datetime(row.state.max_ts or 0) + timedelta(days=8)

    plan = rescored(row, customer, ColdStartScorer(), later)

    assert row.features["complaints_7d"] == 3.0
    assert plan.risk.features["complaints_7d"] == 0.0
    assert plan.risk.features["complaints_30d"] == 3.0
    assert plan.risk.probability < row.probability
    assert plan.jump is None
    assert plan.risk.jumped_at == row.jumped_at


def test_re_scoring_at_the_last_events_time_changes_nothing() -> None:
    row, customer, unit = processed(daily_usage())
    at = as_datetime(row.state.max_ts or 0)

    plan = rescored(row, customer, ColdStartScorer(), at, cohorts=unit.cohorts)

    assert plan.risk.probability == row.probability
    assert plan.risk.features == row.features
    assert plan.jump is None


def test_a_clock_behind_the_latest_event_never_moves_the_windows_backwards() -> None:
    row, customer, unit = processed(daily_usage())
    behind = as_datetime(row.state.max_ts or 0) - timedelta(days=20)

    plan = rescored(row, customer, ColdStartScorer(), behind, cohorts=unit.cohorts)

    assert plan.risk.features == row.features
    assert plan.risk.as_of == as_datetime(row.state.max_ts or 0)


def test_a_new_models_first_score_is_a_baseline_not_a_jump() -> None:
    row, customer, _ = processed(daily_usage())
    later = as_datetime(row.state.max_ts or 0) + timedelta(days=31)
    new_model = ColdStartScorer(version="cold-start-test")

    plan = rescored(row, customer, new_model, later)

    assert row.model_version == COLD_START_VERSION
    assert plan.risk.model_version == "cold-start-test"
    assert plan.risk.probability > row.probability + 0.3
    assert plan.jump is None


def test_the_stage_still_scores_as_of_the_latest_event() -> None:
    row, customer, unit = processed(daily_usage())

    assert row.features == compute_features(row.state, Profile.of(customer), None, unit.cohorts)
    assert row.as_of == as_datetime(row.state.max_ts or 0)


def test_silence_reads_as_no_usage_against_the_cohort_when_re_scored_with_it() -> None:
    row, customer, unit = processed(daily_usage())
    later = as_datetime(row.state.max_ts or 0) + timedelta(days=31)

    with_cohort = rescored(row, customer, ColdStartScorer(), later, cohorts=unit.cohorts)
    without = rescored(row, customer, ColdStartScorer(), later)

    assert abs(row.features["usage_level"]) < 0.1  # as of the last event: the cohort's usual
    assert with_cohort.risk.features["usage_level"] == -1.0
    assert without.risk.features["usage_level"] == 0.0  # no cohort, no comparison
    assert with_cohort.risk.probability > without.risk.probability
    assert with_cohort.risk.reasons[0]["feature"] == "usage_level"
