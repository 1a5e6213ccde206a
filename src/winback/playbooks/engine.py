"""Running playbooks over one event's facts: which rules match, and what they ask, merged.

Pure and fast (no I/O, a handful of precompiled closures per rule): it runs inside the
processor's decision step for every event.

Merging when several rules match (in playbook order, then rule order): the case action is the
strongest asked (``open`` > ``update`` > ``none``); the highest severity wins; for category,
SLA policy, team, agent, acknowledgement and incident the first rule that names one wins;
remedies and handoff reasons accumulate. A ``suppress`` or a control-group hold-out by any
matching rule means no case action at all (recorded).

Priority: when matching rules pin one (``priority: P1``), the most urgent pin wins; otherwise
the priority policy of the playbook whose rule decided the case action computes it from churn
risk, customer value and severity (:class:`~winback.playbooks.model.PriorityPolicy`). Either
way the outcome says why (``priority_reason``).

Automation: the case may be handled by automation when a matching rule says ``automate`` and
no matching rule gives a handoff reason (any handoff reason means a human).
"""

from __future__ import annotations

import hashlib

from winback.cases.rules import Decision
from winback.playbooks.model import (
    DEFAULT_PRIORITY_POLICY,
    PRIORITIES,
    SEVERITIES,
    SEVERITY_LEVEL,
    Facts,
    Outcome,
    PlaybookSet,
    PriorityPolicy,
    RuleHit,
)

_CASE_RANK = {"none": 0, "update": 1, "open": 2}
DEFAULT_PRIORITY = "P3"


