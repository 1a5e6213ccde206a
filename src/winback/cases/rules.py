"""The built-in decision rule, used until playbooks exist.

A signal of dissatisfaction opens the customer's recovery case, or attaches to the open one:
an NPS of 6 or less, a CSAT of 2 or less, a CES of 5 or more, a complaint, a failed payment, or a
cancelled subscription. Priority: P2 for a cancellation or the worst scores (NPS 0-3, CSAT 1,
CES 7), P3 otherwise; the risk-, value- and severity-based priority comes with playbooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from winback.events.model import Event

RULE_VERSION = "builtin-default@1"

_CATEGORY_BY_TYPE = {"payment.failed": "billing", "subscription.cancelled": "account"}


@dataclass(frozen=True)
class Decision:
    """What the rule wants done for an event: open (or attach to) the customer's case."""

    reason: str
    priority: str
    category: str | None
    decided_by: str = RULE_VERSION


def _score_decision(kind: str, value: int) -> Decision | None:
    label = kind.upper()
    if kind == "nps" and value <= 6:
        return Decision(f"{label} {value} (detractor)", "P2" if value <= 3 else "P3", None)
    if kind == "csat" and value <= 2:
        return Decision(f"{label} {value} of 5", "P2" if value == 1 else "P3", None)
    if kind == "ces" and value >= 5:
        return Decision(f"{label} {value} of 7 (high effort)", "P2" if value == 7 else "P3", None)
    return None


def decide(event: Event) -> Decision | None:
    """Return the decision for ``event``, or ``None`` when it needs no case."""
    if event.type == "survey.response":
        score = event.score
        return None if score is None else _score_decision(*score)
    if event.type == "complaint":
        return Decision("complaint", "P3", None)
    if event.type == "payment.failed":
        return Decision("payment failed", "P3", _CATEGORY_BY_TYPE[event.type])
    if event.type == "subscription.cancelled":
        return Decision("subscription cancelled", "P2", _CATEGORY_BY_TYPE[event.type])
    return None
