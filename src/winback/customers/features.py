"""Live customer features: a compact, order-free state, and the windowed features derived from it.

The state (:class:`FeatureState`) is built so that *any order* of a customer's events, with
duplicates, gives the *same* state (property-tested in ``tests/unit/risk/test_features_order.py``):

- ``signals``: one compact record per event id (time, signal codes, category, value). Keyed by
  event id, so a redelivered event changes nothing;
- ``tickets``: per ticket id, the latest ``(time, event id, status)`` — a max, so order-free;
- ``last``: per kind (``nps``, ``csat``, ``ces``, ``positive``, ``cancelled``, ``renewed``) the
  latest ``(time, event id, value)`` — a max again;
- ``max_ts``: the latest event time seen. It is the state's *as-of* time: windows ("in the last
  7 days") are measured back from it, never from the wall clock, so the same events always give
  the same features. An event counts at its ``occurred_at`` but never later than its receipt
  (:func:`event_time`), so no window anchors on a time after the event was processed.

Bounded: signals and tickets older than :data:`RETENTION_DAYS` before ``max_ts`` are dropped, and
at most :data:`MAX_SIGNALS` signals are kept (the latest by time, then event id). Both rules keep
"the top of the union", so pruning commutes with the order of arrival too.

Features (:func:`compute_features`) are a pure function of the state, the customer's profile and
an as-of time; see ``docs/risk.md`` for the list. SLA breaches are a *hook*: the risk stage
records them with :func:`record_sla_breach` (from the SLA state of the customer's cases, see
:mod:`winback.pipeline.stages.risk`), and ``sla_breaches_*`` count the breaches recorded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from winback.customers.profile import Customer
from winback.events.model import Event

RETENTION_DAYS = 120
MAX_SIGNALS = 1000
WINDOWS = (7, 30, 90)
DAY = 86_400
BASELINE_MIN_DAYS = 14  # a usage baseline needs at least this much history
CLOSED_TICKET_STATUSES = frozenset({"closed", "resolved", "solved", "done", "cancelled"})
CONTACT_TYPES = frozenset({"complaint", "message", "ticket.opened"})
SERVICE_FAILURE_TYPES = frozenset({"outage", "delivery.delayed", "booking.error"})
ACTIVITY_TYPES = frozenset({"usage", "login", "purchase"})
USAGE_KEYS = (
    "sessions",
    "quantity",
    "units",
    "active_users",
    "data_gb",
    "call_minutes",
    "minutes",
)

# Signal codes (the compact vocabulary of the state).
COMPLAINT = "complaint"
NEGATIVE = "negative"
CONTACT = "contact"
LOW_SCORE = "low_score"
PAYMENT_FAILED = "payment_failed"
REFUND = "refund"
SERVICE_FAILURE = "service_failure"
TICKET_OPENED = "ticket_opened"
CANCEL_INTENT = "cancel_intent"
USAGE = "usage"
ACTIVE = "active"
SLA_BREACH = "sla_breach"


@dataclass(frozen=True)
class Signal:
    ts: int  # seconds since the epoch (UTC)
    codes: tuple[str, ...]
    category: str | None = None
    value: float = 0.0


@dataclass
class FeatureState:
    """A customer's order-free feature state (see the module docstring)."""

    signals: dict[str, Signal] = field(default_factory=dict)
    tickets: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    last: dict[str, tuple[int, str, float]] = field(default_factory=dict)
    max_ts: int | None = None
    # A min-heap of (time, event id) over ``signals`` (built on first need), so pruning pops
    # the oldest instead of scanning. Not part of the state's value.
    heap: list[tuple[int, str]] | None = field(default=None, compare=False, repr=False)

    # -- persistence (JSON) ------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "s": {k: [s.ts, list(s.codes), s.category, s.value] for k, s in self.signals.items()},
            "t": {k: list(v) for k, v in self.tickets.items()},
            "l": {k: list(v) for k, v in self.last.items()},
            "m": self.max_ts,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FeatureState:
        if not data:
            return cls()
        return cls(
            signals={
                k: Signal(int(v[0]), tuple(v[1]), v[2], float(v[3]))
                for k, v in (data.get("s") or {}).items()
            },
            tickets={
                k: (int(v[0]), str(v[1]), str(v[2])) for k, v in (data.get("t") or {}).items()
            },
            last={k: (int(v[0]), str(v[1]), float(v[2])) for k, v in (data.get("l") or {}).items()},
            max_ts=None if data.get("m") is None else int(data["m"]),
        )

    def copy(self) -> FeatureState:
        return FeatureState(dict(self.signals), dict(self.tickets), dict(self.last), self.max_ts)


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def event_time(event: Event) -> int:
    """The time an event counts at: its ``occurred_at``, but never after Winback received it.

    Windows are measured back from the latest event time, and retention prunes from it, so
    one event stamped ahead of its receipt (a sender's clock running fast, or a far-future
    date stored before ingest refused them) would otherwise push every other signal out of
    the windows or the state. Receipt time is part of the logged event, so the state stays a
    function of the events alone, whatever the order or the time of processing.
    """
    return epoch(min(event.occurred_at, event.received_at))


