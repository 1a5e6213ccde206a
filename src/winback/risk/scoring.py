"""What a risk score is, and what scores it.

Plain values only (the dependency rule). A :class:`Scorer` turns a feature dict into a
:class:`RiskScore`: a probability of churn within ``horizon_days`` and the top reasons in plain
words, tagged with the model version that made it (``cold-start-v2`` for the built-in score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from winback.customers.features import FeatureState

DEFAULT_HORIZON_DAYS = 90
DEFAULT_JUMP_DELTA = 0.2
DEFAULT_JUMP_MIN = 0.3
MAX_REASONS = 3


@dataclass(frozen=True)
class Reason:
    feature: str
    text: str
    contribution: float  # how much it adds (log-odds for the cold start, probability otherwise)

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "text": self.text, "contribution": self.contribution}


@dataclass(frozen=True)
class RiskScore:
    probability: float
    reasons: tuple[Reason, ...]
    model_version: str
    horizon_days: int


@dataclass(frozen=True)
class RiskResult:
    """``ctx.risk``: the customer's risk after this event."""

    probability: float
    reasons: tuple[str, ...]
    model_version: str
    horizon_days: int
    previous: float | None
    jumped: bool
    features: dict[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    version: str
    horizon_days: int

    def score(self, features: dict[str, Any]) -> RiskScore: ...


@dataclass
class CustomerRisk:
    """The stored per-customer row: feature state, features, and the latest score."""

    customer_id: str
    state: FeatureState
    probability: float = 0.0
    reasons: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    model_version: str = ""
    horizon_days: int = DEFAULT_HORIZON_DAYS
    as_of: datetime | None = None
    updated_at: datetime | None = None
    jumped_at: datetime | None = None
