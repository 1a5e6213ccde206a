"""The hidden model: latent satisfaction, churn hazard, and how customers react to recovery.

Plain Python, no I/O. Units: satisfaction is a latent real number (0 is neutral; the industry
mean sits near it; one unit is roughly 1.5 NPS points), times are hours, hazards are per day.
``docs/simulator.md`` writes these equations out with their parameter values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SatisfactionModel:
    spread: float = 0.7  # sd of a customer's baseline satisfaction around the industry mean
    relax_days: float = 45.0  # time constant of the drift back to baseline (memory)
    compounding: float = 0.35  # extra damage per earlier failure inside the window
    compounding_window_days: float = 14.0  # (a failure stays open for 14 days)
    severity_sigma: float = 0.35  # log-normal spread of a failure's severity

    def relax(self, s: float, baseline: float, hours: float) -> float:
        """Satisfaction ``hours`` after it was ``s``, with no event in between."""
        if hours <= 0.0:
            return s
        return baseline + (s - baseline) * math.exp(-hours / (24.0 * self.relax_days))

    def failure_damage(self, severity: float, recent_failures: int) -> float:
        """How far a failure lowers satisfaction: repeated failures compound."""
        return severity * (1.0 + self.compounding * recent_failures)


@dataclass(frozen=True)
class HazardModel:
    beta: float = 1.1  # hazard multiplies by e^beta per unit of satisfaction lost
    tenure_boost: float = 1.5  # new customers: hazard x (1 + 1.5 e^(-tenure/120 d))
    tenure_scale_days: float = 120.0
    value_elasticity: float = 0.15  # hazard x (value / industry median)^-0.15
    notice_mean_days: float = 4.0  # decision to leave -> cancellation

    def daily(
        self,
        per_year: float,
        s: float,
        mean: float,
        tenure_days: float,
        value_ratio: float,
    ) -> float:
        """The churn hazard per day."""
        tenure = 1.0 + self.tenure_boost * math.exp(-tenure_days / self.tenure_scale_days)
        value: float = value_ratio ** (-self.value_elasticity)
        return per_year / 365.0 * math.exp(-self.beta * (s - mean)) * tenure * value


@dataclass(frozen=True)
class ResponseModel:
    """How a customer reacts to the company's response to their problem.

    ``effect`` scales every response-driven change at once: 0 turns the response model off
    (then no policy can change any outcome), 1 is the default.
    """

    effect: float = 1.0
    wait_weight: float = 0.08  # acknowledgement after d hours: -0.08 ln(1 + d)
    wait_unit_hours: float = 1.0
    restore: float = 1.0  # an instant fix gives back this share of the damage ...
    paradox: float = 0.15  # ... plus this much more (the recovery paradox, modest by default)
    resolve_tau_hours: float = 48.0  # a fix after d hours is worth e^(-d/48) of an instant one
    remedy_weight: float = 0.3  # a fair remedy adds this share of the damage back
    followup_penalty: float = 0.12  # each time the customer has to chase an unanswered contact
    neglect_penalty: float = 0.35  # a contact never answered within neglect_after_hours
    neglect_after_hours: float = 168.0
    heard_bonus: float = 0.05  # outreach to an unhappy customer with no open problem

    def acknowledged(self, waited_hours: float) -> float:
        return (
            -self.effect
            * self.wait_weight
            * math.log1p(max(0.0, waited_hours) / self.wait_unit_hours)
        )

    def quality(self, hours: float) -> float:
        return math.exp(-max(0.0, hours) / self.resolve_tau_hours)

    def resolved(self, damage: float, hours: float, remedy: bool) -> float:
        q = self.quality(hours)
        change = damage * q * (self.restore + self.paradox)
        if remedy:
            change += damage * self.remedy_weight
        return self.effect * change

    def followed_up(self) -> float:
        return -self.effect * self.followup_penalty

    def neglected(self) -> float:
        return -self.effect * self.neglect_penalty

    def heard(self) -> float:
        return self.effect * self.heard_bonus


@dataclass(frozen=True)
class Model:
    satisfaction: SatisfactionModel = SatisfactionModel()
    hazard: HazardModel = HazardModel()
    response: ResponseModel = ResponseModel()


def engagement(s: float, mean: float) -> float:
    """Activity relative to normal: about 1 at the mean, sagging as satisfaction falls."""
    return 1.6 / (1.0 + math.exp(-1.2 * (s - mean) - 0.51))


def clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def nps_score(s: float, noise: float) -> int:
    return clamp(7.3 + 1.5 * s + 1.3 * noise, 0, 10)


def csat_score(s: float, noise: float) -> int:
    return clamp(3.9 + 0.8 * s + 0.7 * noise, 1, 5)


def ces_score(s: float, noise: float, chases: int) -> int:
    return clamp(3.0 - 0.8 * s + 0.7 * chases + 1.0 * noise, 1, 7)


def review_stars(s: float, noise: float) -> int:
    return clamp(3.6 + 0.9 * s + 0.8 * noise, 1, 5)
