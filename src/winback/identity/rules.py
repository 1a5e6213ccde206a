"""Who may do what: permissions, what each role and each API-key scope grants, and who sees raw
personal data. Plain rules over a :class:`~winback.identity.principal.Principal`; the API asks
them through one dependency (``winback.api.auth.Require``) and records the permission each route
needs in its OpenAPI operation (``x-permission``).

Roles (people) and scopes (machines) never mix: a person's role decides, an API key's scopes
decide. The local operator at the command line and the system itself may do everything.
"""

from __future__ import annotations

from collections.abc import Mapping

from winback.identity.principal import ROLES, Principal, Role

#: Every permission a route may require.
PERMISSIONS: tuple[str, ...] = (
    "events:write",  # send events (POST /v1/events)
    "cases:read",  # the case queue, a case, its recommendations
    "cases:act",  # case actions: lifecycle, remedies, approvals
    "customers:read",  # customers, their risk
    "routing:read",  # the roster
    "routing:manage",  # change agents, run routing
    "users:manage",  # people: create, change role, disable
    "keys:manage",  # API keys: create, list, revoke
    "metrics:read",  # /metrics when it is not public
    "customers:write",  # a customer's messaging preferences
    "customers:export",  # everything held about a customer (GDPR access)
    "customers:erase",  # erase a customer, irreversibly
    "audit:read",  # the audit trail
    "outbox:manage",  # deliveries, dead letters, webhook subscriptions
    "analytics:read",  # service metrics, retention reports
)

#: Routes anyone may call (login, health); ``authenticated``: any valid credential.
PUBLIC = "public"
AUTHENTICATED = "authenticated"

_READ = frozenset({"cases:read", "customers:read", "routing:read"})

ROLE_PERMISSIONS: Mapping[Role, frozenset[str]] = {
    "agent": _READ | {"cases:act", "customers:write"},
    "lead": _READ | {"cases:act", "customers:write", "routing:manage", "analytics:read"},
    "manager": _READ
    | {"cases:act", "customers:write", "customers:export", "metrics:read", "analytics:read"},
    "admin": frozenset(PERMISSIONS),
    # Reads (redacted) and adds up; never acts on cases.
    "analyst": _READ | {"metrics:read", "analytics:read"},
}

#: The scopes an API key may carry, and what each grants.
SCOPE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "events:write": frozenset({"events:write"}),
    "cases:read": frozenset({"cases:read"}),
    "cases:write": frozenset({"cases:read", "cases:act"}),
    "customers:read": frozenset({"customers:read"}),
    "routing:read": frozenset({"routing:read"}),
    "routing:write": frozenset({"routing:read", "routing:manage"}),
    "metrics:read": frozenset({"metrics:read"}),
    "customers:write": frozenset({"customers:read", "customers:write"}),
    "audit:read": frozenset({"audit:read"}),
    "outbox:write": frozenset({"outbox:manage"}),
    "analytics:read": frozenset({"analytics:read"}),
    "admin": frozenset(PERMISSIONS),
}
SCOPES: tuple[str, ...] = tuple(SCOPE_PERMISSIONS)

#: Roles that may be on the routing roster (an agent is a user with one of these roles).
ROUTABLE_ROLES: frozenset[Role] = frozenset({"agent", "lead"})

#: Roles that see customers' raw personal data on every case.
_SEE_ALL_RAW: frozenset[Role] = frozenset({"lead", "manager", "admin"})


def permissions_of(principal: Principal) -> frozenset[str]:
    """Everything ``principal`` may do."""
    if principal.kind in ("operator", "system"):
        return frozenset(PERMISSIONS)
    if principal.kind == "key":
        granted: set[str] = set()
        for scope in principal.scopes:
            granted |= SCOPE_PERMISSIONS.get(scope, frozenset())
        return frozenset(granted)
    if principal.role is None:
        return frozenset()
    return ROLE_PERMISSIONS.get(principal.role, frozenset())


def permits(principal: Principal, permission: str) -> bool:
    """Whether ``principal`` may do what ``permission`` names (``authenticated``: anyone with a
    credential; ``public``: anyone at all)."""
    if permission in (PUBLIC, AUTHENTICATED):
        return True
    return permission in permissions_of(principal)


def may_act_on_cases(principal: Principal) -> bool:
    """Analysts (and keys without ``cases:write``) read; they never change a case."""
    return permits(principal, "cases:act")


def remedy_role(principal: Principal) -> str | None:
    """The role whose remedy limits apply (``remedies.yaml`` names agent, lead, manager), or
    None when the principal may not grant remedies at all (API keys, analysts)."""
    if principal.kind != "user" or principal.role in (None, "analyst"):
        return None
    return principal.role


def may_see_raw(principal: Principal, case_owner: str | None) -> bool:
    """Whether ``principal`` sees a customer's raw personal data (contact details, raw text) on
    a case owned by ``case_owner``: an agent on their own cases; leads, managers and admins on
    every case; the operator and the system. Analysts, other agents and API keys (unless
    ``admin``) see it redacted."""
    if principal.kind in ("operator", "system"):
        return True
    if principal.kind == "key":
        return "admin" in principal.scopes
    if principal.role in _SEE_ALL_RAW:
        return True
    return principal.role == "agent" and case_owner is not None and case_owner == principal.name


def valid_role(value: str) -> bool:
    return value in ROLES


def unknown_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    return sorted(s for s in scopes if s not in SCOPE_PERMISSIONS)
