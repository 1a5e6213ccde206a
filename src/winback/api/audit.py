"""``GET /v1/audit``: the audit trail, filtered and paged by sequence number.

Newest first by default (``order=asc`` for oldest first, e.g. to follow the trail); a page's
``next_cursor`` is the sequence number to pass as ``cursor`` for the next one. The records and
what they mean: docs/audit.md. Meant for administrators (permission ``audit:read``); no route
checks credentials yet.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from winback.api.auth import Require
from winback.api.deps import ConnectionDep
from winback.api.errors import ErrorBody
from winback.api.fields import MAX_ID, NulFree
from winback.api.schemas import AuditPage, AuditRecordRead
from winback.store.audit import AuditFilter, list_records

router = APIRouter(tags=["audit"])

Text = Annotated[str | None, Field(min_length=1, max_length=200), NulFree]


class AuditQuery(BaseModel):
    """The query of ``GET /v1/audit``. A parameter it does not know is a 422, never ignored."""

    model_config = ConfigDict(extra="forbid")

    actor: Text = Field(None, description="Only this actor, e.g. user:ana.")
    action: Text = Field(None, description="Only this action, e.g. remedy.approve.")
    subject_type: Text = Field(None, description="Only subjects of this type, e.g. case.")
    subject_id: Text = Field(None, description="Only this subject (with subject_type).")
    customer: Text = Field(None, description="Only records about this customer.")
    since: AwareDatetime | None = Field(None, description="Records at or after this time.")
    until: AwareDatetime | None = Field(None, description="Records before this time.")
    order: Literal["desc", "asc"] = Field("desc", description="desc: newest first.")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="`next_cursor` of the previous page."
    )


@router.get(
    "/v1/audit",
    dependencies=[Depends(Require("audit:read"))],
    response_model=AuditPage,
    summary="The audit trail: who did what, when, through which credential",
    responses={422: {"model": ErrorBody}},
)
def list_audit(conn: ConnectionDep, query: Annotated[AuditQuery, Query()]) -> AuditPage:
    """Audit records matching every filter given, one page at a time."""
    where = AuditFilter(
        actor=query.actor,
        action=query.action,
        subject_type=query.subject_type,
        subject_id=query.subject_id,
        customer=query.customer,
        since=query.since,
        until=query.until,
    )
    rows = list_records(
        conn,
        where,
        limit=query.limit + 1,
        after_seq=query.cursor,
        descending=query.order == "desc",
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return AuditPage(
        items=[AuditRecordRead(**r) for r in rows],
        next_cursor=rows[-1]["seq"] if more else None,
    )
