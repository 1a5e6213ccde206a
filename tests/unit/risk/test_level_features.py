"""Level features: usage against the cohort's, usage and score averages, days since contact."""

from __future__ import annotations

import random
import statistics
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from winback.clock import FrozenClock
from winback.customers.cohort import (
    BINS,
    MAX_COHORTS,
    MIN_READINGS,
    CohortUsage,
    Histogram,
    bin_of,
)
from winback.customers.features import (
    NO_CONTACT_DAYS,
    Profile,
    build_state,
    compute_features,
    usage_reading,
)
from winback.customers.profile import apply_event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages.risk import RiskStage
from winback.risk.coldstart import ColdStartScorer
from winback.risk.reasons import describe

from .support import T0, ev


def cohort_of(values: list[float], measure: str = "data_gb", plan: str = "postpaid") -> CohortUsage:
    cohorts = CohortUsage()
    for value in values:
        cohorts.add(measure, plan, value)
    return cohorts


# -- the cohort's histogram ---------------------------------------------------------------------
def test_the_median_is_the_readings_median_within_the_bins_resolution() -> None:
    rng = random.Random(3)
    for _ in range(20):
        values = [rng.lognormvariate(rng.uniform(-2, 5), rng.uniform(0.1, 1.5)) for _ in range(501)]
        median = cohort_of(values).median("data_gb", "postpaid")
        assert median is not None
        # Eight bins an octave: a bin is 9 % wide, the interpolation lands inside it.
        assert abs(median / statistics.median(values) - 1) < 0.09


def test_the_cohort_is_the_same_whatever_the_order_of_its_readings() -> None:
    rng = random.Random(5)
    values = [rng.choice([0.0, rng.uniform(0, 12)]) for _ in range(300)]
    ordered = cohort_of(values)
    for _ in range(10):
        shuffled = list(values)
        rng.shuffle(shuffled)
        other = cohort_of(shuffled)
        assert sorted(other.rows()) == sorted(ordered.rows())
        assert other.median("data_gb", "postpaid") == ordered.median("data_gb", "postpaid")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=80), st.randoms())
def test_the_running_median_equals_one_computed_from_the_counts(
    values: list[float], rng: random.Random
) -> None:
    running = Histogram()
    rng.shuffle(values)
    for value in values:
        running.add(bin_of(value))
    fresh = Histogram.of((b, n) for b, n in enumerate(running.counts))
    assert running.median() == fresh.median()
    assert running.total == len(values)


def test_the_cohorts_are_bounded_whatever_the_number_of_readings_or_plans() -> None:
    cohorts = CohortUsage()
    rng = random.Random(1)
    for i in range(20_000):
        cohorts.add("sessions", f"plan-{i % 500}", rng.expovariate(0.01))
    assert len(cohorts.cohorts) <= MAX_COHORTS
    assert all(len(h.counts) == BINS for h in cohorts.cohorts.values())
    # A plan beyond the bound still counts in its measure's cohort.
    assert cohorts.cohorts["sessions:*"].total == 20_000
    assert cohorts.median("sessions", "plan-499") is not None


def test_a_plan_answers_once_it_has_enough_readings_else_its_measure_does() -> None:
    cohorts = cohort_of([10.0] * MIN_READINGS, plan="business")
    for _ in range(MIN_READINGS - 1):
        cohorts.add("data_gb", "prepaid", 1.0)
    business = cohorts.median("data_gb", "business")
    assert business is not None
    assert abs(business / 10 - 1) < 0.05
    across = cohorts.median("data_gb", "prepaid")  # too few of its own: the measure's median
    assert across is not None
    assert across > 1.5
    assert cohorts.median("sessions", "prepaid") is None  # another measure: no reference
    assert CohortUsage().median("data_gb", None) is None


def test_pending_readings_are_what_a_store_adds_and_loading_them_gives_the_same_cohort() -> None:
    cohorts = cohort_of([1.0, 2.0, 2.0, 0.0])
    pending = cohorts.take_pending()
    assert sum(pending.values()) == 8  # four readings, each in its plan's and measure's cohort
    assert cohorts.take_pending() == {}
    loaded = CohortUsage((k, b, n) for (k, b), n in pending.items())
    assert sorted(loaded.rows()) == sorted(cohorts.rows())


# -- the features -------------------------------------------------------------------------------
def usage(event_id: str, day: float, gb: float) -> Any:
    return ev(event_id, "usage", day, attributes={"data_gb": gb, "call_minutes": 60})


def features(*events: Any, cohorts: CohortUsage | None = None, plan: str = "postpaid") -> Any:
    state = build_state((e, None) for e in events)
    return compute_features(state, Profile(plan=plan), None, cohorts)


def test_usage_level_compares_the_last_30_days_with_the_cohorts_median() -> None:
    cohorts = cohort_of([4.0] * 100)
    weeks = [usage(f"u{d}", d, 2.0) for d in range(0, 63, 7)]
    f = features(*weeks, cohorts=cohorts)
    assert f["usage_30d"] == 2.0
    assert f["usage_90d"] == 2.0
    assert -0.53 < f["usage_level"] < -0.47  # half the cohort's usage
    # Its own trend is about flat: only the level shows this customer uses little.
    assert abs(f["usage_trend"]) < 0.1
    assert describe("usage_level", {"usage_level": -0.5}) == "usage 50 % below similar customers'"
    heavy = features(*[usage(f"u{d}", d, 9.0) for d in range(0, 63, 7)], cohorts=cohorts)
    assert 1.1 < heavy["usage_level"] < 1.3
    assert describe("usage_level", {"usage_level": 1.25}) == "usage 2.2 times similar customers'"


