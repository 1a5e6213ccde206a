"""Churn: each customer's hazard, day by day, the decision to leave, and the cancellation.

Each day's hazard is fixed at 00:00 (simulation time) from the satisfaction of that moment
(the equation is :class:`~winback.sim.model.HazardModel`'s); a customer decides to leave when
the cumulative hazard passes their threshold (an Exp(1) draw), at the point inside the day
where it does, and cancels after their notice period.

Invariants:

- While a customer's satisfaction has never moved, the cumulative hazard has a closed form
  (:meth:`ChurnHazard.static`), so those customers' decisions are scheduled once, at the
  start, and the daily sweep (:func:`on_day`) only follows customers whose satisfaction has
  moved (:meth:`ChurnHazard.follow`): the result is the same as summing every customer's
  hazard every day, the work much smaller.
- A decision scheduled at the start is void if the customer's satisfaction moved on an
  earlier day: from then on the sweep decides.
- A customer decides at most once and cancels once, ``notice_days`` after deciding (if that
  falls inside the run); no event of theirs follows the cancellation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from winback.sim.customers import Customer
from winback.sim.industries import Industry
from winback.sim.model import Model
from winback.sim.schedule import CANCEL, DECIDE

if TYPE_CHECKING:
    from winback.sim.generator import Simulation


class ChurnHazard:
    """The parts of each customer's daily hazard that do not depend on satisfaction, and
    the customers the daily sweep follows."""

    def __init__(self, customers: list[Customer], industry: Industry, model: Model, days: int):
        hazard = model.hazard
        per_day = industry.hazard_per_year / 365.0
        mean = industry.satisfaction_mean
        self.days = days
        self.h_static: list[float] = [
            per_day
            * math.exp(-hazard.beta * (c.baseline - mean))
            * c.value_ratio ** (-hazard.value_elasticity)
            for c in customers
        ]
        self.tenure_term: list[float] = [
            hazard.tenure_boost * math.exp(-c.tenure0 / hazard.tenure_scale_days) for c in customers
        ]
        self.ratio = math.exp(-1.0 / hazard.tenure_scale_days)
        self.sweep: list[Customer] = []  # customers whose satisfaction has moved

    def static(self, c: Customer, day: int) -> float:
        """Cumulative hazard through day ``day`` (inclusive) at baseline satisfaction."""
        if day < 0:
            return 0.0
        r = self.ratio
        geometric: float = (1.0 - r ** (day + 1)) / (1.0 - r)
        return self.h_static[c.idx] * ((day + 1) + self.tenure_term[c.idx] * geometric)

    def daily(self, c: Customer, day: int) -> float:
        decay: float = self.ratio**day
        return self.h_static[c.idx] * (1.0 + self.tenure_term[c.idx] * decay)

    def follow(self, c: Customer, t: float) -> None:
        """Satisfaction moves for the first time: the daily sweep follows the customer."""
        day = int(t // 24.0)
        c.dynamic_day = day
        c.hazard = self.static(c, day)
        if c.decided_at is None and c.hazard < c.threshold:
            self.sweep.append(c)

    def cumulative(self, c: Customer) -> float:
        if c.dynamic_day < 0:
            return self.static(c, self.days - 1)
        return c.hazard


def schedule_static_decisions(sim: Simulation) -> None:
    """At the start: when each customer would decide if their satisfaction never moved."""
    churn = sim.churn
    last = sim.config.days - 1
    for c in sim.customers:
        if churn.static(c, last) < c.threshold:
            continue
        day = 0
        while churn.static(c, day) < c.threshold:
            day += 1
        before = churn.static(c, day - 1)
        at = 24.0 * day + 24.0 * (c.threshold - before) / churn.daily(c, day)
        sim.push(at, DECIDE, c.idx, "static")


def on_day(sim: Simulation, t: float, _idx: int, _ref: Any) -> None:
    churn = sim.churn
    hazard = sim.model.hazard
    beta, tau = hazard.beta, 24.0 * sim.model.satisfaction.relax_days
    day = round(t / 24.0)
    day_factor: float = churn.ratio**day
    h_static, tenure_term, exp = churn.h_static, churn.tenure_term, math.exp
    keep: list[Customer] = []
    for c in churn.sweep:
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
            sim.push(t + 24.0 * (c.threshold - before) / h, DECIDE, i)
        else:
            keep.append(c)
    churn.sweep = keep


def on_decide(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c = sim.customers[idx]
    if c.decided_at is not None:
        return
    if ref == "static" and 0 <= c.dynamic_day < int(t // 24.0):
        return  # satisfaction moved on an earlier day: the sweep decides now
    c.decided_at = t
    if c.path is not None:
        c.path.extend((round(t, 3), round(sim.satisfaction(c, t), 4)))
    sim.push(t + 24.0 * c.notice_days, CANCEL, idx)


def on_cancel(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    topic = c.issues[-1].kind.topic if c.issues else None
    fields: dict[str, Any] = {
        "channel": c.rng.pick(("web", "phone", "email", "app")),
        "attributes": {"reason": "service" if topic else "other"},
    }
    text = sim.writer.cancellation(topic)
    if text:
        fields["text"] = text
    if not sim.industry.subscription:
        fields["attributes"]["what"] = "account closed"
    sim.emit(c, t, "subscription.cancelled", fields)
    c.churned_at = t
