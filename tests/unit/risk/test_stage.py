from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from winback.clock import FrozenClock
from winback.customers.profile import Customer, apply_event
from winback.events.model import Event
from winback.pipeline.stage import EventContext
from winback.risk.coldstart import COLD_START_VERSION, ColdStartScorer
from winback.risk.scoring import CustomerRisk, RiskResult
from winback.risk.stage import JUMP_TOPIC, RiskStage

from .support import T0, Text, ev


@dataclass
class RiskUnit:
    clock: FrozenClock
    customers: dict[str, Customer] = field(default_factory=dict)
    risks: dict[str, CustomerRisk] = field(default_factory=dict)
    effects: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    cases: dict[str, Any] = field(default_factory=dict)  # customer id -> open case
    sla: dict[int, Any] = field(default_factory=dict)  # case id -> SlaState

    def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def open_case(self, customer_id: str) -> Any:
        return self.cases.get(customer_id)

    def resolved_case(self, customer_id: str) -> Any:
        return None

    def sla_state(self, case: Any) -> Any:
        return self.sla.get(case.id)

    def customer_risk(self, customer_id: str) -> CustomerRisk | None:
        return self.risks.get(customer_id)

    def save_customer_risk(self, risk: CustomerRisk) -> None:
        self.risks[risk.customer_id] = risk

    def emit(self, topic: str, key: str, payload: dict[str, Any], case: Any = None) -> None:
        self.effects.append((topic, key, payload))


def run(unit: RiskUnit, stage: RiskStage, event: Event, text: Any = None) -> RiskResult:
    customer = apply_event(
        unit.customers.get(event.customer_id), event.customer, event.occurred_at, T0
    )
    unit.customers[customer.id] = customer
    ctx = EventContext(event=event, customer=customer)
    if text is not None:
        ctx.results["text"] = text
    stage.process(ctx, unit)  # type: ignore[arg-type]
    result = ctx.results["risk"]
    assert isinstance(result, RiskResult)
    return result


@pytest.fixture
def unit() -> RiskUnit:
    return RiskUnit(FrozenClock(datetime(2026, 3, 1, tzinfo=T0.tzinfo)))


def test_a_quiet_customer_has_a_low_cold_start_risk(unit: RiskUnit) -> None:
    result = run(unit, RiskStage(), ev("a", "login", 1))
    assert result.probability < 0.2
    assert result.model_version == COLD_START_VERSION
    assert result.horizon_days == 90
    assert not result.jumped
    assert unit.risks["c1"].probability == result.probability


def test_complaints_raise_the_risk_with_reasons_in_words_and_a_jump(unit: RiskUnit) -> None:
    stage = RiskStage(jump_delta=0.15, jump_min=0.3)
    first = run(unit, stage, ev("a", "login", 1))
    results = [
        run(unit, stage, ev(f"c{i}", "complaint", 2 + i, text="awful"), Text(category="billing"))
        for i in range(3)
    ]
    assert results[-1].probability > first.probability + 0.3
    assert results[-1].reasons[0] == "3 complaints about billing in 7 days"
    assert any(r.jumped for r in results)
    jumps = [e for e in unit.effects if e[0] == JUMP_TOPIC]
    assert jumps
    assert jumps[0][1].startswith("risk.jumped:")
    assert jumps[0][2]["customer_id"] == "c1"
    assert unit.risks["c1"].jumped_at is not None


def test_the_stored_risk_does_not_depend_on_arrival_order(unit: RiskUnit) -> None:
    events = [
        ev("a", "login", 1),
        ev("b", "complaint", 30, text="x"),
        ev("c", "survey.response", 31, score={"kind": "nps", "value": 2}),
        ev("d", "usage", 2, attributes={"sessions": 9}),
        ev("e", "payment.failed", 32, amount=9.0, currency="EUR"),
    ]
    baseline = RiskUnit(unit.clock)
    for e in events:
        run(baseline, RiskStage(), e)
    shuffled = events[:] + events[:2]
    random.Random(4).shuffle(shuffled)
    for e in shuffled:
        run(unit, RiskStage(), e)
    assert unit.risks["c1"].probability == baseline.risks["c1"].probability
    assert unit.risks["c1"].features == baseline.risks["c1"].features


def test_a_cancellation_is_certain_churn(unit: RiskUnit) -> None:
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


def test_the_sla_hook_feeds_breaches(unit: RiskUnit) -> None:
    customer = apply_event(None, {"id": "c1"}, T0, T0)
    unit.customers["c1"] = customer
    ctx = EventContext(event=ev("a", "complaint", 1, text="x"), customer=customer)
    ctx.results["sla_breaches"] = [("case-1:first_response", T0)]
    RiskStage().process(ctx, unit)  # type: ignore[arg-type]
    assert unit.risks["c1"].features["sla_breaches_7d"] == 1


def test_breaches_in_the_open_cases_sla_state_are_counted_once(unit: RiskUnit) -> None:
    from types import SimpleNamespace

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
    unit.cases["c1"] = SimpleNamespace(id=7, customer_id="c1")
    unit.sla[7] = sla
    run(unit, RiskStage(), ev("a", "complaint", 2, text="x"))
    run(unit, RiskStage(), ev("b", "message", 3, text="y"))  # seen again: still two
    risk = unit.risks["c1"]
    assert risk.features["sla_breaches_7d"] == 2
    assert {k for k in risk.state.signals if k.startswith("sla:")} == {
        "sla:7:resolution:1",
        "sla:7:first_response:1",
    }


def test_one_far_future_event_does_not_blind_the_risk(unit: RiskUnit) -> None:
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
