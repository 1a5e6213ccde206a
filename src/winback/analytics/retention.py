"""Does recovery keep customers? Retention after exposure, treated against randomised hold-outs.

A playbook rule with a ``control:`` share holds a fixed, hash-drawn share of the customers it
matches out of any action (:func:`winback.playbooks.engine.control_bucket`). Each (customer,
rule) is *exposed* the first time the rule matches one of the customer's events; the arm is
``control`` when the customer was held out and ``treated`` otherwise. Because the draw is a
hash of (rule, customer), the arms are a randomised experiment for that rule: the difference
in retention between them is the rule's effect (intention to treat: a treated customer whose
case was handled badly still counts as treated).

**Churn** (docs/analytics.md): a customer has churned at the first of

- a ``subscription.cancelled`` event (its ``occurred_at``), or
- with an inactivity rule of ``inactive_days``, the customer's last activity plus
  ``inactive_days``, when that moment has passed (activity: any event of theirs).

**Retained at d days** after exposure at ``t``: not churned by ``t + d``. Only exposures whose
whole window has passed (``t + d <= as_of``) count at ``d``; a customer who had churned by the
time of exposure is left out (not at risk).

**Interval**: Newcombe's hybrid score interval for a difference of two proportions (each arm's
Wilson score interval combined; Newcombe 1998, method 10) — closed form, good coverage for
small arms and proportions near 0 or 1, no resampling. **Sample size**: the normal
approximation for two proportions with unequal arms (the control share), two-sided.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from statistics import NormalDist
from typing import Any

HORIZONS = (30, 60, 90)
GROUPINGS = ("rule", "segment", "remedy")


@dataclass(frozen=True)
class Exposure:
    """A customer's first match of a rule with a control share, and the arm drawn."""

    customer_id: str
    rule: str
    arm: str  # "treated" | "control"
    at: datetime
    segment: str | None = None
    remedy: str | None = None  # the first remedy applied to the customer after exposure
    remedy_cost: float = 0.0
    value: float | None = None  # the customer's annual value


@dataclass(frozen=True)
class Fate:
    """What is known of the customer's end: a cancellation, and the last activity."""

    cancelled_at: datetime | None = None
    last_active_at: datetime | None = None


def churned_at(fate: Fate, as_of: datetime, inactive_days: float | None) -> datetime | None:
    """When the customer churned as of ``as_of`` (``None``: still a customer)."""
    moments = [fate.cancelled_at] if fate.cancelled_at is not None else []
    if inactive_days is not None and fate.last_active_at is not None:
        quiet = fate.last_active_at + timedelta(days=inactive_days)
        if quiet <= as_of:
            moments.append(quiet)
    return min(moments) if moments else None