def test_usage_level_is_minus_one_after_usage_stops_and_zero_without_a_reference() -> None:
    cohorts = cohort_of([4.0] * 100)
    stopped = [usage(f"u{d}", d, 4.0) for d in range(0, 50, 7)] + [ev("l", "login", 90)]
    f = features(*stopped, cohorts=cohorts)
    assert f["usage_level"] == -1.0
    assert f["usage_30d"] == 0.0
    assert describe("usage_level", f).startswith("no usage in 30 days")
    assert features(*stopped)["usage_level"] == 0.0  # no cohorts given
    assert features(*stopped, cohorts=cohort_of([4.0] * 5))["usage_level"] == 0.0  # too few
    assert features(ev("m", "message", 1, text="hi"), cohorts=cohorts)["usage_level"] == 0.0
    # Another measure's cohort is no reference.
    sessions = [ev(f"s{d}", "usage", d, attributes={"sessions": 3}) for d in range(0, 30, 7)]
    assert features(*sessions, cohorts=cohorts)["usage_level"] == 0.0


def test_usage_reading_names_the_measure_the_cohort_counts() -> None:
    assert usage_reading(usage("u", 0, 3.5)) == ("data_gb", 3.5)
    assert usage_reading(ev("s", "usage", 0, attributes={"sessions": 4})) == ("sessions", 4.0)
    assert usage_reading(ev("a", "usage", 0, amount=12.5)) == ("amount", 12.5)
    assert usage_reading(ev("c", "usage", 0)) == ("count", 1.0)
    assert usage_reading(ev("l", "login", 0)) is None


def score(event_id: str, day: float, kind: str, value: int) -> Any:
    return ev(event_id, "survey.response", day, score={"kind": kind, "value": value})


def test_score_mean_averages_every_kind_of_score_in_90_days() -> None:
    f = features(
        score("old", 0, "nps", 0),  # outside the 90 days
        score("a", 20, "nps", 0),  # -1
        score("b", 30, "csat", 4),  # 0.5
        score("c", 40, "ces", 7),  # -1
        ev("r", "review", 50, attributes={"stars": 5}),  # 1
        ev("m", "message", 100, text="hi"),
    )
    assert f["score_mean_90d"] == -0.125
    assert describe("score_mean_90d", f) == (
        "surveys and reviews below the midpoint on average in 90 days"
    )
    assert features(ev("m", "message", 1, text="hi"))["score_mean_90d"] == 0.0
    assert describe("score_mean_90d", {"score_mean_90d": -0.6}) == (
        "surveys and reviews poor on average in 90 days"
    )


def test_days_since_contact_outlasts_the_signals_retention() -> None:
    f = features(ev("m", "message", 0, text="hi"), ev("u", "login", 10))
    assert f["days_since_contact"] == 10
    assert describe("days_since_contact", f) == "contacted us 10 days ago"
    # 200 days later the message's signal is pruned (120-day retention); its date is kept.
    late = features(ev("m", "message", 0, text="hi"), ev("u", "login", 200))
    assert late["days_since_contact"] == 200
    never = features(ev("u", "login", 3))
    assert never["days_since_contact"] == NO_CONTACT_DAYS
    assert describe("days_since_contact", never) == "no contact on record"


# -- the score and the stage ------------------------------------------------------------------
def test_the_cold_start_score_rises_with_usage_below_the_cohort_and_says_so() -> None:
    cohorts = cohort_of([4.0] * 100)
    scorer = ColdStartScorer()
    low = features(*[usage(f"u{d}", d, 1.0) for d in range(0, 63, 7)], cohorts=cohorts)
    usual = features(*[usage(f"u{d}", d, 4.0) for d in range(0, 63, 7)], cohorts=cohorts)
    high = features(*[usage(f"u{d}", d, 12.0) for d in range(0, 63, 7)], cohorts=cohorts)
    p_low, p_usual, p_high = (scorer.score(f) for f in (low, usual, high))
    assert p_low.probability > p_usual.probability > p_high.probability
    assert p_low.reasons[0].feature == "usage_level"
    assert p_low.reasons[0].text.endswith("% below similar customers'")
    assert not any(r.feature == "usage_level" for r in p_high.reasons)


def test_the_stage_counts_each_usage_reading_in_the_customers_cohort() -> None:
    unit = MemoryUnit(FrozenClock(T0))
    stage = RiskStage(ColdStartScorer())
    for i in range(MIN_READINGS + 10):
        customer_id = f"c{i % 5}"
        gb = 1.0 if customer_id == "c0" else 4.0
        event = ev(f"u{i}", "usage", i, customer=customer_id, attributes={"data_gb": gb})
        event.data["customer"]["plan"] = "postpaid"
        customer = apply_event(
            unit.customers.get(customer_id), event.customer, event.occurred_at, event.occurred_at
        )
        unit.customers[customer_id] = customer
        ctx = EventContext(event=event, customer=customer)
        stage.process(ctx, unit)
    assert unit.cohorts.cohorts["data_gb:postpaid"].total == MIN_READINGS + 10
    assert unit.cohorts.cohorts["data_gb:*"].total == MIN_READINGS + 10
    c0 = unit.risks["c0"].features
    assert -0.8 < c0["usage_level"] < -0.7
    assert unit.risks["c0"].probability > unit.risks["c1"].probability


def test_two_measures_at_one_time_pick_the_same_cohort_in_either_order() -> None:
    cohorts = cohort_of([4.0] * 100)
    for _ in range(MIN_READINGS):
        cohorts.add("sessions", "postpaid", 10.0)
    gb = usage("u1", 5, 2.0)
    sessions = ev("u2", "usage", 5, attributes={"sessions": 10})
    assert features(gb, sessions, cohorts=cohorts) == features(sessions, gb, cohorts=cohorts)
