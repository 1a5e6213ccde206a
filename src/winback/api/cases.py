"""``GET /v1/cases`` and ``GET /v1/cases/{id}``: the recovery cases and their story.

``POST /v1/cases/{id}/actions`` (what agents do to a case) lives in :mod:`winback.api.case_actions`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query

from winback.api.case_actions import case_sla_view
from winback.api.case_actions import router as actions_router
from winback.api.customers import risk_view
from winback.api.deps import ConnectionDep, ContainerDep
from winback.api.errors import ErrorBody
from winback.api.fields import MAX_ID, CaseId, NulFree
from winback.api.schemas import CaseDetailRead, CasePage, CaseRead
from winback.cases.lifecycle import allowed_actions
from winback.cases.model import CaseStatus
from winback.store import queries


async def _action_inputs(
    case_id: CaseId,
    idempotency_key: Annotated[str | None, Header(max_length=200), NulFree] = None,
) -> None:
    """The checks on the path id and the ``Idempotency-Key`` header of the case actions."""


router = APIRouter(tags=["cases"])
# POST /v1/cases/{id}/actions: the same range for the path id as the routes here, and the
# statuses it answers besides those its module documents (403: a role may not decide).
router.include_router(
    actions_router,
    dependencies=[Depends(_action_inputs)],
    responses={403: {"model": ErrorBody, "description": "The actor's role may not do this."}},
)


def _encode(case_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{case_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "c" or not 0 < int(value) <= MAX_ID:
            raise ValueError(cursor)
        return int(value)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise HTTPException(422, "cursor: not a cursor this API returned") from None


@router.get("/v1/cases", response_model=CasePage, summary="List recovery cases, newest first")
def list_cases(
    conn: ConnectionDep,
    status: Annotated[
        list[CaseStatus] | None, Query(description="Repeat to match several.")
    ] = None,
    customer: Annotated[str | None, Query(max_length=200), NulFree] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> CasePage:
    rows = queries.list_cases(
        conn,
        status=[s.value for s in status] if status else None,
        customer_id=customer,
        before_id=None if cursor is None else _decode(cursor),
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return CasePage(
        items=[CaseRead(**r) for r in rows],
        next_cursor=_encode(rows[-1]["id"]) if more else None,
    )


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseDetailRead,
    summary="One case with its timeline and the events that triggered it",
    responses={404: {"model": ErrorBody}},
)
def get_case(case_id: CaseId, conn: ConnectionDep, container: ContainerDep) -> CaseDetailRead:
    case = queries.get_case(
        conn, case_id, redact_text=container.settings.text_display == "redacted"
    )
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    # Issue 6: the actions allowed now, and the SLA metrics (live for running clocks).
    case["allowed_actions"] = allowed_actions(case["status"])
    case["sla"] = case_sla_view(conn, container, case_id)
    case["customer_risk"] = risk_view(conn, case["customer_id"])  # issue 5
    return CaseDetailRead(**case)
