"""Identity use cases: people, API keys, login and logout.

Each mutation is one function taking a connection inside the caller's transaction and the
:class:`~winback.identity.Principal` who acts, so a record of it (the audit trail) can be written
in the same transaction. Secrets never leave here in the clear except once, to whoever created
them: the API key's token (:func:`create_key`), the session token (:func:`login`).

- Passwords are hashed with Argon2id (``pwdlib``'s recommended hasher). A login for an unknown
  user name still verifies against a dummy hash, so timing does not tell whether it exists.
- Failed logins are counted per user name (whether it exists or not) and per client address;
  past the limit further attempts are refused for a while (:class:`LoginPolicy`), even with the
  right password, and the refusal says when to retry.
- API keys: ``wb_`` + 43 URL-safe characters (256 random bits). Only the SHA-256 of the token is
  kept: a fast hash is enough for a secret that cannot be guessed.
- Sessions live in the database, so logout (and disabling a user) ends them everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy.engine import Connection

from winback.errors import Conflict, InvalidInput, NotFound
from winback.identity import ROLES, ROUTABLE_ROLES, SCOPES, Principal
from winback.identity.rules import unknown_scopes
from winback.store import audit
from winback.store import identity as store
from winback.store.routing_store import upsert_agent

KEY_PREFIX = "wb_"
MIN_PASSWORD_LENGTH = 10
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token of a session: derived from the session's token with the server's secret,
    so it needs no storage and cannot be computed by anyone without the session's token."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), "sha256").hexdigest()


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or not set(name.lower()) <= _NAME_CHARS or name != name.lower():
        raise InvalidInput(
            f"{what}: 1 to 64 lower-case letters, digits, '.', '_' or '-'", field="name"
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > 1024:
        raise InvalidInput("password: at most 1024 characters", field="password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role: one of {', '.join(ROLES)}", field="role")


# -- people ------------------------------------------------------------------------------------
def create_user(
    conn: Connection,
    actor: Principal,
    *,
    name: str,
    role: str,
    password: str | None,
    now: datetime,
    display_name: str | None = None,
    email: str | None = None,
    team: str | None = None,
) -> store.UserRow:
    """Create a person. An agent or lead joins the routing roster (available) at once."""
    name = _check_name(name, "name")
    _check_role(role)
    if password is not None:
        _check_password(password)
    if store.get_user(conn, name) is not None:
        raise Conflict(f"a user {name!r} already exists", field="name")
    if team is not None:
        team = _check_name(team, "team")
        store.ensure_team(conn, team, now)
    store.insert_user(
        conn,
        name=name,
        role=role,
        password_hash=None if password is None else hash_password(password),
        display_name=display_name,
        email=email,
        team=team,
        now=now,
    )
    if role in ROUTABLE_ROLES:
        spec: dict[str, Any] = {"name": display_name or name}
        if team is not None:
            spec["teams"] = [team]
        upsert_agent(conn, name, spec, "online", now)
    user = store.get_user(conn, name)
    assert user is not None
    _audit(conn, actor, "user.create", "user", name, now, after={"role": role, "team": team})
    return user


def _audit(
    conn: Connection,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: str,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit record of a change to people or keys, in the change's transaction (never a
    password, hash or token)."""
    audit.record(
        conn,
        actor=actor.actor,
        credential=actor.credential,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
        details=details,
        at=now,
    )


def _existing(conn: Connection, name: str) -> store.UserRow:
    user = store.get_user(conn, name)
    if user is None:
        raise NotFound(f"no user {name!r}", field="name")
    return user


def set_role(
    conn: Connection, actor: Principal, name: str, role: str, now: datetime
) -> store.UserRow:
    """Change a person's role; leaving agent/lead takes them off the roster (offline), and
    their sessions end so the new role applies at once."""
    _check_role(role)
    user = _existing(conn, name)
    store.update_user(conn, name, now, role=role)
    store.delete_user_sessions(conn, user.id)
    if role in ROUTABLE_ROLES and user.active:
        upsert_agent(conn, name, {"name": user.display_name or name}, None, now)
    elif user.role in ROUTABLE_ROLES:
        upsert_agent(conn, name, {}, "offline", now)
    _audit(conn, actor, "user.set_role", "user", name, now, before={"role": user.role},
           after={"role": role})  # fmt: skip
    return _existing(conn, name)


