"""Who is acting: roles, scopes and the principal a credential establishes.

Plain Python (no infrastructure): the API resolves a credential (session cookie, API key, OpenID
Connect token) into a :class:`Principal`; the CLI acts as the local operator; workers act as the
system. Services, remedies and the audit trail take the principal, never a name or role that a
request body claims. :mod:`winback.identity.rules` says what each role and scope may do.
"""

from winback.identity.principal import ROLES, SYSTEM, Principal, Role
from winback.identity.rules import (
    AUTHENTICATED,
    PERMISSIONS,
    PUBLIC,
    ROLE_PERMISSIONS,
    ROUTABLE_ROLES,
    SCOPE_PERMISSIONS,
    SCOPES,
    may_act_on_cases,
    may_see_raw,
    permissions_of,
    permits,
    remedy_role,
)

__all__ = [
    "AUTHENTICATED",
    "PERMISSIONS",
    "PUBLIC",
    "ROLES",
    "ROLE_PERMISSIONS",
    "ROUTABLE_ROLES",
    "SCOPES",
    "SCOPE_PERMISSIONS",
    "SYSTEM",
    "Principal",
    "Role",
    "may_act_on_cases",
    "may_see_raw",
    "permissions_of",
    "permits",
    "remedy_role",
]
