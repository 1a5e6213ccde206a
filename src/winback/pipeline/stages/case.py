"""The case stage: the one place the processor changes a case.

It acts on the ``decision`` an earlier stage left (the playbooks, or the built-in rule):

- no open case: a case resolved less than ``reopen_window`` ago is re-opened
  (:func:`~winback.cases.transitions.reopen_by_signal`), else a case is opened
  (:func:`~winback.cases.transitions.open_case`);
- an open case: the signal attaches to it (:func:`~winback.cases.transitions.attach_signal`).

Without a decision, an event by which the customer wrote or answered still joins their open
case (:func:`~winback.cases.transitions.customer_contact`): a neutral reply to a case waiting on
the customer resumes it and its clocks. The playbooks' automatic acknowledgement is queued
when a case opens or re-opens.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from winback.cases import transitions
from winback.cases.effects import Effect
from winback.cases.model import RecoveryCase
from winback.cases.rules import decide
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit

# A signal this soon after a case was resolved re-opens it instead of opening a new one.
DEFAULT_REOPEN_WINDOW = timedelta(hours=72)
ACK_TOPIC = "case.acknowledgement"


class RuleStage:
    """The built-in decision rule (``WINBACK_PLAYBOOKS=false``)."""

    name = "decision"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        ctx.decision = decide(ctx.event)


class CaseStage:
    name = "case"

    def __init__(self, reopen_window: timedelta = DEFAULT_REOPEN_WINDOW) -> None:
        self._reopen_window = reopen_window

    def process(self, ctx: EventContext, unit: Unit) -> None:
        event, decision, now = ctx.event, ctx.decision, unit.clock.now()
        case = unit.open_case(event.customer_id)
        if decision is None:
            if case is not None and event.is_contact and _not_held_out(ctx):
                ctx.change = transitions.customer_contact(case, event, now)
                unit.record(ctx.change, event)
            return
        if case is not None:
            change = transitions.attach_signal(case, decision, event, ctx.plan, now)
        else:
            recent = self._recently_resolved(unit, event, now)
            if recent is not None:
                change = transitions.reopen_by_signal(recent, decision, event, ctx.plan, now)
            else:
                change = transitions.open_case(decision, event, ctx.plan, now)
        ctx.change = change
        unit.record(change, event)
        ack = None if ctx.playbook is None else ctx.playbook.acknowledge
        if ack is not None and change.action in ("opened", "reopened"):
            unit.emit(
                Effect(
                    ACK_TOPIC,
                    f"{ACK_TOPIC}:{event.event_id}",
                    {
                        "customer_id": event.customer_id,
                        "event_id": event.event_id,
                        "template": ack,
                        "channel": event.data.get("channel"),
                        "at": now.isoformat(),
                    },
                    change.case,
                )
            )

    def _recently_resolved(self, unit: Unit, event: Event, now: datetime) -> RecoveryCase | None:
        if self._reopen_window <= timedelta(0):
            return None
        resolved = unit.resolved_case(event.customer_id)
        if resolved is None or resolved.resolved_at is None:
            return None
        return resolved if now - resolved.resolved_at <= self._reopen_window else None


def _not_held_out(ctx: EventContext) -> bool:
    """A playbook's hold-out or suppression keeps the event off the case as well."""
    outcome = ctx.playbook
    return outcome is None or (outcome.held_out_by is None and outcome.suppressed_by is None)
