"""Winback's errors: one tree for everything the application layer can refuse, with no HTTP in it.

```
WinbackError                    code            what it means
├── InvalidInput                invalid_input   the request itself is wrong; nothing changed
│   └── InvalidAction           invalid_action  unknown action, missing or bad parameter
├── NotFound                    not_found
│   └── CaseNotFound            case_not_found
├── Conflict                    conflict        the request is well-formed but the state refuses it
│   ├── IllegalTransition       illegal_transition   not allowed from the case's status
│   ├── StateChanged            state_changed        the case moved meanwhile; retry
│   ├── AnotherOpenCase         another_open_case    the customer already has an open case
│   ├── IdempotencyKeyReused    idempotency_key_reused  the key was used for another request
│   └── RemedyRefused           remedy_refused       the compensation policy says no
└── Forbidden                   forbidden
    └── RoleNotAllowed          role_not_allowed     the actor's role may not do this
```

Every error carries a specific ``code`` (the leaf's), a human ``message`` and ``details`` (for
example the field at fault, or the actions allowed now). Entry points map the tree to their
own vocabulary in one place each: the HTTP API in :mod:`winback.api.errors` (by class, so a new
leaf inherits its parent's status), the CLI by printing the message.
"""

from __future__ import annotations

from typing import Any


class WinbackError(Exception):
    """Base of every refusal; nothing was changed."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(WinbackError):
    code = "invalid_input"


class InvalidAction(InvalidInput):
    """Unknown action, or a missing or bad parameter."""

    code = "invalid_action"


class NotFound(WinbackError):
    code = "not_found"


class CaseNotFound(NotFound):
    code = "case_not_found"

    def __init__(self, case_id: int) -> None:
        super().__init__(f"no case {case_id}", case_id=case_id)


class Conflict(WinbackError):
    code = "conflict"


class IllegalTransition(Conflict):
    """The action is not allowed from the case's current status."""

    code = "illegal_transition"


class StateChanged(Conflict):
    """What the request was computed from changed meanwhile; a retry sees the new state."""

    code = "state_changed"


class AnotherOpenCase(Conflict):
    code = "another_open_case"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class RemedyRefused(Conflict):
    """The compensation policy refuses the request."""

    code = "remedy_refused"


class Forbidden(WinbackError):
    code = "forbidden"


class RoleNotAllowed(Forbidden):
    code = "role_not_allowed"
