"""A customer's order-free feature state: signals keyed by event id, maxima, bounded.

The state (:class:`FeatureState`) is built so that *any order* of a customer's events, with
duplicates, gives the *same* state (property-tested in ``tests/unit/risk/test_features_order.py``):

- ``signals``: one compact record per event id (time, signal codes, category, value; see
  :mod:`winback.customers.signals`). Keyed by event id, so a redelivered event changes nothing;
- ``tickets``: per ticket id, the latest ``(time, event id, status)`` — a max, so order-free;
- ``last``: per kind (``nps``, ``csat``, ``ces``, ``positive``, ``cancelled``, ``renewed``) the
  latest ``(time, event id, value)`` — a max again;
- ``max_ts``: the latest event time seen. It is the state's *as-of* time: windows ("in the last
  7 days") are measured back from it, never from the wall clock, so the same events always give
  the same features. An event counts at its ``occurred_at`` but never later than its receipt
  (:func:`~winback.customers.signals.event_time`), so no window anchors on a time after the
  event was processed.

Bounded: signals and tickets older than :data:`RETENTION_DAYS` before ``max_ts`` are dropped, and
at most :data:`MAX_SIGNALS` signals are kept (the latest by time, then event id). Both rules keep
"the top of the union", so pruning commutes with the order of arrival too.

SLA breaches are recorded through :func:`record_sla_breach` (idempotent per key).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.customers.signals import (
    DAY,
    SLA_BREACH,
    Signal,
    epoch,
    event_signal,
    event_time,
)
from winback.events.model import Event

RETENTION_DAYS = 120
MAX_SIGNALS = 1000


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

    The risk stage calls this for every breach in the SLA state of the customer's cases (see
    ``docs/risk.md``): each a promise broken to the customer; ``sla_breaches_{7,30,90}d`` count
    them.
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


def is_churned(state: FeatureState) -> bool:
    """The customer's latest word was a cancellation (not followed by a renewal)."""
    cancelled, renewed = state.last.get("cancelled"), state.last.get("renewed")
    return cancelled is not None and (renewed is None or _key(cancelled) > _key(renewed))
