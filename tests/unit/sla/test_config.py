"""sla.yaml: policies, conditions, durations, and errors that name the file and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from winback.sla.config import SlaConfigError, load_sla_config, parse_duration, parse_sla
from winback.sla.policy import CaseFacts

GOOD = """
calendars:
  berlin-office:
    timezone: Europe/Berlin
    hours:
      mon-fri: ["09:00-12:30", "13:30-18:00"]
      sat: ["10:00-14:00"]
    holidays:
      - 2026-12-25               # one date
      - {month: 1, day: 1}       # every year
  always:
    timezone: UTC
    hours: 24/7
policies:
  - name: vip
    when: {priority: [P1, P2], segment: vip, value_at_least: 1000}
    calendar: always
    targets: {first_response: 30m, next_response: 1h, resolution: 1d}
    warning_at: 75%
    escalations:
      - {after: 0m, notify: lead}
      - {after: 1h, raise_priority: true, reassign: team-lead}
  - name: billing-email
    when: {category: billing, channel: [email]}
    calendar: berlin-office
    timezone: customer
    targets: {first_response: 4h, resolution: 3d}
    pause_in: [waiting_on_customer]
  - name: everyone
    calendar: berlin-office
    targets: {first_response: 8h, resolution: 5d}
    warning_at: 80%
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sla.yaml").write_text(text)
    return tmp_path


def test_the_issue_example_loads_with_policies_in_order(tmp_path: Path) -> None:
    config = load_sla_config(write(tmp_path, GOOD))
    assert [p.name for p in config.policies] == ["vip", "billing-email", "everyone"]
    vip = config.policies[0]
    assert vip.targets["first_response"] == timedelta(minutes=30)
    assert vip.warning_ratio == 0.75
    assert [
        (e.level, e.after, e.notify, e.raise_priority, e.reassign) for e in vip.escalations
    ] == [
        (1, timedelta(0), "lead", False, None),
        (2, timedelta(hours=1), None, True, "team-lead"),
    ]
    assert config.calendars["berlin-office"].timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("facts", "policy"),
    [
        (CaseFacts("P1", segment="vip", value=5000), "vip"),
        (CaseFacts("P3", segment="vip", value=5000), "everyone"),  # priority does not match
        (CaseFacts("P1", segment="vip", value=10), "everyone"),  # value too low
        (CaseFacts("P3", category="billing", channel="email"), "billing-email"),
        (CaseFacts("P3", category="billing", channel="chat"), "everyone"),
        (CaseFacts("P4"), "everyone"),
    ],
)
def test_the_first_matching_policy_wins(tmp_path: Path, facts: CaseFacts, policy: str) -> None:
    config = load_sla_config(write(tmp_path, GOOD))
    matched = config.policy_for(facts)
    assert matched is not None
    assert matched.name == policy


def test_customer_timezone_policies_observe_the_calendar_in_the_customers_zone(
    tmp_path: Path,
) -> None:
    config = load_sla_config(write(tmp_path, GOOD))
    facts = CaseFacts("P3", category="billing", channel="email", customer_timezone="Asia/Tokyo")
    policy = config.policy_for(facts)
    assert policy is not None
    assert config.calendar_for(policy, facts).timezone == "Asia/Tokyo"
    everyone = config.policies[2]
    assert config.calendar_for(everyone, facts).timezone == "Europe/Berlin"


def test_no_file_means_built_in_defaults_by_priority(tmp_path: Path) -> None:
    config = load_sla_config(tmp_path)
    assert [p.name for p in config.policies] == [
        "default-p1",
        "default-p2",
        "default-p3",
        "default-p4",
    ]
    assert load_sla_config(None).fingerprint == config.fingerprint


def test_the_fingerprint_changes_with_the_content(tmp_path: Path) -> None:
    first = load_sla_config(write(tmp_path, GOOD)).fingerprint
    again = load_sla_config(write(tmp_path, GOOD + "\n# a comment\n")).fingerprint
    edited = load_sla_config(write(tmp_path, GOOD.replace("8h", "9h"))).fingerprint
    assert first == again
    assert first != edited


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("policies: [{name: a, targets: {first_response: soon}}]", "policies[0].targets"),
        ("policies: [{name: a, targets: {first_reply: 1h}}]", "policies[0].targets.first_reply"),
        ("policies: [{name: a, calendar: nope, targets: {resolution: 1h}}]", "calendar"),
        ("policies: [{targets: {resolution: 1h}}]", "policies[0].name"),
        ("policies: [{name: a, targets: {resolution: 1h}, warning_at: 120%}]", "warning_at"),
        ("policies: [{name: a, targets: {resolution: 1h}, when: {tier: gold}}]", "when.tier"),
        ("policies: [{name: a, targets: {resolution: 1h}, when: {priority: P9}}]", "priority"),
        ("policies: [{name: a, targets: {resolution: 1h}, pause_in: [lunch]}]", "pause_in"),
        (
            "policies: [{name: a, targets: {resolution: 1h}, escalations: [{after: 1h}]}]",
            "escalations[0]",
        ),
        ("calendars: {x: {timezone: Nowhere/Land, hours: 24/7}}", "calendars.x.timezone"),
        ("calendars: {x: {hours: {mon: ['9:00-25:00']}}}", "calendars.x.hours.mon[0]"),
        ("teams: []", "teams"),
        ("policies: [{name: a, targets: {resolution: 1h}}, {name: a, targets: {}}]", "policies"),
    ],
)
def test_a_bad_file_names_the_file_and_the_field(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(SlaConfigError) as info:
        load_sla_config(write(tmp_path, text))
    message = str(info.value)
    assert message.startswith(str(tmp_path / "sla.yaml"))
    assert where in message


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(SlaConfigError, match=r"sla.yaml: line \d+, column \d+: not valid YAML"):
        load_sla_config(write(tmp_path, "policies:\n  - name: [unclosed\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        (15, timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text, "x") == expected


@pytest.mark.parametrize("text", ["", "h", "1 hour", "1h and 2m", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(SlaConfigError, match=r"x: .* is not a duration"):
        parse_duration(text, "x")


def test_parse_sla_accepts_an_empty_document() -> None:
    assert parse_sla({}).policies[0].name == "default-p1"
