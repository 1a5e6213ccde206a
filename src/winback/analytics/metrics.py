"""Service metrics: what one case contributes, and the metrics from summed contributions.

A case's contribution (:class:`CaseFacts`) is computed from plain values — the case row, its
timeline, its SLA measurements, its remedy grants, the customer's previous case and the
customer's first survey answer after the resolution — and reduced to additive *measures*
(:data:`MEASURES`: counts and sums). The read model keeps those measures summed per day and
slice, so a case that changes later (resolved, reopened, given a remedy) is applied as the
difference between its new and its old measures, and any slice's metrics are ratios of sums
(:func:`derive`). Definitions (docs/analytics.md repeats them):

- **time to acknowledge**: opening → the first timeline entry in which someone handled the
  case (a status change or a reply), wall time;
- **first response**: opening → the first reply to the customer, wall time; business time is
  the SLA clock's first ``first_response`` measurement (the policy's calendar, pauses out);
- **resolution**: opening → the (last) resolution, wall time; business time is the SLA clock's
  last ``resolution`` measurement;
- **SLA attainment**, per metric: of the SLA measurements taken (cancelled clocks left out),
  the share met in business time (the policy's verdict) and the share whose *wall* time was
  within the same target (as if the calendar were 24/7);
- **reopen rate**: resolved cases that were ever reopened / resolved cases;
- **repeat contact rate**: cases opened within :data:`REPEAT_WINDOW` of the same customer's
  previous case being resolved / cases opened;
- **recovery rate**: resolved cases whose first survey answer within :data:`FOLLOWUP_WINDOW`
  after the resolution was good (:func:`good_answer`) / resolved cases with such an answer;
- **remedy cost**: the cost of the remedies applied on the case (pending and rejected ones
  cost nothing).

A case counts in the period and slice of its *opening* (a cohort view): its resolution, however
late, is credited to the day it opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

REPEAT_WINDOW = timedelta(days=7)
FOLLOWUP_WINDOW = timedelta(days=14)
NONE = ""  # a slice value the case does not have (kept as text so the key stays unique)

# The slices a case is counted under, in the read model's key order (besides the day).
DIMENSIONS = ("team", "agent", "category", "channel", "segment", "priority", "rule")

MEASURES = (
    "opened",
    "resolved",
    "reopened",
    "repeat",
    "answered",
    "recovered",
    "ack_n",
    "ack_s",
    "fr_n",
    "fr_s",
    "fr_business_n",
    "fr_business_s",
    "res_n",
    "res_s",
    "res_business_n",
    "res_business_s",
    "fr_sla_n",
    "fr_sla_met",
    "fr_sla_met_wall",
    "res_sla_n",
    "res_sla_met",
    "res_sla_met_wall",
    "remedy_n",
    "remedy_cost",
)


@dataclass(frozen=True)
class Entry:
    """A timeline entry, as far as the metrics care."""

    kind: str
    at: datetime
    actor: str = ""


@dataclass(frozen=True)
class Measured:
    """One SLA measurement (:class:`winback.sla.tracking.Measurement`, as stored)."""

    metric: str
    generation: int
    target_s: float | None
    business_s: float
    wall_s: float
    outcome: str  # met | breached | cancelled


@dataclass(frozen=True)
class CaseInput:
    """Everything one case's contribution is computed from (plain values)."""

    case_id: int
    opened_at: datetime
    status: str
    priority: str
    decided_by: str
    reopen_count: int = 0
    resolved_at: datetime | None = None
    team: str | None = None
    owner: str | None = None
    category: str | None = None
    channel: str | None = None
    segment: str | None = None
    entries: Sequence[Entry] = ()
    measurements: Sequence[Measured] = ()
    remedy_costs: Sequence[float] = ()  # applied grants only
    previous_resolved_at: datetime | None = None  # the customer's previous case
    followup: tuple[str, int] | None = None  # first score answered after the resolution


@dataclass(frozen=True)
class CaseFacts:
    """A case's slice (``day`` + :data:`DIMENSIONS`) and its measures."""

    case_id: int
    day: date
    key: tuple[str, ...]
    measures: dict[str, float] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "day": self.day,
            **dict(zip(DIMENSIONS, self.key, strict=True)),
            **{m: self.measures.get(m, 0.0) for m in MEASURES},
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CaseFacts:
        return cls(
            int(row["case_id"]),
            row["day"],
            tuple(str(row[d]) for d in DIMENSIONS),
            {m: float(row[m]) for m in MEASURES if row[m]},
        )


def good_answer(kind: str, value: int) -> bool:
    """A satisfied answer: CSAT 4-5 (of 5), NPS 7-10 (not a detractor), CES 1-3 (of 7: easy)."""
    if kind == "csat":
        return value >= 4
    if kind == "nps":
        return value >= 7
    if kind == "ces":
        return value <= 3
    return False


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds())


def rule_of(decided_by: str) -> str:
    """The playbook rule that decided the case (``signals/negative-message``), without the
    ``playbook:`` prefix and the version; other deciders (``builtin-default@1``) as they are."""
    if decided_by.startswith("playbook:"):
        book_version, _, rule = decided_by[len("playbook:") :].partition("/")
        return f"{book_version.split('@')[0]}/{rule}"
    return decided_by


