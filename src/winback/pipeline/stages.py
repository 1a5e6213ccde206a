"""The foundation's stages: customer state, the built-in decision, and the case timeline.

Order matters and is fixed in :func:`default_stages`: later issues insert text understanding
and risk scoring between the customer stage and the decision stage, and replace the built-in
decision with playbooks.
"""

from __future__ import annotations

from collections.abc import Callable

from winback.cases.model import CaseStatus, RecoveryCase, TimelineEntry
from winback.cases.rules import Decision, decide
from winback.customers.profile import apply_event
from winback.events.model import Event
from winback.pipeline.stage import EventContext, Stage, Unit

PROCESSOR_ACTOR = "winback:processor"


class CustomerStateStage:
    """Create or update the customer the event is about."""

    name = "customer_state"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        event = ctx.event
        customer = apply_event(
            unit.customer(event.customer_id), event.customer, event.occurred_at, unit.clock.now()
        )
        unit.save_customer(customer)
        ctx.customer = customer


class DecisionStage:
    """Open the customer's recovery case, or attach the signal to the open one."""

    name = "decision"

    def __init__(self, rule: Callable[[Event], Decision | None] = decide) -> None:
        self._rule = rule

    def process(self, ctx: EventContext, unit: Unit) -> None:
        decision = self._rule(ctx.event)
        ctx.decision = decision
        if decision is None:
            return
        event, now = ctx.event, unit.clock.now()
        case = unit.open_case(event.customer_id)
        if case is None:
            case = RecoveryCase(
                customer_id=event.customer_id,
                status=CaseStatus.NEW.value,
                priority=decision.priority,
                reason=decision.reason,
                category=decision.category,
                trigger_event_id=event.event_id,
                opened_at=now,
                updated_at=now,
                decided_by=decision.decided_by,
            )
            unit.add_case(case)
            unit.link_event(case, event, "trigger")
            ctx.case_action = "opened"
        else:
            case.signal_count += 1
            case.updated_at = now
            # A more urgent signal raises the case's priority; it never lowers it.
            case.priority = min(case.priority, decision.priority)
            if case.category is None:
                case.category = decision.category
            unit.save_case(case)
            unit.link_event(case, event, "attached")
            ctx.case_action = "attached"
        ctx.case = case


class TimelineStage:
    """Write what happened to the case's timeline, and queue it for the outside world."""

    name = "timeline"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        case, decision, event = ctx.case, ctx.decision, ctx.event
        if case is None or decision is None or ctx.case_action is None:
            return
        now = unit.clock.now()
        if ctx.case_action == "opened":
            summary = f"Case opened: {decision.reason} ({event.type} {event.event_id})"
        else:
            summary = f"Signal attached: {decision.reason} ({event.type} {event.event_id})"
        data: dict[str, object] = {
            "event_id": event.event_id,
            "event_type": event.type,
            "reason": decision.reason,
            "priority": decision.priority,
            "decided_by": decision.decided_by,
        }
        kind = f"case.{ctx.case_action}"
        unit.append_timeline(
            case,
            TimelineEntry(
                kind=kind,
                at=now,
                actor=PROCESSOR_ACTOR,
                summary=summary,
                data=data,
                event_seq=event.seq,
            ),
        )
        unit.emit(
            kind,
            f"{kind}:{event.event_id}",
            {"customer_id": case.customer_id, "at": now.isoformat(), **data},
            case=case,
        )


def default_stages() -> list[Stage]:
    return [CustomerStateStage(), DecisionStage(), TimelineStage()]
