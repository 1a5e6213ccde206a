"""Training data from the store's own history, without looking into the future.

Replay the event log in time order through the *same* feature code the live stage uses. At each
cut-off (every ``step_days``), take a snapshot of every customer known by then who has not
already left: the features as they were at that moment (only events that occurred at or before
the cut-off have been applied; profile fields too), labelled 1 if the customer cancelled within
``horizon_days`` after the cut-off. Cut-offs stop ``horizon_days`` before the last event, so
every label is fully observed. Nothing after a cut-off reaches its features.

Texts are analysed with ``analyze`` (the text stage's analyzer: the same model the live stage
sees) so that negative texts, categories and cancel intent mean the same in training as live;
without it the fallback signals (complaints, low scores) are used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.customers.cohort import CohortUsage
from winback.customers.features import (
    DAY,
    NUMERIC_FEATURES,
    FeatureState,
    Profile,
    apply_to_state,
    as_datetime,
    compute_features,
    epoch,
    is_churned,
    usage_reading,
)
from winback.customers.profile import Customer, apply_event
from winback.events.model import Event
from winback.risk.training import TrainingError

# Not a model input: always 0 when the live stage scores (it scores at the moment of an event).
LIVE_ONLY_FEATURES = frozenset({"days_since_last_event"})
# Shown and used by the cold start, but not learnt from history: the latest single score of each
# kind, read as the scale's neutral point when there is none. Beside ``score_mean_90d`` (every
# score on one scale) they made the model trained on a simulated run's first half rank its
# second half worse than the cold start (ROC AUC 0.667 against 0.677; 0.685 without them, on the
# run the features were tuned on; docs/risk.md).
NOT_LEARNT_FEATURES = frozenset({"last_nps", "last_csat", "last_ces"})
MODEL_NUMERIC = tuple(
    f for f in NUMERIC_FEATURES if f not in LIVE_ONLY_FEATURES | NOT_LEARNT_FEATURES
)
MODEL_CATEGORICAL = ("plan",)
PROGRESS_EVERY = 1000  # events between two progress reports
# Means over a window, not counts: a window cut short by the start of the log changes them little.
WINDOW_MEANS = frozenset({"usage_30d", "usage_90d", "score_mean_90d"})


def learnable(first_cutoff_days: int) -> tuple[str, ...]:
    """The numeric inputs a model learns from history whose first cut-off is
    ``first_cutoff_days`` into the log: every model input but the counts over a window longer
    than that (``complaints_90d`` when the first cut-off is at 30 days).

    The customers were there before the log began (its start is when the store began, not when
    they did), so at a cut-off less than a window into the log that window's count is cut short
    by the log, not by the customer. A model learnt from such cut-offs finds 90-day counts small
    and weighs them for that, then misjudges every customer once the windows are full: on the
    simulator run the features were tuned on (telecom, seed 11, trained on days 0-180 with a
    cut-off every 15 days from day 30), leaving the 90-day counts out took the trained model's
    ROC AUC on days 180-330 from 0.685 to 0.700 (the cold start: 0.677); scaling each to a full
    window instead reached 0.689.
    """
    out = []
    for name in MODEL_NUMERIC:
        _, _, suffix = name.rpartition("_")
        window = int(suffix[:-1]) if suffix.endswith("d") and suffix[:-1].isdigit() else 0
        if name in WINDOW_MEANS or window <= first_cutoff_days:
            out.append(name)
    return tuple(out)


@dataclass
class HistoryDataset:
    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the customer of each row
    cutoffs: list[datetime] = field(default_factory=list)
    customers: int = 0
    events: int = 0
    # The numeric inputs to learn from (rows hold every model input; see learnable()).
    numeric: tuple[str, ...] = MODEL_NUMERIC


def history_dataset(
    events: Iterable[Event],
    cancellations: Mapping[str, datetime],
    *,
    horizon_days: int = 90,
    step_days: int = 30,
    first_cutoff_days: int = 30,
    analyze: Callable[[str], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> HistoryDataset:
    """``events`` sorted by ``occurred_at``; ``cancellations``: each customer's first
    ``subscription.cancelled`` time. ``progress`` is told the number of events replayed so far,
    every ``PROGRESS_EVERY`` events and once at the end."""
    out = HistoryDataset(numeric=learnable(first_cutoff_days))
    states: dict[str, FeatureState] = {}
    profiles: dict[str, Customer] = {}
    cohorts = CohortUsage()  # the usage readings up to the event being replayed, as live
    cancel_ts = {k: epoch(v) for k, v in cancellations.items()}
    horizon = horizon_days * DAY
    first_ts: int | None = None
    next_cut: int | None = None
    last_ts: int | None = None
    snapshots: list[tuple[int, list[dict[str, Any]], list[int], list[str]]] = []
    for event in events:
        ts = epoch(event.occurred_at)
        if next_cut is None:
            first_ts, next_cut = ts, ts + first_cutoff_days * DAY
        while ts > next_cut:
            snapshots.append(
                (next_cut, *_snapshot(states, profiles, cohorts, cancel_ts, next_cut, horizon))
            )
            next_cut += step_days * DAY
        customer = apply_event(
            profiles.get(event.customer_id), event.customer, event.occurred_at, event.occurred_at
        )
        profiles[event.customer_id] = customer
        reading = usage_reading(event)
        if reading is not None:
            cohorts.add(reading[0], customer.plan, reading[1])
        text = event.text
        analysis = analyze(text) if analyze is not None and text and text.strip() else None
        apply_to_state(states.setdefault(event.customer_id, FeatureState()), event, analysis)
        out.events += 1
        last_ts = ts
        if progress is not None and out.events % PROGRESS_EVERY == 0:
            progress(out.events)
    if progress is not None and out.events % PROGRESS_EVERY:
        progress(out.events)
    if last_ts is None or first_ts is None:
        raise TrainingError("the event log is empty")
    out.customers = len(profiles)
    # Keep only the cut-offs whose horizon ended before the last event (labels fully seen).
    for cut, rows, labels, groups in snapshots:
        if cut + horizon <= last_ts:
            out.cutoffs.append(as_datetime(cut))
            out.rows.extend(rows)
            out.labels.extend(labels)
            out.groups.extend(groups)
    if not out.cutoffs:
        raise TrainingError(
            f"history too short: {(last_ts - first_ts) / DAY:.0f} days of events; training "
            f"needs more than {first_cutoff_days + horizon_days} (a first cut-off after "
            f"{first_cutoff_days} days plus the {horizon_days}-day horizon)"
        )
    return out


def _snapshot(
    states: dict[str, FeatureState],
    profiles: dict[str, Customer],
    cohorts: CohortUsage,
    cancel_ts: Mapping[str, int],
    cut: int,
    horizon: int,
) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    rows: list[dict[str, Any]] = []
    labels: list[int] = []
    groups: list[str] = []
    for customer_id, state in states.items():
        cancelled = cancel_ts.get(customer_id)
        if is_churned(state) or (cancelled is not None and cancelled <= cut):
            continue
        features = compute_features(state, Profile.of(profiles[customer_id]), cut, cohorts)
        rows.append({name: features[name] for name in (*MODEL_NUMERIC, *MODEL_CATEGORICAL)})
        labels.append(int(cancelled is not None and cut < cancelled <= cut + horizon))
        groups.append(customer_id)
    return rows, labels, groups
