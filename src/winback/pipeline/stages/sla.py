"""The SLA stage: start, extend or restart a case's clocks as the case stage changed it.

A case just opened starts its first-response and resolution clocks; a signal attached to a
case whose customer already had a reply starts a next-response clock; a re-opened case starts
new resolution and next-response cycles; a case that resumed from waiting on the customer runs
its clocks again. What the clocks must hear is the transition's ``clock`` signal. The state and
the timers it implies are recorded on the unit, written in the processor's transaction.
"""

from __future__ import annotations

from dataclasses import replace

from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit
from winback.sla.config import parse_sla
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.sources import Source


class SlaStage:
    name = "sla"

    def __init__(self, engine: Source[SlaEngine] | SlaEngine | None = None) -> None:
        if engine is None:
            engine = SlaEngine(parse_sla(None, "built-in defaults"))
        self._engine = Source.of("sla", engine)

    @property
    def engine(self) -> SlaEngine:
        return self._engine.get()

    def process(self, ctx: EventContext, unit: Unit) -> None:
        change = ctx.change
        if change is None or change.clock is None:
            return
        case = change.case
        channel = case.channel or ctx.event.data.get("channel")
        # The case's category, else what the text stage understood.
        category = case.category or (None if ctx.text is None else ctx.text.category)
        facts = facts_for(
            case.priority, category, ctx.customer, None if channel is None else str(channel)
        )
        if case.sla_policy is not None:
            facts = replace(facts, policy=case.sla_policy)
        engine = self._engine.get()
        state = unit.sla_state(case)
        # A case without clocks (opened before SLAs were configured) starts them now.
        update = SlaUpdate(opened=True) if state is None else change.clock
        before = None if state is None else state.to_doc()
        state = engine.update(state, facts, case.status, unit.clock.now(), update)
        if before is not None and state.to_doc() == before:
            return  # nothing moved (e.g. another signal before the first reply): no writes
        unit.save_sla(case, state, engine.clock(state).timers(state))
