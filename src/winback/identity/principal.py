"""The principal: who acts, with which role, through which credential."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["agent", "lead", "manager", "admin", "analyst"]

#: The people's roles, from the front line up; ``analyst`` reads and does not act on cases.
ROLES: tuple[Role, ...] = ("agent", "lead", "manager", "admin", "analyst")

PrincipalKind = Literal["user", "key", "operator", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, as a credential established it (never as a request body claims).

    ``kind``: a person (``user``), a machine (``key``: an API key of a source system or
    integration), the local ``operator`` at the command line, or the ``system`` (workers,
    playbooks, timers). ``name`` is the user name, the key's name, the operator's login or the
    worker. ``credential`` says which credential proved it, without its secret (``session``,
    ``key:<id>``, ``oidc:<issuer>``, ``cli``, ``system``): the audit trail records it.
    ``scopes`` are an API key's grants (empty for people, whose role decides).
    """

    kind: PrincipalKind
    name: str
    role: Role | None
    credential: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    team: str | None = None

    @property
    def actor(self) -> str:
        """The actor string timelines and audit records carry, e.g. ``user:ana``."""
        return f"{self.kind}:{self.name}"


#: The product itself: processor, timers, routing and playbooks acting on their own.
SYSTEM = Principal(kind="system", name="winback", role=None, credential="system")