def as_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# -- turning an event into signals -------------------------------------------------------------


def _low_score(kind: str, value: int) -> bool:
    return (
        (kind == "nps" and value <= 6)
        or (kind == "csat" and value <= 2)
        or (kind == "ces" and value >= 5)
    )


def _high_score(kind: str, value: int) -> bool:
    return (
        (kind == "nps" and value >= 9)
        or (kind == "csat" and value >= 4)
        or (kind == "ces" and value <= 2)
    )


def _usage_value(data: Mapping[str, Any]) -> float:
    attributes = data.get("attributes") or {}
    for key in USAGE_KEYS:
        value = attributes.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    amount = data.get("amount")
    return float(amount) if isinstance(amount, int | float) else 1.0


def _stars(data: Mapping[str, Any]) -> float | None:
    stars = (data.get("attributes") or {}).get("stars")
    return float(stars) if isinstance(stars, int | float) else None


def event_signal(event: Event, text: Any = None) -> tuple[Signal | None, dict[str, float]]:
    """What one event contributes: its signal (or None) and its ``last`` entries.

    ``text`` is the text stage's analysis when present (``.sentiment``, ``.category``,
    ``.urgency``); without it, negative texts are inferred from complaints and low scores.
    """
    data, type_ = event.data, event.type
    codes: list[str] = []
    lasts: dict[str, float] = {}
    score = event.score
    low = score is not None and _low_score(*score)
    stars = _stars(data) if type_ == "review" else None
    if stars is not None and stars <= 2:
        low = True
    positive = (score is not None and _high_score(*score)) or (stars is not None and stars >= 4)
    if score is not None:
        lasts[score[0]] = float(score[1])
    if low:
        codes.append(LOW_SCORE)
    if type_ == "complaint":
        codes.append(COMPLAINT)
    is_contact = type_ in CONTACT_TYPES or (type_ == "ticket.updated" and event.text is not None)
    if is_contact:
        codes.append(CONTACT)
    if type_ == "ticket.opened":
        codes.append(TICKET_OPENED)
    if event.text is not None:
        if text is not None:
            sentiment = getattr(text, "sentiment", None)
            if sentiment == "negative":
                codes.append(NEGATIVE)
            elif sentiment == "positive" and not low and type_ not in CONTACT_TYPES:
                positive = True
            if "cancel_intent" in tuple(getattr(text, "urgency", ()) or ()):
                codes.append(CANCEL_INTENT)
        elif (
            type_ in ("complaint", "refund.requested")
            or low
            or (is_contact and (data.get("attributes") or {}).get("follow_up"))
        ):
            codes.append(NEGATIVE)
    if type_ == "payment.failed":
        codes.append(PAYMENT_FAILED)
    elif type_ == "refund.requested":
        codes.append(REFUND)
    elif type_ in SERVICE_FAILURE_TYPES:
        codes.append(SERVICE_FAILURE)
    elif type_ == "subscription.renewed":
        positive = True
        lasts["renewed"] = 1.0
    elif type_ == "subscription.cancelled":
        lasts["cancelled"] = 1.0
    value = 0.0
    if type_ in ACTIVITY_TYPES:
        codes.append(ACTIVE)
        if type_ == "usage":
            codes.append(USAGE)
            value = _usage_value(data)
    if positive:
        lasts["positive"] = 1.0
    category = None
    if is_contact:
        category = getattr(text, "category", None) if text is not None else None
        category = (
            category or data.get("touchpoint") or (data.get("attributes") or {}).get("category")
        )
        category = str(category) if category else "general"
    signal = Signal(event_time(event), tuple(codes), category, value) if codes else None
    return signal, lasts


