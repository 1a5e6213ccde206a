"""The foundation's stages: customer state, the built-in decision, and the case timeline.

Order matters and is fixed in :func:`default_stages`: later issues insert text understanding
and risk scoring between the customer stage and the decision stage, and replace the built-in
decision with playbooks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from winback.cases.model import CaseStatus, RecoveryCase, TimelineEntry
from winback.cases.rules import Decision, decide
from winback.customers.profile import apply_event
from winback.events.model import Event
from winback.pipeline.stage import EventContext, Stage, Unit
from winback.risk.stage import RiskStage
from winback.sla.config import SlaConfig
from winback.sla.stage import SlaStage
from winback.text.stage import TextStage

PROCESSOR_ACTOR = "winback:processor"
# A signal this soon after a case was resolved re-opens it instead of opening a new one.
DEFAULT_REOPEN_WINDOW = timedelta(hours=72)


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
    """Open the customer's recovery case, or attach the signal to the open one.

    With no open case, a case resolved less than ``reopen_window`` ago is re-opened instead of
    opening a new one (a zero window turns that off).
    """

    name = "decision"

    def __init__(
        self,
        rule: Callable[[Event], Decision | None] | None = decide,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    ) -> None:
        # rule=None: act on the ``ctx.decision`` an earlier stage left (issue 7's playbooks).
        self._rule = rule
        self._reopen_window = reopen_window

    def process(self, ctx: EventContext, unit: Unit) -> None:
        decision = ctx.decision if self._rule is None else self._rule(ctx.event)
        ctx.decision = decision
        if decision is None:
            return
        event, now = ctx.event, unit.clock.now()
        case = unit.open_case(event.customer_id)
        recent = None if case is not None else self._recently_resolved(unit, event, now)
        if recent is not None:
            case = recent
            case.status = CaseStatus.REOPENED.value
            case.reopen_count += 1
            case.signal_count += 1
            case.updated_at = now
            case.priority = min(case.priority, decision.priority)
            unit.reopen_case(case)
            unit.link_event(case, event, "reopened")
            ctx.case_action = "reopened"
        elif case is None:
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
            if case.status == CaseStatus.WAITING_ON_CUSTOMER.value:
                # The customer answered: the wait is over, and the SLA clocks run again.
                case.status = CaseStatus.IN_PROGRESS.value
                ctx.results["case_resumed"] = True
            unit.save_case(case)
            unit.link_event(case, event, "attached")
            ctx.case_action = "attached"
        ctx.case = case

    def _recently_resolved(self, unit: Unit, event: Event, now: datetime) -> RecoveryCase | None:
        if self._reopen_window <= timedelta(0):
            return None
        resolved = unit.resolved_case(event.customer_id)
        if resolved is None or resolved.resolved_at is None:
            return None
        return resolved if now - resolved.resolved_at <= self._reopen_window else None


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
        elif ctx.case_action == "reopened":
            summary = f"Case re-opened: {decision.reason} ({event.type} {event.event_id})"
        else:
            summary = f"Signal attached: {decision.reason} ({event.type} {event.event_id})"
        data: dict[str, object] = {
            "event_id": event.event_id,
            "event_type": event.type,
            "reason": decision.reason,
            "priority": decision.priority,
            "decided_by": decision.decided_by,
        }
        details = ctx.results.get("decision_details")  # issue 7: what the playbooks decided
        if details:
            data["playbook"] = details
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
        if ctx.results.get("case_resumed"):
            unit.append_timeline(
                case,
                TimelineEntry(
                    kind="case.status_changed",
                    at=now,
                    actor=PROCESSOR_ACTOR,
                    summary="waiting_on_customer → in_progress: the customer responded",
                    data={
                        "action": "resume",
                        "previous": CaseStatus.WAITING_ON_CUSTOMER.value,
                        "status": CaseStatus.IN_PROGRESS.value,
                        "reason": f"{event.type} {event.event_id}",
                    },
                    event_seq=event.seq,
                ),
            )


def default_stages(
    sla_config: SlaConfig | None = None, reopen_window: timedelta = DEFAULT_REOPEN_WINDOW
) -> list[Stage]:
    return [
        CustomerStateStage(),
        TextStage(),  # issue 4: sentiment, category, urgency, PII (bootstrap swaps the model)
        RiskStage(),  # issue 5: features + churn risk (bootstrap swaps in the active model)
        DecisionStage(reopen_window=reopen_window),
        TimelineStage(),
        SlaStage(sla_config),
    ]
