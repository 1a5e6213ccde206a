"""The windowed features derived from a customer's feature state (see ``docs/risk.md``).

:func:`compute_features` is a pure function of the state, the customer's :class:`Profile` and an
as-of time (by default the state's latest event time, never the wall clock): counts of each
signal in the last 7, 30 and 90 days, repeat contacts about one category, unresolved tickets,
usage and activity trends against the customer's own baseline, the latest scores, days since a
positive signal, tenure and value. ``sla_breaches_*`` count the breaches the SLA hook recorded.

Levels as well as changes: the mean usage reading in 30 and 90 days, that level against the
customer's cohort (``usage_level``, given a :class:`~winback.customers.cohort.CohortUsage`),
the mean of every score in 90 days, and the days since the customer last contacted the company.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from winback.customers.cohort import CohortUsage
from winback.customers.feature_state import FeatureState
from winback.customers.profile import Customer
from winback.customers.signals import (
    ACTIVE,
    CANCEL_INTENT,
    COMPLAINT,
    CONTACT,
    DAY,
    LOW_SCORE,
    NEGATIVE,
    PAYMENT_FAILED,
    REFUND,
    SCORE,
    SERVICE_FAILURE,
    SLA_BREACH,
    TICKET_OPENED,
    USAGE,
    epoch,
)

WINDOWS = (7, 30, 90)
BASELINE_MIN_DAYS = 14  # a usage baseline needs at least this much history
CLOSED_TICKET_STATUSES = frozenset({"closed", "resolved", "solved", "done", "cancelled"})

NUMERIC_FEATURES: tuple[str, ...] = (
    *(f"complaints_{w}d" for w in WINDOWS),
    *(f"negative_texts_{w}d" for w in WINDOWS),
    *(f"repeat_contacts_{w}d" for w in WINDOWS),
    *(f"low_scores_{w}d" for w in WINDOWS),
    *(f"tickets_opened_{w}d" for w in WINDOWS),
    *(f"payment_failures_{w}d" for w in WINDOWS),
    *(f"refunds_{w}d" for w in WINDOWS),
    *(f"service_failures_{w}d" for w in WINDOWS),
    *(f"sla_breaches_{w}d" for w in WINDOWS),
    "cancel_intent_30d",
    "tickets_unresolved",
    "usage_trend",
    "activity_trend",
    "usage_30d",
    "usage_90d",
    "usage_level",
    "score_mean_90d",
    "days_since_contact",
    "days_since_positive",
    "days_since_last_event",
    "last_nps",
    "last_csat",
    "last_ces",
    "tenure_days",
    "value",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("plan",)

_WINDOW_CODES = (
    ("complaints", COMPLAINT),
    ("negative_texts", NEGATIVE),
    ("low_scores", LOW_SCORE),
    ("tickets_opened", TICKET_OPENED),
    ("payment_failures", PAYMENT_FAILED),
    ("refunds", REFUND),
    ("service_failures", SERVICE_FAILURE),
    ("sla_breaches", SLA_BREACH),
)
NO_POSITIVE_DAYS = 365.0  # "days since the last positive signal" when there never was one
NO_CONTACT_DAYS = 365.0  # "days since the last contact" when there never was one
USAGE_LEVEL_RANGE = (-1.0, 3.0)  # usage_level: from "none at all" to "four times the cohort's"


@dataclass(frozen=True)
class Profile:
    """What the features need from the customer profile."""

    first_seen_ts: int | None = None
    tenure_days_given: float | None = None  # attributes.tenure_days, as of tenure_given_ts
    tenure_given_ts: int | None = None
    value: float | None = None
    plan: str | None = None

    @classmethod
    def of(cls, customer: Customer | None) -> Profile:
        if customer is None:
            return cls()
        given = customer.attributes.get("tenure_days")
        stamp = customer.field_times.get("attributes.tenure_days")
        tenure = (
            float(given) if isinstance(given, int | float) and not isinstance(given, bool) else None
        )
        return cls(
            first_seen_ts=epoch(customer.first_seen_at),
            tenure_days_given=tenure,
            tenure_given_ts=(
                epoch(datetime.fromisoformat(stamp)) if tenure is not None and stamp else None
            ),
            value=customer.value,
            plan=customer.plan,
        )


def _trend(first: int | None, base_sum: float, recent_sum: float, as_of: int) -> float | None:
    """Last 30 days' daily rate against the customer's own baseline (the 60 days before, or
    since the first record if later). ``first``: the earliest record's time; ``base_sum`` the
    values in [as_of - 90 d, as_of - 30 d); ``recent_sum`` those in [as_of - 30 d, as_of].

    -0.6 reads "60 % below usual". None while there is under BASELINE_MIN_DAYS of baseline.
    """
    if first is None:
        return None
    recent_start = as_of - 30 * DAY
    base_start = max(as_of - 90 * DAY, first)
    if recent_start - base_start < BASELINE_MIN_DAYS * DAY:
        return None
    baseline = base_sum / ((recent_start - base_start) / DAY)
    if baseline <= 0:
        return None
    recent = recent_sum / ((as_of + 1 - recent_start) / DAY)
    return max(-1.0, min(3.0, recent / baseline - 1.0))


# Per window: its counted codes (code -> feature name), the repeat contacts, the top contact
# category and the complaints' category. Built once: the key names cost more than the counting
# for a customer with a handful of signals.
_WINDOW_KEYS = tuple(
    (
        {
            **{code: f"{name}_{window}d" for name, code in _WINDOW_CODES},
            **({CANCEL_INTENT: "cancel_intent_30d"} if window == 30 else {}),
        },
        f"repeat_contacts_{window}d",
        f"top_category_{window}d",
        f"complaint_category_{window}d",
    )
    for window in WINDOWS
)
assert list(WINDOWS) == sorted(set(WINDOWS)), "windows nest: each longer than the one before"


# Every feature, in output order, with its value when nothing counts (the windowed ones) or a
# placeholder that is always overwritten (the rest). compute_features copies it and sets only
# what the signals give, so a customer with few signals costs few operations.
def _template() -> dict[str, Any]:
    template: dict[str, Any] = {}
    for window in WINDOWS:
        for name, _ in _WINDOW_CODES:
            template[f"{name}_{window}d"] = 0.0
        template[f"repeat_contacts_{window}d"] = 0.0
        template[f"top_category_{window}d"] = None
        template[f"complaint_category_{window}d"] = None
        if window == 30:
            template["cancel_intent_30d"] = 0.0
    rest = (
        "tickets_unresolved",
        "usage_trend",
        "activity_trend",
        "usage_30d",
        "usage_90d",
        "usage_level",
        "score_mean_90d",
        "days_since_contact",
        "days_since_positive",
        "days_since_last_event",
        "last_nps",
        "last_csat",
        "last_ces",
        "tenure_days",
        "value",
        "plan",
    )
    return {**template, **dict.fromkeys(rest)}


_TEMPLATE = _template()
_ACTIVITY_ONLY = ((ACTIVE,), (ACTIVE, USAGE))  # usage/login/purchase: trends only, no counts


def _by_count_then_name(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for key, n in part.items():
        total[key] = total.get(key, 0) + n


def compute_features(
    state: FeatureState,
    profile: Profile,
    as_of: datetime | int | None = None,
    cohorts: CohortUsage | None = None,
) -> dict[str, Any]:
    """The customer's features as of ``as_of`` (default: the state's latest event time).

    Only signals at or before ``as_of`` count, so features "as they were" at a past cut-off
    can be computed from a later state for the part it still holds (training uses the event
    log itself, see :mod:`winback.risk.training`). ``cohorts``: the usage readings of every
    cohort, for ``usage_level`` (0 without them).
    """
    if as_of is None:
        now = state.max_ts if state.max_ts is not None else 0
    else:
        now = as_of if isinstance(as_of, int) else epoch(as_of)
    # One pass over the signals. The windows nest, so each signal is counted once, in the
    # shortest window ("band") that holds it; a window's count is the sum of its bands.
    starts = [now - w * DAY for w in WINDOWS]
    oldest = starts[-1]
    counts: list[dict[str, int]] = [{} for _ in WINDOWS]
    categories: list[dict[str, int]] = [{} for _ in WINDOWS]
    complaint_cats: list[dict[str, int]] = [{} for _ in WINDOWS]
    recent_start, base90 = now - 30 * DAY, now - 90 * DAY
    first_u: int | None = None
    first_a: int | None = None
    latest: int | None = None
    base_u = recent_u = base_a = recent_a = 0.0
    n_recent_u = n_base_u = 0  # usage readings in the last 30 days, and in the 60 before
    measure: str | None = None  # the latest usage reading's measure
    measure_ts = -1
    score_sum = 0.0
    score_n = 0
    for s in state.signals.values():
        ts = s.ts
        if ts > now:
            continue
        if latest is None or ts > latest:
            latest = ts
        codes = s.codes
        if ACTIVE in codes:  # usage, login, purchase: the trends
            if first_a is None or ts < first_a:
                first_a = ts
            if ts >= recent_start:
                recent_a += 1.0
            elif ts >= base90:
                base_a += 1.0
            if USAGE in codes:
                if first_u is None or ts < first_u:
                    first_u = ts
                # The latest reading's measure; at one time, the greatest name (order-free).
                if ts > measure_ts or (ts == measure_ts and (s.category or "") > (measure or "")):
                    measure, measure_ts = s.category, ts
                if ts >= recent_start:
                    recent_u += s.value
                    n_recent_u += 1
                elif ts >= base90:
                    base_u += s.value
                    n_base_u += 1
            if codes in _ACTIVITY_ONLY:
                continue
        if ts <= oldest:
            continue
        band = 0
        while ts <= starts[band]:
            band += 1
        in_band = counts[band]
        for code in codes:
            in_band[code] = in_band.get(code, 0) + 1
        if SCORE in codes:
            score_sum += s.value
            score_n += 1
        category = s.category
        if category is not None:
            if CONTACT in codes:
                band_cats = categories[band]
                band_cats[category] = band_cats.get(category, 0) + 1
            if COMPLAINT in codes:
                band_cats = complaint_cats[band]
                band_cats[category] = band_cats.get(category, 0) + 1
    out = dict(_TEMPLATE)
    # Running totals: window i's counts are the bands 0..i.
    c: dict[str, int] = {}
    cats: dict[str, int] = {}
    complaint_c: dict[str, int] = {}
    for i, (names, repeat_key, top_key, complaint_key) in enumerate(_WINDOW_KEYS):
        _add(c, counts[i])
        _add(cats, categories[i])
        _add(complaint_c, complaint_cats[i])
        for code, n in c.items():
            name = names.get(code)
            if name is not None:
                out[name] = float(n)
        if cats:
            out[repeat_key] = float(sum(n - 1 for n in cats.values() if n > 1))
            # For the reasons' words only (not a model input): the most-contacted-about
            # category, and the complaints' category when they all share one.
            out[top_key] = min(cats.items(), key=_by_count_then_name)[0]
        complaints = c.get(COMPLAINT, 0)
        if complaint_c and complaints:
            top_c = min(complaint_c.items(), key=_by_count_then_name)
            if top_c[1] == complaints:
                out[complaint_key] = top_c[0]
    unresolved = 0
    for ts, _, status in state.tickets.values():
        if ts <= now and status not in CLOSED_TICKET_STATUSES:
            unresolved += 1
    out["tickets_unresolved"] = float(unresolved)
    trend = _trend(first_u, base_u, recent_u, now)
    out["usage_trend"] = 0.0 if trend is None else round(trend, 4)
    activity_trend = _trend(first_a, base_a, recent_a, now)
    out["activity_trend"] = 0.0 if activity_trend is None else round(activity_trend, 4)
    if n_recent_u:
        out["usage_30d"] = round(recent_u / n_recent_u, 4)
    else:
        out["usage_30d"] = 0.0
    n_90 = n_recent_u + n_base_u
    out["usage_90d"] = round((recent_u + base_u) / n_90, 4) if n_90 else 0.0
    out["usage_level"] = _usage_level(
        cohorts, measure, profile.plan, recent_u / n_recent_u if n_recent_u else 0.0
    )
    out["score_mean_90d"] = round(score_sum / score_n, 4) if score_n else 0.0
    contact = state.last.get("contact")
    if contact is not None and contact[0] <= now:
        out["days_since_contact"] = round((now - contact[0]) / DAY, 3)
    else:
        out["days_since_contact"] = NO_CONTACT_DAYS
    positive = state.last.get("positive")
    if positive is not None and positive[0] <= now:
        out["days_since_positive"] = round((now - positive[0]) / DAY, 3)
    else:
        out["days_since_positive"] = NO_POSITIVE_DAYS
    if latest is None:
        latest = state.max_ts if state.max_ts else now
    out["days_since_last_event"] = round(max(0, now - min(latest, now)) / DAY, 3)
    last = state.last
    for kind, neutral, key in _LAST_SCORES:
        entry = last.get(kind)
        # The scale's neutral point when there is no score: "no news" is not bad news.
        out[key] = entry[2] if entry is not None and entry[0] <= now else neutral
    if profile.tenure_days_given is not None and profile.tenure_given_ts is not None:
        tenure = profile.tenure_days_given + (now - profile.tenure_given_ts) / DAY
    elif profile.first_seen_ts is not None:
        tenure = (now - profile.first_seen_ts) / DAY
    else:
        tenure = 0.0
    out["tenure_days"] = round(max(0.0, tenure), 3)
    out["value"] = float(profile.value) if profile.value is not None else 0.0
    out["plan"] = profile.plan or "unknown"
    return out


def _usage_level(
    cohorts: CohortUsage | None, measure: str | None, plan: str | None, mean_30d: float
) -> float:
    """The last 30 days' mean reading against the cohort's median reading: -0.6 = "60 % below
    similar customers", -1 = no usage in 30 days (after some before), 0 when there is nothing
    to compare (no usage on record within the retention, or a cohort with too few readings)."""
    if cohorts is None or measure is None:
        return 0.0
    median = cohorts.median(measure, plan)
    if median is None or median <= 0:
        return 0.0
    low, high = USAGE_LEVEL_RANGE
    return round(max(low, min(high, mean_30d / median - 1.0)), 4)


_LAST_SCORES = (("nps", 7.5, "last_nps"), ("csat", 4.0, "last_csat"), ("ces", 3.0, "last_ces"))