# -- applying (order-free) ---------------------------------------------------------------------


def _key(entry: tuple[int, str, Any]) -> tuple[int, str]:
    return entry[0], entry[1]


def apply_to_state(state: FeatureState, event: Event, text: Any = None) -> FeatureState:
    """Merge one event into ``state`` (in place) and return it. Idempotent and order-free."""
    signal, lasts = event_signal(event, text)
    ts = event_time(event)
    if signal is not None:
        _add_signal(state, event.event_id, signal)
    for kind, value in lasts.items():
        entry = (ts, event.event_id, value)
        current = state.last.get(kind)
        if current is None or _key(entry) > _key(current):
            state.last[kind] = entry
    ticket = event.data.get("ticket")
    if isinstance(ticket, Mapping) and ticket.get("id"):
        status = ticket.get("status")
        if event.type == "ticket.closed":
            status = status or "closed"
        entry_t = (ts, event.event_id, str(status or "open").lower())
        tid = str(ticket["id"])
        current_t = state.tickets.get(tid)
        if current_t is None or _key(entry_t) > _key(current_t):
            state.tickets[tid] = entry_t
    state.max_ts = ts if state.max_ts is None else max(state.max_ts, ts)
    _prune(state)
    return state


def record_sla_breach(state: FeatureState, key: str, at: datetime) -> FeatureState:
    """The SLA hook: record that the customer suffered a breach (``key`` makes it idempotent).

    The risk stage calls this (see ``docs/risk.md``) for every breach of a promise made to the
    customer; ``sla_breaches_{7,30,90}d`` count them.
    """
    ts = epoch(at)
    _add_signal(state, f"sla:{key}", Signal(ts, (SLA_BREACH,)))
    state.max_ts = ts if state.max_ts is None else max(state.max_ts, ts)
    _prune(state)
    return state


def _prune(state: FeatureState) -> None:
    if state.max_ts is None:
        return
    cutoff = state.max_ts - RETENTION_DAYS * DAY
    signals, heap = state.signals, _heap(state)
    # Drop what expired, then the oldest (by time, then event id) beyond MAX_SIGNALS: the
    # result is "the latest MAX_SIGNALS within the retention", whatever the arrival order.
    while heap and (heap[0][0] < cutoff or len(signals) > MAX_SIGNALS):
        ts, key = heapq.heappop(heap)
        current = signals.get(key)
        if current is not None and current.ts == ts:
            del signals[key]
    if state.tickets:
        for k in [k for k, t in state.tickets.items() if t[0] < cutoff]:
            del state.tickets[k]


def _heap(state: FeatureState) -> list[tuple[int, str]]:
    if state.heap is None:
        state.heap = [(s.ts, k) for k, s in state.signals.items()]
        heapq.heapify(state.heap)
    return state.heap


def _add_signal(state: FeatureState, key: str, signal: Signal) -> None:
    known = state.signals.get(key)
    if known is None or known.ts != signal.ts:
        heapq.heappush(_heap(state), (signal.ts, key))
    state.signals[key] = signal


def build_state(events: Iterable[tuple[Event, Any]]) -> FeatureState:
    """The state after ``events`` (each with its text analysis or None), in any order."""
    state = FeatureState()
    for event, text in events:
        apply_to_state(state, event, text)
    return state


# -- features ----------------------------------------------------------------------------------


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