def case_facts(case: CaseInput) -> CaseFacts:
    """The case's contribution to the service metrics (see the module docstring)."""
    m: dict[str, float] = {"opened": 1.0}
    opened = case.opened_at
    handled = [e.at for e in case.entries if e.kind in ("case.status_changed", "case.reply")]
    replies = [e.at for e in case.entries if e.kind == "case.reply"]
    if handled:
        m["ack_n"], m["ack_s"] = 1.0, _seconds(opened, min(handled)) or 0.0
    if replies:
        m["fr_n"], m["fr_s"] = 1.0, _seconds(opened, min(replies)) or 0.0
    resolved = case.status in ("resolved", "closed") and case.resolved_at is not None
    if resolved:
        m["resolved"] = 1.0
        m["res_n"], m["res_s"] = 1.0, _seconds(opened, case.resolved_at) or 0.0
        if case.reopen_count > 0:
            m["reopened"] = 1.0
        if case.followup is not None:
            m["answered"] = 1.0
            if good_answer(*case.followup):
                m["recovered"] = 1.0
    taken = sorted(
        (x for x in case.measurements if x.outcome != "cancelled"), key=lambda x: x.generation
    )
    first = [x for x in taken if x.metric == "first_response"]
    if first:
        m["fr_business_n"], m["fr_business_s"] = 1.0, first[0].business_s
    last = [x for x in taken if x.metric == "resolution"]
    if last and resolved:
        m["res_business_n"], m["res_business_s"] = 1.0, last[-1].business_s
    for prefix, metric in (("fr_sla", "first_response"), ("res_sla", "resolution")):
        for x in (x for x in taken if x.metric == metric):
            m[f"{prefix}_n"] = m.get(f"{prefix}_n", 0.0) + 1.0
            if x.outcome == "met":
                m[f"{prefix}_met"] = m.get(f"{prefix}_met", 0.0) + 1.0
            if x.target_s is None or x.wall_s <= x.target_s:
                m[f"{prefix}_met_wall"] = m.get(f"{prefix}_met_wall", 0.0) + 1.0
    if (
        case.previous_resolved_at is not None
        and timedelta(0) <= opened - case.previous_resolved_at <= REPEAT_WINDOW
    ):
        m["repeat"] = 1.0
    if case.remedy_costs:
        m["remedy_n"] = float(len(case.remedy_costs))
        m["remedy_cost"] = float(sum(case.remedy_costs))
    key = (
        case.team or NONE,
        case.owner or NONE,
        case.category or NONE,
        case.channel or NONE,
        case.segment or NONE,
        case.priority or NONE,
        rule_of(case.decided_by),
    )
    return CaseFacts(case.case_id, opened.date(), key, {k: v for k, v in m.items() if v})


def delta(
    old: CaseFacts | None, new: CaseFacts
) -> list[tuple[date, tuple[str, ...], dict[str, float]]]:
    """What to add to the summed measures when a case's contribution goes from ``old`` to
    ``new``: one change, or two when its slice moved (reassigned, re-prioritised)."""
    if old is None:
        return [(new.day, new.key, dict(new.measures))]
    if old.day == new.day and old.key == new.key:
        diff = {
            k: new.measures.get(k, 0.0) - old.measures.get(k, 0.0)
            for k in set(old.measures) | set(new.measures)
        }
        diff = {k: v for k, v in diff.items() if v}
        return [(new.day, new.key, diff)] if diff else []
    return [
        (old.day, old.key, {k: -v for k, v in old.measures.items()}),
        (new.day, new.key, dict(new.measures)),
    ]


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


def derive(sums: Mapping[str, float]) -> dict[str, Any]:
    """The metrics of a slice from its summed measures (``None`` where nothing was measured)."""
    s = {k: float(sums.get(k) or 0.0) for k in MEASURES}
    return {
        "cases_opened": int(s["opened"]),
        "cases_resolved": int(s["resolved"]),
        "time_to_acknowledge_s": _ratio(s["ack_s"], s["ack_n"]),
        "first_response_s": _ratio(s["fr_s"], s["fr_n"]),
        "first_response_business_s": _ratio(s["fr_business_s"], s["fr_business_n"]),
        "resolution_s": _ratio(s["res_s"], s["res_n"]),
        "resolution_business_s": _ratio(s["res_business_s"], s["res_business_n"]),
        "sla_first_response_attainment": _ratio(s["fr_sla_met"], s["fr_sla_n"]),
        "sla_first_response_attainment_wall": _ratio(s["fr_sla_met_wall"], s["fr_sla_n"]),
        "sla_resolution_attainment": _ratio(s["res_sla_met"], s["res_sla_n"]),
        "sla_resolution_attainment_wall": _ratio(s["res_sla_met_wall"], s["res_sla_n"]),
        "reopen_rate": _ratio(s["reopened"], s["resolved"]),
        "repeat_contact_rate": _ratio(s["repeat"], s["opened"]),
        "followup_answered": int(s["answered"]),
        "recovery_rate": _ratio(s["recovered"], s["answered"]),
        "remedies_applied": int(s["remedy_n"]),
        "remedy_cost": round(s["remedy_cost"], 2),
    }


def add_into(total: dict[str, float], more: Mapping[str, Any]) -> None:
    for k in MEASURES:
        value = more.get(k)
        if value:
            total[k] = total.get(k, 0.0) + float(value)


def summed(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for row in rows:
        add_into(total, row)
    return total
