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
├── Forbidden                   forbidden       the credential may not do this
│   ├── RoleNotAllowed          role_not_allowed     the actor's role may not do this
│   ├── OwnRequest              own_request          nobody decides their own remedy request
│   └── CsrfFailed              csrf_failed          a cookie request without its CSRF token
├── Unauthenticated             unauthenticated no valid credential (or a wrong password)
└── TooManyAttempts             too_many_attempts    logins locked for a while (retry_after)
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


class OwnRequest(Forbidden):
    """Nobody approves or rejects a remedy request they made themselves."""

    code = "own_request"


class CsrfFailed(Forbidden):
    """A request authenticated by the session cookie that changes something must carry the
    session's CSRF token (``X-CSRF-Token``)."""

    code = "csrf_failed"


class Unauthenticated(WinbackError):
    """No credential, an unknown, expired or revoked one, or a failed login. The message never
    says whether a user name exists."""

    code = "unauthenticated"


class TooManyAttempts(WinbackError):
    """Too many failed logins for this user name or from this address; ``retry_after`` says in
    how many seconds to try again."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; try again in {retry_after} s", retry_after=retry_after
        )
        self.retry_after = retry_after