def compute_features(
    state: FeatureState, profile: Profile, as_of: datetime | int | None = None
) -> dict[str, Any]:
    """The customer's features as of ``as_of`` (default: the state's latest event time).

    Only signals at or before ``as_of`` count, so features "as they were" at a past cut-off
    can be computed from a later state for the part it still holds (training uses the event
    log itself, see :mod:`winback.risk.training`).
    """
    if as_of is None:
        now = state.max_ts if state.max_ts is not None else 0
    else:
        now = as_of if isinstance(as_of, int) else epoch(as_of)
    signals = [s for s in state.signals.values() if s.ts <= now]
    out: dict[str, Any] = {}
    # One pass over the signals; usage/activity signals carry no windowed codes of their own.
    starts = [now - w * DAY for w in WINDOWS]
    counts: list[dict[str, int]] = [{} for _ in WINDOWS]
    categories: list[dict[str, int]] = [{} for _ in WINDOWS]
    complaint_cats: list[dict[str | None, int]] = [{} for _ in WINDOWS]
    recent_start, base90 = now - 30 * DAY, now - 90 * DAY
    first_u: int | None = None
    first_a: int | None = None
    base_u = recent_u = base_a = recent_a = 0.0
    for s in signals:
        codes, ts = s.codes, s.ts
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
                if ts >= recent_start:
                    recent_u += s.value
                elif ts >= base90:
                    base_u += s.value
            if codes == (ACTIVE,) or codes == (ACTIVE, USAGE):
                continue
        for i, start in enumerate(starts):
            if ts <= start:
                continue
            c = counts[i]
            for code in codes:
                c[code] = c.get(code, 0) + 1
            if s.category is not None:
                if CONTACT in codes:
                    categories[i][s.category] = categories[i].get(s.category, 0) + 1
                if COMPLAINT in codes:
                    complaint_cats[i][s.category] = complaint_cats[i].get(s.category, 0) + 1
    for i, window in enumerate(WINDOWS):
        c, cats = counts[i], categories[i]
        for name, code in _WINDOW_CODES:
            out[f"{name}_{window}d"] = float(c.get(code, 0))
        out[f"repeat_contacts_{window}d"] = float(sum(n - 1 for n in cats.values() if n > 1))
        # For the reasons' words only (not a model input): the most-contacted-about category,
        # and the complaints' category when they all share one.
        top = min(cats.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
        out[f"top_category_{window}d"] = top[0] if top else None
        top_c = min(complaint_cats[i].items(), key=lambda kv: (-kv[1], str(kv[0])), default=None)
        complaints = c.get(COMPLAINT, 0)
        out[f"complaint_category_{window}d"] = (
            top_c[0] if top_c is not None and complaints and top_c[1] == complaints else None
        )
        if window == 30:
            out["cancel_intent_30d"] = float(c.get(CANCEL_INTENT, 0))
    out["tickets_unresolved"] = float(
        sum(
            1
            for ts, _, status in state.tickets.values()
            if ts <= now and status not in CLOSED_TICKET_STATUSES
        )
    )
    trend = _trend(first_u, base_u, recent_u, now)
    out["usage_trend"] = 0.0 if trend is None else round(trend, 4)
    activity_trend = _trend(first_a, base_a, recent_a, now)
    out["activity_trend"] = 0.0 if activity_trend is None else round(activity_trend, 4)
    positive = state.last.get("positive")
    if positive is not None and positive[0] <= now:
        out["days_since_positive"] = round((now - positive[0]) / DAY, 3)
    else:
        out["days_since_positive"] = NO_POSITIVE_DAYS
    latest = max((s.ts for s in signals), default=state.max_ts if state.max_ts else now)
    out["days_since_last_event"] = round(max(0, now - min(latest, now)) / DAY, 3)
    for kind, neutral in (("nps", 7.5), ("csat", 4.0), ("ces", 3.0)):
        entry = state.last.get(kind)
        # The scale's neutral point when there is no score: "no news" is not bad news.
        out[f"last_{kind}"] = entry[2] if entry is not None and entry[0] <= now else neutral
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


def is_churned(state: FeatureState) -> bool:
    """The customer's latest word was a cancellation (not followed by a renewal)."""
    cancelled, renewed = state.last.get("cancelled"), state.last.get("renewed")
    return cancelled is not None and (renewed is None or _key(cancelled) > _key(renewed))
