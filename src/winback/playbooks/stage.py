"""The processor's playbook stages (pure: they read and write only through the unit).

- :class:`PlaybookStage` runs after text and risk and before the decision stage: it evaluates
  the playbooks on the event's facts, leaves the merged :class:`~.model.Outcome` in
  ``ctx.results["playbook"]`` and the decision in ``ctx.decision`` (the decision stage, built
  with ``rule=None``, opens or attaches the case from it).
- :class:`PlaybookActionsStage` runs right after the decision stage and applies the rest to the
  case: severity, an explicit agent as owner, the details for the case's timeline entry
  (rules, SLA policy, team, remedies, handoff, incident: ``data.playbook`` of the
  ``case.opened``/``case.attached``/``case.reopened`` entry), the automatic acknowledgement
  (outbox), and the record of a control-group hold-out (outbox, no case).
"""

from __future__ import annotations

from datetime import timedelta

from winback.cases.model import TimelineEntry
from winback.pipeline.stage import EventContext, Stage, Unit
from winback.pipeline.stages import PROCESSOR_ACTOR, DecisionStage
from winback.playbooks.engine import decision_for, evaluate
from winback.playbooks.model import SEVERITIES, Facts, Outcome, PlaybookSet

RESULT_KEY = "playbook"
DETAILS_KEY = "decision_details"  # read by the timeline stage
ACTOR = "winback:playbooks"
ACK_TOPIC = "case.acknowledgement"
HOLDOUT_TOPIC = "playbook.holdout"


def facts_of(ctx: EventContext, unit: Unit) -> Facts:
    return Facts(
        event=ctx.event,
        text=ctx.results.get("text"),
        risk=ctx.results.get("risk"),
        customer=ctx.customer,
        case=unit.open_case(ctx.event.customer_id),
    )


class PlaybookStage:
    name = "playbooks"

    def __init__(self, playbooks: PlaybookSet) -> None:
        self.playbooks = playbooks

    def process(self, ctx: EventContext, unit: Unit) -> None:
        facts = facts_of(ctx, unit)
        outcome = evaluate(self.playbooks, facts)
        ctx.results[RESULT_KEY] = outcome
        ctx.decision = decision_for(outcome, facts)


class PlaybookActionsStage:
    name = "playbook_actions"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        outcome: Outcome | None = ctx.results.get(RESULT_KEY)
        if outcome is None or not outcome.hits:
            return
        event, now = ctx.event, unit.clock.now()
        if outcome.held_out_by is not None and outcome.suppressed_by is None:
            unit.emit(
                HOLDOUT_TOPIC,
                f"{HOLDOUT_TOPIC}:{event.event_id}",
                {
                    "customer_id": event.customer_id,
                    "event_id": event.event_id,
                    "rule": outcome.held_out_by,
                    "bucket": outcome.control_bucket,
                    "at": now.isoformat(),
                },
            )
            return
        case = ctx.case
        if case is None or ctx.case_action is None:
            return
        changed = False
        if outcome.severity is not None and (
            case.severity not in SEVERITIES
            or SEVERITIES.index(outcome.severity) > SEVERITIES.index(case.severity or "low")
        ):
            case.severity = outcome.severity
            changed = True
        assigned = outcome.agent is not None and case.owner is None
        if assigned:
            case.owner = outcome.agent
            changed = True
        if changed:
            unit.save_case(case)
        if assigned:
            # Every assignment is a timeline entry, whoever makes it (issue 6).
            unit.append_timeline(
                case,
                TimelineEntry(
                    kind="case.assigned",
                    at=now,
                    actor=PROCESSOR_ACTOR,
                    summary=f"Owner nobody → {outcome.agent} (playbook)",
                    data={"previous_owner": None, "owner": outcome.agent, "reason": "playbook"},
                ),
            )
        # The timeline stage puts this under "playbook" in the case.opened/attached/reopened
        # entry (and its outbox effect): one entry per event, the rules' choices in it.
        ctx.results[DETAILS_KEY] = outcome.summary()
        if outcome.acknowledge is not None and ctx.case_action in ("opened", "reopened"):
            unit.emit(
                ACK_TOPIC,
                f"{ACK_TOPIC}:{event.event_id}",
                {
                    "customer_id": event.customer_id,
                    "event_id": event.event_id,
                    "template": outcome.acknowledge,
                    "channel": event.data.get("channel"),
                    "at": now.isoformat(),
                },
                case=case,
            )


def install_playbooks(
    stages: list[Stage], playbooks: PlaybookSet, reopen_window: timedelta
) -> list[Stage]:
    """Replace the built-in decision with the playbooks: the stage named ``decision`` becomes
    playbooks → decision (acting on the playbooks' decision) → playbook actions."""
    out: list[Stage] = []
    for stage in stages:
        if stage.name == "decision":
            out += [
                PlaybookStage(playbooks),
                DecisionStage(rule=None, reopen_window=reopen_window),
                PlaybookActionsStage(),
            ]
        else:
            out.append(stage)
    return out
