"""``POST /v1/cases/{id}/actions``: what agents do to a case, and the case's SLA view.

One endpoint, one body shape: ``{"action": "assign", "actor": "agent:ana", "owner": "ana"}``.
An action that the case's status does not allow answers ``409`` with the reason and the actions
allowed now; a bad parameter answers ``422``; in both cases nothing changed. Send an
``Idempotency-Key`` header (or ``idempotency_key`` field) to make retries safe: the same key and
body again returns the first answer with ``replayed: true``.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from winback.api.deps import ContainerDep
from winback.api.errors import ErrorBody, error_response
from winback.api.fields import MAX_ID, NulFreeModel
from winback.api.remedies import remedy_catalogue
from winback.api.schemas import CaseRead
from winback.bootstrap import Container
from winback.cases.lifecycle import ActionError
from winback.remedies.service import REMEDY_ACTIONS, perform_remedy_action
from winback.sla.config import SLA_FILE, SlaConfigError, load_sla_config
from winback.sla.engine import SlaEngine
from winback.store.case_commands import ActionConflict, CaseNotFound, perform_action
from winback.store.sla_store import load_sla_states
from winback.store.tables import sla_timers

router = APIRouter(tags=["cases"])
log = logging.getLogger(__name__)

ActionName = Literal[
    "acknowledge",
    "start",
    "assign",
    "note",
    "reply",
    "wait_on_customer",
    "resume",
    "escalate",
    "resolve",
    "reopen",
    "close",
    "cancel",
    # issue 7: remedies (docs/remedies.md)
    "apply_remedy",
    "approve",
    "reject",
]


class CaseActionIn(NulFreeModel):
    """One action on a case. Which fields an action needs: see docs/cases.md."""

    action: ActionName
    actor: str = Field(min_length=1, max_length=200, description="Who acts, e.g. agent:ana.")
    text: str | None = Field(None, max_length=5000, description="note, reply: the text.")
    owner: str | None = Field(None, max_length=200, description="assign (escalate): new owner.")
    reason: str | None = Field(None, max_length=1000)
    outcome: str | None = Field(None, max_length=200, description="resolve: the outcome.")
    root_cause: str | None = Field(None, max_length=500, description="resolve: root cause.")
    priority: Literal["P1", "P2", "P3", "P4"] | None = Field(
        None, description="escalate: the new priority (default: one step up)."
    )
    severity: Literal["low", "medium", "high", "critical"] | None = None
    remedy: str | None = Field(None, max_length=64, description="apply_remedy: the remedy.")
    amount: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="apply_remedy: amount (default: its)."
    )
    grant_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="approve, reject: the remedy request."
    )
    role: Literal["agent", "lead", "manager"] | None = Field(
        None, description="apply_remedy, approve, reject: the actor's role (default agent)."
    )
    idempotency_key: str | None = Field(None, max_length=200)


class TimelineItemRead(BaseModel):
    kind: str
    at: datetime
    actor: str
    summary: str
    data: dict[str, Any]


class CaseActionRead(BaseModel):
    case: CaseRead
    entries: list[TimelineItemRead]
    replayed: bool


@functools.lru_cache(maxsize=4)
def _engine_for(config_dir: Path | None, stamp: float) -> SlaEngine:
    return SlaEngine(load_sla_config(config_dir))


_last_good: dict[Path | None, SlaEngine] = {}


def sla_engine(container: Container) -> SlaEngine:
    """The SLA engine for the current ``sla.yaml`` (re-read when the file changes).

    A file broken while the server runs keeps the last good configuration (and logs why):
    ``serve`` refused to start on a broken one, so there always is one.
    """
    config_dir = container.settings.config_dir
    path = None if config_dir is None else config_dir / SLA_FILE
    stamp = path.stat().st_mtime if path is not None and path.exists() else 0.0
    try:
        engine = _engine_for(config_dir, stamp)
    except SlaConfigError as exc:
        if config_dir not in _last_good:
            raise
        log.warning("keeping the last good SLA configuration: %s", exc)
        return _last_good[config_dir]
    _last_good[config_dir] = engine
    return engine


def case_sla_view(conn: Connection, container: Container, case_id: int) -> dict[str, Any] | None:
    state = load_sla_states(conn, [case_id]).get(case_id)
    if state is None:
        return None
    view = sla_engine(container).metrics(state, container.clock.now())
    rows = conn.execute(
        sla_timers.select()
        .where(sla_timers.c.case_id == case_id)
        .order_by(sla_timers.c.due_at, sla_timers.c.id)
    )
    view["timers"] = [
        {
            "metric": r.metric,
            "kind": r.kind,
            "level": r.level,
            "cycle": r.generation,
            "due_at": r.due_at,
            "fired_at": r.fired_at,
        }
        for r in rows
    ]
    return view


@router.post(
    "/v1/cases/{case_id}/actions",
    response_model=CaseActionRead,
    summary="Act on a case: acknowledge, assign, note, reply, wait, resume, escalate, resolve…",
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def act_on_case(
    case_id: int,
    body: CaseActionIn,
    container: ContainerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    params = body.model_dump(exclude={"action", "actor", "idempotency_key"}, exclude_none=True)
    key = idempotency_key or body.idempotency_key
    try:
        if body.action in REMEDY_ACTIONS:  # issue 7: remedies (docs/remedies.md)
            result = perform_remedy_action(
                container.engine,
                container.clock,
                remedy_catalogue(container),
                case_id,
                body.action,
                body.actor,
                params,
                key,
            )
        else:
            result = perform_action(
                container.engine,
                container.clock,
                sla_engine(container),
                case_id,
                body.action,
                body.actor,
                params,
                key,
            )
    except CaseNotFound:
        raise HTTPException(404, f"no case {case_id}") from None
    except ActionError as exc:
        return error_response(exc.status_code, exc.message, **exc.details)
    except ActionConflict as exc:
        return error_response(409, str(exc))
    return CaseActionRead(
        case=CaseRead(**result.case), entries=result.entries, replayed=result.replayed
    )
