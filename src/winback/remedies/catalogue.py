"""The remedy catalogue and the compensation policy, as plain Python.

A :class:`Remedy` has a kind (money — refund, credit, discount, fee waiver — or a gesture such
as a callback or a replacement), a tier (1: anyone may give it; 3: exceptional), a default and a
maximum amount, a per-customer cap over a period and a monthly budget. Roles are ordered
(``agent`` < ``lead`` < ``manager``); each role may grant remedies up to a tier and an amount
per application. Reading ``remedies.yaml`` is in :mod:`winback.remedies.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("agent", "lead", "manager")


@dataclass(frozen=True)
class Remedy:
    name: str
    kind: str  # refund | credit | discount | fee_waiver | replacement | callback | loyalty_offer …
    label: str
    tier: int = 1
    monetary: bool = True
    default_amount: float = 0.0
    max_amount: float | None = None
    currency: str = "EUR"
    categories: frozenset[str] = frozenset()  # empty: suits any category
    min_customer_value: float | None = None  # only for customers worth at least this
    customer_cap: float | None = None  # most one customer may get in ``cap_period_days``
    cap_period_days: int = 90
    monthly_budget: float | None = None  # most granted per calendar month (all customers)
    cost_ratio: float = 1.0  # what one unit of amount costs the company (a credit < a refund)
    fixed_cost: float = 0.0  # the cost of a gesture (a callback's agent time)

    def cost(self, amount: float | None = None) -> float:
        value = self.default_amount if amount is None else amount
        return round(self.fixed_cost + (value * self.cost_ratio if self.monetary else 0.0), 2)


@dataclass(frozen=True)
class RoleLimit:
    role: str
    max_tier: int
    max_amount: float  # per application, in the remedy's currency


@dataclass(frozen=True)
class Catalogue:
    remedies: Mapping[str, Remedy]
    limits: Mapping[str, RoleLimit]
    roles: tuple[str, ...] = ROLES
    source: str = "built-in defaults"
    per_kind: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, name: str) -> Remedy | None:
        return self.remedies.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self.remedies)

    def role_rank(self, role: str) -> int:
        return self.roles.index(role) if role in self.roles else -1

    def may_grant(self, role: str, remedy: Remedy, amount: float) -> bool:
        limit = self.limits.get(role)
        if limit is None or remedy.tier > limit.max_tier:
            return False
        return not remedy.monetary or amount <= limit.max_amount

    def approver_for(self, role: str, remedy: Remedy, amount: float) -> str | None:
        """The lowest role above ``role`` that may grant it, or ``None`` if none may."""
        for candidate in self.roles[self.role_rank(role) + 1 :]:
            if self.may_grant(candidate, remedy, amount):
                return candidate
        return None
