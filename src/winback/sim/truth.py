"""The ground truth written beside the events: who churned and when, and why it is so.

One JSON object per line: first a ``run`` record (configuration, model parameters, outcome),
then one ``customer`` record per customer, then one ``outage`` record per outage. Times are
RFC 3339 in the customer's offset (the same strings as the events' ``occurred_at``) and hours
since the start. A customer's satisfaction between two points of ``satisfaction_path`` follows
``s(t) = baseline + (s_k - baseline) * exp(-(t - t_k) / (24 * relax_days))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from winback.sim.customers import Customer, Issue
from winback.sim.generator import Simulation


def _when(sim: Simulation, c: Customer, hours: float | None) -> str | None:
    return None if hours is None else sim.stamp(hours, c.location.timezone)


def _issue(sim: Simulation, c: Customer, issue: Issue) -> dict[str, Any]:
    return {
        "number": issue.number,
        "kind": issue.kind.name,
        "category": issue.kind.category,
        "touchpoint": issue.kind.touchpoint,
        "at": _when(sim, c, issue.at),
        "at_hours": round(issue.at, 4),
        "damage": issue.damage,
        "outage": issue.outage,
        "contacted_at": _when(sim, c, issue.contacted_at),
        "contact_type": issue.contact_type,
        "chases": issue.chases,
        "acknowledged_at": _when(sim, c, issue.acknowledged_at),
        "resolved_at": _when(sim, c, issue.resolved_at),
        "remedy": issue.remedy,
        "neglected": issue.neglected,
        "event_ids": issue.event_ids,
    }


def customer_record(sim: Simulation, c: Customer) -> dict[str, Any]:
    end = sim.model.satisfaction.relax(c.s, c.baseline, sim.horizon - c.s_at)
    path = c.path or []
    return {
        "record": "customer",
        "id": c.id,
        "segment": c.segment.name,
        "plan": c.plan,
        "value": c.value,
        "tenure_days": round(c.tenure0, 1),
        "location": f"{c.location.city}, {c.location.country}",
        "timezone": c.location.timezone,
        "baseline_satisfaction": round(c.baseline, 4),
        "satisfaction_end": round(end, 4),
        "satisfaction_path": [[path[i], path[i + 1]] for i in range(0, len(path), 2)],
        "churn_threshold": round(c.threshold, 4),
        "cumulative_hazard": round(sim.cumulative_hazard(c), 4),
        "decided_to_leave_at": _when(sim, c, c.decided_at),
        "churned": c.churned_at is not None,
        "churned_at": _when(sim, c, c.churned_at),
        "churned_at_hours": None if c.churned_at is None else round(c.churned_at, 4),
        "failures": [_issue(sim, c, i) for i in (c.history or [])],
    }


def truth_records(sim: Simulation, policy: str = "none") -> Iterator[dict[str, Any]]:
    """Every truth record of a finished run (it must have been made with ``record_truth``)."""
    if not sim.config.record_truth:
        raise ValueError("the simulation was not asked to record its ground truth")
    config = sim.config
    yield {
        "record": "run",
        "industry": config.industry,
        "customers": config.customers,
        "days": config.days,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "policy": policy,
        "model": asdict(config.model),
        "outcome": sim.summary(),
    }
    for c in sim.customers:
        yield customer_record(sim, c)
    for outage in sim.outages:
        yield {"record": "outage", **outage}
