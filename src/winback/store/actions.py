"""Remembered answers of keyed case actions (``case_actions``): what makes retries safe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.errors import IdempotencyKeyReused
from winback.store.tables import case_actions


def replay_action(
    conn: Connection, case_id: int, idempotency_key: str | None, request_hash: str
) -> dict[str, Any] | None:
    """The first answer to this keyed request, or None; raises
    :class:`~winback.errors.IdempotencyKeyReused` when the key was used for a different
    request. Call with the case locked."""
    if idempotency_key is None:
        return None
    seen = conn.execute(
        sa.select(case_actions).where(
            case_actions.c.case_id == case_id,
            case_actions.c.idempotency_key == idempotency_key,
        )
    ).first()
    if seen is None:
        return None
    if seen.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency_key!r} was used for a different request"
        )
    response: dict[str, Any] = seen.response
    return response


def remember_action(
    conn: Connection,
    case_id: int,
    idempotency_key: str,
    request_hash: str,
    response: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        case_actions.insert().values(
            case_id=case_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            response=response,
            created_at=now,
        )
    )
