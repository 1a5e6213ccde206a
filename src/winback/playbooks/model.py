"""Compiled playbooks: conditions as plain functions over :class:`Facts`, actions as data.

A playbook is an ordered list of rules; ``mode`` says whether its first matching rule acts
(``first_match``) or every matching rule does (``all_match``). Conditions name a field by path
(``event.type``, ``text.sentiment``, ``risk.probability``, ``features.complaints_30d``,
``customer.value``, ``case.open``…); a field that is absent (no text on the event, no risk score
yet, no open case) satisfies no comparison except ``exists: false``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from winback.cases.model import handling
from winback.customers.profile import Customer
from winback.events.model import Event

MODES = ("first_match", "all_match")
CASE_MODES = ("open", "update", "none")
SEVERITIES = ("low", "medium", "high", "critical")
PRIORITIES = ("P1", "P2", "P3", "P4")
OPERATORS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "contains", "exists")
ROOTS = ("event", "text", "risk", "features", "customer", "case")
EVENT_FIELDS = frozenset(
    {
        "type",
        "customer_id",
        "channel",
        "touchpoint",
        "location",
        "text",
        "score",
        "amount",
        "currency",
        "ticket",
        "attributes",
        "customer",
        "id",
        "occurred_at",
    }
)


@dataclass(frozen=True)
class Facts:
    """What a condition can look at for one event."""

    event: Event
    text: Any | None = None  # winback.text.TextAnalysis
    risk: Any | None = None  # winback.risk.scoring.RiskResult
    customer: Customer | None = None
    case: Any | None = None  # the customer's open RecoveryCase, if any


Getter = Callable[[Facts], Any]
Condition = Callable[[Facts], bool]


def _dig(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        else:
            return None
        if value is None:
            return None
    return value


def getter(path: str) -> Getter:
    """A function reading ``path`` (e.g. ``text.sentiment``) from :class:`Facts`.

    Raises ``ValueError`` for a path no event could ever have.
    """
    root, _, rest = path.partition(".")
    keys = tuple(rest.split(".")) if rest else ()
    if root not in ROOTS:
        raise ValueError(f"unknown field {path!r}: it must start with one of {', '.join(ROOTS)}")
    if root == "case":
        if keys == ("open",):
            return lambda f: f.case is not None
        if len(keys) != 1:
            raise ValueError(f"unknown field {path!r}: use case.open, case.priority, …")
        name = keys[0]
        return lambda f: None if f.case is None else getattr(f.case, name, None)
    if not keys:
        raise ValueError(f"field {path!r} needs a name after {root}.")
    if root == "event":
        first = keys[0]
        if first == "type" and len(keys) == 1:
            return lambda f: f.event.type
        if first == "customer_id" and len(keys) == 1:
            return lambda f: f.event.customer_id
        if first not in EVENT_FIELDS:
            raise ValueError(
                f"unknown field {path!r}: an event has {', '.join(sorted(EVENT_FIELDS))}"
            )
        if first in ("score", "ticket") and len(keys) != 2:
            raise ValueError(f"unknown field {path!r}: use event.{first}.<field>")
        return lambda f: _dig(f.event.data, keys)
    if root == "features":
        return lambda f: None if f.risk is None else _dig(f.risk.features, keys)
    if root in ("text", "risk"):
        name = keys[0]
        if len(keys) != 1:
            raise ValueError(f"unknown field {path!r}")
        if root == "text":
            return lambda f: None if f.text is None else getattr(f.text, name, None)
        return lambda f: None if f.risk is None else getattr(f.risk, name, None)
    # customer
    if keys[0] == "attributes":
        rest_keys = keys[1:]
        return lambda f: None if f.customer is None else _dig(f.customer.attributes, rest_keys)
    name = keys[0]
    if len(keys) != 1:
        raise ValueError(f"unknown field {path!r}")
    return lambda f: None if f.customer is None else getattr(f.customer, name, None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def compare(op: str, expected: Any) -> Callable[[Any], bool]:
    """A predicate for one operator; absent (``None``) values fail all but ``exists: false``."""
    if op == "exists":
        want = bool(expected)
        return lambda v: (v is not None) == want
    if op in ("lt", "lte", "gt", "gte"):
        bound = float(expected)
        ops: dict[str, Callable[[float], bool]] = {
            "lt": lambda x: x < bound,
            "lte": lambda x: x <= bound,
            "gt": lambda x: x > bound,
            "gte": lambda x: x >= bound,
        }
        test = ops[op]

        def numeric(v: Any) -> bool:
            n = _number(v)
            return n is not None and test(n)

        return numeric
    if op == "eq":
        return lambda v: v is not None and v == expected
    if op == "ne":
        return lambda v: v is not None and v != expected
    if op in ("in", "not_in"):
        options = frozenset(expected)
        if op == "in":
            return lambda v: v is not None and _hashable(v) in options
        return lambda v: v is not None and _hashable(v) not in options
    if op == "contains":

        def contains(v: Any) -> bool:
            if v is None:
                return False
            if isinstance(v, str):
                return isinstance(expected, str) and expected in v
            try:
                return expected in v
            except TypeError:
                return False

        return contains
    raise ValueError(f"unknown operator {op!r}; one of {', '.join(OPERATORS)}")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def field_condition(path: str, read: Getter, tests: list[Callable[[Any], bool]]) -> Condition:
    if len(tests) == 1:
        only = tests[0]
        return lambda f: only(read(f))

    checks = tuple(tests)

    def check(f: Facts) -> bool:
        value = read(f)
        for t in checks:  # noqa: SIM110 (a loop: see all_of)
            if not t(value):
                return False
        return True

    return check


def all_of(parts: list[Condition]) -> Condition:
    # Plain loops, not all()/any() over a generator: conditions run for every rule on every
    # event, and the generator's set-up cost more than the tests themselves.
    if not parts:
        return lambda f: True
    if len(parts) == 1:
        return parts[0]
    conditions = tuple(parts)

    def every(f: Facts) -> bool:
        for p in conditions:  # noqa: SIM110
            if not p(f):
                return False
        return True

    return every


def any_of(parts: list[Condition]) -> Condition:
    conditions = tuple(parts)

    def some(f: Facts) -> bool:
        for p in conditions:  # noqa: SIM110
            if p(f):
                return True
        return False

    return some


def not_(part: Condition) -> Condition:
    return lambda f: not part(f)


SEVERITY_LEVEL = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
# The text's urgency cues and the severity each stands for (when no rule names a severity).
DEFAULT_URGENCY_SEVERITY: tuple[tuple[str, str], ...] = (
    ("legal_threat", "critical"),
    ("cancel_intent", "high"),
    ("vulnerable", "high"),
    ("repeat_contact", "medium"),
)


@dataclass(frozen=True)
class PriorityPolicy:
    """How a playbook turns risk, value and severity into P1..P4 (its ``priority:`` block).

    ``score`` = (severity weight x severity level + risk weight x churn probability + value
    weight x min(1, customer value / ``value_scale``)) / the sum of the weights, in 0..1; the
    first of ``thresholds`` (P1, P2, P3) it reaches gives the priority, below them all: P4.
    Severity levels: low 0.25, medium 0.5, high 0.75, critical 1. What is unknown (no risk
    score yet, no customer value) counts as 0, so it never raises a priority. The severity is
    the matching rules' (the highest); when none names one, the highest the text's urgency
    cues map to (``urgency``); else ``default_severity``. With ``mode="fixed"`` a rule that
    pins no priority gets ``fixed``. A rule's own ``priority`` always wins over the policy.

    The defaults make severity alone (nothing known about risk or value) give the priorities
    the shipped playbooks used to fix: high P2, medium P3, low P4 (critical P2; the shipped
    legal-threat rule pins P1); a high churn risk or a valuable customer raises it.
    """

    mode: str = "score"  # score | fixed
    severity_weight: float = 0.6
    risk_weight: float = 0.2
    value_weight: float = 0.2
    value_scale: float = 1000.0
    thresholds: tuple[float, float, float] = (0.7, 0.45, 0.25)  # the least score for P1, P2, P3
    default_severity: str = "medium"
    urgency: tuple[tuple[str, str], ...] = DEFAULT_URGENCY_SEVERITY  # (cue, severity) pairs
    fixed: str = "P3"


DEFAULT_PRIORITY_POLICY = PriorityPolicy()


@dataclass(frozen=True)
class Actions:
    """What a matching rule asks for (``None``/empty: nothing)."""

    case: str = "open"  # open (or attach) | update (only an open case) | none
    reason: str | None = None
    priority: str | None = None
    severity: str | None = None
    category: str | None = None  # a name, or "text" for the text stage's category
    sla_policy: str | None = None
    team: str | None = None
    agent: str | None = None
    remedies: tuple[str, ...] = ()
    acknowledge: str | None = None  # the acknowledgement's template name
    handoff: str | None = None  # why a human must handle it
    incident: str | None = None  # an incident id, or "event" for event.incident_id
    control_share: float = 0.0  # share of customers held out (no action), 0..1
    suppress: bool = False
    stop: bool = False  # all_match: no later rule of this playbook runs
    automate: bool = False  # automation may handle the case when no rule asks for a human


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    then: Actions
    line: int = 0
    description: str | None = None
    # The only event types ``when`` can hold for (from a top-level ``event.type`` condition),
    # or None: any. The engine skips the rule for other types without evaluating it.
    event_types: frozenset[str] | None = None


@dataclass(frozen=True)
class Playbook:
    name: str
    version: int
    mode: str
    rules: tuple[Rule, ...]
    source: str = "built-in"
    order: int = 100
    enabled: bool = True
    priority: PriorityPolicy = DEFAULT_PRIORITY_POLICY


@dataclass(frozen=True)
class PlaybookSet:
    playbooks: tuple[Playbook, ...]
    source: str = "built-in"

    @property
    def version(self) -> str:
        return ",".join(f"{p.name}@{p.version}" for p in self.playbooks)

    def rule_ids(self) -> list[str]:
        return [f"{p.name}/{r.name}" for p in self.playbooks for r in p.rules]


@dataclass(frozen=True)
class RuleHit:
    """One rule that matched an event."""

    playbook: str
    version: int
    rule: str
    actions: Actions

    @property
    def rule_id(self) -> str:
        return f"{self.playbook}/{self.rule}"

    @property
    def decided_by(self) -> str:
        return f"playbook:{self.playbook}@{self.version}/{self.rule}"


@dataclass
class Outcome:
    """Everything the matching rules asked for an event, merged (see docs/playbooks.md)."""

    hits: list[RuleHit] = field(default_factory=list)
    case: str = "none"  # what happens to the case: open | update | none
    reason: str | None = None
    priority: str | None = None
    priority_reason: str | None = None  # pinned by which rule, or the score and its parts
    priority_score: float | None = None  # the policy's score (mode "score"), 0..1
    severity: str | None = None
    category: str | None = None
    sla_policy: str | None = None
    team: str | None = None
    agent: str | None = None
    remedies: list[str] = field(default_factory=list)
    acknowledge: str | None = None
    handoff: list[str] = field(default_factory=list)
    incident: str | None = None
    held_out_by: str | None = None  # the rule whose control group this customer is in
    control_bucket: float | None = None
    suppressed_by: str | None = None
    decided_by: str | None = None
    automated: bool = False  # a rule asked for automation and none for a human

    @property
    def handling(self) -> str | None:
        """Who handles the case, as its decision entry says it (``None``: not said)."""
        return handling(self.handoff, self.automated)

    @property
    def acts(self) -> bool:
        return self.case != "none" and self.held_out_by is None and self.suppressed_by is None

    def summary(self) -> dict[str, Any]:
        """The matched rules and what they asked, leaving out what none asked (compact: it is
        stored with every case entry and its outbox effect)."""
        out: dict[str, Any] = {"rules": [h.rule_id for h in self.hits]}
        for name in _SUMMARY_FIELDS:
            value = getattr(self, name)
            if value is None or value is False or value in ("", []):
                continue
            out[name] = list(value) if isinstance(value, list) else value
        return out


_SUMMARY_FIELDS = (
    "priority",
    "priority_reason",
    "priority_score",
    "severity",
    "category",
    "sla_policy",
    "team",
    "agent",
    "remedies",
    "acknowledge",
    "handoff",
    "incident",
    "automated",
)
