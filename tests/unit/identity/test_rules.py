"""The plain rules: what each role and each key scope may do, and who sees raw personal data."""

from __future__ import annotations

import pytest

from winback.identity import (
    PERMISSIONS,
    ROLES,
    SCOPE_PERMISSIONS,
    SYSTEM,
    Principal,
    may_act_on_cases,
    may_see_raw,
    permissions_of,
    permits,
    remedy_role,
)


def user(role: str, name: str = "ana") -> Principal:
    return Principal(kind="user", name=name, role=role, credential="session")  # type: ignore[arg-type]


def key(*scopes: str) -> Principal:
    return Principal(
        kind="key", name="crm", role=None, credential="key:1", scopes=frozenset(scopes)
    )


def test_every_role_and_scope_grants_only_known_permissions() -> None:
    for role in ROLES:
        assert permissions_of(user(role)) <= set(PERMISSIONS)
    for granted in SCOPE_PERMISSIONS.values():
        assert granted <= set(PERMISSIONS)


def test_analysts_read_but_never_act() -> None:
    analyst = user("analyst")
    assert permits(analyst, "cases:read")
    assert not permits(analyst, "cases:act")
    assert not may_act_on_cases(analyst)
    assert remedy_role(analyst) is None


def test_only_leads_and_admins_change_the_roster() -> None:
    allowed = {role for role in ROLES if permits(user(role), "routing:manage")}
    assert allowed == {"lead", "admin"}


def test_only_admins_manage_people_and_keys() -> None:
    for permission in ("users:manage", "keys:manage"):
        assert {r for r in ROLES if permits(user(r), permission)} == {"admin"}


def test_a_key_may_do_what_its_scopes_say_and_nothing_more() -> None:
    ingest = key("events:write")
    assert permissions_of(ingest) == {"events:write"}
    assert not permits(ingest, "cases:read")
    assert permits(key("cases:write"), "cases:act")
    assert permits(key("cases:write"), "cases:read")
    assert permissions_of(key("admin")) == set(PERMISSIONS)
    assert permissions_of(key("no-such-scope")) == frozenset()
    assert remedy_role(key("admin")) is None  # machines grant no remedies


def test_a_user_without_a_role_may_do_nothing() -> None:
    nobody = Principal(kind="user", name="x", role=None, credential="session")
    assert permissions_of(nobody) == frozenset()
    assert permits(nobody, "authenticated")


def test_the_system_and_the_operator_may_do_everything() -> None:
    operator = Principal(kind="operator", name="root", role=None, credential="cli")
    assert permissions_of(SYSTEM) == permissions_of(operator) == set(PERMISSIONS)


@pytest.mark.parametrize(
    ("who", "owner", "raw"),
    [
        (user("agent", "ana"), "ana", True),  # an agent on their own case
        (user("agent", "ana"), "bo", False),  # another agent's case
        (user("agent", "ana"), None, False),  # an unassigned case
        (user("lead"), "bo", True),
        (user("manager"), "bo", True),
        (user("admin"), None, True),
        (user("analyst"), "al", False),
        (key("cases:read"), "bo", False),
        (key("admin"), "bo", True),
        (SYSTEM, None, True),
    ],
)
def test_who_sees_raw_personal_data(who: Principal, owner: str | None, raw: bool) -> None:
    assert may_see_raw(who, owner) is raw


def test_the_actor_string_names_kind_and_name() -> None:
    assert user("agent", "ana").actor == "user:ana"
    assert key("events:write").actor == "key:crm"
