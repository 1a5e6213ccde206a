"""Live customer features: a compact, order-free state, and the windowed features derived from it.

The concepts live in three modules; this one gathers their public names, so
``from winback.customers.features import ...`` keeps working:

- :mod:`winback.customers.signals` — what one event contributes (:class:`Signal`,
  :func:`event_signal`, the signal codes);
- :mod:`winback.customers.feature_state` — the order-free, bounded :class:`FeatureState`
  (:func:`apply_to_state`, :func:`record_sla_breach`, :func:`build_state`, persistence);
- :mod:`winback.customers.windowed` — the features (:func:`compute_features`, :class:`Profile`,
  :data:`NUMERIC_FEATURES`), a pure function of the state, the profile and an as-of time.

See ``docs/risk.md`` for the list of features.
"""

from __future__ import annotations

from winback.customers.feature_state import (
    MAX_SIGNALS,
    RETENTION_DAYS,
    FeatureState,
    apply_to_state,
    build_state,
    is_churned,
    record_sla_breach,
)
from winback.customers.signals import (
    ACTIVE,
    ACTIVITY_TYPES,
    CANCEL_INTENT,
    COMPLAINT,
    CONTACT,
    CONTACT_TYPES,
    DAY,
    LOW_SCORE,
    NEGATIVE,
    PAYMENT_FAILED,
    REFUND,
    SCORE,
    SERVICE_FAILURE,
    SERVICE_FAILURE_TYPES,
    SLA_BREACH,
    TICKET_OPENED,
    USAGE,
    USAGE_KEYS,
    Signal,
    as_datetime,
    epoch,
    event_signal,
    event_time,
    score_index,
    usage_reading,
)
from winback.customers.windowed import (
    BASELINE_MIN_DAYS,
    CATEGORICAL_FEATURES,
    CLOSED_TICKET_STATUSES,
    NO_CONTACT_DAYS,
    NO_POSITIVE_DAYS,
    NUMERIC_FEATURES,
    WINDOWS,
    Profile,
    compute_features,
)

__all__ = [
    "ACTIVE",
    "ACTIVITY_TYPES",
    "BASELINE_MIN_DAYS",
    "CANCEL_INTENT",
    "CATEGORICAL_FEATURES",
    "CLOSED_TICKET_STATUSES",
    "COMPLAINT",
    "CONTACT",
    "CONTACT_TYPES",
    "DAY",
    "LOW_SCORE",
    "MAX_SIGNALS",
    "NEGATIVE",
    "NO_CONTACT_DAYS",
    "NO_POSITIVE_DAYS",
    "NUMERIC_FEATURES",
    "PAYMENT_FAILED",
    "REFUND",
    "RETENTION_DAYS",
    "SCORE",
    "SERVICE_FAILURE",
    "SERVICE_FAILURE_TYPES",
    "SLA_BREACH",
    "TICKET_OPENED",
    "USAGE",
    "USAGE_KEYS",
    "WINDOWS",
    "FeatureState",
    "Profile",
    "Signal",
    "apply_to_state",
    "as_datetime",
    "build_state",
    "compute_features",
    "epoch",
    "event_signal",
    "event_time",
    "is_churned",
    "record_sla_breach",
    "score_index",
    "usage_reading",
]
