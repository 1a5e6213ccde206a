"""Reasons in plain words: one sentence per feature, from its value.

``describe("complaints_7d", features)`` → "3 complaints about billing in 7 days";
``describe("usage_trend", features)`` → "usage down 60 % against usual";
``describe("usage_level", features)`` → "usage 60 % below similar customers'". Features without a
sentence of their own get a neutral "<name>: <value>" so a trained model's reasons always read.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def _n(value: Any) -> int:
    return round(float(value or 0))


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


@lru_cache(maxsize=1024)  # feature names come from a model's (bounded) list
def _windowed(feature: str) -> tuple[str, int] | None:
    base, _, rest = feature.rpartition("_")
    if rest.endswith("d") and rest[:-1].isdigit():
        return base, int(rest[:-1])
    return None


_COUNT_WORDS = {
    "negative_texts": ("negative message", None),
    "low_scores": ("low survey score", None),
    "tickets_opened": ("ticket opened", "tickets opened"),
    "payment_failures": ("failed payment", None),
    "refunds": ("refund request", None),
    "service_failures": ("service failure", None),
    "sla_breaches": ("broken service promise", None),
    "cancel_intent": ("mention of cancelling", "mentions of cancelling"),
}


def describe(feature: str, features: dict[str, Any]) -> str:
    value = features.get(feature)
    windowed = _windowed(feature)
    if windowed is not None:
        base, days = windowed
        n = _n(value)
        if base == "complaints":
            category = features.get(f"complaint_category_{days}d")
            about = f" about {category}" if category and category != "general" else ""
            return f"{_plural(n, 'complaint')}{about} in {days} days"
        if base == "repeat_contacts":
            category = features.get(f"top_category_{days}d")
            about = f" about {category}" if category and category != "general" else ""
            return f"contacted again{about} {_plural(n, 'time')} in {days} days"
        if base in _COUNT_WORDS:
            word, plural = _COUNT_WORDS[base]
            return f"{_plural(n, word, plural)} in {days} days"
    if feature == "tickets_unresolved":
        return f"{_plural(_n(value), 'ticket')} still unresolved"
    if feature in ("usage_trend", "activity_trend"):
        what = "usage" if feature == "usage_trend" else "activity"
        pct = round(float(value or 0) * 100)
        if pct < 0:
            return f"{what} down {-pct} % against usual"
        return f"{what} up {pct} % against usual"
    if feature == "usage_level":
        level = float(value or 0)
        if level <= -1.0:
            return "no usage in 30 days, while similar customers use the service"
        if level < 0:
            return f"usage {round(-level * 100)} % below similar customers'"
        if level >= 1.0:
            return f"usage {level + 1:.1f} times similar customers'"
        return f"usage {round(level * 100)} % above similar customers'"
    if feature in ("usage_30d", "usage_90d"):
        days = 30 if feature == "usage_30d" else 90
        return f"average usage report {float(value or 0):g} in {days} days"
    if feature == "score_mean_90d":
        mean = float(value or 0)
        if mean <= -0.5:
            return "surveys and reviews poor on average in 90 days"
        if mean < 0:
            return "surveys and reviews below the midpoint on average in 90 days"
        if mean > 0:
            return "surveys and reviews above the midpoint on average in 90 days"
        return "surveys and reviews at the midpoint in 90 days, or none"
    if feature == "days_since_contact":
        days = _n(value)
        if days >= 365:
            return "no contact on record"
        if days == 0:
            return "contacted us today"
        return f"contacted us {_plural(days, 'day')} ago"
    if feature == "days_since_positive":
        days = _n(value)
        if days >= 365:
            return "no positive signal on record"
        return f"no positive signal for {days} days"
    if feature == "days_since_last_event":
        return f"silent for {_n(value)} days"
    if feature in ("last_nps", "last_csat", "last_ces"):
        return f"last {feature[5:].upper()} {_n(value)}"
    if feature == "tenure_days":
        days = _n(value)
        return f"customer for {days} days" if days < 365 else f"customer for {days // 365} years"
    if feature == "value":
        return f"annual value {float(value or 0):,.0f}"
    if feature.startswith("plan="):
        return f"on the {feature[5:]} plan"
    if isinstance(value, float):
        return f"{feature.replace('_', ' ')}: {value:g}"
    return f"{feature.replace('_', ' ')}: {value}"
