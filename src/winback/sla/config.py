"""Reading ``sla.yaml``: calendars and policies, with errors that name the file and the field.

```yaml
calendars:
  berlin-office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
  always: {timezone: UTC, hours: 24/7}
policies:
  - name: vip-p1
    when: {priority: [P1, P2], segment: [vip], value_at_least: 1000}
    calendar: berlin-office
    timezone: customer            # or calendar (default)
    targets: {first_response: 1h, next_response: 4h, resolution: 2d}
    warning_at: 80%
    pause_in: [waiting_on_customer]
    escalations:
      - {after: 0m, notify: lead}
      - {after: 2h, raise_priority: true, reassign: team-lead}
```

A missing file means the built-in defaults (:data:`~winback.sla.policy.DEFAULT_POLICIES`).
:attr:`SlaConfig.fingerprint` changes whenever the effective configuration does; the timer
service compares it with what open cases were computed under and recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from winback.sla.calendar import ALWAYS, Calendar, CalendarError, load_calendar
from winback.sla.policy import (
    DEFAULT_POLICIES,
    METRICS,
    PRIORITY_ORDER,
    CaseFacts,
    Conditions,
    Escalation,
    Policy,
)

SLA_FILE = "sla.yaml"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_STATES = ("new", "acknowledged", "in_progress", "waiting_on_customer", "reopened")


class SlaConfigError(ValueError):
    """``sla.yaml`` cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class SlaConfig:
    calendars: Mapping[str, Calendar]
    policies: tuple[Policy, ...]
    fingerprint: str
    source: str = "built-in defaults"

    def policy_for(self, facts: CaseFacts) -> Policy | None:
        if facts.policy is not None:  # named by a playbook; unknown names fall through
            for policy in self.policies:
                if policy.name == facts.policy:
                    return policy
        for policy in self.policies:
            if policy.conditions.match(facts):
                return policy
        return None

    def calendar_for(self, policy: Policy, facts: CaseFacts) -> Calendar:
        calendar = self.calendars.get(policy.calendar, ALWAYS)
        if policy.timezone == "customer" and facts.customer_timezone:
            try:
                return calendar.in_timezone(facts.customer_timezone)
            except CalendarError:
                return calendar  # an unknown customer zone falls back to the team's
        return calendar


def parse_duration(value: object, path: str) -> timedelta:
    """``"90m"``, ``"1h30m"``, ``"2d"``, ``"45s"`` or a number of minutes."""
    if isinstance(value, bool):
        raise SlaConfigError(f"{path}: {value!r} is not a duration like 4h or 30m")
    if isinstance(value, int | float):
        return timedelta(minutes=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
            return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))
    raise SlaConfigError(f"{path}: {value!r} is not a duration like 4h, 30m or 1h30m")


def _ratio(value: object, path: str) -> float | None:
    if value is None or value is False:
        return None
    try:
        ratio = (
            float(value.strip().rstrip("%")) / 100
            if isinstance(value, str)
            else float(value) / (100 if float(value) > 1 else 1)  # type: ignore[arg-type]
        )
    except (TypeError, ValueError):
        raise SlaConfigError(f"{path}: {value!r} is not a percentage like 80%") from None
    if not 0 < ratio < 1:
        raise SlaConfigError(f"{path}: {value!r} must be between 0% and 100%")
    return ratio


