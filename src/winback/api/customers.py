"""``GET /v1/customers/{id}``: profile, open case and recent events."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from winback.api.deps import ConnectionDep
from winback.api.errors import ErrorBody
from winback.api.schemas import CustomerRead
from winback.store import queries

router = APIRouter(tags=["customers"])


@router.get(
    "/v1/customers/{customer_id}",
    response_model=CustomerRead,
    summary="A customer: profile, open case and recent events",
    responses={404: {"model": ErrorBody}},
)
def get_customer(customer_id: str, conn: ConnectionDep) -> CustomerRead:
    customer = queries.get_customer(conn, customer_id)
    if customer is None:
        raise HTTPException(404, f"no customer {customer_id!r}")
    return CustomerRead(**customer)
