from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from winback.cases.rules import decide
from winback.cases.transitions import open_case
from winback.clock import FrozenClock
from winback.customers.profile import apply_event
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages.risk import JUMP_TOPIC, RiskStage
from winback.risk.coldstart import COLD_START_VERSION, ColdStartScorer
from winback.risk.scoring import RiskResult
from winback.text.analyzer import TextAnalysis

from .support import T0, Text, ev


def run(
    unit: MemoryUnit, stage: RiskStage, event: Event, text: TextAnalysis | None = None
) -> RiskResult:
    customer = apply_event(
        unit.customers.get(event.customer_id), event.customer, event.occurred_at, T0
    )
    unit.customers[customer.id] = customer
    ctx = EventContext(event=event, customer=customer, text=text)
    stage.process(ctx, unit)
    result = ctx.risk
    assert isinstance(result, RiskResult)
    return result


@pytest.fixture
def unit() -> MemoryUnit:
    return MemoryUnit(FrozenClock(datetime(2026, 3, 1, tzinfo=T0.tzinfo)))


def test_a_quiet_customer_has_a_low_cold_start_risk(unit: MemoryUnit) -> None:
    result = run(unit, RiskStage(), ev("a", "login", 1))
    assert result.probability < 0.2
    assert result.model_version == COLD_START_VERSION
    assert result.horizon_days == 90
    assert not result.jumped
    assert unit.risks["c1"].probability == result.probability


def test_complaints_raise_the_risk_with_reasons_in_words_and_a_jump(unit: MemoryUnit) -> None:
    stage = RiskStage(jump_delta=0.15, jump_min=0.3)
    first = run(unit, stage, ev("a", "login", 1))
    results = [
        run(unit, stage, ev(f"c{i}", "complaint", 2 + i, text="awful"), Text(category="billing"))
        for i in range(3)
    ]
    assert results[-1].probability > first.probability + 0.3
    assert results[-1].reasons[0] == "3 complaints about billing in 7 days"
    assert any(r.jumped for r in results)
    jumps = [fx for fx in unit.effects.values() if fx.topic == JUMP_TOPIC]
    assert jumps
    assert jumps[0].key.startswith("risk.jumped:")
    assert jumps[0].payload["customer_id"] == "c1"
    assert unit.risks["c1"].jumped_at is not None


def test_the_stored_risk_does_not_depend_on_arrival_order(unit: MemoryUnit) -> None:
    events = [
        ev("a", "login", 1),
        ev("b", "complaint", 30, text="x"),
        ev("c", "survey.response", 31, score={"kind": "nps", "value": 2}),
        ev("d", "usage", 2, attributes={"sessions": 9}),
        ev("e", "payment.failed", 32, amount=9.0, currency="EUR"),
    ]
    baseline = MemoryUnit(unit.clock)
    for e in events:
        run(baseline, RiskStage(), e)
    shuffled = events[:] + events[:2]
    random.Random(4).shuffle(shuffled)
    for e in shuffled:
        run(unit, RiskStage(), e)
    assert unit.risks["c1"].probability == baseline.risks["c1"].probability
    assert unit.risks["c1"].features == baseline.risks["c1"].features


def test_a_cancellation_is_certain_churn(unit: MemoryUnit) -> None:
    result = run(unit, RiskStage(), ev("x", "subscription.cancelled", 3))
    assert result.probability == 1.0
    assert result.reasons == ("cancelled their subscription",)


def test_cold_start_weights_are_configurable() -> None:
    features = {"complaints_7d": 2.0, "payment_failures_30d": 1.0}
    default = ColdStartScorer().score(features)
    heavier = ColdStartScorer(weights={"payment_failures_30d": 3.0}).score(features)
    assert heavier.probability > default.probability
    assert heavier.reasons[0].text == "1 failed payment in 30 days"
    with pytest.raises(ValueError, match="unknown"):
        ColdStartScorer(weights={"nope": 1.0})


def test_the_sla_hook_feeds_breaches(unit: MemoryUnit) -> None:
    customer = apply_event(None, {"id": "c1"}, T0, T0)
    unit.customers["c1"] = customer
    ctx = EventContext(event=ev("a", "complaint", 1, text="x"), customer=customer)
    ctx.sla_breaches = [("case-1:first_response", T0)]
    RiskStage().process(ctx, unit)
    assert unit.risks["c1"].features["sla_breaches_7d"] == 1


def test_breaches_in_the_open_cases_sla_state_are_counted_once(unit: MemoryUnit) -> None:
    from winback.sla.policy import CaseFacts
    from winback.sla.tracking import ClockRun, Measurement, SlaState

    start = T0 + timedelta(days=1)
    sla = SlaState(policy="standard", facts=CaseFacts(priority="P2"))
    sla.clocks["resolution"] = ClockRun("resolution", 1, start, breached=True)
    sla.clocks["next_response"] = ClockRun("next_response", 2, start)  # running, not breached
    sla.history.append(
        Measurement(
            "first_response",
            1,
            start,
            start + timedelta(hours=9),
            3600.0,
            32400.0,
            32400.0,
            0.0,
            True,
            "breached",
        )
    )
    opening = ev("o", "complaint", 1)
    decision = decide(opening)
    assert decision is not None
    change = open_case(decision, opening, None, T0)
    unit.record(change, opening)  # the customer's open case, with that SLA state
    case_id = change.case.id
    assert case_id is not None
    unit.sla[case_id] = (sla, [])
    run(unit, RiskStage(), ev("a", "complaint", 2, text="x"))
    run(unit, RiskStage(), ev("b", "message", 3, text="y"))  # seen again: still two
    risk = unit.risks["c1"]
    assert risk.features["sla_breaches_7d"] == 2
    assert {k for k in risk.state.signals if k.startswith("sla:")} == {
        f"sla:{case_id}:resolution:1",
        f"sla:{case_id}:first_response:1",
    }


def test_one_far_future_event_does_not_blind_the_risk(unit: MemoryUnit) -> None:
    # Five complaints in a week, then a login stamped 9999-01-01 but received on the next day
    # (as logged before ingest refused far-future stamps). Windows measured back from 9999
    # would hold none of the complaints, and retention would prune them from the state.
    stage = RiskStage()
    complaints = [
        run(unit, stage, ev(f"c{i}", "complaint", 50 + i, text="awful"), Text()) for i in range(5)
    ]
    received = T0 + timedelta(days=56)
    unit.clock.set(received)
    far = datetime(9999, 1, 1, tzinfo=UTC)
    after = run(
        unit, stage, Event(9, "far", "login", "c1", far, received, {"customer": {"id": "c1"}})
    )

    assert complaints[-1].probability > 0.9
    assert after.probability >= complaints[-1].probability - 0.05
    assert after.features["complaints_7d"] == 5
    assert len(unit.risks["c1"].state.signals) == 6  # nothing pruned
    assert unit.risks["c1"].as_of == received
