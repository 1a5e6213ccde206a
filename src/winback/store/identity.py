"""Identity in the database: users and teams, API keys, sessions and login throttling.

Repositories only: each function runs inside the caller's connection (and transaction); the
decisions (hashing, throttling policy, who may do what) live in :mod:`winback.services.identity`
and :mod:`winback.identity`. Secrets are never stored: keys and sessions are found by the
SHA-256 of their token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from winback.store.tables import api_keys, login_throttle, sessions, teams, users


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    display_name: str | None
    email: str | None
    role: str
    team: str | None
    active: bool
    password_hash: str | None
    created_at: datetime
    last_login_at: datetime | None

    def public(self) -> dict[str, Any]:
        """The user as the API and CLI show it (never the password hash)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "team": self.team,
            "active": self.active,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
        }


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
        }


_USER_COLUMNS = [
    users.c.id,
    users.c.name,
    users.c.display_name,
    users.c.email,
    users.c.role,
    users.c.team,
    users.c.active,
    users.c.password_hash,
    users.c.created_at,
    users.c.last_login_at,
]


def _user(row: Any) -> UserRow:
    return UserRow(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        email=row.email,
        role=row.role,
        team=row.team,
        active=bool(row.active),
        password_hash=row.password_hash,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _key(row: Any) -> KeyRow:
    return KeyRow(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


# -- users and teams ---------------------------------------------------------------------------
def get_user(conn: Connection, name: str) -> UserRow | None:
    row = conn.execute(sa.select(*_USER_COLUMNS).where(users.c.name == name)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(sa.select(*_USER_COLUMNS).order_by(users.c.name))]


def ensure_team(conn: Connection, name: str, now: datetime) -> None:
    if conn.execute(sa.select(teams.c.name).where(teams.c.name == name)).first() is None:
        conn.execute(teams.insert().values(name=name, display_name=None, created_at=now))


def insert_user(
    conn: Connection,
    *,
    name: str,
    role: str,
    password_hash: str | None,
    display_name: str | None,
    email: str | None,
    team: str | None,
    now: datetime,
) -> int:
    result = conn.execute(
        users.insert()
        .values(
            name=name,
            role=role,
            password_hash=password_hash,
            display_name=display_name,
            email=email,
            team=team,
            active=True,
            created_at=now,
            updated_at=now,
        )
        .returning(users.c.id)
    )
    return int(result.scalar_one())


def update_user(conn: Connection, name: str, now: datetime, **values: Any) -> None:
    conn.execute(users.update().where(users.c.name == name).values(updated_at=now, **values))


def any_users(conn: Connection) -> bool:
    return conn.execute(sa.select(users.c.id).limit(1)).first() is not None


def active_users_with_roles(conn: Connection, roles: Iterable[str]) -> set[str]:
    query = sa.select(users.c.name).where(users.c.active.is_(True), users.c.role.in_(list(roles)))
    return {r.name for r in conn.execute(query)}


# -- API keys ----------------------------------------------------------------------------------
def insert_key(
    conn: Connection,
    *,
    name: str,
    prefix: str,
    token_hash: str,
    scopes: list[str],
    created_by: str,
    now: datetime,
) -> int:
    result = conn.execute(
        api_keys.insert()
        .values(
            name=name,
            prefix=prefix,
            token_hash=token_hash,
            scopes=scopes,
            created_by=created_by,
            created_at=now,
        )
        .returning(api_keys.c.id)
    )
    return int(result.scalar_one())


def key_by_hash(conn: Connection, token_hash: str) -> KeyRow | None:
    row = conn.execute(sa.select(api_keys).where(api_keys.c.token_hash == token_hash)).first()
    return None if row is None else _key(row)


def get_key(conn: Connection, ref: str) -> KeyRow | None:
    """A key by its id (digits) or its name."""
    where = api_keys.c.id == int(ref) if ref.isdigit() else api_keys.c.name == ref
    row = conn.execute(sa.select(api_keys).where(where)).first()
    return None if row is None else _key(row)


def list_keys(conn: Connection) -> list[KeyRow]:
    return [_key(r) for r in conn.execute(sa.select(api_keys).order_by(api_keys.c.id))]


def revoke_key(conn: Connection, key_id: int, now: datetime) -> None:
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=now))


def touch_key(conn: Connection, key_id: int, now: datetime) -> None:
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))


# -- sessions ----------------------------------------------------------------------------------
def insert_session(
    conn: Connection,
    token_hash: str,
    user_id: int,
    now: datetime,
    expires_at: datetime,
    client: str | None,
) -> None:
    conn.execute(
        sessions.insert().values(
            token_hash=token_hash,
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            client=(client or "")[:100] or None,
        )
    )


def session_user(conn: Connection, token_hash: str, now: datetime) -> UserRow | None:
    """The active user of a live session, or None (unknown, expired, or the user disabled)."""
    query = (
        sa.select(*_USER_COLUMNS)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(
            sessions.c.token_hash == token_hash,
            sessions.c.expires_at > now,
            users.c.active.is_(True),
        )
    )
    row = conn.execute(query).first()
    return None if row is None else _user(row)


def delete_session(conn: Connection, token_hash: str) -> bool:
    return conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash)).rowcount > 0


def delete_user_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(sessions.delete().where(sessions.c.user_id == user_id))


def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    conn.execute(sessions.delete().where(sessions.c.expires_at <= now))


# -- login throttling --------------------------------------------------------------------------
@dataclass(frozen=True)
class Throttle:
    key: str
    failures: int
    first_failure_at: datetime
    locked_until: datetime | None


def throttles(conn: Connection, keys: list[str]) -> dict[str, Throttle]:
    query = sa.select(login_throttle).where(login_throttle.c.key.in_(keys))
    return {
        r.key: Throttle(r.key, r.failures, r.first_failure_at, r.locked_until)
        for r in conn.execute(query)
    }


def save_throttle(conn: Connection, throttle: Throttle) -> None:
    values = {
        "failures": throttle.failures,
        "first_failure_at": throttle.first_failure_at,
        "locked_until": throttle.locked_until,
    }
    updated = conn.execute(
        login_throttle.update().where(login_throttle.c.key == throttle.key).values(**values)
    ).rowcount
    if updated:
        return
    try:
        with conn.begin_nested():
            conn.execute(login_throttle.insert().values(key=throttle.key, **values))
    except IntegrityError:  # a concurrent failure inserted it first: count on top of it
        conn.execute(
            login_throttle.update()
            .where(login_throttle.c.key == throttle.key)
            .values(failures=login_throttle.c.failures + 1, locked_until=throttle.locked_until)
        )


def clear_throttle(conn: Connection, key: str) -> None:
    conn.execute(login_throttle.delete().where(login_throttle.c.key == key))
