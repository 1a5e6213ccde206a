"""The simulation engine: one company, its customers, their events, in time order, streamed.

A :class:`Simulation` keeps every customer's hidden state (a few hundred bytes each) and one
calendar of scheduled happenings (a handful per customer). :meth:`Simulation.advance` pops what
is due, hands each happening to its handler and returns the events a company would send
Winback, in time order. Nothing grows with the number of events, so memory is bounded by the
number of customers, whatever the number of days (the ground truth, when asked for, adds each
customer's failures and satisfaction changes).

Open loop, :meth:`Simulation.events` runs to the end. Closed loop, a driver (``compare.py``)
calls :meth:`advance` in small steps and, between steps, tells the simulation what the
company's response team did (:meth:`respond`): the customer's reaction follows the response
model. Plain Python: no database, no HTTP.

This module builds the company and runs it; the rest lives beside it, one concept a module:

- :mod:`~winback.sim.schedule`: the kinds of happening, their order, the calendar queue;
- :mod:`~winback.sim.clock`: hours since the start as RFC 3339 stamps in local offsets;
- :mod:`~winback.sim.churn`: the daily hazard, the decision to leave, the cancellation;
- :mod:`~winback.sim.activity`: usage, logins, purchases, renewals;
- :mod:`~winback.sim.problems`: failures, outages, contacts, chases, neglect;
- :mod:`~winback.sim.feedback`: surveys and reviews;
- :mod:`~winback.sim.response`: acknowledgements and resolutions, and their statistics.

Invariants:

- The same configuration gives the same events, byte for byte: every random number comes from
  a stream seeded from ``config.seed``'s master stream, in this order: company-wide happenings,
  text, reactions to responses, then one stream per customer.
- Events come out in time order (the calendar's order, :mod:`~winback.sim.schedule`), their
  ids numbered in the order they are emitted.
- A customer's first event carries their profile; later ones carry only their id.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from winback.sim.activity import on_activity, on_renew
from winback.sim.churn import (
    ChurnHazard,
    on_cancel,
    on_day,
    on_decide,
    schedule_static_decisions,
)
from winback.sim.clock import SimClock
from winback.sim.customers import Customer
from winback.sim.feedback import on_nps, on_review, on_tsurvey
from winback.sim.industries import INDUSTRIES, FailureKind, Industry
from winback.sim.model import Model
from winback.sim.problems import (
    on_chase,
    on_contact,
    on_expire,
    on_failure,
    on_neglect,
    on_outage,
)
from winback.sim.response import ResponseStats, on_ack, on_post_survey, on_resolve
from winback.sim.rng import Stream
from winback.sim.schedule import (
    ACK,
    ACTIVITY,
    CANCEL,
    CHASE,
    CONTACT,
    DAY,
    DECIDE,
    EXPIRE,
    FAILURE,
    NEGLECT,
    NPS,
    OUTAGE,
    POST_SURVEY,
    RENEW,
    RESOLVE,
    RESPONSE,
    REVIEW,
    TSURVEY,
    Calendar,
)
from winback.sim.text import Writer

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class SimConfig:
    industry: str = "saas"
    customers: int = 1000
    days: int = 90
    seed: int = 7
    start: datetime = DEFAULT_START
    model: Model = field(default_factory=Model)
    record_truth: bool = False

    def __post_init__(self) -> None:
        if self.industry not in INDUSTRIES:
            raise ValueError(
                f"unknown industry {self.industry!r}; choose one of {', '.join(INDUSTRIES)}"
            )
        if self.customers < 1 or self.days < 1:
            raise ValueError("customers and days must be at least 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware datetime")


class Simulation:
    """One simulated company. The handler modules read and change its state, schedule through
    :attr:`push`, and send events through :meth:`emit`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.industry: Industry = INDUSTRIES[config.industry]
        self.model = config.model
        self.horizon = config.days * 24.0
        master = random.Random(config.seed)
        self.world = random.Random(master.getrandbits(64))  # company-wide happenings
        self.writer = Writer(
            random.Random(master.getrandbits(64)), self.industry.product, self.industry.currency
        )
        self.reply_rng = random.Random(master.getrandbits(64))  # reactions to responses
        self.clock = SimClock(config.start)
        tz_hours = {
            loc.timezone: self.clock.offset_hours(loc.timezone) for loc in self.industry.locations
        }
        tag = f"{config.industry[:3]}{config.seed}"
        self._event_prefix = f"{tag}-e"
        self.customers: list[Customer] = [
            Customer(
                i,
                f"{tag}-{i:06d}",
                self.industry,
                self.model,
                Stream(master.getrandbits(64)),
                tz_hours,
                config.record_truth,
            )
            for i in range(config.customers)
        ]
        self.by_id = {c.id: c for c in self.customers}
        self.by_location: dict[str, list[Customer]] = {}
        for c in self.customers:
            self.by_location.setdefault(c.location.city, []).append(c)
        self.calendar = Calendar(self.horizon)
        self.push = self.calendar.push  # schedule a happening (dropped at or past the horizon)
        self.n_events = 0  # events emitted so far
        self.now = 0.0
        self.counts: Counter[str] = Counter()
        self.stats = ResponseStats()
        self.outages: list[dict[str, Any]] = []
        self.outage_info: dict[str, Any] = {}  # the current outage, for its failure events
        self.emit_ticket_updates = False  # a helpdesk policy writes its replies on tickets
        self._out: list[dict[str, Any]] = []
        self.churn = ChurnHazard(self.customers, self.industry, self.model, config.days)
        self.outage_kind = FailureKind(
            "outage", 0.0, 0.0, "outage", "technical", "service", self.industry.outage_contact,
            "outage", 0.1,
        )  # fmt: skip
        self._schedule_start()
        schedule_static_decisions(self)

    def _schedule_start(self) -> None:
        ind = self.industry
        for day in range(1, self.config.days + 1):
            self.push(day * 24.0, DAY)
        self.push(0.0, DAY)
        if ind.outages_per_90_days > 0:
            self.push(self.world.expovariate(ind.outages_per_90_days / (90 * 24.0)), OUTAGE)
        fail_rate = ind.failures_per_year / (365 * 24.0)
        for c in self.customers:
            rng = c.rng
            for a, activity in enumerate(ind.activities):
                every = activity.every_days * 24.0
                first = rng.uniform(0.0, every) if activity.regular else rng.expo(every)
                self.push(first, ACTIVITY, c.idx, a)
            if ind.subscription:
                self.push(rng.uniform(0.0, 30 * 24.0), RENEW, c.idx)
            self.push(rng.expo(1.0 / (fail_rate * c.failure_factor)), FAILURE, c.idx)
            self.push(rng.uniform(0.0, 90 * 24.0), NPS, c.idx)

    # -- running -----------------------------------------------------------------------------
    def advance(self, until: float) -> list[dict[str, Any]]:
        """Run everything due up to ``until`` hours (capped at the horizon); return its events."""
        until = min(until, self.horizon)
        out: list[dict[str, Any]] = []
        self._out = out
        handlers, calendar = self._handlers, self.calendar
        heap, pop = calendar.heap, heapq.heappop
        while True:
            while heap and heap[0][0] <= until:
                t, _cls, _seq, kind, idx, ref = pop(heap)
                self.now = t
                handlers[kind](self, t, idx, ref)
            following = calendar.next_hour(until)
            if following is None:
                break
            heap = following
        self.now = max(self.now, until)
        return out

    def events(self, chunk_hours: float = 24.0) -> Iterator[dict[str, Any]]:
        """Every event of the run, open loop, in time order (generated a chunk at a time)."""
        t = 0.0
        while t < self.horizon:
            t = min(self.horizon, t + chunk_hours)
            yield from self.advance(t)

    @property
    def finished(self) -> bool:
        return self.now >= self.horizon

    # -- the company's response (closed loop) --------------------------------------------------
    def respond(self, customer_id: str, action: str, at: float, remedy: float = 0.0) -> None:
        """The company acknowledges (``ack``) or resolves (``resolve``) the customer's problem
        at ``at`` hours, optionally with a remedy worth ``remedy`` (currency units)."""
        c = self.by_id[customer_id]
        if at < self.now:
            raise ValueError(f"cannot act in the past ({at} < {self.now})")
        if action == "ack":
            self.push(at, ACK, c.idx, None, RESPONSE)
        elif action == "resolve":
            self.push(at, RESOLVE, c.idx, remedy, RESPONSE)
        else:
            raise ValueError(f"unknown action {action!r}")

    # -- time --------------------------------------------------------------------------------
    def stamp(self, t: float, tz: str) -> str:
        """RFC 3339 in the customer's own offset, e.g. ``2026-01-05T10:15:00+01:00``."""
        return self.clock.stamp(t, tz)

    def time_of(self, t: float) -> datetime:
        return self.clock.time_of(t)

    def hours_at(self, at: datetime) -> float:
        return self.clock.hours_at(at)

    # -- what the handlers share ---------------------------------------------------------------
    def emit(self, c: Customer, t: float, type_: str, fields: dict[str, Any] | None = None) -> str:
        """Send an event of ``c``'s at ``t`` hours; return its id."""
        self.n_events += 1
        event_id = f"{self._event_prefix}{self.n_events:09d}"
        if c.introduced:
            who: dict[str, Any] = {"id": c.id}
        else:
            who = c.profile(self.industry)
            c.introduced = True
        event: dict[str, Any] = {
            "id": event_id,
            "type": type_,
            "occurred_at": self.clock.stamp(t, c.location.timezone),
            "customer": who,
        }
        if fields:
            event.update(fields)
        self._out.append(event)
        self.counts[type_] += 1
        return event_id

    def satisfaction(self, c: Customer, t: float) -> float:
        s = self.model.satisfaction.relax(c.s, c.baseline, t - c.s_at)
        c.s, c.s_at = s, t
        return s

    def shift(self, c: Customer, t: float, delta: float) -> None:
        """Move ``c``'s satisfaction by ``delta`` at ``t`` (the churn sweep follows from then)."""
        if delta == 0.0:
            return
        if c.dynamic_day < 0:
            self.churn.follow(c, t)
        c.s = self.satisfaction(c, t) + delta
        if c.path is not None:
            c.path.extend((round(t, 3), round(c.s, 4)))

    def money(self, amount: float) -> dict[str, Any]:
        return {"amount": round(amount, 2), "currency": self.industry.currency}

    _handlers: dict[int, Callable[[Simulation, float, int, Any], None]] = {
        DAY: on_day,
        OUTAGE: on_outage,
        ACTIVITY: on_activity,
        RENEW: on_renew,
        FAILURE: on_failure,
        NPS: on_nps,
        CONTACT: on_contact,
        CHASE: on_chase,
        NEGLECT: on_neglect,
        TSURVEY: on_tsurvey,
        REVIEW: on_review,
        DECIDE: on_decide,
        CANCEL: on_cancel,
        EXPIRE: on_expire,
        ACK: on_ack,
        RESOLVE: on_resolve,
        POST_SURVEY: on_post_survey,
    }

    # -- outcomes ------------------------------------------------------------------------------
    def cumulative_hazard(self, c: Customer) -> float:
        return self.churn.cumulative(c)

    def summary(self) -> dict[str, Any]:
        churned = [c for c in self.customers if c.churned_at is not None]
        kept = [c for c in self.customers if c.churned_at is None]
        return {
            "customers": len(self.customers),
            "churned": len(churned),
            "churn_rate": len(churned) / len(self.customers),
            "customers_kept": len(kept),
            "revenue_kept": round(sum(c.value for c in kept), 2),
            "revenue_lost": round(sum(c.value for c in churned), 2),
            "events": self.n_events,
            "events_by_type": dict(sorted(self.counts.items())),
            "failures": sum(c.issue_count for c in self.customers),
            "outages": len(self.outages),
        }
