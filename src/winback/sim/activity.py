"""Routine activity: usage reports, logins, purchases and monthly renewals.

Each industry lists its activities (:class:`~winback.sim.industries.Activity`); a customer
repeats each one for as long as they stay, regularly (about every ``every_days``) or at a
rate that follows *engagement*, which falls with satisfaction.

Invariants:

- A customer does nothing after churning, and stops renewing once they have decided to leave.
- Once decided, engagement is quartered: usage and activity sag before the cancellation.
- Each happening of an activity schedules the next one: a regular activity ``every_days``
  later (give or take four hours), the others after an exponential wait with mean
  ``every_days / engagement`` (engagement floored at 0.05).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from winback.sim.customers import Customer
from winback.sim.model import engagement
from winback.sim.schedule import ACTIVITY, RENEW

if TYPE_CHECKING:
    from winback.sim.generator import Simulation


def on_activity(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    ind, rng = sim.industry, c.rng
    activity = ind.activities[ref]
    s = c.s if c.s == c.baseline else sim.satisfaction(c, t)
    eng = engagement(s, ind.satisfaction_mean)
    if c.decided_at is not None:
        eng *= 0.25  # disengaged: about to leave
    every = activity.every_days * 24.0
    noise = 0.7 * (rng.random() - 0.5)  # a cheap symmetric wobble, one draw
    if activity.type == "usage":
        sim.emit(c, t, "usage", {"attributes": _usage(sim, c, eng, noise)})
    elif activity.type == "login":
        sim.emit(c, t, "login", {"channel": rng.pick(("app", "web", "app")), "touchpoint": "login"})
    else:
        factor = 0.8 if ind.name == "retail" else 1.6
        amount = c.monthly * factor * math.exp(noise)
        fields = {**sim.money(amount), "channel": rng.pick(("web", "app", "store"))}
        fields["attributes"] = {"order_id": f"O-{idx}-{sim.n_events}"}
        sim.emit(c, t, "purchase", fields)
    if activity.regular:
        nxt = t + every + rng.uniform(-4.0, 4.0)
    else:
        nxt = t + rng.expo(every / max(eng, 0.05))
    sim.push(nxt, ACTIVITY, idx, ref)


def _usage(sim: Simulation, c: Customer, eng: float, noise: float) -> dict[str, Any]:
    name = sim.industry.name
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


def on_renew(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    if c.decided_at is not None:
        return
    sim.emit(c, t, "subscription.renewed", {**sim.money(c.monthly), "channel": "web"})
    sim.push(t + 30 * 24.0, RENEW, idx)