def control_bucket(customer_id: str, rule_id: str) -> float:
    """A number in [0, 1) fixed for a (customer, rule): the customer's control-group draw.

    Deterministic (a hash, not a random generator), so re-processing an event, a dry-run and
    the live processor all put the same customer in the same group.
    """
    digest = hashlib.blake2b(f"{rule_id}\x00{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def matching_rules(playbooks: PlaybookSet, facts: Facts) -> list[RuleHit]:
    hits: list[RuleHit] = []
    event_type = facts.event.type
    for book in playbooks.playbooks:
        if not book.enabled:
            continue
        for rule in book.rules:
            types = rule.event_types
            if types is not None and event_type not in types:
                continue  # its conditions name other event types: it cannot match
            if not rule.when(facts):
                continue
            hits.append(RuleHit(book.name, book.version, rule.name, rule.then))
            if book.mode == "first_match" or rule.then.stop:
                break
    return hits


def evaluate(playbooks: PlaybookSet, facts: Facts) -> Outcome:
    """What the playbooks ask for this event (see the module docstring for the merge)."""
    out = Outcome(hits=matching_rules(playbooks, facts))
    pinned_by: str | None = None
    deciding: str | None = None  # the playbook whose rule decided the case action
    automate = False
    for hit in out.hits:
        a = hit.actions
        if a.suppress and out.suppressed_by is None:
            out.suppressed_by = hit.rule_id
        if a.control_share > 0 and out.held_out_by is None:
            bucket = control_bucket(facts.event.customer_id, hit.rule_id)
            if bucket < a.control_share:
                out.held_out_by, out.control_bucket = hit.rule_id, bucket
        if _CASE_RANK[a.case] > _CASE_RANK[out.case]:
            out.case = a.case
            out.reason = a.reason or hit.rule.replace("-", " ").replace("_", " ")
            out.decided_by = hit.decided_by
            deciding = hit.playbook
        if a.priority is not None and (out.priority is None or a.priority < out.priority):
            out.priority, pinned_by = a.priority, hit.rule_id
        automate = automate or a.automate
        if a.severity is not None and (
            out.severity is None or SEVERITIES.index(a.severity) > SEVERITIES.index(out.severity)
        ):
            out.severity = a.severity
        if out.category is None and a.category is not None:
            out.category = _category(a.category, facts)
        out.sla_policy = out.sla_policy or a.sla_policy
        out.team = out.team or a.team
        out.agent = out.agent or a.agent
        out.acknowledge = out.acknowledge or a.acknowledge
        if out.incident is None and a.incident is not None:
            out.incident = _incident(a.incident, facts)
        for remedy in a.remedies:
            if remedy not in out.remedies:
                out.remedies.append(remedy)
        if a.handoff is not None and a.handoff not in out.handoff:
            out.handoff.append(a.handoff)
    if out.case != "none":
        policy = next(
            (b.priority for b in playbooks.playbooks if b.name == deciding),
            DEFAULT_PRIORITY_POLICY,
        )
        _choose_priority(out, policy, facts, pinned_by)
        out.automated = automate and not out.handoff
    return out


def priority_score(
    policy: PriorityPolicy, severity: str, risk: float | None, value: float | None
) -> float:
    """The policy's score in 0..1 (see :class:`~winback.playbooks.model.PriorityPolicy`)."""
    r = 0.0 if risk is None else max(0.0, min(1.0, float(risk)))
    v = 0.0 if value is None or value <= 0 else min(1.0, float(value) / policy.value_scale)
    weights = policy.severity_weight + policy.risk_weight + policy.value_weight
    total = (
        policy.severity_weight * SEVERITY_LEVEL[severity]
        + policy.risk_weight * r
        + policy.value_weight * v
    )
    # Rounded so that a score meant to sit on a threshold (0.6 x 0.75 = 0.45) is not a hair
    # under it in binary floating point.
    return round(total / weights, 6)


def priority_of(policy: PriorityPolicy, score: float) -> str:
    """P1..P3 for the first threshold ``score`` reaches, else P4."""
    for name, least in zip(PRIORITIES, policy.thresholds, strict=False):
        if score >= least:
            return name
    return PRIORITIES[-1]


def _choose_priority(
    out: Outcome, policy: PriorityPolicy, facts: Facts, pinned_by: str | None
) -> None:
    if policy.mode == "fixed":
        if out.priority is None:
            out.priority = policy.fixed
            out.priority_reason = f"no rule pins one: the playbook's fixed {policy.fixed}"
        else:
            out.priority_reason = f"pinned by {pinned_by}"
        return
    severity, source = _severity_for_score(out, policy, facts)
    risk = None if facts.risk is None else getattr(facts.risk, "probability", None)
    value = None if facts.customer is None else facts.customer.value
    score = priority_score(policy, severity, risk, value)
    computed = priority_of(policy, score)
    parts = (
        f"score {score:.2f} (severity {severity} from {source}, "
        f"risk {'unknown' if risk is None else format(risk, '.2f')}, "
        f"value {'unknown' if value is None else format(value, 'g')} of "
        f"{policy.value_scale:g})"
    )
    out.priority_score = score
    if out.priority is None:
        out.priority = computed
        out.priority_reason = f"{parts} → {computed}"
    else:
        out.priority_reason = f"pinned by {pinned_by}; {parts} would give {computed}"


def _severity_for_score(out: Outcome, policy: PriorityPolicy, facts: Facts) -> tuple[str, str]:
    if out.severity is not None:
        return out.severity, "the rules"
    cues = () if facts.text is None else tuple(getattr(facts.text, "urgency", ()) or ())
    by_cue = dict(policy.urgency)
    mapped = [(by_cue[c], c) for c in cues if c in by_cue]
    if mapped:
        severity, cue = max(mapped, key=lambda m: SEVERITIES.index(m[0]))
        return severity, f"text cue {cue}"
    return policy.default_severity, "the default"


def decision_for(outcome: Outcome, facts: Facts) -> Decision | None:
    """The decision the case step acts on, or ``None`` (no case action)."""
    if not outcome.acts:
        return None
    if outcome.case == "update" and facts.case is None:
        return None
    return Decision(
        reason=outcome.reason or "playbook",
        priority=outcome.priority or DEFAULT_PRIORITY,
        category=outcome.category,
        decided_by=outcome.decided_by or "playbook",
    )


def _category(spec: str, facts: Facts) -> str | None:
    if spec == "text":
        return None if facts.text is None else str(facts.text.category)
    return spec


def _incident(spec: str, facts: Facts) -> str | None:
    if spec != "event":
        return spec
    data = facts.event.data
    value = data.get("incident_id") or (data.get("attributes") or {}).get("incident_id")
    return None if value is None else str(value)
