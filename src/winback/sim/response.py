"""The company's response, closed loop: acknowledgements and resolutions, and how the customer
reacts to them.

A driver (``compare.py``) tells the simulation what the company's team did through
:meth:`Simulation.respond <winback.sim.generator.Simulation.respond>`, which schedules an
ACK or RESOLVE happening in the RESPONSE class; the handlers here apply it. The customer's
reaction (a change in satisfaction) comes only from the response model
(:class:`~winback.sim.model.ResponseModel`).

Invariants:

- A response reaches every open issue of the customer: an acknowledgement acknowledges each
  one not yet acknowledged or resolved; a resolution first acknowledges, then resolves every
  one not yet resolved, with the remedy counted once (on the first issue it fixes). A
  resolution when nothing is open still counts as being heard.
- Nothing happens to a customer who has churned.
- The response's own randomness (whether a post-resolution survey is answered, its noise)
  comes from the simulation's ``reply_rng``, never from the customer's stream, so responding
  does not shift the customer's own draws.
- :class:`ResponseStats` counts what the team did: acknowledgements (with the hours each
  problem waited), resolutions, remedies and their cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from winback.sim.customers import Customer
from winback.sim.feedback import survey
from winback.sim.model import csat_score
from winback.sim.schedule import POST_SURVEY, RESPONSE

if TYPE_CHECKING:
    from winback.sim.generator import Simulation


@dataclass
class ResponseStats:
    acknowledged: int = 0
    resolved: int = 0
    remedies: int = 0
    remedy_cost: float = 0.0
    ack_waits: list[float] = field(default_factory=list)  # hours from contact/failure to ack


def on_ack(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    _acknowledge(sim, c, t)


def _acknowledge(sim: Simulation, c: Customer, t: float) -> None:
    response = sim.model.response
    delta = 0.0
    for issue in c.issues:
        if issue.acknowledged_at is None and issue.resolved_at is None:
            issue.acknowledged_at = t
            waited = t - issue.waiting_since
            sim.stats.acknowledged += 1
            sim.stats.ack_waits.append(waited)
            if issue.contacted:
                delta += response.acknowledged(waited)
            if issue.ticket is not None and sim.emit_ticket_updates:
                sim.emit(
                    c,
                    t,
                    "ticket.updated",
                    {"ticket": {"id": issue.ticket, "status": "pending"}},
                )
    sim.shift(c, t, delta)


def on_resolve(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    _acknowledge(sim, c, t)
    response, remedy = sim.model.response, float(ref or 0.0)
    delta, fixed = 0.0, 0
    for issue in c.issues:
        if issue.resolved_at is None:
            issue.resolved_at = t
            issue.remedy = remedy if fixed == 0 else 0.0
            delta += response.resolved(issue.damage, t - issue.at, remedy > 0.0)
            fixed += 1
            sim.stats.resolved += 1
            if issue.ticket is not None:
                sim.emit(
                    c, t, "ticket.closed", {"ticket": {"id": issue.ticket, "status": "closed"}}
                )
    if fixed == 0:
        delta = response.heard()
    if remedy > 0.0:
        sim.stats.remedies += 1
        sim.stats.remedy_cost += remedy
    sim.shift(c, t, delta)
    if sim.reply_rng.random() < 0.35:
        sim.push(t + 24.0, POST_SURVEY, idx, None, RESPONSE)


def on_post_survey(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    s = sim.satisfaction(c, t)
    value = csat_score(s, sim.reply_rng.gauss(0.0, 1.0))
    last = c.issues[-1] if c.issues else None
    survey(sim, c, t, "csat", value, last, "post-resolution")
