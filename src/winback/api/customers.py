"""``GET /v1/customers/{id}``: profile, open case, recent events and churn risk.

``GET /v1/customers?order=-risk``: the customers most at risk of leaving.

``GET /v1/customers/{id}/export`` and ``POST /v1/customers/{id}/erase``: a customer's right of
access and right to erasure (:mod:`winback.services.privacy`; docs/privacy.md).

Contact details and free text are redacted unless the caller may see them raw (``reveal``,
decided in ``api/deps.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from winback.api.auth import PrincipalDep, Require
from winback.api.deps import ConnectionDep, RevealDep, RuntimeDep
from winback.api.errors import ErrorBody, json_response
from winback.api.fields import CustomerId
from winback.api.schemas import (
    CustomerRead,
    CustomerRiskItem,
    CustomerRiskPage,
    CustomerRiskRead,
)
from winback.services import privacy
from winback.store import queries, risk_store

router = APIRouter(tags=["customers"])
_READ = [Depends(Require("customers:read"))]


@router.get(
    "/v1/customers/{customer_id}",
    dependencies=_READ,
    response_model=CustomerRead,
    summary="A customer: profile, open case and recent events",
    responses={404: {"model": ErrorBody}},
)
def get_customer(customer_id: CustomerId, conn: ConnectionDep, reveal: RevealDep) -> CustomerRead:
    customer = queries.get_customer(conn, customer_id, reveal=reveal(None))
    if customer is None:
        raise HTTPException(404, f"no customer {customer_id!r}")
    customer["risk"] = risk_view(conn, customer_id)
    return CustomerRead(**customer)


def risk_view(conn: Connection, customer_id: str) -> CustomerRiskRead | None:
    """The customer's churn risk as the API shows it (also on a case), or None."""
    risk = risk_store.get_customer_risk(conn, customer_id)
    if risk is None or risk.updated_at is None:
        return None
    return CustomerRiskRead(
        probability=risk.probability,
        horizon_days=risk.horizon_days,
        reasons=risk.reasons,  # pydantic validates the stored dicts
        model_version=risk.model_version,
        as_of=risk.as_of,
        updated_at=risk.updated_at,
        jumped_at=risk.jumped_at,
        features=risk.features,
    )


@router.get(
    "/v1/customers",
    dependencies=_READ,
    response_model=CustomerRiskPage,
    summary="Customers ordered by churn risk, highest first",
)
def list_customers(
    conn: ConnectionDep,
    order: Annotated[
        Literal["-risk"], Query(description="Sort order; -risk: most at risk first.")
    ] = "-risk",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_risk: Annotated[
        float | None, Query(ge=0, le=1, description="Only customers at or above this risk.")
    ] = None,
) -> CustomerRiskPage:
    rows = risk_store.list_by_risk(conn, limit=limit, min_probability=min_risk)
    return CustomerRiskPage(items=[CustomerRiskItem(id=r.pop("customer_id"), **r) for r in rows])


@router.get(
    "/v1/customers/{customer_id}/export",
    dependencies=[Depends(Require("customers:export"))],
    summary="Everything held about a customer, as JSON (right of access)",
    responses={
        200: {
            "description": "`format`, `customer_id`, `exported_at`, `redacted` and `tables`: "
            "every row of every table holding the customer's data, by table name.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        404: {"model": ErrorBody},
    },
)
def export_customer(
    customer_id: CustomerId, container: RuntimeDep, reveal: RevealDep, principal: PrincipalDep
) -> Response:
    """The customer's row, events, text analyses, features and risk, cases with their
    timelines, SLA clocks and timers, remembered actions, remedy grants and outbox messages.
    Redacted like the other read routes unless the caller may see raw data."""
    export = privacy.export_customer(
        container.engine,
        container.clock,
        customer_id,
        reveal=reveal(None),
        actor=principal.actor,
        credential=principal.credential,
    )
    return json_response(export)


class ErasureRead(BaseModel):
    erased: bool
    counts: dict[str, int]


@router.post(
    "/v1/customers/{customer_id}/erase",
    dependencies=[Depends(Require("customers:erase"))],
    response_model=ErasureRead,
    summary="Erase a customer: irreversibly pseudonymise them in every table",
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def erase_customer(
    customer_id: CustomerId, container: RuntimeDep, principal: PrincipalDep
) -> ErasureRead:
    """Identifiers (id, contact details, name, event and ticket ids) are replaced by random
    ones and free text is erased, in every table; counts, amounts, scores and times stay.
    ``409`` while some of the customer's events are not yet processed (retry shortly). An
    event for the same id sent later starts a new, unrelated customer."""
    result = privacy.erase_customer(
        container.engine,
        container.clock,
        customer_id,
        actor=principal.actor,
        credential=principal.credential,
    )
    return ErasureRead(erased=True, counts=result.counts)
