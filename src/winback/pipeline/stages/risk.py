"""The risk stage: update the customer's feature state, re-score, flag a sharp rise.

Runs after text understanding and before the playbooks:

1. merge the event into the customer's order-free :class:`~winback.customers.features.FeatureState`
   (using ``ctx.text`` when the text stage left one);
2. compute the features as of the customer's latest event and score them with the active
   scorer (a trained model, or the cold-start weights);
3. put a :class:`~winback.risk.scoring.RiskResult` in ``ctx.risk`` and save the row;
4. when the probability rose by at least ``jump_delta`` to at least ``jump_min``: mark
   ``RiskResult.jumped`` (decision stages read it on the same event) and emit a ``risk.jumped``
   effect to the outbox (key ``risk.jumped:<event id>``, so once per event).

Each usage report also counts in its cohort's readings (``unit.usage_cohorts()``, see
:mod:`winback.customers.cohort`), which ``usage_level`` compares the customer with.

SLA breaches the customer suffered are counted in ``sla_breaches_*``
(:func:`winback.customers.features.record_sla_breach`, idempotent per key) from two sources:

- the SLA state of the customer's open case and of their latest resolved one, read
  through ``unit.sla_state``: every breached clock
  and breached measurement, keyed ``<case id>:<metric>:<cycle>``, dated at the measurement's
  stop or, while the clock still runs, at its start (the state keeps no breach time). Breaches
  fire on the timer service, outside the processor, so they are picked up with the customer's
  next event;
- the hook for any other source: a stage before this one may add ``(key, at)`` pairs to
  ``ctx.sla_breaches``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from winback.cases.effects import Effect
from winback.customers.cohort import CohortUsage
from winback.customers.features import (
    FeatureState,
    Profile,
    apply_to_state,
    as_datetime,
    compute_features,
    is_churned,
    record_sla_breach,
    usage_reading,
)
from winback.customers.profile import Customer
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit
from winback.risk.coldstart import ColdStartScorer
from winback.risk.scoring import (
    DEFAULT_JUMP_DELTA,
    DEFAULT_JUMP_MIN,
    CustomerRisk,
    Reason,
    RiskResult,
    RiskScore,
    Scorer,
)
from winback.sources import Source

JUMP_TOPIC = "risk.jumped"


class RiskStage:
    name = "risk"

    def __init__(
        self,
        scorer: Source[Scorer] | Scorer | None = None,
        *,
        jump_delta: float = DEFAULT_JUMP_DELTA,
        jump_min: float = DEFAULT_JUMP_MIN,
    ) -> None:
        scorer = scorer or ColdStartScorer()
        self._scorer = Source.of("churn model", scorer)
        self.jump_delta = jump_delta
        self.jump_min = jump_min

    @property
    def scorer(self) -> Scorer:
        """The active churn model (a newly activated one applies without a restart)."""
        return self._scorer.get()

    def process(self, ctx: EventContext, unit: Unit) -> None:
        event = ctx.event
        current = unit.customer_risk(event.customer_id)
        state = current.state if current is not None else FeatureState()
        apply_to_state(state, event, ctx.text)
        for key, at in ctx.sla_breaches:
            record_sla_breach(state, str(key), at)
        for case in (unit.open_case(event.customer_id), unit.resolved_case(event.customer_id)):
            if case is not None and case.id is not None:
                for key, at in sla_breaches(case.id, unit.sla_state(case)):
                    record_sla_breach(state, key, at)
        customer = ctx.customer or unit.customer(event.customer_id)
        cohorts = unit.usage_cohorts()
        reading = usage_reading(event)
        if reading is not None:
            cohorts.add(reading[0], customer.plan if customer else None, reading[1])
        features, score = assess(self.scorer, state, customer, cohorts=cohorts)
        previous = current.probability if current is not None and current.model_version else None
        jumped = is_jump(previous, score.probability, self.jump_delta, self.jump_min)
        now = unit.clock.now()
        reasons = [r.as_dict() for r in score.reasons]
        risk = CustomerRisk(
            customer_id=event.customer_id,
            state=state,
            probability=score.probability,
            reasons=reasons,
            features=features,
            model_version=score.model_version,
            horizon_days=score.horizon_days,
            as_of=as_datetime(state.max_ts) if state.max_ts is not None else event.occurred_at,
            updated_at=now,
            jumped_at=now if jumped else (current.jumped_at if current is not None else None),
        )
        unit.save_customer_risk(risk)
        ctx.risk = RiskResult(
            probability=score.probability,
            reasons=tuple(r.text for r in score.reasons),
            model_version=score.model_version,
            horizon_days=score.horizon_days,
            previous=previous,
            jumped=jumped,
            features=features,
        )
        if jumped:
            payload = {
                "customer_id": event.customer_id,
                "event_id": event.event_id,
                "at": now.isoformat(),
                "probability": score.probability,
                "previous": previous,
                "reasons": [r.text for r in score.reasons],
                "model_version": score.model_version,
            }
            unit.emit(Effect(JUMP_TOPIC, f"{JUMP_TOPIC}:{event.event_id}", payload))


def assess(
    scorer: Scorer,
    state: FeatureState,
    customer: Customer | None,
    as_of: datetime | None = None,
    *,
    cohorts: CohortUsage | None = None,
) -> tuple[dict[str, Any], RiskScore]:
    """The customer's features as of ``as_of`` (default: their latest event) and their score.

    The stage scores as of the event it processes; the re-score worker
    (:mod:`winback.services.risk_rescore`) scores as of now, so silence counts. ``cohorts``:
    every cohort's usage readings, for ``usage_level``.
    """
    features = compute_features(state, Profile.of(customer), as_of, cohorts)
    if is_churned(state):
        cancelled = Reason("cancelled", "cancelled their subscription", 1.0)
        return features, RiskScore(1.0, (cancelled,), scorer.version, scorer.horizon_days)
    inputs: dict[str, Any] = {**(customer.attributes if customer else {}), **features}
    return features, scorer.score(inputs)


def is_jump(previous: float | None, probability: float, delta: float, minimum: float) -> bool:
    """A sharp rise: at least ``delta`` above ``previous``, to at least ``minimum``."""
    return previous is not None and probability - previous >= delta and probability >= minimum


def sla_breaches(case_id: int, sla: Any) -> Iterator[tuple[str, datetime]]:
    """The breaches in a case's SLA state (``winback.sla.tracking.SlaState``), keyed
    ``<case id>:<metric>:<cycle>``: finished measurements that breached (at their stop) and
    running clocks already marked breached (at their start)."""
    if sla is None:
        return
    for m in getattr(sla, "history", ()):
        if m.breached:
            yield f"{case_id}:{m.metric}:{m.generation}", m.stopped_at
    for run in getattr(sla, "clocks", {}).values():
        if run.breached:
            yield f"{case_id}:{run.metric}:{run.generation}", run.started_at
