"""Next best action: rank the remedies a case is eligible for, and say why (pure).

Eligibility: the remedy suits the case's category (a remedy naming no categories suits all),
the customer is worth its minimum value, and the compensation policy would not refuse it (cap
or budget reached). Each eligible remedy gets a score from these parts, each with its reason:

- the playbooks recommended it for this case (earlier in their list: more);
- it is made for this category of problem;
- what recovered similar customers before: the Laplace-smoothed recovery rate of past cases
  that got it with the same category or segment, weighted by how many there were;
- churn risk: retention offers (loyalty offer, discount) gain with the customer's risk;
- value: what it costs against what the customer is worth (cheap gestures for small accounts,
  stronger remedies for valuable ones);
- a small penalty when the requesting role would need approval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from winback.remedies.catalogue import Catalogue, Remedy
from winback.remedies.policy import APPROVAL, REFUSE, Grant, decide

RETENTION_KINDS = frozenset({"loyalty_offer", "discount"})


@dataclass(frozen=True)
class CaseProfile:
    case_id: int
    customer_id: str
    category: str | None = None
    priority: str = "P3"
    severity: str | None = None
    customer_value: float | None = None
    segment: str | None = None
    risk: float | None = None
    suggested: tuple[str, ...] = ()


@dataclass(frozen=True)
class PastOutcome:
    """A remedy given before, and whether the customer was recovered."""

    remedy: str
    category: str | None
    segment: str | None
    recovered: bool
    count: int = 1  # how many such cases (the store passes them aggregated)


@dataclass(frozen=True)
class Recommendation:
    remedy: str
    label: str
    kind: str
    score: float
    amount: float
    currency: str
    cost: float
    needs_approval_by: str | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "remedy": self.remedy,
            "label": self.label,
            "kind": self.kind,
            "score": round(self.score, 3),
            "amount": self.amount,
            "currency": self.currency,
            "cost": self.cost,
            "needs_approval_by": self.needs_approval_by,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Excluded:
    remedy: str
    reason: str


def _history(
    remedy: Remedy, case: CaseProfile, past: Sequence[PastOutcome]
) -> tuple[float, str | None]:
    similar = [
        p
        for p in past
        if p.remedy == remedy.name
        and (
            (case.category is not None and p.category == case.category)
            or (case.segment is not None and p.segment == case.segment)
        )
    ]
    if not similar:
        return 0.0, None
    recovered = sum(p.count for p in similar if p.recovered)
    total = sum(p.count for p in similar)
    rate = (recovered + 1) / (total + 2)
    weight = min(1.0, total / 10)
    return 2.0 * (rate - 0.5) * weight, f"recovered {recovered} of {total} similar customers"


def recommend(
    catalogue: Catalogue,
    case: CaseProfile,
    past: Iterable[PastOutcome],
    grants: Iterable[Grant],
    now: datetime,
    role: str = "agent",
) -> tuple[list[Recommendation], list[Excluded]]:
    """The eligible remedies, best first, and the others with why they were left out."""
    past, grants = list(past), list(grants)
    ranked: list[Recommendation] = []
    excluded: list[Excluded] = []
    value = case.customer_value
    for remedy in catalogue.remedies.values():
        if remedy.categories and case.category not in remedy.categories:
            excluded.append(
                Excluded(remedy.name, f"for {', '.join(sorted(remedy.categories))} problems only")
            )
            continue
        if remedy.min_customer_value is not None and (value or 0.0) < remedy.min_customer_value:
            excluded.append(
                Excluded(remedy.name, f"for customers worth {remedy.min_customer_value:g} or more")
            )
            continue
        verdict = decide(catalogue, remedy.name, None, role, case.customer_id, grants, now)
        if verdict.outcome == REFUSE:
            excluded.append(Excluded(remedy.name, verdict.reason))
            continue
        score, reasons = 0.0, []
        if remedy.name in case.suggested:
            score += 1.0 - 0.1 * case.suggested.index(remedy.name)
            reasons.append("recommended by the playbooks for this case")
        if remedy.categories and case.category in remedy.categories:
            score += 0.5
            reasons.append(f"made for {case.category} problems")
        part, why = _history(remedy, case, past)
        if why is not None:
            score += part
            reasons.append(why)
        if remedy.kind in RETENTION_KINDS and case.risk is not None and case.risk >= 0.4:
            score += 0.8 * case.risk
            reasons.append(f"churn risk {case.risk:.2f}: a retention offer")
        cost = remedy.cost()
        budget = max(50.0, 0.2 * (value or 0.0))
        score -= 0.5 * min(1.0, cost / budget)
        if value is not None:
            reasons.append(f"costs {cost:g} against a customer worth {value:g}")
        if value is not None and value >= 1000 and remedy.tier >= 2:
            score += 0.3
            reasons.append("a valuable customer: a stronger remedy")
        if verdict.outcome == APPROVAL:
            score -= 0.1
            reasons.append(f"needs approval by a {verdict.approver_role}")
        ranked.append(
            Recommendation(
                remedy.name,
                remedy.label,
                remedy.kind,
                score,
                verdict.amount,
                remedy.currency,
                cost,
                verdict.approver_role,
                tuple(reasons),
            )
        )
    ranked.sort(key=lambda r: (-r.score, r.cost, r.remedy))
    return ranked, excluded
