"""The five industries, as data: touchpoints, failure kinds, channels, values, churn bands.

Every number here is an assumption of the simulator, written down once and documented in
``docs/simulator.md``. ``hazard_per_year`` is the churn hazard of an established customer of
average satisfaction; ``churn_band`` is the range the 90-day churn rate of an open-loop run (no
recovery at all) must fall in, which the tests check; the hazard was calibrated so it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate


def _cum(weights: Iterable[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


@dataclass(frozen=True)
class Plan:
    name: str
    weight: float
    monthly: float  # median monthly revenue from a customer on this plan
    sigma: float = 0.35  # log-normal spread of it


@dataclass(frozen=True)
class Segment:
    name: str
    weight: float
    plans: tuple[Plan, ...]
    failure_factor: float = 1.0  # multiplies the industry's failure rate
    contact_factor: float = 1.0  # multiplies the chance of contacting support after a failure


@dataclass(frozen=True)
class FailureKind:
    name: str
    weight: float  # share among the industry's per-customer failures
    severity: float  # mean satisfaction drop (latent units)
    topic: str  # what the customer's words are about (see text.py)
    category: str  # complaint category in Winback's taxonomy
    touchpoint: str
    contact: float  # chance the customer contacts the company about it
    event: str | None = None  # the operational event that shows it, if the company sees one
    survey: float = 0.0  # chance of a transactional survey answered about it
    refund: float = 0.0  # chance the customer asks for a refund


@dataclass(frozen=True)
class Activity:
    type: str  # usage, login or purchase
    every_days: float  # mean interval at normal engagement
    regular: bool  # True: a weekly report-like cadence; False: Poisson arrivals


@dataclass(frozen=True)
class Location:
    city: str
    country: str
    timezone: str
    language: str
    weight: float


@dataclass(frozen=True)
class Industry:
    name: str
    currency: str
    product: str  # how customers refer to the service in their words
    subscription: bool  # monthly renewals, and cancellation is a contract cancellation
    segments: tuple[Segment, ...]
    failures: tuple[FailureKind, ...]
    failures_per_year: float  # per customer, before segment and proneness factors
    outages_per_90_days: float
    outage_scope: str  # "region": one location at a time; "global": a share of everyone
    outage_hit: float  # share of the scope's customers an outage reaches
    activities: tuple[Activity, ...]
    channels: tuple[tuple[str, float], ...]  # where customers contact the company
    satisfaction_mean: float  # mean latent satisfaction (NPS ~ 7.3 + 1.5 s)
    hazard_per_year: float
    churn_band: tuple[float, float]  # 90-day open-loop churn rate, checked by the tests
    tenure_median_days: float
    nps_response: float  # share answering the quarterly relationship survey
    review_rate: float  # chance a failure ends in a public review
    locations: tuple[Location, ...]
    outage_contact: float = 0.2
    segment_cum: tuple[float, ...] = field(init=False, repr=False)
    failure_cum: tuple[float, ...] = field(init=False, repr=False)
    channel_cum: tuple[float, ...] = field(init=False, repr=False)
    location_cum: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment_cum", _cum(s.weight for s in self.segments))
        object.__setattr__(self, "failure_cum", _cum(f.weight for f in self.failures))
        object.__setattr__(self, "channel_cum", _cum(w for _, w in self.channels))
        object.__setattr__(self, "location_cum", _cum(loc.weight for loc in self.locations))

    @property
    def median_monthly(self) -> float:
        pairs = sorted(
            (p.monthly, s.weight * p.weight / sum(q.weight for q in s.plans))
            for s in self.segments
            for p in s.plans
        )
        total, seen = sum(w for _, w in pairs), 0.0
        for monthly, weight in pairs:
            seen += weight
            if seen >= total / 2:
                return monthly
        return pairs[-1][0]


_EUROPE = (
    Location("Berlin", "DE", "Europe/Berlin", "de", 3),
    Location("Munich", "DE", "Europe/Berlin", "de", 1.5),
    Location("Paris", "FR", "Europe/Paris", "fr", 2.5),
    Location("Lyon", "FR", "Europe/Paris", "fr", 1),
    Location("Madrid", "ES", "Europe/Madrid", "es", 2),
    Location("Amsterdam", "NL", "Europe/Amsterdam", "nl", 1.5),
    Location("Dublin", "IE", "Europe/Dublin", "en-IE", 1),
    Location("Lisbon", "PT", "Europe/Lisbon", "pt-PT", 1),
    Location("London", "GB", "Europe/London", "en-GB", 3),
    Location("Manchester", "GB", "Europe/London", "en-GB", 1.5),
)
_AMERICAS = (
    Location("New York", "US", "America/New_York", "en-US", 3),
    Location("Chicago", "US", "America/Chicago", "en-US", 2),
    Location("Austin", "US", "America/Chicago", "en-US", 1),
    Location("Denver", "US", "America/Denver", "en-US", 1),
    Location("San Francisco", "US", "America/Los_Angeles", "en-US", 2),
    Location("Toronto", "CA", "America/Toronto", "en-CA", 1.5),
    Location("Mexico City", "MX", "America/Mexico_City", "es-MX", 1),
    Location("São Paulo", "BR", "America/Sao_Paulo", "pt-BR", 1.5),
)
_ASIA_PACIFIC = (
    Location("Singapore", "SG", "Asia/Singapore", "en-SG", 1),
    Location("Sydney", "AU", "Australia/Sydney", "en-AU", 1),
    Location("Tokyo", "JP", "Asia/Tokyo", "ja", 1),
    Location("Bengaluru", "IN", "Asia/Kolkata", "en-IN", 1),
)


SAAS = Industry(
    name="saas",
    currency="USD",
    product="the app",
    subscription=True,
    segments=(
        Segment("smb", 0.62, (Plan("starter", 0.6, 49), Plan("pro", 0.4, 149))),
        Segment("mid-market", 0.3, (Plan("business", 1.0, 650, 0.5),), 0.9, 1.2),
        Segment("enterprise", 0.08, (Plan("enterprise", 1.0, 4200, 0.6),), 0.8, 1.5),
    ),
    failures=(
        FailureKind("failed_onboarding", 0.18, 0.9, "onboarding", "technical", "onboarding", 0.35),
        FailureKind("bug", 0.27, 0.6, "bug", "technical", "product", 0.45),
        FailureKind(
            "billing_confusion", 0.2, 0.7, "billing", "billing", "billing", 0.6, None, 0.0, 0.3
        ),
        FailureKind(
            "payment_failure", 0.17, 0.3, "payment", "billing", "billing", 0.25, "payment.failed"
        ),
        FailureKind("slow_support", 0.12, 0.5, "wait", "wait_time", "support", 0.5, None, 0.4),
        FailureKind("data_loss", 0.06, 1.3, "data_loss", "technical", "product", 0.8),
    ),
    failures_per_year=2.6,
    outages_per_90_days=3,
    outage_scope="global",
    outage_hit=0.2,
    activities=(Activity("usage", 7, True), Activity("login", 12, False)),
    channels=(("email", 0.4), ("chat", 0.4), ("web", 0.15), ("phone", 0.05)),
    satisfaction_mean=0.3,
    hazard_per_year=0.13,
    churn_band=(0.07, 0.13),
    tenure_median_days=420,
    nps_response=0.25,
    review_rate=0.05,
    locations=_EUROPE + _AMERICAS + _ASIA_PACIFIC,
)

TELECOM = Industry(
    name="telecom",
    currency="EUR",
    product="my connection",
    subscription=True,
    segments=(
        Segment(
            "consumer",
            0.8,
            (Plan("prepaid", 0.25, 15), Plan("postpaid", 0.5, 35), Plan("unlimited", 0.25, 60)),
        ),
        Segment("business", 0.2, (Plan("business", 1.0, 120, 0.5),), 0.9, 1.3),
    ),
    failures=(
        FailureKind("dropped_calls", 0.22, 0.5, "coverage", "technical", "network", 0.3),
        FailureKind(
            "billing_error", 0.24, 0.9, "billing", "billing", "billing", 0.65, None, 0.0, 0.35
        ),
        FailureKind(
            "technician_no_show",
            0.12,
            1.1,
            "appointment",
            "wait_time",
            "installation",
            0.7,
            None,
            0.35,
        ),
        FailureKind(
            "payment_failure", 0.17, 0.3, "payment", "billing", "billing", 0.25, "payment.failed"
        ),
        FailureKind(
            "unexpected_charge", 0.15, 0.8, "billing", "billing", "billing", 0.55, None, 0.0, 0.4
        ),
        FailureKind("rude_staff", 0.1, 0.8, "staff", "staff_behaviour", "store", 0.5, None, 0.3),
    ),
    failures_per_year=2.0,
    outages_per_90_days=4,
    outage_scope="region",
    outage_hit=0.55,
    activities=(Activity("usage", 7, True),),
    channels=(("phone", 0.4), ("chat", 0.25), ("email", 0.15), ("sms", 0.1), ("store", 0.1)),
    satisfaction_mean=-0.2,
    hazard_per_year=0.107,
    churn_band=(0.035, 0.075),
    tenure_median_days=900,
    nps_response=0.2,
    review_rate=0.04,
    locations=_EUROPE,
)

RETAIL = Industry(
    name="retail",
    currency="EUR",
    product="my order",
    subscription=False,
    segments=(
        Segment("regular", 0.7, (Plan("standard", 1.0, 40, 0.6),)),
        Segment("loyalty", 0.25, (Plan("plus", 1.0, 120, 0.5),), 1.1, 1.1),
        Segment("vip", 0.05, (Plan("vip", 1.0, 420, 0.5),), 1.1, 1.4),
    ),
    failures=(
        FailureKind(
            "late_delivery",
            0.35,
            0.6,
            "delivery",
            "delivery",
            "delivery",
            0.45,
            "delivery.delayed",
            0.3,
        ),
        FailureKind(
            "damaged_product",
            0.2,
            0.9,
            "damaged",
            "product_quality",
            "delivery",
            0.7,
            None,
            0.25,
            0.6,
        ),
        FailureKind(
            "wrong_item", 0.12, 0.8, "wrong_item", "delivery", "fulfilment", 0.7, None, 0.2, 0.5
        ),
        FailureKind("refund_delay", 0.13, 0.7, "refund", "billing", "returns", 0.6),
        FailureKind("checkout_bug", 0.1, 0.4, "bug", "technical", "checkout", 0.2),
        FailureKind(
            "card_decline", 0.1, 0.3, "payment", "billing", "checkout", 0.2, "payment.failed"
        ),
    ),
    failures_per_year=2.2,
    outages_per_90_days=1,
    outage_scope="global",
    outage_hit=0.1,
    activities=(Activity("purchase", 24, False), Activity("login", 14, False)),
    channels=(("email", 0.35), ("chat", 0.35), ("phone", 0.15), ("web", 0.15)),
    satisfaction_mean=0.4,
    hazard_per_year=0.43,
    churn_band=(0.12, 0.22),
    tenure_median_days=500,
    nps_response=0.2,
    review_rate=0.08,
    locations=_EUROPE + _AMERICAS,
)

TRAVEL = Industry(
    name="travel",
    currency="EUR",
    product="my booking",
    subscription=False,
    segments=(
        Segment("leisure", 0.7, (Plan("basic", 1.0, 60, 0.6),)),
        Segment("frequent", 0.25, (Plan("silver", 0.6, 220), Plan("gold", 0.4, 380)), 1.1, 1.2),
        Segment("corporate", 0.05, (Plan("corporate", 1.0, 900, 0.5),), 1.0, 1.5),
    ),
    failures=(
        FailureKind(
            "booking_error",
            0.25,
            1.0,
            "booking",
            "account",
            "booking",
            0.7,
            "booking.error",
            0.2,
            0.3,
        ),
        FailureKind("flight_delay", 0.3, 0.6, "delay", "wait_time", "flight", 0.3, None, 0.3),
        FailureKind("lost_baggage", 0.12, 1.1, "baggage", "product_quality", "airport", 0.8),
        FailureKind(
            "overbooked_hotel", 0.1, 1.2, "hotel", "product_quality", "hotel", 0.7, None, 0.2, 0.5
        ),
        FailureKind("refund_delay", 0.13, 0.8, "refund", "billing", "refunds", 0.6),
        FailureKind(
            "card_decline", 0.1, 0.3, "payment", "billing", "checkout", 0.2, "payment.failed"
        ),
    ),
    failures_per_year=1.9,
    outages_per_90_days=1,
    outage_scope="global",
    outage_hit=0.1,
    activities=(Activity("purchase", 50, False), Activity("login", 21, False)),
    channels=(("email", 0.35), ("phone", 0.3), ("chat", 0.25), ("app", 0.1)),
    satisfaction_mean=0.2,
    hazard_per_year=0.31,
    churn_band=(0.085, 0.165),
    tenure_median_days=600,
    nps_response=0.22,
    review_rate=0.09,
    locations=_EUROPE + _AMERICAS + _ASIA_PACIFIC,
)

BANK = Industry(
    name="bank",
    currency="EUR",
    product="my account",
    subscription=True,
    segments=(
        Segment("retail", 0.75, (Plan("current", 0.7, 12), Plan("current-plus", 0.3, 25))),
        Segment("premier", 0.2, (Plan("premier", 1.0, 70, 0.5),), 0.9, 1.2),
        Segment("private", 0.05, (Plan("private", 1.0, 450, 0.6),), 0.8, 1.4),
    ),
    failures=(
        FailureKind(
            "card_decline", 0.28, 0.6, "card_decline", "billing", "cards", 0.4, "payment.failed"
        ),
        FailureKind("claim_delay", 0.15, 0.9, "claim", "wait_time", "disputes", 0.6, None, 0.3),
        FailureKind("fee_dispute", 0.2, 0.7, "fees", "billing", "fees", 0.55, None, 0.0, 0.4),
        FailureKind("transfer_delay", 0.17, 0.8, "transfer", "wait_time", "payments", 0.55),
        FailureKind("account_locked", 0.1, 0.9, "account", "account", "online banking", 0.7),
        FailureKind("rude_staff", 0.1, 0.7, "staff", "staff_behaviour", "branch", 0.45, None, 0.3),
    ),
    failures_per_year=1.5,
    outages_per_90_days=2,
    outage_scope="global",
    outage_hit=0.15,
    activities=(Activity("login", 8, False), Activity("usage", 14, True)),
    channels=(("phone", 0.35), ("app", 0.25), ("chat", 0.2), ("email", 0.1), ("branch", 0.1)),
    satisfaction_mean=0.1,
    hazard_per_year=0.068,
    churn_band=(0.015, 0.045),
    tenure_median_days=2200,
    nps_response=0.18,
    review_rate=0.03,
    locations=_EUROPE,
)

INDUSTRIES: dict[str, Industry] = {i.name: i for i in (SAAS, TELECOM, RETAIL, TRAVEL, BANK)}
