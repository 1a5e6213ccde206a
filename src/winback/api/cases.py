"""``GET /v1/cases`` (the agents' queue) and ``GET /v1/cases/{id}``: the recovery cases and
their story.

The queue filters by status, owner, team, priority, category and customer, sorts by SLA due
time, priority, risk, opening or update time, and pages with a keyset cursor that carries the
sort it was made for (the default order keeps the ``c:<id>`` cursor it always had).

``POST /v1/cases/{id}/actions`` (what agents do to a case) lives in :mod:`winback.api.case_actions`.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Final, Literal, get_args

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from winback.api.auth import Require
from winback.api.case_actions import case_sla_view
from winback.api.case_actions import router as actions_router
from winback.api.customers import risk_view
from winback.api.deps import ConnectionDep, RevealDep, RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import MAX_ID, CaseId, NulFree
from winback.api.schemas import CaseDetailRead, CasePage, CaseQueueRead
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


PRIORITY_VALUES = Literal["P1", "P2", "P3", "P4"]  # winback.cases.model.PRIORITIES
SortValue = Literal[
    "id", "-id", "opened", "-opened", "updated", "-updated", "priority", "-priority",
    "due", "-due", "risk", "-risk",
]  # fmt: skip
DEFAULT_SORT: Final = "-id"
_DATETIME_SORTS = frozenset({"opened", "updated", "due"})


def _one_value(value: str) -> str:
    if "," in value:
        raise ValueError("one value per parameter: repeat the parameter for several")
    return value


# An owner, team or category: one value (``?owner=ana&owner=bo``, never ``?owner=ana,bo``).
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_value)]


class CaseQueueQuery(BaseModel):
    """The query of ``GET /v1/cases``. A parameter it does not know is a 422, never ignored."""

    model_config = ConfigDict(extra="forbid")

    status: list[CaseStatus] = Field(
        default=[], description="Only these statuses; repeat for several (status=new&status=…)."
    )
    open: bool | None = Field(
        default=None,
        description="true: only open statuses (new, acknowledged, in_progress, "
        "waiting_on_customer, reopened); false: only resolved, closed, cancelled.",
    )
    owner: list[Name] = Field(
        default=[], description="Only cases owned by these agents; `none` means unassigned."
    )
    team: list[Name] = Field(
        default=[], description="Only cases the playbooks gave to these teams; `none`: no team."
    )
    priority: list[PRIORITY_VALUES] = Field(default=[], description="Only these priorities.")
    category: list[Name] = Field(
        default=[], description="Only these complaint categories (e.g. billing, delivery)."
    )
    customer: Annotated[
        str | None, Field(max_length=200, description="One customer's id."), NulFree
    ] = None
    sort: SortValue = Field(
        default=DEFAULT_SORT,
        description="due (earliest SLA breach first), priority (P1 first), risk, opened, "
        "updated, id; a leading - reverses. Ties by case id; cases without a deadline or a "
        "risk come last. Default -id: newest first.",
    )
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page.")


def _none_is_null(values: list[str]) -> list[str | None]:
    return [None if v == "none" else v for v in values]


def _sort(sort: str) -> queries.QueueSort:
    return queries.QueueSort(key=sort.removeprefix("-"), descending=sort.startswith("-"))


def _encode(sort: str, row: dict[str, Any]) -> str:
    """The cursor after ``row``: ``c:<id>`` in the default order, else the sort, value, id."""
    value = row[queries.QUEUE_SORT_FIELDS[_sort(sort).key]]
    if sort == DEFAULT_SORT:
        raw = f"c:{row['id']}".encode()
    else:
        raw = b"k:" + orjson.dumps([sort, value, row["id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> queries.QueuePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        if kind == "c" and sort == DEFAULT_SORT:
            if not 0 < int(rest) <= MAX_ID:
                raise ValueError(cursor)
            return queries.QueuePosition(value=int(rest), case_id=int(rest))
        if kind != "k":
            raise ValueError(cursor)
        made_for, value, case_id = orjson.loads(rest)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error, orjson.JSONDecodeError):
        raise HTTPException(422, "cursor: not a cursor this API returned") from None
    if not isinstance(case_id, int) or not 0 < case_id <= MAX_ID:
        raise HTTPException(422, "cursor: not a cursor this API returned")
    if made_for != sort:
        raise HTTPException(422, "cursor: made for another sort; start again without it")
    try:
        return queries.QueuePosition(value=_sort_value(_sort(sort).key, value), case_id=case_id)
    except (TypeError, ValueError):
        raise HTTPException(422, "cursor: not a cursor this API returned") from None


def _sort_value(key: str, value: Any) -> Any:
    """A cursor's sort value back in the type its column compares with (ValueError if not)."""
    if value is None:
        if key not in queries.QUEUE_NULLABLE_SORTS:
            raise ValueError(key)
        return None
    if key in _DATETIME_SORTS:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError(value)
        return at
    if key == "risk" and isinstance(value, int | float):
        return float(value)
    if key == "priority" and value in get_args(PRIORITY_VALUES):
        return value
    if key == "id" and isinstance(value, int):
        return value
    raise ValueError(value)


@router.get(
    "/v1/cases",
    response_model=CasePage,
    summary="The case queue: filter, sort and page recovery cases",
    responses={422: {"model": ErrorBody}},
    dependencies=[Depends(Require("cases:read"))],
)
def list_cases(
    conn: ConnectionDep, reveal: RevealDep, query: Annotated[CaseQueueQuery, Query()]
) -> CasePage:
    """Cases for agents to work on, each with its next SLA deadline and the customer's churn
    risk. Filters combine with AND; the values of one filter with OR."""
    filters = queries.CaseFilters(
        statuses=[s.value for s in query.status],
        open=query.open,
        owners=_none_is_null(query.owner),
        teams=_none_is_null(query.team),
        priorities=list(query.priority),
        categories=query.category,
        customer_id=query.customer,
    )
    rows = queries.list_cases(
        conn,
        filters=filters,
        sort=_sort(query.sort),
        after=None if query.cursor is None else _decode(query.cursor, query.sort),
        limit=query.limit + 1,
        reveal=reveal(None),
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    for row in rows:
        row["risk_reasons"] = row["risk_reasons"] or []
    return CasePage(
        items=[CaseQueueRead(**r) for r in rows],
        next_cursor=_encode(query.sort, rows[-1]) if more else None,
    )


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseDetailRead,
    summary="One case with its timeline and the events that triggered it",
    responses={404: {"model": ErrorBody}},
    dependencies=[Depends(Require("cases:read"))],
)
def get_case(
    case_id: CaseId, conn: ConnectionDep, container: RuntimeDep, reveal: RevealDep
) -> CaseDetailRead:
    case = queries.get_case(conn, case_id, reveal=reveal(queries.case_owner(conn, case_id)))
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    # The actions allowed now, and the SLA metrics (live for running clocks).
    case["allowed_actions"] = allowed_actions(case["status"])
    case["sla"] = case_sla_view(conn, container, case_id)
    case["customer_risk"] = risk_view(conn, case["customer_id"])
    return CaseDetailRead(**case)
