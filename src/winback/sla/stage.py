"""The processor's SLA stage: start, extend or restart a case's clocks as signals arrive.

It runs after the decision and timeline stages. A case just opened starts its first-response and
resolution clocks; a signal attached to a case whose customer already had a reply starts a
next-response clock; a re-opened case starts new resolution and next-response cycles. The state
and the timers it implies are recorded on the unit, written in the processor's transaction.
"""

from __future__ import annotations

from dataclasses import replace

from winback.pipeline.stage import EventContext, Unit
from winback.sla.config import SlaConfig, parse_sla
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for


class SlaStage:
    name = "sla"

    def __init__(self, config: SlaConfig | None = None) -> None:
        self.engine = SlaEngine(config or parse_sla(None, "built-in defaults"))

    def process(self, ctx: EventContext, unit: Unit) -> None:
        case, action = ctx.case, ctx.case_action
        if case is None or action is None:
            return
        channel = ctx.event.data.get("channel")
        # The case's category, else what the text stage understood (issue 4), if it ran.
        category = case.category or getattr(ctx.results.get("text"), "category", None)
        facts = facts_for(
            case.priority, category, ctx.customer, None if channel is None else str(channel)
        )
        named = getattr(ctx.results.get("playbook"), "sla_policy", None)  # issue 7: playbooks
        if named is not None:
            facts = replace(facts, policy=str(named))
        state = unit.sla_state(case)
        now = unit.clock.now()
        if state is None:
            # A case without clocks (opened before SLAs were configured): start them now.
            update = SlaUpdate(opened=True)
        elif action == "reopened":
            update = SlaUpdate(reopened=True)
        elif action == "opened":
            update = SlaUpdate(opened=True)
        else:
            # A signal while waiting on the customer resumed the case (decision stage).
            resumed = bool(ctx.results.get("case_resumed"))
            update = SlaUpdate(customer_signal=True, status_changed=resumed)
        before = None if state is None else state.to_doc()
        state = self.engine.update(state, facts, case.status, now, update)
        if before is not None and state.to_doc() == before:
            return  # nothing moved (e.g. another signal before the first reply): no writes
        unit.save_sla(case, state, self.engine.clock(state).timers(state))
