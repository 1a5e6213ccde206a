"""The playbook stage: evaluate the playbooks on the event's facts.

Runs after text and risk and before the case stage. It leaves the merged
:class:`~winback.playbooks.model.Outcome` in ``ctx.playbook``, the case decision in
``ctx.decision`` and the choices to keep on the case (severity, agent, team, SLA policy,
remedies, handoff, incident, and the rules' summary for the timeline) in ``ctx.plan``; the case
stage applies them. A control-group hold-out is recorded in the outbox (``playbook.holdout``),
with no case action; a customer a rule with a control share matched but did not hold out is
recorded too (``playbook.treated``, once per such rule), so the analytics see both arms of each
rule's experiment. The playbooks come from a :class:`~winback.sources.Source`, so an edited
playbook applies without a restart.
"""

from __future__ import annotations

from winback.cases.effects import Effect
from winback.cases.transitions import Plan
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit
from winback.playbooks.engine import control_bucket, decision_for, evaluate
from winback.playbooks.model import Facts, Outcome, PlaybookSet
from winback.sources import Source

HOLDOUT_TOPIC = "playbook.holdout"
TREATED_TOPIC = "playbook.treated"


def facts_of(ctx: EventContext, unit: Unit) -> Facts:
    return Facts(
        event=ctx.event,
        text=ctx.text,
        risk=ctx.risk,
        customer=ctx.customer,
        case=unit.open_case(ctx.event.customer_id),
    )


def plan_of(outcome: Outcome) -> Plan:
    return Plan(
        severity=outcome.severity,
        agent=outcome.agent,
        team=outcome.team,
        sla_policy=outcome.sla_policy,
        incident=outcome.incident,
        remedies=tuple(outcome.remedies),
        handoff=tuple(outcome.handoff),
        automated=outcome.automated,
        details=outcome.summary(),
    )


class PlaybookStage:
    name = "playbooks"

    def __init__(self, playbooks: Source[PlaybookSet] | PlaybookSet) -> None:
        self._playbooks = Source.of("playbooks", playbooks)

    @property
    def playbooks(self) -> PlaybookSet:
        return self._playbooks.get()

    def process(self, ctx: EventContext, unit: Unit) -> None:
        facts = facts_of(ctx, unit)
        outcome = evaluate(self._playbooks.get(), facts)
        ctx.playbook = outcome
        ctx.decision = decision_for(outcome, facts)
        if ctx.decision is not None:
            ctx.plan = plan_of(outcome)
        if outcome.held_out_by is not None and outcome.suppressed_by is None:
            event = ctx.event
            unit.emit(
                Effect(
                    HOLDOUT_TOPIC,
                    f"{HOLDOUT_TOPIC}:{event.event_id}",
                    {
                        "customer_id": event.customer_id,
                        "event_id": event.event_id,
                        "rule": outcome.held_out_by,
                        "bucket": outcome.control_bucket,
                        "at": unit.clock.now().isoformat(),
                    },
                )
            )
        elif outcome.held_out_by is None and outcome.suppressed_by is None:
            self._record_treated(ctx, unit, outcome)

    @staticmethod
    def _record_treated(ctx: EventContext, unit: Unit, outcome: Outcome) -> None:
        """The rules with a control share that matched and drew this customer into their
        treated arm (the same hash draw as the hold-out; nothing else was held out)."""
        event = ctx.event
        for hit in outcome.hits:
            share = hit.actions.control_share
            if share <= 0:
                continue
            bucket = control_bucket(event.customer_id, hit.rule_id)
            key = f"{TREATED_TOPIC}:{event.event_id}:{hit.rule_id}"
            payload = {
                "customer_id": event.customer_id,
                "event_id": event.event_id,
                "rule": hit.rule_id,
                "bucket": bucket,
                "at": unit.clock.now().isoformat(),
            }
            unit.emit(Effect(TREATED_TOPIC, key, payload))