def disable_user(conn: Connection, actor: Principal, name: str, now: datetime) -> store.UserRow:
    """Disable a person: no more logins, every session ends, off the roster (offline; routing
    never hands a case to an inactive user, and re-queues theirs after the offline grace)."""
    user = _existing(conn, name)
    store.update_user(conn, name, now, active=False)
    store.delete_user_sessions(conn, user.id)
    if user.role in ROUTABLE_ROLES:
        upsert_agent(conn, name, {}, "offline", now)
    _audit(conn, actor, "user.disable", "user", name, now, before={"active": user.active},
           after={"active": False})  # fmt: skip
    return _existing(conn, name)


def set_password(
    conn: Connection, actor: Principal, name: str, password: str, now: datetime
) -> None:
    """Set a person's password; their sessions end."""
    _check_password(password)
    user = _existing(conn, name)
    store.update_user(conn, name, now, password_hash=hash_password(password))
    store.delete_user_sessions(conn, user.id)
    _audit(conn, actor, "user.set_password", "user", name, now)


def principal_of(user: store.UserRow, credential: str = "session") -> Principal:
    return Principal(
        kind="user",
        name=user.name,
        role=user.role,  # type: ignore[arg-type]  # checked on the way in
        credential=credential,
        team=user.team,
    )


# -- login, logout -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginPolicy:
    """How many failures within ``window`` lock a user name or a client address, and for how
    long; how long a session lasts."""

    max_failures_per_name: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class LoginResult:
    """A new session (``token`` goes in the cookie, never stored), or why there is none:
    ``retry_after`` seconds when locked, else the credentials were wrong."""

    principal: Principal | None = None
    token: str | None = None
    expires_at: datetime | None = None
    retry_after: int | None = None


def _throttle_keys(name: str, client: str | None) -> dict[str, int]:
    return {f"name:{name.strip().lower()[:200]}": 0, f"addr:{client or 'unknown'}": 1}


