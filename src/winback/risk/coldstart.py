"""The cold-start score: transparent weights, useful on day one, before any model is trained.

``logit = intercept + sum(weight * signal)``, ``probability = 1 / (1 + e^-logit)``. Each signal is
a feature made comparable (a count capped at ``cap``, a usage drop as a fraction, a score's gap
to the scale's neutral point...). The default weights below are documented in ``docs/risk.md``;
override any of them in ``risk.yaml`` under ``WINBACK_CONFIG_DIR`` (``cold_start.weights``).
The intercept (-2.4, about 8 % in 90 days) is the typical subscription base rate.

Reasons are the terms that add the most to the logit, phrased by :mod:`winback.risk.reasons`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from winback.risk.reasons import describe
from winback.risk.scoring import DEFAULT_HORIZON_DAYS, MAX_REASONS, Reason, RiskScore

# v2 added the level terms (usage against the cohort, score mean, recent contact, 90-day
# counts): a new version, so the re-score worker applies the new weights to every customer.
COLD_START_VERSION = "cold-start-v2"
DEFAULT_INTERCEPT = -2.4


def _count(cap: float) -> Callable[[float], float]:
    return lambda x: min(max(x, 0.0), cap)


def _drop(x: float) -> float:  # usage/activity trend: only a fall counts, as a fraction
    return max(0.0, -x)


def _nps_gap(x: float) -> float:  # detractors: 6 → 0.14 ... 0 → 1
    return max(0.0, 7.0 - x) / 7.0


def _csat_gap(x: float) -> float:  # 1-5 scale: 2 → 0.5, 1 → 1
    return max(0.0, 3.0 - x) / 2.0


def _ces_gap(x: float) -> float:  # 1-7 effort: 5 → 0.33 ... 7 → 1
    return max(0.0, x - 4.0) / 3.0


def _stale_positive(x: float) -> float:  # days since the last positive signal, 0 → 1 over 180 days
    return min(max(x, 0.0), 180.0) / 180.0


def _new_customer(x: float) -> float:  # first year: 1 at day 0, 0 after a year
    return max(0.0, 1.0 - x / 365.0)


def _below_cohort(x: float) -> float:
    """Usage against the cohort's (``usage_level``, -1 ... 3) on a log scale: 0 at the cohort's
    median, 0.69 at half of it, at most 1.39 (a quarter or less, no usage at all included), and
    down to -0.69 at twice the median or more (a heavy user is less likely to leave)."""
    return -math.log(min(max(1.0 + x, 0.25), 2.0))


def _recent_contact(x: float) -> float:  # days since the last contact: 1 today, 0 after 90 days
    return max(0.0, 1.0 - x / 90.0)


def _low_scores_mean(x: float) -> float:  # mean score index (-1 ... 1): only below midpoint
    return max(0.0, -x)


@dataclass(frozen=True)
class Term:
    feature: str
    weight: float
    transform: Callable[[float], float]
    meaning: str


DEFAULT_TERMS: tuple[Term, ...] = (
    Term("complaints_7d", 0.45, _count(5), "each complaint in the last 7 days (up to 5)"),
    Term("complaints_30d", 0.15, _count(10), "each complaint in 30 days (up to 10)"),
    Term("negative_texts_30d", 0.20, _count(10), "each negative message in 30 days"),
    Term("repeat_contacts_30d", 0.35, _count(5), "each repeat contact about one category"),
    Term("low_scores_90d", 0.40, _count(3), "each low NPS/CSAT/CES or review in 90 days"),
    Term("tickets_unresolved", 0.30, _count(3), "each ticket still unresolved"),
    Term("payment_failures_30d", 0.50, _count(3), "each failed payment in 30 days"),
    Term("refunds_90d", 0.30, _count(3), "each refund request in 90 days"),
    Term("service_failures_30d", 0.20, _count(5), "each outage/delay/error suffered in 30 days"),
    Term("sla_breaches_30d", 0.40, _count(3), "each broken service promise in 30 days"),
    Term("cancel_intent_30d", 1.50, _count(1), "said they want to cancel (text stage)"),
    Term("usage_trend", 1.50, _drop, "usage fall against the customer's own baseline (0-1)"),
    Term("usage_level", 3.00, _below_cohort, "usage against the cohort's: -ln(level + 1)"),
    Term("activity_trend", 1.00, _drop, "activity fall against the customer's own baseline"),
    Term("last_nps", 0.80, _nps_gap, "detractor NPS: (7 - score) / 7"),
    Term("last_csat", 0.60, _csat_gap, "low CSAT: (3 - score) / 2"),
    Term("last_ces", 0.50, _ces_gap, "high effort CES: (score - 4) / 3"),
    Term("score_mean_90d", 0.50, _low_scores_mean, "scores below the midpoint on average"),
    Term("days_since_contact", 0.20, _recent_contact, "contacted recently: 1 - days / 90"),
    Term("complaints_90d", 0.05, _count(10), "each complaint in 90 days (up to 10)"),
    Term("negative_texts_90d", 0.05, _count(10), "each negative message in 90 days"),
    Term("days_since_positive", 0.30, _stale_positive, "no positive signal, over 180 days"),
    Term("tenure_days", 0.50, _new_customer, "new customer: 1 - tenure / 365"),
)


class ColdStartScorer:
    """The weighted score. ``weights`` overrides the default weight of named features."""

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        intercept: float = DEFAULT_INTERCEPT,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        version: str = COLD_START_VERSION,
    ) -> None:
        unknown = set(weights or {}) - {t.feature for t in DEFAULT_TERMS}
        if unknown:
            raise ValueError(f"unknown cold-start weight(s): {', '.join(sorted(unknown))}")
        self.terms = tuple(
            Term(t.feature, float((weights or {}).get(t.feature, t.weight)), t.transform, t.meaning)
            for t in DEFAULT_TERMS
        )
        self.intercept = intercept
        self.horizon_days = horizon_days
        self.version = version
        # Most features are 0 on most events; a term whose transform maps 0 to 0 then adds
        # nothing, so the loop skips it without calling the transform.
        self._loop = tuple(
            (t.feature, t.weight, t.transform, t.transform(0.0) == 0.0) for t in self.terms
        )

    def score(self, features: dict[str, Any]) -> RiskScore:
        logit = self.intercept
        parts: list[tuple[float, str]] = []
        get = features.get
        for feature, weight, transform, zero_to_zero in self._loop:
            value = get(feature)
            if value is None or (zero_to_zero and value == 0):
                continue
            contribution = weight * transform(float(value))
            if contribution:
                logit += contribution
                parts.append((contribution, feature))
        probability = 1.0 / (1.0 + math.exp(-logit))
        parts.sort(key=lambda p: (-p[0], p[1]))
        reasons = tuple(
            Reason(feature, describe(feature, features), round(c, 4))
            for c, feature in parts[:MAX_REASONS]
            if c > 0.05
        )
        return RiskScore(round(probability, 6), reasons, self.version, self.horizon_days)
