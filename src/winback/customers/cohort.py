"""Usage against the cohort's: how much a customer uses compared with customers like them.

A customer's own trend (``usage_trend``) compares them with their own past, so it sees a fall
but not a level: a customer who has always used little looks as safe as one who uses a lot.
:class:`CohortUsage` holds, per *cohort*, a histogram of every usage reading the processor has
seen; ``usage_level`` (:mod:`winback.customers.windowed`) compares the customer's mean reading
in the last 30 days with their cohort's median reading ("usage 60 % below similar customers").

A cohort is a usage measure and a plan, ``"data_gb:postpaid"``; every reading also counts in
its measure's cohort across plans, ``"data_gb:*"``, which answers while a plan's own cohort has
fewer than :data:`MIN_READINGS` readings. Readings of different measures (gigabytes, sessions)
never share a cohort.

Invariants:

- **Order-free.** A cohort is a count per bin, and counts add: the same readings in any order
  give the same histogram, and the median is a function of the counts alone. Each reading
  counts once because the processor runs each event once (contract 8 in ARCHITECTURE.md); a
  batch that is redone starts again from the stored counts.
- **Bounded.** A histogram is :data:`BINS` counts whatever the number of readings (values on
  a log scale, :data:`BINS_PER_OCTAVE` bins an octave, from 2^-10 to 2^20, and one bin for 0),
  and there are at most :data:`MAX_COHORTS` cohorts: a plan beyond them counts in its
  measure's cohort only.
- The median is interpolated inside its bin (log-linear), so it moves smoothly with the counts.

Plain Python: the unit of work loads the counts and writes :meth:`CohortUsage.pending`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

BINS_PER_OCTAVE = 8
LOW_EXPONENT = -10  # 2^-10: smaller positive readings count in the lowest bin
HIGH_EXPONENT = 20  # 2^20: larger readings count in the highest bin
BINS = 1 + (HIGH_EXPONENT - LOW_EXPONENT) * BINS_PER_OCTAVE  # bin 0 holds the zeros
MIN_READINGS = 30  # a cohort answers once it holds this many readings
MAX_COHORTS = 64
ALL_PLANS = "*"


def bin_of(value: float) -> int:
    """The bin a reading falls in: 0 for zero (or less), then log-spaced."""
    if value <= 0 or math.isnan(value):
        return 0
    position = math.floor((math.log2(value) - LOW_EXPONENT) * BINS_PER_OCTAVE)
    return 1 + max(0, min(BINS - 2, position))


def _edge(b: int) -> float:
    """The lower edge of positive bin ``b`` (1 ... BINS - 1)."""
    return float(2.0 ** (LOW_EXPONENT + (b - 1) / BINS_PER_OCTAVE))


def cohort_key(measure: str, plan: str | None) -> str:
    return f"{measure}:{plan or 'unknown'}"


@dataclass
class Histogram:
    """The readings of one cohort: a count per bin, and the running median's position."""

    counts: list[int] = field(default_factory=lambda: [0] * BINS)
    total: int = 0
    # The lower median's bin and the count of readings below that bin, kept up to date on
    # each add (a step or two), so asking for the median costs no walk over the bins.
    _median_bin: int = 0
    _below: int = 0
    _median: float | None = None  # the last median computed, until the next add

    @classmethod
    def of(cls, counts: Iterable[tuple[int, int]]) -> Histogram:
        histogram = cls()
        for b, n in counts:
            if 0 <= b < BINS and n > 0:
                histogram.counts[b] += n
                histogram.total += n
        histogram._settle()
        return histogram

    def add(self, b: int, n: int = 1) -> None:
        self.counts[b] += n
        self.total += n
        if b < self._median_bin:
            self._below += n
        self._median = None
        self._settle()

    def _settle(self) -> None:
        target = (self.total + 1) // 2  # the rank of the lower median, from 1
        counts = self.counts
        m, below = self._median_bin, self._below
        while m > 0 and below >= target:
            m -= 1
            below -= counts[m]
        while m < BINS - 1 and below + counts[m] < target:
            below += counts[m]
            m += 1
        self._median_bin, self._below = m, below

    def median(self) -> float:
        """The median reading (0.0 when at least half the readings are zero)."""
        if self._median is None:
            self._median = self._compute_median()
        return self._median

    def _compute_median(self) -> float:
        m = self._median_bin
        if m == 0 or self.total == 0:
            return 0.0
        n = self.counts[m]
        # Where the median rank falls inside its bin, spread log-evenly across the bin.
        share = ((self.total + 1) / 2 - self._below - 0.5) / n if n else 0.5
        share = min(1.0, max(0.0, share))
        low = _edge(m)
        return float(low * 2.0 ** (share / BINS_PER_OCTAVE))


class CohortUsage:
    """Every cohort's histogram, and what was added since they were loaded (``pending``)."""

    def __init__(self, counts: Iterable[tuple[str, int, int]] = ()) -> None:
        grouped: dict[str, list[tuple[int, int]]] = {}
        for cohort, b, n in counts:
            grouped.setdefault(cohort, []).append((b, n))
        self.cohorts: dict[str, Histogram] = {k: Histogram.of(v) for k, v in grouped.items()}
        self.pending: dict[tuple[str, int], int] = {}
        self._keys: dict[tuple[str, str | None], tuple[str, str]] = {}

    def _keys_of(self, measure: str, plan: str | None) -> tuple[str, str]:
        keys = self._keys.get((measure, plan))
        if keys is None:
            keys = self._keys[(measure, plan)] = (
                cohort_key(measure, plan),
                f"{measure}:{ALL_PLANS}",
            )
        return keys

    def add(self, measure: str, plan: str | None, value: float) -> None:
        """Count one reading in its plan's cohort and in its measure's cohort."""
        b = bin_of(value)
        pending = self.pending
        for key in self._keys_of(measure, plan):
            histogram = self.cohorts.get(key)
            if histogram is None:
                if len(self.cohorts) >= MAX_COHORTS and not key.endswith(f":{ALL_PLANS}"):
                    continue
                histogram = self.cohorts[key] = Histogram()
            histogram.add(b)
            pending[(key, b)] = pending.get((key, b), 0) + 1

    def median(self, measure: str, plan: str | None) -> float | None:
        """The cohort's median reading: the plan's cohort when it holds enough readings, else
        the measure's across plans, else None (no reference yet)."""
        for key in self._keys_of(measure, plan):
            histogram = self.cohorts.get(key)
            if histogram is not None and histogram.total >= MIN_READINGS:
                return histogram.median()
        return None

    def rows(self) -> Iterator[tuple[str, int, int]]:
        """Every (cohort, bin, count) with a count: what a store keeps."""
        for key, histogram in self.cohorts.items():
            for b, n in enumerate(histogram.counts):
                if n:
                    yield key, b, n

    def take_pending(self) -> dict[tuple[str, int], int]:
        """The counts added since the last call (what the unit of work adds to the store)."""
        pending, self.pending = self.pending, {}
        return pending