def retained(
    exposure: Exposure, fate: Fate, days: int, as_of: datetime, inactive_days: float | None
) -> bool | None:
    """Retained ``days`` after the exposure; ``None`` when the window has not passed yet or the
    customer had churned before it began."""
    end = exposure.at + timedelta(days=days)
    if end > as_of:
        return None
    gone = churned_at(fate, as_of, inactive_days)
    if gone is None:
        return True
    if gone <= exposure.at:
        return None
    return gone > end


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(
    s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``p1 - p2`` and Newcombe's hybrid score interval for it."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson(s1, n1, z)
    l2, u2 = wilson(s2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def sample_size(
    baseline: float,
    effect: float,
    control_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, int]:
    """Customers needed (in all, and per arm) to detect a retention difference of ``effect``
    (a proportion, e.g. 0.04) over a control retention of ``baseline`` with a two-sided test
    at ``alpha`` and the given power, when ``control_share`` of them are held out."""
    if not 0 < baseline < 1 or not 0 < baseline + effect < 1:
        raise ValueError("baseline and baseline + effect must lie strictly between 0 and 1")
    if abs(effect) < 1e-4:
        raise ValueError("effect: at least 0.01 points (a smaller one needs no finite sample)")
    if not 0 < control_share < 1:
        raise ValueError("control_share must lie strictly between 0 and 1")
    nd = NormalDist()
    z_a, z_b = nd.inv_cdf(1 - alpha / 2), nd.inv_cdf(power)
    pc, pt, s = baseline, baseline + effect, control_share
    pooled = s * pc + (1 - s) * pt
    a0 = pooled * (1 - pooled) * (1 / (1 - s) + 1 / s)
    a1 = pt * (1 - pt) / (1 - s) + pc * (1 - pc) / s
    total = (z_a * math.sqrt(a0) + z_b * math.sqrt(a1)) ** 2 / effect**2
    treated, control = math.ceil(total * (1 - s) - 1e-9), math.ceil(total * s - 1e-9)
    return {"total": treated + control, "treated": treated, "control": control}


@dataclass(frozen=True)
class ArmCounts:
    treated: int = 0
    treated_retained: int = 0
    control: int = 0
    control_retained: int = 0


def compare(counts: ArmCounts, confidence: float = 0.95) -> dict[str, Any]:
    """Treated against control: rates, the difference in points and its interval."""
    out: dict[str, Any] = {
        "n": counts.treated + counts.control,
        "treated": counts.treated,
        "control": counts.control,
        "treated_retention": None,
        "control_retention": None,
        "effect_points": None,
        "ci_low_points": None,
        "ci_high_points": None,
    }
    if counts.treated:
        out["treated_retention"] = round(counts.treated_retained / counts.treated, 4)
    if counts.control:
        out["control_retention"] = round(counts.control_retained / counts.control, 4)
    if counts.treated and counts.control:
        d, low, high = newcombe(
            counts.treated_retained,
            counts.treated,
            counts.control_retained,
            counts.control,
            confidence,
        )
        out["effect_points"] = round(100 * d, 2)
        out["ci_low_points"] = round(100 * low, 2)
        out["ci_high_points"] = round(100 * high, 2)
    return out


def verdict(label: str, days: int, result: Mapping[str, Any], confidence: float = 0.95) -> str:
    """One sentence a manager can read."""
    n, pct = result["n"], f"{round(100 * confidence)} %"
    if result["effect_points"] is None:
        missing = "no control group" if not result["control"] else "no treated customers"
        return f"{label}: nothing to compare at {days} days yet ({missing}; n = {n})."
    effect, low, high = result["effect_points"], result["ci_low_points"], result["ci_high_points"]
    span = f"{pct} CI {low:.1f} to {high:.1f}"
    if low > 0:
        how = f"{effect:+.1f} points retained at {days} days"
    elif high < 0:
        how = f"{effect:+.1f} points retained at {days} days (recovery is doing harm)"
    else:
        how = f"no effect shown at {days} days ({effect:+.1f} points)"
    return f"{label}: {how}, {span}, n = {n}."


def _key_of(names: Sequence[str]) -> Callable[[Exposure], tuple[str, ...]]:
    if not names:
        return lambda e: ()
    if len(names) == 1:
        name = names[0]
        return lambda e: (getattr(e, name) or "",)
    getter = attrgetter(*names)
    return lambda e: tuple(v or "" for v in getter(e))


NO_FATE = Fate()


def report(
    exposures: Iterable[Exposure],
    fates: Mapping[str, Fate],
    as_of: datetime,
    *,
    horizons: Sequence[int] = HORIZONS,
    by: Sequence[str] = ("rule",),
    inactive_days: float | None = None,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Retention treated against control per group (``by`` of :data:`GROUPINGS`) and horizon
    (see :func:`tally`), each exposure with its customer's fate from ``fates``."""
    pairs = ((e, fates.get(e.customer_id, NO_FATE)) for e in exposures)
    return tally(
        pairs,
        as_of,
        horizons=horizons,
        by=by,
        inactive_days=inactive_days,
        confidence=confidence,
    )


def tally(
    pairs: Iterable[tuple[Exposure, Fate]],
    as_of: datetime,
    *,
    horizons: Sequence[int] = HORIZONS,
    by: Sequence[str] = ("rule",),
    inactive_days: float | None = None,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Retention treated against control per group and horizon, from (exposure, fate) pairs
    read once (a stream: a million customers need not be held in memory).

    Grouping by ``remedy`` compares the treated customers who were given that remedy with the
    rule's whole control group: that split is *not* randomised (who gets a remedy was chosen),
    so it is descriptive; the rows say so. :func:`retained` is the definition; the loop below
    applies it with the customer's churn time computed once for every horizon.
    """
    for name in by:
        if name not in GROUPINGS:
            raise ValueError(f"unknown grouping {name!r}; one of {', '.join(GROUPINGS)}")
    key = _key_of(by)
    by_remedy = "remedy" in by
    control_key = _key_of([n for n in by if n != "remedy"])
    spans = [(days, timedelta(days=days)) for days in horizons]
    counts: dict[tuple[tuple[str, ...], int], list[int]] = {}
    money: dict[tuple[str, ...], list[float]] = {}
    control_pool: dict[tuple[tuple[str, ...], int], list[int]] = {}
    treated_keys: set[tuple[str, ...]] = set()
    for e, fate in pairs:
        k = key(e)
        treated = e.arm == "treated"
        if treated:
            treated_keys.add(k)
            m = money.get(k)
            if m is None:
                m = money[k] = [0.0, 0.0, 0]  # remedy cost, value, customers
            m[0] += e.remedy_cost
            m[1] += e.value or 0.0
            m[2] += 1
        gone = churned_at(fate, as_of, inactive_days)
        if gone is not None and gone <= e.at:
            continue  # not at risk when exposed
        for days, span in spans:
            end = e.at + span
            if end > as_of:
                continue
            kept = gone is None or gone > end
            if not treated and by_remedy:
                c = control_pool.get((control_key(e), days))
                if c is None:
                    c = control_pool[(control_key(e), days)] = [0, 0]
                c[0] += 1
                c[1] += kept
                continue
            tally_ = counts.get((k, days))
            if tally_ is None:
                tally_ = counts[(k, days)] = [0, 0, 0, 0]
            i = 0 if treated else 2
            tally_[i] += 1
            tally_[i + 1] += kept
    rows: list[dict[str, Any]] = []
    keys = sorted({k for k, _ in counts} | treated_keys)
    for k in keys:
        label = " / ".join(v or "(none)" for v in k)
        for days in horizons:
            t = counts.get((k, days), [0, 0, 0, 0])
            if "remedy" in by:
                ck = tuple(v for n, v in zip(by, k, strict=True) if n != "remedy")
                c = control_pool.get((ck, days), [0, 0])
                t = [t[0], t[1], c[0], c[1]]
            result = compare(ArmCounts(*t), confidence)
            row: dict[str, Any] = dict(zip(by, k, strict=True))
            row.update(days=days, **result)
            row["randomised"] = "remedy" not in by
            cost, value, n_money = money.get(k, [0.0, 0.0, 0])
            row["remedy_cost"] = round(cost, 2)
            if result["effect_points"] is not None and n_money:
                # Revenue kept: the treated customers' annual value times the retention gain.
                row["revenue_retained"] = round(value * result["effect_points"] / 100, 2)
            else:
                row["revenue_retained"] = None
            row["verdict"] = verdict(label, days, result, confidence)
            rows.append(row)
    return rows


# -- the recovery paradox -----------------------------------------------------------------------
PARADOX_GROUPS = ("recovered", "not_recovered", "never_a_problem")


@dataclass(frozen=True)
class Standing:
    """A customer as the paradox report sees them (see :func:`paradox`)."""

    first_seen_at: datetime
    had_case: bool
    exposed: bool
    answered_at: datetime | None = None  # their earliest resolution with a follow-up answer
    recovered: bool = False  # that answer was good
    fate: Fate = NO_FATE


def group_of(s: Standing, start: datetime) -> str | None:
    """``recovered`` / ``not_recovered``: resolved before ``start`` with a follow-up answer,
    good or not; ``never_a_problem``: no case and never matched by a rule with a control
    share; ``None``: neither (a case without an answer, or not yet a customer)."""
    if s.first_seen_at > start:
        return None
    if s.answered_at is not None and s.answered_at <= start:
        return "recovered" if s.recovered else "not_recovered"
    if not s.had_case and not s.exposed:
        return "never_a_problem"
    return None


def paradox(
    standings: Iterable[Standing],
    as_of: datetime,
    days: int = 90,
    inactive_days: float | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Retention over the same window (the ``days`` before ``as_of``) of recovered customers
    against customers who never had a problem (and those whose recovery failed).

    Observational, not an experiment: who has a problem, and who answers a survey, is not
    drawn at random, so a difference is a description, not an effect of recovery.
    """
    start = as_of - timedelta(days=days)
    counts = {g: [0, 0] for g in PARADOX_GROUPS}
    for s in standings:
        group = group_of(s, start)
        if group is None:
            continue
        gone = churned_at(s.fate, as_of, inactive_days)
        if gone is not None and gone <= start:
            continue  # not a customer when the window began
        counts[group][0] += 1
        counts[group][1] += gone is None
    rows: dict[str, Any] = {
        g: {"customers": n, "retained": (None if not n else round(k / n, 4))}
        for g, (n, k) in counts.items()
    }
    out: dict[str, Any] = {"days": days, "groups": rows}
    (n1, k1), (n0, k0) = counts["recovered"], counts["never_a_problem"]
    if n1 and n0:
        d, low, high = newcombe(k1, n1, k0, n0, confidence)
        out.update(
            difference_points=round(100 * d, 2),
            ci_low_points=round(100 * low, 2),
            ci_high_points=round(100 * high, 2),
        )
        sign = "more" if d > 0 else "fewer"
        shown = low > 0 or high < 0
        out["verdict"] = (
            f"recovered customers: {abs(100 * d):.1f} points {sign} retained over {days} days "
            f"than customers who never had a problem, {round(100 * confidence)} % CI "
            f"{100 * low:.1f} to {100 * high:.1f}, n = {n1} and {n0}"
            + ("" if shown else " (no difference shown)")
            + "; observational, not an effect of recovery."
        )
    else:
        out["verdict"] = f"nothing to compare over {days} days yet (n = {n1} and {n0})."
    return out
