"""Simulated customers: who they are, and the hidden state the model keeps for each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from winback.sim.industries import FailureKind, Industry, Location, Segment
from winback.sim.model import Model
from winback.sim.rng import Stream

FIRST_NAMES = (
    "Ada", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma",
    "Valentina", "Wei", "Ximena", "Yusuf", "Zoe", "Aiko", "Björn", "Camille", "Diego", "Elif",
    "Farid", "Greta", "Hugo", "Ingrid", "Jamal", "Katja", "Luca", "Mei", "Nils", "Olga", "Pablo",
    "Rania", "Sofia", "Tomás", "Ugo", "Vera", "Wanda", "Yara", "Zainab", "Anna", "Ben", "Clara",
    "David", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack", "Kira", "Liam", "Maya", "Noah",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "García", "Rossi", "Kowalski", "Nguyen", "Okafor", "Silva", "Dubois",
    "Jensen", "Novak", "Yilmaz", "Tanaka", "Kim", "Patel", "Cohen", "O'Brien", "Andersson",
    "Fernández", "Schmidt", "Martin", "Bianchi", "Costa", "Lopez", "Nowak", "Horvat", "Popescu",
    "Berg", "Walsh", "Meyer", "Moreau", "Romero", "Santos", "Ivanova", "Haddad", "Mensah",
)  # fmt: skip


@dataclass(eq=False)
class Issue:
    """One failure a customer suffered, and what became of it (ground truth)."""

    number: int
    kind: FailureKind
    at: float  # hours since the start
    damage: float  # how far it lowered satisfaction
    contacted: bool = False
    contacted_at: float | None = None
    contact_type: str | None = None
    channel: str | None = None
    ticket: str | None = None
    chases: int = 0
    chase_after: float = 0.0  # hours from the first chase to the second
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    remedy: float = 0.0
    neglected: bool = False
    outage: str | None = None
    event_ids: list[str] = field(default_factory=list)

    @property
    def waiting_since(self) -> float:
        return self.at if self.contacted_at is None else self.contacted_at


class Customer:
    __slots__ = (
        "baseline",
        "churned_at",
        "contact_factor",
        "decided_at",
        "dynamic_day",
        "email",
        "failure_factor",
        "hazard",
        "history",
        "id",
        "idx",
        "introduced",
        "issue_count",
        "issues",
        "location",
        "monthly",
        "name",
        "notice_days",
        "path",
        "plan",
        "rng",
        "s",
        "s_at",
        "segment",
        "tenure0",
        "threshold",
        "tz_hours",
        "value",
        "value_ratio",
    )

    def __init__(
        self,
        idx: int,
        cid: str,
        industry: Industry,
        model: Model,
        stream: Stream,
        tz_hours: dict[str, float],
        record_truth: bool,
    ) -> None:
        rng = self.rng = stream
        self.idx = idx
        self.id = cid
        segment: Segment = rng.weighted(industry.segments, industry.segment_cum)
        self.segment = segment
        plans = segment.plans
        plan = rng.weighted(plans, _cum(tuple(p.weight for p in plans)))
        self.plan = plan.name
        self.monthly = round(plan.monthly * math.exp(rng.gauss(0.0, plan.sigma)), 2)
        self.value = round(self.monthly * 12.0, 2)
        self.value_ratio = self.monthly / industry.median_monthly
        self.tenure0 = rng.lognormal(industry.tenure_median_days, 1.0)
        location: Location = rng.weighted(industry.locations, industry.location_cum)
        self.location = location
        self.tz_hours = tz_hours[location.timezone]
        first, last = rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)
        self.name = f"{first} {last}"
        handle = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and ch != "'")
        self.email = f"{handle}{idx}@example.com"
        self.baseline = rng.gauss(industry.satisfaction_mean, model.satisfaction.spread)
        self.s = self.baseline
        self.s_at = 0.0
        self.failure_factor = segment.failure_factor * rng.lognormal(1.0, 0.5)
        self.contact_factor = segment.contact_factor * rng.lognormal(1.0, 0.3)
        self.threshold = rng.expo(1.0)  # churn when the cumulative hazard passes it
        self.notice_days = rng.expo(model.hazard.notice_mean_days)
        self.hazard = 0.0  # cumulative, once the daily sweep follows the customer
        self.dynamic_day = -1  # the day their satisfaction first moved (-1: never)
        self.decided_at: float | None = None
        self.churned_at: float | None = None
        self.introduced = False
        self.issue_count = 0
        self.issues: list[Issue] = []  # open ones (all of them, when recording truth)
        self.history: list[Issue] | None = [] if record_truth else None
        self.path: list[float] | None = [0.0, round(self.s, 4)] if record_truth else None

    @property
    def alive(self) -> bool:
        return self.decided_at is None

    def profile(self, industry: Industry) -> dict[str, object]:
        loc = self.location
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "segment": self.segment.name,
            "plan": self.plan,
            "value": self.value,
            "timezone": loc.timezone,
            "location": f"{loc.city}, {loc.country}",
            "language": loc.language,
            "attributes": {"tenure_days": int(self.tenure0), "industry": industry.name},
        }


def _cum(weights: tuple[float, ...]) -> tuple[float, ...]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return tuple(out)
