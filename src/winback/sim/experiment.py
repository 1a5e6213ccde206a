"""A randomised recovery experiment on the simulated company, with its true effect known.

The retention report (:mod:`winback.analytics.retention`) estimates a rule's effect from its
treated customers against its hash-drawn hold-outs. Here the simulator plays that experiment
and also knows the answer:

* a customer is *exposed* at their first own contact (a complaint, message, ticket or refund
  request), as a playbook rule with a ``control:`` share would match it; the arm is drawn with
  the playbooks' own :func:`~winback.playbooks.engine.control_bucket`;
* treated customers are answered the way a quick team would (acknowledged after
  ``ack_hours``, resolved after ``resolve_hours``); held-out ones are not answered;
* the same seeded company is run twice more, once answering *every* exposed customer and once
  answering none. With common random numbers (each customer draws from a stream of their own)
  a customer's exposure is the same in every run, so the two runs give both of each exposed
  customer's potential outcomes, and the true effect at ``d`` days is the mean, over the
  customers exposed at least ``d`` days before the end, of retained-if-answered minus
  retained-if-not (the sample average treatment effect the report's interval should cover).

Only the response model links an answer to churn (docs/simulator.md), so the effect is
whatever that model makes it; nothing here sets its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from winback.analytics.retention import Exposure, Fate
from winback.playbooks.engine import control_bucket
from winback.sim.clock import SimClock
from winback.sim.generator import SimConfig, Simulation

CONTACTS = frozenset({"complaint", "message", "ticket.opened", "refund.requested"})
RULE = "experiment/first-contact"


@dataclass
class World:
    """One run: each exposed customer's exposure time and cancellation (hours)."""

    exposed: dict[str, float] = field(default_factory=dict)
    cancelled: dict[str, float] = field(default_factory=dict)


def play(
    config: SimConfig,
    answer: str,
    control_share: float,
    *,
    ack_hours: float = 0.5,
    resolve_hours: float = 4.0,
    step_hours: float = 1.0,
) -> World:
    """Run the company; ``answer`` is ``"trial"`` (the drawn arms), ``"all"`` or ``"none"``."""
    sim = Simulation(config)
    world = World()
    t = 0.0
    while t < sim.horizon:
        t = min(sim.horizon, t + step_hours)
        for event in sim.advance(t):
            cid = event["customer"]["id"]
            if event["type"] == "subscription.cancelled":
                world.cancelled[cid] = sim.hours_at(datetime.fromisoformat(event["occurred_at"]))
            if event["type"] not in CONTACTS or cid in world.exposed:
                continue
            at = sim.hours_at(datetime.fromisoformat(event["occurred_at"]))
            world.exposed[cid] = at
            treated = control_bucket(cid, RULE) >= control_share
            if answer == "all" or (answer == "trial" and treated):
                sim.respond(cid, "ack", max(sim.now, at + ack_hours))
                sim.respond(cid, "resolve", max(sim.now, at + resolve_hours))
    return world


def kept(world: World, customer: str, days: int) -> bool:
    gone = world.cancelled.get(customer)
    return gone is None or gone > world.exposed[customer] + 24.0 * days


@dataclass(frozen=True)
class Trial:
    exposures: list[Exposure]
    fates: dict[str, Fate]
    as_of: datetime
    truth: dict[int, float]  # horizon (days) -> true effect, in points
    same_exposures: bool  # every run exposed the same customers at the same times


def run_trial(
    config: SimConfig, control_share: float = 0.5, horizons: Sequence[int] = (30,)
) -> Trial:
    """The experiment's data as the report sees it, and the true effect per horizon."""
    trial = play(config, "trial", control_share)
    everyone = play(config, "all", control_share)
    nobody = play(config, "none", control_share)
    sim_clock = SimClock(config.start)
    end = config.days * 24.0
    exposures, fates = [], {}
    for cid, at in trial.exposed.items():
        arm = "treated" if control_bucket(cid, RULE) >= control_share else "control"
        exposures.append(Exposure(cid, RULE, arm, sim_clock.time_of(at)))
        gone = trial.cancelled.get(cid)
        fates[cid] = Fate(cancelled_at=None if gone is None else sim_clock.time_of(gone))
    truth: dict[int, float] = {}
    for days in horizons:
        eligible = [c for c, at in trial.exposed.items() if at + 24.0 * days <= end]
        diff = sum(kept(everyone, c, days) - kept(nobody, c, days) for c in eligible)
        truth[days] = 100.0 * diff / len(eligible) if eligible else 0.0
    same = trial.exposed == everyone.exposed == nobody.exposed
    return Trial(exposures, fates, sim_clock.time_of(end), truth, same)
