"""Problems: failures and outages, what they do to a customer, and how the customer complains.

A failure (drawn from the industry's failure kinds, at the customer's own rate) or an outage
(company-wide or regional, hitting a share of the customers there) lowers the customer's
satisfaction and opens an :class:`~winback.sim.customers.Issue`. What follows is drawn at once:
whether the customer contacts the company (and after how long), whether they answer a
transactional survey, write a public review or ask for a refund. An unanswered contact is
chased (at most twice) and, after ``neglect_after_hours``, counts as neglected.

Invariants:

- A failure and a contact draw a fixed number of numbers from the customer's stream,
  whichever way they go (a ``chance`` not taken is followed by one spare draw; the chase
  delays are drawn with the contact, chased or not), so how the company responds never
  changes how many draws a problem consumes.
- The failure's own event, when the kind has one, is the issue's first event and carries the
  failure's time; every event an issue causes is listed in its ``event_ids``.
- An issue stays on the customer's open list for ``ISSUE_LIFETIME_HOURS``. Nothing here
  (no failure, outage damage, contact, chase or neglect) happens to a customer who has
  churned, and chases stop once the issue is acknowledged, resolved or older than that
  lifetime.
- A customer whose contact would fall in their night (before 07:00 local) writes the next
  morning instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from winback.sim.customers import Customer, Issue
from winback.sim.industries import FailureKind
from winback.sim.schedule import (
    CHASE,
    CONTACT,
    EXPIRE,
    FAILURE,
    NEGLECT,
    OUTAGE,
    REVIEW,
    TSURVEY,
)

if TYPE_CHECKING:
    from winback.sim.generator import Simulation

ISSUE_LIFETIME_HOURS = 14 * 24.0
CONTACT_TYPES = ("complaint", "message", "ticket.opened")
CONTACT_CUM = (0.45, 0.8, 1.0)


# -- failures and outages --------------------------------------------------------------------
def on_failure(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    ind, rng = sim.industry, c.rng
    kind = rng.weighted(ind.failures, ind.failure_cum)
    severity = kind.severity * rng.lognormal(1.0, sim.model.satisfaction.severity_sigma)
    suffer(sim, c, t, kind, severity, None)
    rate = ind.failures_per_year / (365 * 24.0) * c.failure_factor
    sim.push(t + rng.expo(1.0 / rate), FAILURE, idx)


def suffer(
    sim: Simulation, c: Customer, t: float, kind: FailureKind, severity: float, outage: str | None
) -> Issue:
    """The customer suffers a failure: satisfaction drops, and what follows is scheduled."""
    sat = sim.model.satisfaction
    window = sat.compounding_window_days * 24.0
    recent = sum(1 for i in c.issues if t - i.at <= window)
    damage = sat.failure_damage(severity, recent)
    c.issue_count += 1
    issue = Issue(c.issue_count, kind, t, round(damage, 4), outage=outage)
    c.issues.append(issue)
    if c.history is not None:
        c.history.append(issue)
    sim.shift(c, t, -damage)
    if kind.event is not None:
        fields = _failure_fields(sim, c, kind)
        if outage is not None:
            fields["attributes"] = {"outage_id": outage, **sim.outage_info}
        issue.event_ids.append(sim.emit(c, t, kind.event, fields))
    rng, mean = c.rng, sim.industry.satisfaction_mean
    unhappy = max(0.0, mean - c.s)
    p_contact = min(0.95, kind.contact * c.contact_factor * (1.0 + 0.4 * unhappy))
    contact_delay = rng.lognormal(2.0, 1.0)
    if rng.chance(p_contact):
        sim.push(_waking(c, t + contact_delay), CONTACT, c.idx, issue)
    else:
        rng.random()
    if rng.chance(kind.survey):
        sim.push(t + rng.uniform(12.0, 72.0), TSURVEY, c.idx, issue)
    else:
        rng.random()
    if rng.chance(min(0.5, sim.industry.review_rate * damage * (1.0 + unhappy))):
        sim.push(t + rng.uniform(6.0, 96.0), REVIEW, c.idx, issue)
    else:
        rng.random()
    if rng.chance(kind.refund):
        refund_at = t + rng.uniform(2.0, 48.0)
        sim.push(refund_at, CONTACT, c.idx, ("refund", issue))
    else:
        rng.random()
    sim.push(t + sim.model.response.neglect_after_hours, NEGLECT, c.idx, issue)
    sim.push(t + ISSUE_LIFETIME_HOURS, EXPIRE, c.idx, issue)
    return issue


def _failure_fields(sim: Simulation, c: Customer, kind: FailureKind) -> dict[str, Any]:
    fields: dict[str, Any] = {"touchpoint": kind.touchpoint}
    rng = c.rng
    if kind.event == "payment.failed":
        fields.update(sim.money(c.monthly))
        fields["attributes"] = {
            "failure": kind.name,
            "decline_code": rng.pick(("do_not_honor", "insufficient_funds", "expired_card")),
        }
    elif kind.event == "delivery.delayed":
        fields["attributes"] = {
            "order_id": f"O-{c.idx}-{sim.n_events}",
            "delay_days": 1 + int(rng.expo(2.5)),
        }
    elif kind.event == "booking.error":
        fields["attributes"] = {
            "booking_ref": f"B{c.idx:05d}{sim.n_events % 1000:03d}",
            "error": rng.pick(("wrong_date", "missing_booking", "name_mismatch")),
        }
    return fields


def on_outage(sim: Simulation, t: float, _idx: int, _ref: Any) -> None:
    ind, world = sim.industry, sim.world
    duration = world.lognormvariate(math.log(1.5), 0.7)
    severity = min(1.4, 0.3 + 0.25 * duration)
    outage_id = f"OUT-{len(sim.outages) + 1:03d}"
    if ind.outage_scope == "region":
        location = world.choices(ind.locations, cum_weights=ind.location_cum)[0]
        pool = sim.by_location.get(location.city, [])
        region = f"{location.city}, {location.country}"
    else:
        pool, region = sim.customers, "all regions"
    hit = [c for c in pool if world.random() < ind.outage_hit]
    sim.outage_info = {"region": region, "duration_minutes": round(duration * 60)}
    affected = 0
    for c in hit:
        if c.churned_at is not None:
            continue
        affected += 1
        damage = severity * c.rng.lognormal(1.0, 0.3)
        kind = sim.outage_kind
        suffer(sim, c, t, kind, damage, outage_id)
    sim.outages.append(
        {
            "id": outage_id,
            "at": sim.stamp(t, "UTC"),
            "hours": round(duration, 2),
            "region": region,
            "customers": affected,
        }
    )
    sim.push(t + world.expovariate(ind.outages_per_90_days / (90 * 24.0)), OUTAGE)


# -- the customer complains --------------------------------------------------------------------
def on_contact(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    rng = c.rng
    if isinstance(ref, tuple):  # a refund request
        issue = ref[1]
        amount = c.monthly * rng.uniform(0.2, 1.0)
        text = sim.writer.complaint("refund", "annoyed")
        issue.event_ids.append(
            sim.emit(
                c,
                t,
                "refund.requested",
                {**sim.money(amount), "channel": "web", "text": text},
            )
        )
        return
    issue = ref
    ind = sim.industry
    ctype = rng.weighted(CONTACT_TYPES, CONTACT_CUM)
    channel = rng.weighted([ch for ch, _ in ind.channels], ind.channel_cum)
    issue.contacted, issue.contacted_at = True, t
    issue.contact_type, issue.channel = ctype, channel
    tone = _tone(sim, c, issue, sim.satisfaction(c, t))
    if tone == "angry" and ctype == "message":
        ctype = issue.contact_type = "complaint"
    fields: dict[str, Any] = {
        "channel": channel,
        "touchpoint": issue.kind.touchpoint,
        "text": sim.writer.complaint(issue.kind.topic, tone),
    }
    if issue.outage:
        fields["attributes"] = {"outage_id": issue.outage}
    if ctype == "ticket.opened":
        issue.ticket = f"T-{idx}-{issue.number}"
        fields["ticket"] = {"id": issue.ticket, "status": "open"}
    issue.event_ids.append(sim.emit(c, t, ctype, fields))
    # When they would chase an unanswered contact: drawn now, used or not, so that a
    # response never shifts the customer's later draws.
    first, second = rng.lognormal(30.0, 0.5), rng.lognormal(48.0, 0.5)
    issue.chase_after = second
    sim.push(t + first, CHASE, idx, issue)


def on_chase(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c, issue = sim.customers[idx], ref
    if c.churned_at is not None or issue.acknowledged_at is not None:
        return
    if issue.resolved_at is not None or t - issue.at > ISSUE_LIFETIME_HOURS:
        return
    issue.chases += 1
    sim.shift(c, t, sim.model.response.followed_up())
    fields: dict[str, Any] = {
        "channel": issue.channel,
        "touchpoint": issue.kind.touchpoint,
        "text": sim.writer.complaint(issue.kind.topic, "angry", chase=issue.chases),
        "attributes": {"follow_up": issue.chases},
    }
    if issue.ticket is not None:
        fields["ticket"] = {"id": issue.ticket, "status": "open"}
        ctype = "ticket.updated"
    else:
        ctype = "complaint" if issue.chases > 1 else str(issue.contact_type)
    issue.event_ids.append(sim.emit(c, t, ctype, fields))
    if issue.chases < 2:
        sim.push(t + issue.chase_after, CHASE, idx, issue)


def on_neglect(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c, issue = sim.customers[idx], ref
    if c.churned_at is not None or not issue.contacted:
        return
    if issue.acknowledged_at is None and issue.resolved_at is None:
        issue.neglected = True
        sim.shift(c, t, sim.model.response.neglected())


def on_expire(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c = sim.customers[idx]
    if ref in c.issues:
        c.issues.remove(ref)


def _waking(c: Customer, t: float) -> float:
    """Move a contact that would fall in the customer's night to the next morning."""
    local = (t + c.tz_hours) % 24.0
    if local < 7.0:
        return t + (7.0 - local) + c.rng.random() * 3.0
    c.rng.random()
    return t


def _tone(sim: Simulation, c: Customer, issue: Issue, s: float) -> str:
    low = s < sim.industry.satisfaction_mean - 1.0
    return "angry" if issue.damage > 0.9 or low or issue.chases else "annoyed"
