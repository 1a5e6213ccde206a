"""Survey scores: CSAT, NPS and CES from their distributions.

Every event that carries a ``score`` counts (today a ``survey.response``; the scale depends on
the kind: NPS 0-10, CSAT 1-5, CES 1-7). From a distribution ``{value: answers}``:

- **NPS** = % promoters (9-10) - % detractors (0-6), from -100 to +100;
- **CSAT** = % of answers 4 or 5, and the mean;
- **CES** = % of answers 1-3 ("easy"), and the mean (lower is easier).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winback.events.model import SCORE_SCALES

KINDS = tuple(SCORE_SCALES)


def summary(kind: str, distribution: Mapping[int, float]) -> dict[str, Any]:
    """The score's headline figures and its full distribution (every value of the scale)."""
    low, high = SCORE_SCALES[kind]
    dist = {v: int(distribution.get(v, 0)) for v in range(low, high + 1)}
    n = sum(dist.values())
    out: dict[str, Any] = {"kind": kind, "responses": n, "distribution": dist}
    if n == 0:
        out.update(score=None, mean=None)
        return out
    mean = sum(v * c for v, c in dist.items()) / n
    out["mean"] = round(mean, 3)
    if kind == "nps":
        promoters = sum(c for v, c in dist.items() if v >= 9)
        detractors = sum(c for v, c in dist.items() if v <= 6)
        out["score"] = round(100.0 * (promoters - detractors) / n, 2)
        out["promoters"], out["detractors"] = promoters, detractors
    elif kind == "csat":
        out["score"] = round(100.0 * sum(c for v, c in dist.items() if v >= 4) / n, 2)
    else:
        out["score"] = round(100.0 * sum(c for v, c in dist.items() if v <= 3) / n, 2)
    return out
