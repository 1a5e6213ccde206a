"""``GET /v1/customers/{id}``: profile, open case, recent events and churn risk.

``GET /v1/customers?order=-risk``: the customers most at risk of leaving.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.engine import Connection

from winback.api.auth import Require
from winback.api.deps import ConnectionDep, RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import CustomerId
from winback.api.schemas import (
    CustomerRead,
    CustomerRiskItem,
    CustomerRiskPage,
    CustomerRiskRead,
)
from winback.store import queries, risk_store

router = APIRouter(tags=["customers"], dependencies=[Depends(Require("customers:read"))])


@router.get(
    "/v1/customers/{customer_id}",
    response_model=CustomerRead,
    summary="A customer: profile, open case and recent events",
    responses={404: {"model": ErrorBody}},
)
def get_customer(
    customer_id: CustomerId, conn: ConnectionDep, container: RuntimeDep
) -> CustomerRead:
    customer = queries.get_customer(
        conn, customer_id, redact_text=container.settings.text_display == "redacted"
    )
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
