"""The compensation policy decides one request: apply, ask for approval, or refuse (pure).

Checks, in order (the first that fails decides): the remedy exists; the amount is within the
remedy's maximum; the customer's cap over the period; the remedy's budget this month; then the
requester's role limit — within it the remedy is applied, above it the request goes to the
lowest role that may grant it, and when no role may, it is refused. Nothing is ever applied
silently above a limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from winback.remedies.catalogue import Catalogue

APPLY = "apply"
APPROVAL = "approval"
REFUSE = "refuse"


@dataclass(frozen=True)
class Grant:
    """A remedy already granted (or pending approval, which counts against caps and budgets)."""

    customer_id: str
    remedy: str
    amount: float
    at: datetime


@dataclass(frozen=True)
class Verdict:
    outcome: str  # apply | approval | refuse
    reason: str
    amount: float
    approver_role: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "amount": self.amount,
            "approver_role": self.approver_role,
        }


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def decide(
    catalogue: Catalogue,
    remedy_name: str,
    amount: float | None,
    role: str,
    customer_id: str,
    grants: Iterable[Grant],
    now: datetime,
) -> Verdict:
    """Decide a request by ``role`` to give ``remedy_name`` (``amount`` None: the default).

    ``grants``: earlier grants of this remedy to anyone this month and of any remedy to this
    customer (more is fine: they are filtered here).
    """
    remedy = catalogue.get(remedy_name)
    if remedy is None:
        return Verdict(REFUSE, f"no remedy {remedy_name!r} in the catalogue", amount or 0.0)
    value = remedy.default_amount if amount is None else float(amount)
    if value < 0:
        return Verdict(REFUSE, "the amount cannot be negative", value)
    if role not in catalogue.roles:
        return Verdict(REFUSE, f"unknown role {role!r}; one of {', '.join(catalogue.roles)}", value)
    if remedy.max_amount is not None and value > remedy.max_amount:
        return Verdict(
            REFUSE, f"{remedy.name}: {value:g} is above its maximum {remedy.max_amount:g}", value
        )
    grants = list(grants)
    if remedy.customer_cap is not None and remedy.monetary:
        since = now - timedelta(days=remedy.cap_period_days)
        given = sum(
            g.amount
            for g in grants
            if g.customer_id == customer_id and g.remedy == remedy.name and g.at >= since
        )
        if given + value > remedy.customer_cap:
            return Verdict(
                REFUSE,
                f"{remedy.name}: customer cap {remedy.customer_cap:g} per "
                f"{remedy.cap_period_days} days reached ({given:g} already given)",
                value,
            )
    if remedy.monthly_budget is not None:
        start = month_start(now)
        spent = sum(g.amount for g in grants if g.remedy == remedy.name and g.at >= start)
        if spent + value > remedy.monthly_budget:
            return Verdict(
                REFUSE,
                f"{remedy.name}: monthly budget {remedy.monthly_budget:g} would be exceeded "
                f"({spent:g} spent)",
                value,
            )
    if catalogue.may_grant(role, remedy, value):
        return Verdict(APPLY, f"within the {role} limit", value)
    approver = catalogue.approver_for(role, remedy, value)
    if approver is None:
        return Verdict(REFUSE, f"{remedy.name} {value:g}: above every role's limit", value)
    return Verdict(
        APPROVAL, f"above the {role} limit: needs approval by a {approver}", value, approver
    )
