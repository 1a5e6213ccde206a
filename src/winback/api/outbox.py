"""Outbox deliveries (dead letters, re-drive) and webhook subscriptions (docs/outreach.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import ConfigDict, Field

from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import MAX_ID, NulFreeModel
from winback.services import outreach

# Deliveries and webhooks are operations' business: admins and keys with outbox:write.
router = APIRouter(tags=["outreach"], dependencies=[Depends(Require("outbox:manage"))])

OutboxId = Annotated[int, Path(ge=1, le=MAX_ID, description="The outbox row's id.")]
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The subscription's id.")]
Limit = Annotated[int, Query(ge=1, le=1000)]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="Only deliveries after this id.")]


@router.get(
    "/v1/outbox",
    summary="Deliveries of outbox rows: pending, sending, delivered, dead or suppressed",
    responses={422: {"model": ErrorBody}},
)
def list_outbox(
    container: RuntimeDep,
    state: Annotated[
        str | None,
        Query(description="pending, sending, delivered, dead (dead letters) or suppressed"),
    ] = None,
    limit: Limit = 100,
    after: After = 0,
) -> dict[str, Any]:
    items = outreach.list_outbox(container.engine, state, limit, after)
    return {"deliveries": items, "next_after": items[-1]["id"] if len(items) == limit else None}


@router.post(
    "/v1/outbox/{outbox_id}/redrive",
    summary="Send an outbox row's dead deliveries again, with a fresh count of tries",
    responses={404: {"model": ErrorBody}},
)
def redrive(outbox_id: OutboxId, container: RuntimeDep) -> dict[str, Any]:
    return outreach.redrive(container.engine, container.clock, outbox_id)


class SubscriptionIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., min_length=1, max_length=2000)
    topics: list[str] = Field(
        ..., min_length=1, max_length=100, description=outreach.SUBSCRIBABLE_HINT
    )
    description: str | None = Field(None, max_length=500)


@router.post(
    "/v1/webhooks",
    status_code=201,
    summary="Subscribe a URL to outbox topics (signed with the Standard Webhooks scheme)",
    description="The answer carries the subscription's signing secret (whsec_…), shown once.",
    responses={422: {"model": ErrorBody}},
)
def create_webhook(body: SubscriptionIn, container: RuntimeDep) -> dict[str, Any]:
    return outreach.create_subscription(
        container.engine, container.clock, body.url, body.topics, body.description
    )


@router.get("/v1/webhooks", summary="Active webhook subscriptions (without their secrets)")
def list_webhooks(container: RuntimeDep) -> dict[str, Any]:
    return {"subscriptions": outreach.subscriptions(container.engine)}


@router.delete(
    "/v1/webhooks/{subscription_id}",
    status_code=204,
    summary="Delete a subscription (its delivery log stays)",
    responses={404: {"model": ErrorBody}},
)
def delete_webhook(subscription_id: SubscriptionId, container: RuntimeDep) -> Response:
    outreach.delete_subscription(container.engine, subscription_id)
    return Response(status_code=204)


@router.get(
    "/v1/webhooks/{subscription_id}/deliveries",
    summary="The subscription's delivery log",
    responses={404: {"model": ErrorBody}},
)
def webhook_deliveries(
    subscription_id: SubscriptionId, container: RuntimeDep, limit: Limit = 100, after: After = 0
) -> dict[str, Any]:
    items = outreach.subscription_deliveries(container.engine, subscription_id, limit, after)
    return {"deliveries": items}