def login(
    conn: Connection,
    name: str,
    password: str,
    client: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> LoginResult:
    """Check a password login; on success start a session. A failure is recorded (commit the
    transaction, then refuse): the caller answers 401 (or 429 with ``retry_after``) without
    saying whether the user exists."""
    keys = _throttle_keys(name, client)
    limits = [policy.max_failures_per_name, policy.max_failures_per_address]
    locked = [
        t.locked_until
        for t in store.throttles(conn, list(keys)).values()
        if t.locked_until is not None and t.locked_until > now
    ]
    if locked:
        _audit_login(conn, "login.refused", name, client, now, locked=True)
        return LoginResult(retry_after=_seconds_until(max(locked), now))
    user = store.get_user(conn, name.strip())
    stored = user.password_hash if user is not None and user.active else None
    ok = _hasher().verify(password, stored or _dummy_hash()) and stored is not None
    if not ok or user is None:
        current = store.throttles(conn, list(keys))
        retry: int | None = None
        for key, which in keys.items():
            seen = current.get(key)
            if seen is None or now - seen.first_failure_at > policy.window:
                seen = store.Throttle(key, 0, now, None)
            failures = seen.failures + 1
            until = now + policy.lockout if failures >= limits[which] else None
            if until is not None:
                retry = _seconds_until(until, now)
            store.save_throttle(conn, store.Throttle(key, failures, seen.first_failure_at, until))
        _audit_login(conn, "login.failed", name, client, now, locked=retry is not None)
        return LoginResult(retry_after=retry)
    for key in keys:
        if key.startswith("name:"):
            store.clear_throttle(conn, key)
    token = secrets.token_urlsafe(32)
    expires = now + policy.session_lifetime
    store.insert_session(conn, token_hash(token), user.id, now, expires, client)
    store.update_user(conn, user.name, now, last_login_at=now)
    store.delete_expired_sessions(conn, now)
    _audit_login(conn, "login", user.name, client, now)
    return LoginResult(principal=principal_of(user), token=token, expires_at=expires)


def _audit_login(
    conn: Connection, action: str, name: str, client: str | None, now: datetime, **details: Any
) -> None:
    """A login, a failed one, or one refused while locked: the name given (cut to 64
    characters: a password typed into the name field would not be kept whole) and the client
    address; never the password."""
    audit.record(
        conn,
        actor=f"user:{name.strip()[:64]}",
        credential="password",
        action=action,
        subject_type="user",
        subject_id=name.strip()[:64],
        details={"client": client, **details},
        at=now,
    )


def sso_login(
    conn: Connection,
    *,
    name: str,
    role: str,
    email: str | None,
    credential: str,
    client: str | None,
    now: datetime,
    lifetime: timedelta,
) -> LoginResult:
    """A person the single sign-on provider vouched for: their user is created on first
    sign-in (without a password) and takes the role the provider gives (the provider is the
    source of truth for roles); a disabled user stays out. Audited as ``login`` through
    ``credential`` (``oidc:<issuer>``)."""
    provider = Principal(kind="system", name="sso", role=None, credential=credential)
    user = store.get_user(conn, name)
    if user is None:
        create_user(conn, provider, name=name, role=role, password=None, now=now, email=email)
    elif not user.active:
        _audit_login(conn, "login.refused", name, client, now, disabled=True)
        return LoginResult()
    elif user.role != role:
        set_role(conn, provider, name, role, now)
    user = store.get_user(conn, name)
    assert user is not None
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    store.insert_session(conn, token_hash(token), user.id, now, expires, client)
    store.update_user(conn, user.name, now, last_login_at=now)
    audit.record(
        conn,
        actor=f"user:{name}",
        credential=credential,
        action="login",
        subject_type="user",
        subject_id=name,
        details={"client": client},
        at=now,
    )
    return LoginResult(principal=principal_of(user, credential), token=token, expires_at=expires)


def _seconds_until(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


def logout(conn: Connection, token: str) -> bool:
    """End a session (whether it was still live or not)."""
    return store.delete_session(conn, token_hash(token))


def session_principal(conn: Connection, token: str, now: datetime) -> Principal | None:
    user = store.session_user(conn, token_hash(token), now)
    return None if user is None else principal_of(user)


# -- API keys ----------------------------------------------------------------------------------
def create_key(
    conn: Connection, actor: Principal, name: str, scopes: Iterable[str], now: datetime
) -> tuple[str, store.KeyRow]:
    """Create an API key; returns the token (shown once, never stored) and the key."""
    name = _check_name(name, "name")
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidInput("scopes: at least one", field="scopes")
    bad = unknown_scopes(wanted)
    if bad:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(bad)}; one of {', '.join(SCOPES)}", field="scopes"
        )
    if store.get_key(conn, name) is not None:
        raise Conflict(f"a key {name!r} already exists", field="name")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    store.insert_key(
        conn,
        name=name,
        prefix=token[: len(KEY_PREFIX) + 6],
        token_hash=token_hash(token),
        scopes=wanted,
        created_by=actor.actor,
        now=now,
    )
    key = store.get_key(conn, name)
    assert key is not None
    _audit(conn, actor, "key.create", "key", str(key.id), now,
           after={"name": name, "scopes": wanted})  # fmt: skip
    return token, key


def revoke_key(conn: Connection, actor: Principal, ref: str, now: datetime) -> store.KeyRow:
    """Revoke a key (by id or name); it stops working within the API's key cache time."""
    key = store.get_key(conn, ref)
    if key is None:
        raise NotFound(f"no API key {ref!r}", field="key")
    if key.revoked_at is None:
        store.revoke_key(conn, key.id, now)
        _audit(conn, actor, "key.revoke", "key", str(key.id), now, details={"name": key.name})
    revoked = store.get_key(conn, str(key.id))
    assert revoked is not None
    return revoked


def key_principal(key: store.KeyRow) -> Principal:
    return Principal(
        kind="key",
        name=key.name,
        role=None,
        credential=f"key:{key.id}",
        scopes=frozenset(key.scopes),
    )


def find_key(conn: Connection, token: str) -> store.KeyRow | None:
    """The live (not revoked) key of a token, or None."""
    if not token.startswith(KEY_PREFIX):
        return None
    key = store.key_by_hash(conn, token_hash(token))
    return None if key is None or key.revoked_at is not None else key


def touch_key(conn: Connection, key_id: int, now: datetime) -> None:
    """Record a key's last use (the API does so at most about once a minute per key)."""
    store.touch_key(conn, key_id, now)