def _names(value: object, path: str, allowed: tuple[str, ...] | None = None) -> frozenset[str]:
    items = [value] if isinstance(value, str | int | float) else value
    if not isinstance(items, list) or not items:
        raise SlaConfigError(f"{path}: expected a value or a list of values")
    names = frozenset(str(v) for v in items)
    if allowed is not None:
        bad = sorted(names - set(allowed))
        if bad:
            raise SlaConfigError(f"{path}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return names


def _conditions(when: object, path: str) -> Conditions:
    if when is None:
        return Conditions()
    if not isinstance(when, Mapping):
        raise SlaConfigError(f"{path}: expected a mapping of conditions")
    known = {"priority", "segment", "category", "channel", "value_at_least", "value_at_most"}
    for key in when:
        if key not in known:
            raise SlaConfigError(f"{path}.{key}: unknown condition (one of {sorted(known)})")

    def number(key: str) -> float | None:
        raw = when.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise SlaConfigError(f"{path}.{key}: {raw!r} is not a number")
        return float(raw)

    def names(key: str, allowed: tuple[str, ...] | None = None) -> frozenset[str] | None:
        return None if when.get(key) is None else _names(when[key], f"{path}.{key}", allowed)

    return Conditions(
        priority=names("priority", PRIORITY_ORDER),
        segment=names("segment"),
        category=names("category"),
        channel=names("channel"),
        min_value=number("value_at_least"),
        max_value=number("value_at_most"),
    )


def _escalations(items: object, path: str) -> tuple[Escalation, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise SlaConfigError(f"{path}: expected a list of escalation levels")
    levels = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise SlaConfigError(f"{where}: expected a mapping like {{after: 1h, notify: lead}}")
        unknown = set(item) - {"after", "notify", "raise_priority", "reassign"}
        if unknown:
            raise SlaConfigError(f"{where}.{sorted(unknown)[0]}: unknown field")
        level = Escalation(
            level=i + 1,
            after=parse_duration(item.get("after", "0m"), f"{where}.after"),
            notify=None if item.get("notify") is None else str(item["notify"]),
            raise_priority=bool(item.get("raise_priority", False)),
            reassign=None if item.get("reassign") is None else str(item["reassign"]),
        )
        if not (level.notify or level.raise_priority or level.reassign):
            raise SlaConfigError(f"{where}: says nothing to do (notify, raise_priority, reassign)")
        levels.append(level)
    return tuple(levels)


def _policy(item: object, path: str, calendars: Mapping[str, Calendar]) -> Policy:
    if not isinstance(item, Mapping):
        raise SlaConfigError(f"{path}: expected a mapping with name, targets, ...")
    known = {"name", "when", "calendar", "timezone", "targets", "warning_at", "pause_in"}
    for key in item:
        if key not in known | {"escalations"}:
            raise SlaConfigError(f"{path}.{key}: unknown field")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise SlaConfigError(f"{path}.name: every policy needs a name")
    calendar = str(item.get("calendar", "always"))
    if calendar not in calendars:
        raise SlaConfigError(
            f"{path}.calendar: no calendar {calendar!r} (defined: {', '.join(sorted(calendars))})"
        )
    timezone = str(item.get("timezone", "calendar"))
    if timezone not in {"calendar", "customer"}:
        raise SlaConfigError(f"{path}.timezone: must be 'calendar' or 'customer'")
    raw_targets = item.get("targets")
    if not isinstance(raw_targets, Mapping) or not raw_targets:
        raise SlaConfigError(f"{path}.targets: expected e.g. {{first_response: 1h}}")
    targets = {}
    for metric, value in raw_targets.items():
        if metric not in METRICS:
            raise SlaConfigError(f"{path}.targets.{metric}: not one of {', '.join(METRICS)}")
        targets[str(metric)] = parse_duration(value, f"{path}.targets.{metric}")
        if targets[str(metric)] <= timedelta(0):
            raise SlaConfigError(f"{path}.targets.{metric}: must be longer than zero")
    pause = item.get("pause_in", ["waiting_on_customer"])
    return Policy(
        name=name,
        calendar=calendar,
        targets=targets,
        conditions=_conditions(item.get("when"), f"{path}.when"),
        warning_ratio=_ratio(item.get("warning_at", "80%"), f"{path}.warning_at"),
        pause_states=frozenset() if not pause else _names(pause, f"{path}.pause_in", _STATES),
        escalations=_escalations(item.get("escalations"), f"{path}.escalations"),
        timezone=timezone,
    )


def parse_sla(document: object, source: str = SLA_FILE) -> SlaConfig:
    """Build the configuration from a parsed YAML document (errors are prefixed ``source:``)."""
    try:
        return _parse(document, source)
    except CalendarError as exc:
        raise SlaConfigError(f"{source}: {exc}") from None
    except SlaConfigError as exc:
        raise SlaConfigError(f"{source}: {exc}") from None


def _parse(document: object, source: str) -> SlaConfig:
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise SlaConfigError("the file must be a mapping with calendars and policies")
    for key in document:
        if key not in {"calendars", "policies"}:
            raise SlaConfigError(f"{key}: unknown section (calendars, policies)")
    raw_calendars = document.get("calendars") or {}
    if not isinstance(raw_calendars, Mapping):
        raise SlaConfigError("calendars: expected a mapping of name to calendar")
    calendars: dict[str, Calendar] = {"always": ALWAYS}
    for name, mapping in raw_calendars.items():
        calendars[str(name)] = load_calendar(mapping, f"calendars.{name}")
    raw_policies = document.get("policies")
    if raw_policies is None:
        policies = DEFAULT_POLICIES
    elif not isinstance(raw_policies, list):
        raise SlaConfigError("policies: expected a list of policies")
    else:
        policies = tuple(
            _policy(item, f"policies[{i}]", calendars) for i, item in enumerate(raw_policies)
        )
        names = [p.name for p in policies]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise SlaConfigError(f"policies[{i}].name: {name!r} is used twice")
    canonical = json.dumps(document, sort_keys=True, default=str)
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return SlaConfig(calendars, policies, fingerprint, source)


def load_sla_config(config_dir: Path | None) -> SlaConfig:
    """Read ``<config_dir>/sla.yaml``; the built-in defaults when there is none."""
    path = None if config_dir is None else Path(config_dir) / SLA_FILE
    if path is None or not path.exists():
        return parse_sla(None, "built-in defaults")
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SlaConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    return parse_sla(document, str(path))
