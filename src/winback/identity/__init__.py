"""Who is acting: roles, scopes and the principal a credential establishes.

Plain Python (no infrastructure): the API resolves a credential (session cookie, API key, OpenID
Connect token) into a :class:`Principal`; the CLI acts as the local operator; workers act as the
system. Services, remedies and the audit trail take the principal, never a name or role that a
request body claims.
"""

from winback.identity.principal import ROLES, SYSTEM, Principal, Role

__all__ = ["ROLES", "SYSTEM", "Principal", "Role"]
