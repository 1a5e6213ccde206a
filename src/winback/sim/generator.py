"""The simulation engine: one company, its customers, their events, in time order, streamed.

A :class:`Simulation` keeps every customer's hidden state (a few hundred bytes each) and one
heap of scheduled happenings (a handful per customer). :meth:`Simulation.advance` pops what is
due, updates the hidden state and returns the events a company would send Winback, in time
order. Nothing grows with the number of events, so memory is bounded by the number of
customers, whatever the number of days (the ground truth, when asked for, adds each customer's
failures and satisfaction changes).

Open loop, :meth:`Simulation.events` runs to the end. Closed loop, a driver (``compare.py``)
calls :meth:`advance` in small steps and, between steps, tells the simulation what the
company's response team did (:meth:`respond`): the customer's reaction follows the response
model. Plain Python: no database, no HTTP.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from winback.sim.customers import Customer, Issue
from winback.sim.industries import INDUSTRIES, FailureKind, Industry
from winback.sim.model import (
    Model,
    ces_score,
    csat_score,
    engagement,
    nps_score,
    review_stars,
)
from winback.sim.rng import Stream
from winback.sim.text import Writer

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday

_Item = tuple[float, int, int, int, int, Any]  # time, class, sequence, kind, customer, detail


def _hours(offset: timedelta | None) -> float:
    return 0.0 if offset is None else offset.total_seconds() / 3600.0


# Scheduled happenings. World ones (the customers' own behaviour) and response ones (what the
# company's team does) are ordered by time, then class, then their own sequence, so the order of
# world happenings never depends on the response policy.
DAY, OUTAGE, ACTIVITY, RENEW, FAILURE, NPS, CONTACT, CHASE, NEGLECT = range(9)
TSURVEY, REVIEW, DECIDE, CANCEL, EXPIRE = range(9, 14)
ACK, RESOLVE, POST_SURVEY = range(20, 23)
WORLD, RESPONSE = 0, 1

ISSUE_LIFETIME_HOURS = 14 * 24.0
CONTACT_TYPES = ("complaint", "message", "ticket.opened")
CONTACT_CUM = (0.45, 0.8, 1.0)
REVIEW_SITES = ("trustpilot", "google", "app store", "reddit")


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


@dataclass
class ResponseStats:
    acknowledged: int = 0
    resolved: int = 0
    remedies: int = 0
    remedy_cost: float = 0.0
    ack_waits: list[float] = field(default_factory=list)  # hours from contact/failure to ack


class Simulation:
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
        self._start = config.start.astimezone(UTC)
        midnight = self._start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._start_naive = midnight.replace(tzinfo=None)
        self._start_second = int((self._start - midnight).total_seconds())
        self._offsets: dict[tuple[str, int], list[tuple[int, str]]] = {}
        self._dates: dict[int, str] = {}
        self._zones: dict[str, ZoneInfo] = {}
        tz_hours = {
            loc.timezone: _hours(self._start.astimezone(self._zone(loc.timezone)).utcoffset())
            for loc in self.industry.locations
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
        self._by_location: dict[str, list[Customer]] = {}
        for c in self.customers:
            self._by_location.setdefault(c.location.city, []).append(c)
        # A calendar queue: one bucket per simulated hour, and a heap for the current hour only.
        self._hours = int(self.horizon)
        self._buckets: list[list[_Item]] = [[] for _ in range(self._hours + 1)]
        self._hour = 0
        self._heap: list[_Item] = self._buckets[0]
        self._seq = [0, 0]
        self._n_events = 0
        self.now = 0.0
        self.counts: Counter[str] = Counter()
        self.stats = ResponseStats()
        self.outages: list[dict[str, Any]] = []
        self._outage_info: dict[str, Any] = {}
        self.emit_ticket_updates = False  # a helpdesk policy writes its replies on tickets
        self._out: list[dict[str, Any]] = []
        self._sweep: list[Customer] = []  # customers whose satisfaction has moved
        hazard = self.model.hazard
        per_day = self.industry.hazard_per_year / 365.0
        mean = self.industry.satisfaction_mean
        self._h_static: list[float] = [
            per_day
            * math.exp(-hazard.beta * (c.baseline - mean))
            * c.value_ratio ** (-hazard.value_elasticity)
            for c in self.customers
        ]
        self._tenure_term: list[float] = [
            hazard.tenure_boost * math.exp(-c.tenure0 / hazard.tenure_scale_days)
            for c in self.customers
        ]
        self._outage_kind = FailureKind(
            "outage", 0.0, 0.0, "outage", "technical", "service", self.industry.outage_contact,
            "outage", 0.1,
        )  # fmt: skip
        self._ratio = math.exp(-1.0 / hazard.tenure_scale_days)
        self._schedule_start()
        self._schedule_static_decisions()

    # -- scheduling --------------------------------------------------------------------------
    def _push(self, t: float, kind: int, idx: int = -1, ref: Any = None, cls: int = WORLD) -> None:
        if t >= self.horizon:
            return  # beyond the end of the run: never happens
        seq = self._seq[cls]
        self._seq[cls] = seq + 1
        hour = int(t)
        if hour == self._hour:
            heapq.heappush(self._heap, (t, cls, seq, kind, idx, ref))
        else:
            self._buckets[hour].append((t, cls, seq, kind, idx, ref))

    def _schedule_start(self) -> None:
        ind = self.industry
        for day in range(1, self.config.days + 1):
            self._push(day * 24.0, DAY)
        self._push(0.0, DAY)
        if ind.outages_per_90_days > 0:
            self._push(self.world.expovariate(ind.outages_per_90_days / (90 * 24.0)), OUTAGE)
        fail_rate = ind.failures_per_year / (365 * 24.0)
        for c in self.customers:
            rng = c.rng
            for a, activity in enumerate(ind.activities):
                every = activity.every_days * 24.0
                first = rng.uniform(0.0, every) if activity.regular else rng.expo(every)
                self._push(first, ACTIVITY, c.idx, a)
            if ind.subscription:
                self._push(rng.uniform(0.0, 30 * 24.0), RENEW, c.idx)
            self._push(rng.expo(1.0 / (fail_rate * c.failure_factor)), FAILURE, c.idx)
            self._push(rng.uniform(0.0, 90 * 24.0), NPS, c.idx)

    # -- running -----------------------------------------------------------------------------
    def advance(self, until: float) -> list[dict[str, Any]]:
        """Run everything due up to ``until`` hours (capped at the horizon); return its events."""
        until = min(until, self.horizon)
        out: list[dict[str, Any]] = []
        self._out = out
        handlers = self._handlers
        heap, pop = self._heap, heapq.heappop
        while True:
            while heap and heap[0][0] <= until:
                t, _cls, _seq, kind, idx, ref = pop(heap)
                self.now = t
                handlers[kind](self, t, idx, ref)
            if self._hour + 1 > until or self._hour >= self._hours:
                break
            self._buckets[self._hour] = []
            self._hour += 1
            heap = self._heap = self._buckets[self._hour]
            heapq.heapify(heap)
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
            self._push(at, ACK, c.idx, None, RESPONSE)
        elif action == "resolve":
            self._push(at, RESOLVE, c.idx, remedy, RESPONSE)
        else:
            raise ValueError(f"unknown action {action!r}")

    # -- helpers -----------------------------------------------------------------------------
    def _zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = ZoneInfo(name)
        return zone

    def stamp(self, t: float, tz: str) -> str:
        """RFC 3339 in the customer's own offset, e.g. ``2026-01-05T10:15:00+01:00``."""
        day = int(t // 24.0)
        cached = self._offsets.get((tz, day))
        if cached is None:
            cached = self._offsets[(tz, day)] = self._day_offsets(tz, day)
        offset, suffix = cached[0] if len(cached) == 1 else cached[int(t) - 24 * day]
        d, r = divmod(self._start_second + int(t * 3600.0) + offset, 86400)
        date = self._dates.get(d)
        if date is None:
            date = self._dates[d] = (self._start_naive + timedelta(days=d)).date().isoformat()
        return f"{date}T{r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}{suffix}"

    def _day_offsets(self, tz: str, day: int) -> list[tuple[int, str]]:
        """A time zone's offset through one day: one entry, or one per hour on a DST day."""
        zone = self._zone(tz)

        def at(hour: int) -> tuple[int, str]:
            when = self._start + timedelta(hours=hour)
            offset = when.astimezone(zone).utcoffset() or timedelta(0)
            minutes = int(offset.total_seconds() // 60)
            if minutes == 0:
                return 0, "Z"
            sign = "+" if minutes >= 0 else "-"
            return minutes * 60, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

        first, last = at(24 * day), at(24 * day + 24)
        if first == last:
            return [first]
        return [at(24 * day + h) for h in range(24)]

    def time_of(self, t: float) -> datetime:
        return self._start + timedelta(hours=t)

    def hours_at(self, at: datetime) -> float:
        return (at - self._start).total_seconds() / 3600.0

    def _emit(self, c: Customer, t: float, type_: str, fields: dict[str, Any] | None = None) -> str:
        self._n_events += 1
        event_id = f"{self._event_prefix}{self._n_events:09d}"
        if c.introduced:
            who: dict[str, Any] = {"id": c.id}
        else:
            who = c.profile(self.industry)
            c.introduced = True
        event: dict[str, Any] = {
            "id": event_id,
            "type": type_,
            "occurred_at": self.stamp(t, c.location.timezone),
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

    def _shift(self, c: Customer, t: float, delta: float) -> None:
        if delta == 0.0:
            return
        if c.dynamic_day < 0:
            self._follow(c, t)
        c.s = self.satisfaction(c, t) + delta
        if c.path is not None:
            c.path.extend((round(t, 3), round(c.s, 4)))

    def _waking(self, c: Customer, t: float) -> float:
        """Move a contact that would fall in the customer's night to the next morning."""
        local = (t + c.tz_hours) % 24.0
        if local < 7.0:
            return t + (7.0 - local) + c.rng.random() * 3.0
        c.rng.random()
        return t

    def _tone(self, c: Customer, issue: Issue, s: float) -> str:
        low = s < self.industry.satisfaction_mean - 1.0
        return "angry" if issue.damage > 0.9 or low or issue.chases else "annoyed"

    def _money(self, amount: float) -> dict[str, Any]:
        return {"amount": round(amount, 2), "currency": self.industry.currency}

    # -- handlers: the world -----------------------------------------------------------------
    # -- churn: the hazard, day by day ----------------------------------------------------------
    # Each day's hazard is fixed at 00:00 (simulation time) from the satisfaction of that moment;
    # a customer decides to leave when the cumulative hazard passes their threshold (an Exp(1)
    # draw), at the point inside the day where it does. While a customer's satisfaction has
    # never moved, that sum has a closed form (static_hazard), so the daily sweep only follows
    # customers whose satisfaction has moved: the result is the same, the work much smaller.
    def static_hazard(self, c: Customer, day: int) -> float:
        """Cumulative hazard through day ``day`` (inclusive) at baseline satisfaction."""
        if day < 0:
            return 0.0
        r = self._ratio
        geometric: float = (1.0 - r ** (day + 1)) / (1.0 - r)
        return self._h_static[c.idx] * ((day + 1) + self._tenure_term[c.idx] * geometric)

    def _daily_hazard(self, c: Customer, day: int) -> float:
        decay: float = self._ratio**day
        return self._h_static[c.idx] * (1.0 + self._tenure_term[c.idx] * decay)

    def _schedule_static_decisions(self) -> None:
        last = self.config.days - 1
        for c in self.customers:
            if self.static_hazard(c, last) < c.threshold:
                continue
            day = 0
            while self.static_hazard(c, day) < c.threshold:
                day += 1
            before = self.static_hazard(c, day - 1)
            at = 24.0 * day + 24.0 * (c.threshold - before) / self._daily_hazard(c, day)
            self._push(at, DECIDE, c.idx, "static")

    def _follow(self, c: Customer, t: float) -> None:
        """Satisfaction moves for the first time: the daily sweep follows the customer."""
        day = int(t // 24.0)
        c.dynamic_day = day
        c.hazard = self.static_hazard(c, day)
        if c.decided_at is None and c.hazard < c.threshold:
            self._sweep.append(c)

    def cumulative_hazard(self, c: Customer) -> float:
        if c.dynamic_day < 0:
            return self.static_hazard(c, self.config.days - 1)
        return c.hazard

    def _on_day(self, t: float, _idx: int, _ref: Any) -> None:
        hazard = self.model.hazard
        beta, tau = hazard.beta, 24.0 * self.model.satisfaction.relax_days
        day = round(t / 24.0)
        day_factor: float = self._ratio**day
        h_static, tenure_term, exp = self._h_static, self._tenure_term, math.exp
        keep: list[Customer] = []
        for c in self._sweep:
            i = c.idx
            if c.decided_at is not None:
                continue
            deviation = c.s - c.baseline
            h = h_static[i] * (1.0 + tenure_term[i] * day_factor)
            if deviation:
                h *= exp(-beta * deviation * exp((c.s_at - t) / tau))
            before = c.hazard
            c.hazard = before + h
            if c.hazard >= c.threshold:
                self._push(t + 24.0 * (c.threshold - before) / h, DECIDE, i)
            else:
                keep.append(c)
        self._sweep = keep

    def _on_decide(self, t: float, idx: int, ref: Any) -> None:
        c = self.customers[idx]
        if c.decided_at is not None:
            return
        if ref == "static" and 0 <= c.dynamic_day < int(t // 24.0):
            return  # satisfaction moved on an earlier day: the sweep decides now
        c.decided_at = t
        if c.path is not None:
            c.path.extend((round(t, 3), round(self.satisfaction(c, t), 4)))
        self._push(t + 24.0 * c.notice_days, CANCEL, idx)

    def _on_cancel(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        topic = c.issues[-1].kind.topic if c.issues else None
        fields: dict[str, Any] = {
            "channel": c.rng.pick(("web", "phone", "email", "app")),
            "attributes": {"reason": "service" if topic else "other"},
        }
        text = self.writer.cancellation(topic)
        if text:
            fields["text"] = text
        if not self.industry.subscription:
            fields["attributes"]["what"] = "account closed"
        self._emit(c, t, "subscription.cancelled", fields)
        c.churned_at = t

    def _on_activity(self, t: float, idx: int, ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        ind, rng = self.industry, c.rng
        activity = ind.activities[ref]
        s = c.s if c.s == c.baseline else self.satisfaction(c, t)
        eng = engagement(s, ind.satisfaction_mean)
        if c.decided_at is not None:
            eng *= 0.25  # disengaged: about to leave
        every = activity.every_days * 24.0
        noise = 0.7 * (rng.random() - 0.5)  # a cheap symmetric wobble, one draw
        if activity.type == "usage":
            self._emit(c, t, "usage", {"attributes": self._usage(c, eng, noise)})
        elif activity.type == "login":
            self._emit(
                c, t, "login", {"channel": rng.pick(("app", "web", "app")), "touchpoint": "login"}
            )
        else:
            factor = 0.8 if ind.name == "retail" else 1.6
            amount = c.monthly * factor * math.exp(noise)
            fields = {**self._money(amount), "channel": rng.pick(("web", "app", "store"))}
            fields["attributes"] = {"order_id": f"O-{idx}-{self._n_events}"}
            self._emit(c, t, "purchase", fields)
        if activity.regular:
            nxt = t + every + rng.uniform(-4.0, 4.0)
        else:
            nxt = t + rng.expo(every / max(eng, 0.05))
        self._push(nxt, ACTIVITY, idx, ref)

    def _usage(self, c: Customer, eng: float, noise: float) -> dict[str, Any]:
        name = self.industry.name
        if name == "telecom":
            return {
                "period_days": 7,
                "data_gb": round(max(0.0, 4.0 * eng * math.exp(noise)), 2),
                "call_minutes": max(0, round(60 * eng * math.exp(noise))),
            }
        sessions = max(0, round(10 * eng * math.exp(noise)))
        if name == "saas":
            seats = max(1, round(c.monthly / 25))
            active = min(seats, max(0, round(seats * min(1.0, 0.7 * eng))))
            return {"period_days": 7, "sessions": sessions, "active_users": active}
        return {"period_days": 7, "sessions": sessions}

    def _on_renew(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        if c.decided_at is not None:
            return
        self._emit(c, t, "subscription.renewed", {**self._money(c.monthly), "channel": "web"})
        self._push(t + 30 * 24.0, RENEW, idx)

    def _on_failure(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        ind, rng = self.industry, c.rng
        kind = rng.weighted(ind.failures, ind.failure_cum)
        severity = kind.severity * rng.lognormal(1.0, self.model.satisfaction.severity_sigma)
        self._suffer(c, t, kind, severity, None)
        rate = ind.failures_per_year / (365 * 24.0) * c.failure_factor
        self._push(t + rng.expo(1.0 / rate), FAILURE, idx)

    def _suffer(
        self, c: Customer, t: float, kind: FailureKind, severity: float, outage: str | None
    ) -> Issue:
        sat = self.model.satisfaction
        window = sat.compounding_window_days * 24.0
        recent = sum(1 for i in c.issues if t - i.at <= window)
        damage = sat.failure_damage(severity, recent)
        c.issue_count += 1
        issue = Issue(c.issue_count, kind, t, round(damage, 4), outage=outage)
        c.issues.append(issue)
        if c.history is not None:
            c.history.append(issue)
        self._shift(c, t, -damage)
        if kind.event is not None:
            fields = self._failure_fields(c, kind)
            if outage is not None:
                fields["attributes"] = {"outage_id": outage, **self._outage_info}
            issue.event_ids.append(self._emit(c, t, kind.event, fields))
        rng, mean = c.rng, self.industry.satisfaction_mean
        unhappy = max(0.0, mean - c.s)
        p_contact = min(0.95, kind.contact * c.contact_factor * (1.0 + 0.4 * unhappy))
        contact_delay = rng.lognormal(2.0, 1.0)
        if rng.chance(p_contact):
            self._push(self._waking(c, t + contact_delay), CONTACT, c.idx, issue)
        else:
            rng.random()
        if rng.chance(kind.survey):
            self._push(t + rng.uniform(12.0, 72.0), TSURVEY, c.idx, issue)
        else:
            rng.random()
        if rng.chance(min(0.5, self.industry.review_rate * damage * (1.0 + unhappy))):
            self._push(t + rng.uniform(6.0, 96.0), REVIEW, c.idx, issue)
        else:
            rng.random()
        if rng.chance(kind.refund):
            refund_at = t + rng.uniform(2.0, 48.0)
            self._push(refund_at, CONTACT, c.idx, ("refund", issue))
        else:
            rng.random()
        self._push(t + self.model.response.neglect_after_hours, NEGLECT, c.idx, issue)
        self._push(t + ISSUE_LIFETIME_HOURS, EXPIRE, c.idx, issue)
        return issue

    def _failure_fields(self, c: Customer, kind: FailureKind) -> dict[str, Any]:
        fields: dict[str, Any] = {"touchpoint": kind.touchpoint}
        rng = c.rng
        if kind.event == "payment.failed":
            fields.update(self._money(c.monthly))
            fields["attributes"] = {
                "failure": kind.name,
                "decline_code": rng.pick(("do_not_honor", "insufficient_funds", "expired_card")),
            }
        elif kind.event == "delivery.delayed":
            fields["attributes"] = {
                "order_id": f"O-{c.idx}-{self._n_events}",
                "delay_days": 1 + int(rng.expo(2.5)),
            }
        elif kind.event == "booking.error":
            fields["attributes"] = {
                "booking_ref": f"B{c.idx:05d}{self._n_events % 1000:03d}",
                "error": rng.pick(("wrong_date", "missing_booking", "name_mismatch")),
            }
        return fields

    def _on_outage(self, t: float, _idx: int, _ref: Any) -> None:
        ind, world = self.industry, self.world
        duration = world.lognormvariate(math.log(1.5), 0.7)
        severity = min(1.4, 0.3 + 0.25 * duration)
        outage_id = f"OUT-{len(self.outages) + 1:03d}"
        if ind.outage_scope == "region":
            location = world.choices(ind.locations, cum_weights=ind.location_cum)[0]
            pool = self._by_location.get(location.city, [])
            region = f"{location.city}, {location.country}"
        else:
            pool, region = self.customers, "all regions"
        hit = [c for c in pool if world.random() < ind.outage_hit]
        self._outage_info = {"region": region, "duration_minutes": round(duration * 60)}
        affected = 0
        for c in hit:
            if c.churned_at is not None:
                continue
            affected += 1
            damage = severity * c.rng.lognormal(1.0, 0.3)
            kind = self._outage_kind
            self._suffer(c, t, kind, damage, outage_id)
        self.outages.append(
            {
                "id": outage_id,
                "at": self.stamp(t, "UTC"),
                "hours": round(duration, 2),
                "region": region,
                "customers": affected,
            }
        )
        self._push(t + world.expovariate(ind.outages_per_90_days / (90 * 24.0)), OUTAGE)

    def _on_contact(self, t: float, idx: int, ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        rng = c.rng
        if isinstance(ref, tuple):  # a refund request
            issue = ref[1]
            amount = c.monthly * rng.uniform(0.2, 1.0)
            text = self.writer.complaint("refund", "annoyed")
            issue.event_ids.append(
                self._emit(
                    c,
                    t,
                    "refund.requested",
                    {**self._money(amount), "channel": "web", "text": text},
                )
            )
            return
        issue = ref
        ind = self.industry
        ctype = rng.weighted(CONTACT_TYPES, CONTACT_CUM)
        channel = rng.weighted([ch for ch, _ in ind.channels], ind.channel_cum)
        issue.contacted, issue.contacted_at = True, t
        issue.contact_type, issue.channel = ctype, channel
        tone = self._tone(c, issue, self.satisfaction(c, t))
        if tone == "angry" and ctype == "message":
            ctype = issue.contact_type = "complaint"
        fields: dict[str, Any] = {
            "channel": channel,
            "touchpoint": issue.kind.touchpoint,
            "text": self.writer.complaint(issue.kind.topic, tone),
        }
        if issue.outage:
            fields["attributes"] = {"outage_id": issue.outage}
        if ctype == "ticket.opened":
            issue.ticket = f"T-{idx}-{issue.number}"
            fields["ticket"] = {"id": issue.ticket, "status": "open"}
        issue.event_ids.append(self._emit(c, t, ctype, fields))
        # When they would chase an unanswered contact: drawn now, used or not, so that a
        # response never shifts the customer's later draws.
        first, second = rng.lognormal(30.0, 0.5), rng.lognormal(48.0, 0.5)
        issue.chase_after = second
        self._push(t + first, CHASE, idx, issue)

    def _on_chase(self, t: float, idx: int, ref: Any) -> None:
        c, issue = self.customers[idx], ref
        if c.churned_at is not None or issue.acknowledged_at is not None:
            return
        if issue.resolved_at is not None or t - issue.at > ISSUE_LIFETIME_HOURS:
            return
        issue.chases += 1
        self._shift(c, t, self.model.response.followed_up())
        fields: dict[str, Any] = {
            "channel": issue.channel,
            "touchpoint": issue.kind.touchpoint,
            "text": self.writer.complaint(issue.kind.topic, "angry", chase=issue.chases),
            "attributes": {"follow_up": issue.chases},
        }
        if issue.ticket is not None:
            fields["ticket"] = {"id": issue.ticket, "status": "open"}
            ctype = "ticket.updated"
        else:
            ctype = "complaint" if issue.chases > 1 else str(issue.contact_type)
        issue.event_ids.append(self._emit(c, t, ctype, fields))
        if issue.chases < 2:
            self._push(t + issue.chase_after, CHASE, idx, issue)

    def _on_neglect(self, t: float, idx: int, ref: Any) -> None:
        c, issue = self.customers[idx], ref
        if c.churned_at is not None or not issue.contacted:
            return
        if issue.acknowledged_at is None and issue.resolved_at is None:
            issue.neglected = True
            self._shift(c, t, self.model.response.neglected())

    def _on_expire(self, t: float, idx: int, ref: Any) -> None:
        c = self.customers[idx]
        if ref in c.issues:
            c.issues.remove(ref)

    def _on_tsurvey(self, t: float, idx: int, ref: Any) -> None:
        c, issue = self.customers[idx], ref
        if c.churned_at is not None:
            return
        s = self.satisfaction(c, t)
        noise = c.rng.gauss()
        if issue.contacted and self.industry.name in ("saas", "bank", "telecom"):
            kind, value = "ces", ces_score(s, noise, issue.chases)
        else:
            kind, value = "csat", csat_score(s, noise)
        self._survey(c, t, kind, value, issue, "transactional")

    def _survey(
        self, c: Customer, t: float, kind: str, value: int, issue: Issue | None, survey: str
    ) -> None:
        recovered = issue is not None and issue.resolved_at is not None
        unanswered = issue is not None and issue.contacted and issue.acknowledged_at is None
        topic = issue.kind.topic if issue is not None else None
        fields: dict[str, Any] = {
            "channel": "email",
            "score": {"kind": kind, "value": value},
            "attributes": {"survey": survey},
        }
        if issue is not None:
            fields["touchpoint"] = issue.kind.touchpoint
        text = self.writer.survey_comment(kind, value, topic, recovered, unanswered)
        if text:
            fields["text"] = text
        event_id = self._emit(c, t, "survey.response", fields)
        if issue is not None:
            issue.event_ids.append(event_id)

    def _on_nps(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        rng = c.rng
        noise = rng.gauss()
        if rng.chance(self.industry.nps_response):
            s = self.satisfaction(c, t)
            recent = [i for i in c.issues if t - i.at <= 30 * 24.0]
            issue = recent[-1] if recent else None
            self._survey(c, t, "nps", nps_score(s, noise), issue, "relationship")
        self._push(t + 90 * 24.0, NPS, idx)

    def _on_review(self, t: float, idx: int, ref: Any) -> None:
        c, issue = self.customers[idx], ref
        if c.churned_at is not None:
            return
        stars = review_stars(self.satisfaction(c, t), c.rng.gauss())
        fields = {
            "channel": "web",
            "touchpoint": "public review",
            "text": self.writer.review(stars, issue.kind.topic),
            "attributes": {"stars": stars, "site": c.rng.pick(REVIEW_SITES)},
        }
        issue.event_ids.append(self._emit(c, t, "review", fields))

    # -- handlers: the response ----------------------------------------------------------------
    def _on_ack(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        self._acknowledge(c, t)

    def _acknowledge(self, c: Customer, t: float) -> None:
        response = self.model.response
        delta = 0.0
        for issue in c.issues:
            if issue.acknowledged_at is None and issue.resolved_at is None:
                issue.acknowledged_at = t
                waited = t - issue.waiting_since
                self.stats.acknowledged += 1
                self.stats.ack_waits.append(waited)
                if issue.contacted:
                    delta += response.acknowledged(waited)
                if issue.ticket is not None and self.emit_ticket_updates:
                    self._emit(
                        c,
                        t,
                        "ticket.updated",
                        {"ticket": {"id": issue.ticket, "status": "pending"}},
                    )
        self._shift(c, t, delta)

    def _on_resolve(self, t: float, idx: int, ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        self._acknowledge(c, t)
        response, remedy = self.model.response, float(ref or 0.0)
        delta, fixed = 0.0, 0
        for issue in c.issues:
            if issue.resolved_at is None:
                issue.resolved_at = t
                issue.remedy = remedy if fixed == 0 else 0.0
                delta += response.resolved(issue.damage, t - issue.at, remedy > 0.0)
                fixed += 1
                self.stats.resolved += 1
                if issue.ticket is not None:
                    self._emit(
                        c, t, "ticket.closed", {"ticket": {"id": issue.ticket, "status": "closed"}}
                    )
        if fixed == 0:
            delta = response.heard()
        if remedy > 0.0:
            self.stats.remedies += 1
            self.stats.remedy_cost += remedy
        self._shift(c, t, delta)
        if self.reply_rng.random() < 0.35:
            self._push(t + 24.0, POST_SURVEY, idx, None, RESPONSE)

    def _on_post_survey(self, t: float, idx: int, _ref: Any) -> None:
        c = self.customers[idx]
        if c.churned_at is not None:
            return
        s = self.satisfaction(c, t)
        value = csat_score(s, self.reply_rng.gauss(0.0, 1.0))
        last = c.issues[-1] if c.issues else None
        self._survey(c, t, "csat", value, last, "post-resolution")

    _handlers: dict[int, Callable[[Simulation, float, int, Any], None]] = {
        DAY: _on_day,
        OUTAGE: _on_outage,
        ACTIVITY: _on_activity,
        RENEW: _on_renew,
        FAILURE: _on_failure,
        NPS: _on_nps,
        CONTACT: _on_contact,
        CHASE: _on_chase,
        NEGLECT: _on_neglect,
        TSURVEY: _on_tsurvey,
        REVIEW: _on_review,
        DECIDE: _on_decide,
        CANCEL: _on_cancel,
        EXPIRE: _on_expire,
        ACK: _on_ack,
        RESOLVE: _on_resolve,
        POST_SURVEY: _on_post_survey,
    }

    # -- outcomes ------------------------------------------------------------------------------
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
            "events": self._n_events,
            "events_by_type": dict(sorted(self.counts.items())),
            "failures": sum(c.issue_count for c in self.customers),
            "outages": len(self.outages),
        }
