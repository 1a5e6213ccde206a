"""``POST /v1/cases/{id}/actions``: what agents do to a case, and the case's SLA view.

One endpoint, one body shape: ``{"action": "assign", "owner": "ana"}``. Who acts, and with
which role, comes from the credential (:mod:`winback.api.auth`), never from the body; it needs
``cases:act`` (analysts and read-only keys get 403).
An action that the case's status does not allow answers ``409`` with the reason and the actions
allowed now; a bad parameter answers ``422``; in both cases nothing changed. Send an
``Idempotency-Key`` header (or ``idempotency_key`` field) to make retries safe: the same key and
body again returns the first answer with ``replayed: true``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import MAX_ID, NulFreeModel
from winback.api.schemas import CaseRead
from winback.bootstrap import Runtime
from winback.identity import Principal
from winback.services.cases import perform_action
from winback.services.remedies import REMEDY_ACTIONS, perform_remedy_action
from winback.store.sla_store import case_timers, load_sla_states

router = APIRouter(tags=["cases"])

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
    # remedies (docs/remedies.md)
    "apply_remedy",
    "approve",
    "reject",
]


class CaseActionIn(NulFreeModel):
    """One action on a case. Which fields an action needs: see docs/cases.md."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName
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


def case_sla_view(conn: Connection, runtime: Runtime, case_id: int) -> dict[str, Any] | None:
    state = load_sla_states(conn, [case_id]).get(case_id)
    if state is None:
        return None
    view = runtime.sources.sla.get().metrics(state, runtime.clock.now())
    view["timers"] = case_timers(conn, case_id)
    return view


@router.post(
    "/v1/cases/{case_id}/actions",
    response_model=CaseActionRead,
    summary="Act on a case: acknowledge, assign, note, reply, wait, resume, escalate, resolve…",
    responses={
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
def act_on_case(
    case_id: int,
    body: CaseActionIn,
    container: RuntimeDep,
    principal: Annotated[Principal, Depends(Require("cases:act"))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    params = body.model_dump(exclude={"action", "idempotency_key"}, exclude_none=True)
    key = idempotency_key or body.idempotency_key
    if body.action in REMEDY_ACTIONS:
        result = perform_remedy_action(
            container.engine,
            container.clock,
            container.sources.remedies.get(),
            case_id,
            body.action,
            principal,
            params,
            key,
        )
    else:
        result = perform_action(
            container.engine,
            container.clock,
            container.sources.sla.get(),
            case_id,
            body.action,
            principal,
            params,
            key,
        )
    return CaseActionRead(
        case=CaseRead(**result.case), entries=result.entries, replayed=result.replayed
    )
