"""Customer preferences, template previews and inbound e-mail (docs/outreach.md)."""

from __future__ import annotations

import hashlib
from email.utils import parseaddr
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import ConfigDict, Field

from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import CustomerId, NulFreeModel
from winback.errors import InvalidInput
from winback.events.ingest import IngestClosed, IngestOverloaded
from winback.events.schema import EventValidationError, parse_event
from winback.outreach.templates import SAMPLE_CONTEXT, TemplateConfigError
from winback.services import outreach

router = APIRouter(tags=["outreach"])


class PreferencesIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "chat"] | None = Field(
        None, description="The channel the customer prefers."
    )
    opt_out_channels: list[Literal["email", "sms", "chat"]] = Field(default_factory=list)
    opt_out_kinds: list[Literal["service", "marketing"]] = Field(default_factory=list)
    quiet_hours: str | None = Field(
        None, max_length=11, description="Local HH:MM-HH:MM, e.g. 21:00-08:00."
    )
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone; default: the customer's profile."
    )
    max_per_day: int | None = Field(None, ge=0, le=1000)


@router.get(
    "/v1/customers/{customer_id}/preferences",
    dependencies=[Depends(Require("customers:read"))],
    summary="The customer's message preferences (defaults when none were set)",
)
def get_preferences(customer_id: CustomerId, container: RuntimeDep) -> dict[str, Any]:
    return outreach.get_preferences(container.engine, customer_id)


@router.put(
    "/v1/customers/{customer_id}/preferences",
    dependencies=[Depends(Require("customers:write"))],
    summary="Set the customer's preferred channel, opt-outs, quiet hours and frequency cap",
    responses={422: {"model": ErrorBody}},
)
def put_preferences(
    customer_id: CustomerId, body: PreferencesIn, container: RuntimeDep
) -> dict[str, Any]:
    return outreach.set_preferences(
        container.engine, container.clock, customer_id, body.model_dump()
    )


class PreviewIn(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(..., min_length=1, max_length=100)
    language: str | None = Field(None, max_length=35)
    channel: Literal["email", "sms", "chat"] = "email"
    customer: dict[str, Any] | None = Field(None, description="Overrides the sample customer.")
    case: dict[str, Any] | None = Field(None, description="Overrides the sample case.")
    message: dict[str, Any] | None = Field(None, description="Overrides the sample message.")


@router.post(
    "/v1/templates/preview",
    dependencies=[Depends(Require("cases:read"))],
    summary="Render a message template with sample (or given) customer and case data",
    responses={422: {"model": ErrorBody}},
)
def preview(body: PreviewIn, container: RuntimeDep) -> dict[str, Any]:
    context: dict[str, Any] = {
        key: {**SAMPLE_CONTEXT[key], **(getattr(body, key) or {})}
        for key in ("customer", "case", "message")
    }
    context["company"] = container.settings.outreach_company_name
    try:
        rendered = container.templates.get().render(
            body.template, body.language, body.channel, context
        )
    except TemplateConfigError as exc:
        raise InvalidInput(str(exc), field="template") from None
    except Exception as exc:  # a template error names the template and line
        raise InvalidInput(f"template {body.template!r}: {exc}", field="template") from None
    return {
        "template": body.template,
        "language": rendered.language,
        "channel": body.channel,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }


class InboundEmailIn(NulFreeModel):
    """An inbound e-mail as a mail provider's inbound webhook delivers it (parsed)."""

    model_config = ConfigDict(extra="ignore")

    sender: str = Field(..., alias="from", min_length=3, max_length=320)
    subject: str | None = Field(None, max_length=1000)
    text: str = Field("", max_length=100_000)
    message_id: str | None = Field(None, max_length=998)
    in_reply_to: str | None = Field(None, max_length=998)


@router.post(
    "/v1/inbound/email",
    dependencies=[Depends(Require("events:write"))],
    status_code=202,
    summary="An inbound e-mail: becomes a customer `message` event on the normal ingest path",
    description="It attaches to the customer's open case and resumes a case waiting on the "
    "customer. The customer is the one the answered message went to (In-Reply-To), else the "
    "one with the sender's address.",
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def inbound_email(body: InboundEmailIn, container: RuntimeDep) -> dict[str, Any]:
    address = parseaddr(body.sender)[1] or body.sender
    customer = outreach.inbound_customer(container.engine, address, body.in_reply_to)
    ref = (
        body.message_id
        or hashlib.sha256(f"{address}\n{body.subject}\n{body.text}".encode()).hexdigest()
    )
    text = "\n\n".join(part for part in (body.subject, body.text) if part)
    event = {
        "id": f"email:{ref}"[:200],
        "type": "message",
        "customer": {"id": customer},
        "channel": "email",
        "text": text or "(empty e-mail)",
        "attributes": {"in_reply_to": body.in_reply_to, "from": address},
    }
    try:
        incoming = parse_event(event)
    except EventValidationError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        outcome = await container.committer.submit_async([incoming])
    except (IngestOverloaded, IngestClosed):
        raise HTTPException(503, "overloaded; retry shortly") from None
    return {"customer_id": customer, "event_id": incoming.event_id, "status": outcome.statuses[0]}
