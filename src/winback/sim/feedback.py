"""Feedback: survey answers (transactional, relationship NPS, post-resolution) and reviews.

A transactional survey follows some failures (CES when the customer contacted a company that
measures effort, CSAT otherwise); every customer gets a relationship NPS survey every 90 days
and answers with the industry's response rate; a review follows some failures. Scores follow
the customer's satisfaction at that moment, with noise (:mod:`winback.sim.model`), and the
comment, when there is one, matches the score and what became of the problem. The
post-resolution survey is scheduled by the response (:mod:`winback.sim.response`) and sent
through :func:`survey`.

Invariants:

- Nothing is sent by a customer who has churned.
- A transactional survey, an NPS survey or a review draws a fixed number of numbers from the
  customer's stream, answered or not (the NPS noise is drawn before the response chance).
- A survey or review about an issue is listed in that issue's ``event_ids``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from winback.sim.customers import Customer, Issue
from winback.sim.model import ces_score, csat_score, nps_score, review_stars
from winback.sim.schedule import NPS

if TYPE_CHECKING:
    from winback.sim.generator import Simulation

REVIEW_SITES = ("trustpilot", "google", "app store", "reddit")


def on_tsurvey(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c, issue = sim.customers[idx], ref
    if c.churned_at is not None:
        return
    s = sim.satisfaction(c, t)
    noise = c.rng.gauss()
    if issue.contacted and sim.industry.name in ("saas", "bank", "telecom"):
        kind, value = "ces", ces_score(s, noise, issue.chases)
    else:
        kind, value = "csat", csat_score(s, noise)
    survey(sim, c, t, kind, value, issue, "transactional")


def survey(
    sim: Simulation, c: Customer, t: float, kind: str, value: int, issue: Issue | None, name: str
) -> None:
    """Send the answer to survey ``name`` (``value`` on the ``kind`` scale), with a comment."""
    recovered = issue is not None and issue.resolved_at is not None
    unanswered = issue is not None and issue.contacted and issue.acknowledged_at is None
    topic = issue.kind.topic if issue is not None else None
    fields: dict[str, Any] = {
        "channel": "email",
        "score": {"kind": kind, "value": value},
        "attributes": {"survey": name},
    }
    if issue is not None:
        fields["touchpoint"] = issue.kind.touchpoint
    text = sim.writer.survey_comment(kind, value, topic, recovered, unanswered)
    if text:
        fields["text"] = text
    event_id = sim.emit(c, t, "survey.response", fields)
    if issue is not None:
        issue.event_ids.append(event_id)


def on_nps(sim: Simulation, t: float, idx: int, _ref: Any) -> None:
    c = sim.customers[idx]
    if c.churned_at is not None:
        return
    rng = c.rng
    noise = rng.gauss()
    if rng.chance(sim.industry.nps_response):
        s = sim.satisfaction(c, t)
        recent = [i for i in c.issues if t - i.at <= 30 * 24.0]
        issue = recent[-1] if recent else None
        survey(sim, c, t, "nps", nps_score(s, noise), issue, "relationship")
    sim.push(t + 90 * 24.0, NPS, idx)


def on_review(sim: Simulation, t: float, idx: int, ref: Any) -> None:
    c, issue = sim.customers[idx], ref
    if c.churned_at is not None:
        return
    stars = review_stars(sim.satisfaction(c, t), c.rng.gauss())
    fields = {
        "channel": "web",
        "touchpoint": "public review",
        "text": sim.writer.review(stars, issue.kind.topic),
        "attributes": {"stars": stars, "site": c.rng.pick(REVIEW_SITES)},
    }
    issue.event_ids.append(sim.emit(c, t, "review", fields))
