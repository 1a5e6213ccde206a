"""Reading playbooks from YAML, with errors that name the file and the line.

``playbooks/*.yaml`` in ``WINBACK_CONFIG_DIR`` (read in ``order``, then file name); without
any there, the default set shipped in ``winback/playbooks/defaults/``. Each file is one
playbook (shape: docs/playbooks.md). The YAML is composed with PyYAML's node API so each value
keeps its line; the document is validated with pydantic (unknown fields are errors) and the
``when`` conditions are compiled; every problem is reported as ``file:line: where: what``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from winback.playbooks.model import (
    DEFAULT_URGENCY_SEVERITY,
    OPERATORS,
    Actions,
    Condition,
    Playbook,
    PlaybookSet,
    PriorityPolicy,
    Rule,
    all_of,
    any_of,
    compare,
    field_condition,
    getter,
    not_,
)

PLAYBOOK_DIR = "playbooks"
DEFAULTS_DIR = Path(__file__).parent / "defaults"

Path_ = tuple[str | int, ...]


class PlaybookError(ValueError):
    """Playbooks that cannot be used; ``problems`` are ``file:line: where: what`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid playbooks:\n  " + "\n  ".join(problems))
        self.problems = problems


# -- YAML with line numbers -------------------------------------------------------------------
def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, (*path, "<key>"), {}, source)
            if not isinstance(key, str | int | float | bool):
                raise PlaybookError(
                    [f"{source}:{key_node.start_mark.line + 1}: a key must be text"]
                )
            key = str(key)
            if key in out:
                raise PlaybookError(
                    [f"{source}:{key_node.start_mark.line + 1}: duplicate key {key!r}"]
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, (*path, i), lines, source) for i, n in enumerate(node.value)]
    return _SCALARS.construct_object(node)


_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used (stateless for scalars)


def read_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    """The document and a map from each value's path to its line (1-based)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise PlaybookError([f"{source}:{line}: not valid YAML: {exc.problem or exc}"]) from None
    if node is None:
        raise PlaybookError([f"{source}:1: the file is empty"])
    lines: dict[Path_, int] = {}
    return _construct(node, (), lines, source), lines


def line_of(lines: dict[Path_, int], path: Path_) -> int:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _where(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


# -- the document's shape ---------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssignIn(_Strict):
    team: str | None = None
    agent: str | None = None


class ThenIn(_Strict):
    case: Literal["open", "update", "none"] = "open"
    reason: str | None = Field(None, max_length=500)
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    category: str | None = Field(None, max_length=64)
    sla_policy: str | None = None
    assign: AssignIn | None = None
    remedies: list[str] = Field(default_factory=list)
    acknowledge: str | bool | None = None
    handoff: str | bool | None = None
    incident: str | None = None
    control: float = Field(0.0, ge=0.0, le=1.0)
    suppress: bool = False
    stop: bool = False
    automate: bool = False


Severity = Literal["low", "medium", "high", "critical"]


class WeightsIn(_Strict):
    severity: float = Field(0.6, ge=0)
    risk: float = Field(0.2, ge=0)
    value: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> WeightsIn:
        if self.severity + self.risk + self.value <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


class ThresholdsIn(_Strict):
    P1: float = Field(0.7, ge=0, le=1)
    P2: float = Field(0.45, ge=0, le=1)
    P3: float = Field(0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _descending(self) -> ThresholdsIn:
        if not self.P1 >= self.P2 >= self.P3:
            raise ValueError("thresholds must not rise from P1 to P3 (P1 >= P2 >= P3)")
        return self


def _default_urgency() -> dict[str, Severity]:
    return {cue: cast(Severity, severity) for cue, severity in DEFAULT_URGENCY_SEVERITY}


class PriorityIn(_Strict):
    mode: Literal["score", "fixed"] = Field("score", alias="from")
    weights: WeightsIn = Field(default_factory=WeightsIn)
    value_scale: float = Field(1000.0, gt=0)
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)
    default_severity: Severity = "medium"
    urgency: dict[str, Severity] = Field(default_factory=lambda: _default_urgency())
    default: Literal["P1", "P2", "P3", "P4"] = "P3"

    def policy(self) -> PriorityPolicy:
        return PriorityPolicy(
            mode=self.mode,
            severity_weight=self.weights.severity,
            risk_weight=self.weights.risk,
            value_weight=self.weights.value,
            value_scale=self.value_scale,
            thresholds=(self.thresholds.P1, self.thresholds.P2, self.thresholds.P3),
            default_severity=self.default_severity,
            urgency=tuple(self.urgency.items()),
            fixed=self.default,
        )


class RuleIn(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    when: dict[str, Any] = Field(default_factory=dict)
    then: ThenIn = Field(default_factory=ThenIn)


class PlaybookIn(_Strict):
    playbook: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = Field(ge=1)
    mode: Literal["first_match", "all_match"] = "first_match"
    order: int = 100
    enabled: bool = True
    description: str | None = None
    priority: PriorityIn = Field(default_factory=PriorityIn)
    rules: list[RuleIn] = Field(min_length=1)


# -- conditions -------------------------------------------------------------------------------
def _compile_when(
    when: Any, path: Path_, problems: list[str], here: Any
) -> Condition:  # here(path) -> "file:line"
    if not isinstance(when, dict):
        problems.append(f"{here(path)}: {_where(path)}: expected a mapping of conditions")
        return lambda f: False
    parts: list[Condition] = []
    for key, spec in when.items():
        sub = (*path, key)
        if key in ("any", "all"):
            if not isinstance(spec, list) or not spec:
                problems.append(f"{here(sub)}: {_where(sub)}: expected a list of conditions")
                continue
            inner = [_compile_when(s, (*sub, i), problems, here) for i, s in enumerate(spec)]
            parts.append(any_of(inner) if key == "any" else all_of(inner))
            continue
        if key == "not":
            parts.append(not_(_compile_when(spec, sub, problems, here)))
            continue
        try:
            read = getter(key)
        except ValueError as exc:
            problems.append(f"{here(sub)}: {_where(sub)}: {exc}")
            continue
        tests = []
        if isinstance(spec, dict):
            if not spec:
                problems.append(f"{here(sub)}: {_where(sub)}: give at least one operator")
            for op, expected in spec.items():
                if op not in OPERATORS:
                    problems.append(
                        f"{here((*sub, op))}: {_where((*sub, op))}: unknown operator {op!r}; "
                        f"one of {', '.join(OPERATORS)}"
                    )
                    continue
                try:
                    tests.append(compare(op, expected))
                except (TypeError, ValueError) as exc:
                    problems.append(f"{here((*sub, op))}: {_where((*sub, op))}: {exc}")
        elif isinstance(spec, list):
            tests.append(compare("in", [tuple(v) if isinstance(v, list) else v for v in spec]))
        else:
            tests.append(compare("eq", spec))
        if tests:
            parts.append(field_condition(key, read, tests))
    return all_of(parts)


def event_types(when: Any) -> frozenset[str] | None:
    """The event types a rule's ``when`` can hold for, from its top-level ``event.type``
    condition (a value, a list, or ``eq``/``in`` operators); None when it does not narrow them.

    Only a narrowing the condition itself enforces counts, so skipping the rule for any other
    type never changes what matches.
    """
    if not isinstance(when, dict) or "event.type" not in when:
        return None
    spec = when["event.type"]
    if isinstance(spec, dict):
        allowed: frozenset[str] | None = None
        for op, expected in spec.items():
            if op == "eq" and isinstance(expected, str):
                these = frozenset({expected})
            elif op == "in" and isinstance(expected, list):
                these = frozenset(v for v in expected if isinstance(v, str))
            else:
                continue  # another operator (ne, contains…) does not narrow the types here
            allowed = these if allowed is None else allowed & these
        return allowed
    if isinstance(spec, list):
        return frozenset(v for v in spec if isinstance(v, str))
    if isinstance(spec, str):
        return frozenset({spec})
    return frozenset()  # a number, a boolean, null: no event type equals it


def _actions(then: ThenIn, rule: str) -> Actions:
    acknowledge = then.acknowledge
    handoff = then.handoff
    return Actions(
        case=then.case,
        reason=then.reason,
        priority=then.priority,
        severity=then.severity,
        category=then.category,
        sla_policy=then.sla_policy,
        team=None if then.assign is None else then.assign.team,
        agent=None if then.assign is None else then.assign.agent,
        remedies=tuple(then.remedies),
        acknowledge="default" if acknowledge is True else (acknowledge or None),
        handoff=f"rule {rule}" if handoff is True else (handoff or None),
        incident=then.incident,
        control_share=then.control,
        suppress=then.suppress,
        stop=then.stop,
        automate=then.automate,
    )


def parse_playbook(text: str, source: str) -> Playbook:
    """One playbook file's text; raises :class:`PlaybookError` naming ``source`` and lines."""
    document, lines = read_yaml(text, source)

    def here(path: Path_) -> str:
        return f"{source}:{line_of(lines, path)}"

    try:
        model = PlaybookIn.model_validate(document)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}"
            elif err["type"] == "missing":
                message = "required field missing"
            errors.append(f"{here(loc)}: {_where(loc)}: {message}")
        raise PlaybookError(errors) from None
    problems: list[str] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, rule in enumerate(model.rules):
        path: Path_ = ("rules", i)
        if rule.name in seen:
            problems.append(f"{here((*path, 'name'))}: duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        when = _compile_when(rule.when, (*path, "when"), problems, here)
        rules.append(
            Rule(
                rule.name,
                when,
                _actions(rule.then, rule.name),
                line_of(lines, path),
                rule.description,
                event_types(rule.when),
            )
        )
    if problems:
        raise PlaybookError(problems)
    return Playbook(
        model.playbook,
        model.version,
        model.mode,
        tuple(rules),
        source,
        model.order,
        model.enabled,
        model.priority.policy(),
    )


@dataclass(frozen=True)
class References:
    """Names other configuration defines, to check playbooks against (``None``: unchecked)."""

    sla_policies: frozenset[str] | None = None
    remedies: frozenset[str] | None = None
    teams: frozenset[str] | None = None
    agents: frozenset[str] | None = None


def check_references(playbooks: PlaybookSet, refs: References) -> list[str]:
    """Problems with names a rule uses that the rest of the configuration does not define."""
    problems = []
    for book in playbooks.playbooks:
        for rule in book.rules:
            a, at = rule.then, f"{book.source}:{rule.line}: rule {rule.name!r}"
            sla = a.sla_policy
            if refs.sla_policies is not None and sla is not None and sla not in refs.sla_policies:
                problems.append(f"{at}: no SLA policy {a.sla_policy!r} in sla.yaml")
            for remedy in a.remedies:
                if refs.remedies is not None and remedy not in refs.remedies:
                    problems.append(f"{at}: no remedy {remedy!r} in the catalogue")
            if refs.teams is not None and a.team is not None and a.team not in refs.teams:
                problems.append(f"{at}: no team {a.team!r}")
            if refs.agents is not None and a.agent is not None and a.agent not in refs.agents:
                problems.append(f"{at}: no agent {a.agent!r}")
    return problems


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file()) + sorted(
        p for p in directory.glob("*.yml") if p.is_file()
    )


def load_files(paths: Iterable[Path], source: str) -> PlaybookSet:
    problems: list[str] = []
    books: list[Playbook] = []
    for path in paths:
        try:
            books.append(parse_playbook(path.read_text(encoding="utf-8"), str(path)))
        except PlaybookError as exc:
            problems.extend(exc.problems)
    names: dict[str, str] = {}
    for book in books:
        if book.name in names:
            problems.append(f"{book.source}:1: playbook {book.name!r} also in {names[book.name]}")
        names[book.name] = book.source
    if problems:
        raise PlaybookError(problems)
    books.sort(key=lambda b: (b.order, b.source))
    return PlaybookSet(tuple(books), source)


def default_playbooks() -> PlaybookSet:
    """The playbooks shipped with Winback (``winback/playbooks/defaults/*.yaml``)."""
    return load_files(_files(DEFAULTS_DIR), "built-in defaults")


def load_playbooks(config_dir: Path | None) -> PlaybookSet:
    """``<config_dir>/playbooks/*.yaml``, or the shipped defaults when there are none."""
    if config_dir is not None:
        directory = config_dir / PLAYBOOK_DIR
        files = _files(directory) if directory.is_dir() else []
        if files:
            return load_files(files, str(directory))
    return default_playbooks()
