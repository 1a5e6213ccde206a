"""``POST /v1/events``: durable, idempotent ingest of one event or a batch.

The body is read and parsed here (orjson, with a size limit) rather than by FastAPI's body
machinery: it is the hot path, and a batch needs whole-batch rejection with per-event paths.
The OpenAPI schema still documents it fully (see ``openapi_extra``).

Under overload a request is shed — ``503`` with ``Retry-After``, nothing stored — by
:class:`~winback.api.overload.SheddingGate` before it reaches this handler; a batch that would
overfill a nearly full commit queue is refused here, by the committer, as it is queued.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.routing import Route

from winback.api.auth import Authenticator, Require
from winback.api.errors import ErrorBody, error_response, json_response, winback_error_response
from winback.api.metrics import Metrics
from winback.api.overload import Shedder, shed_response
from winback.bootstrap import Runtime
from winback.errors import WinbackError
from winback.events.ingest import IngestClosed, IngestOverloaded
from winback.events.schema import (
    EventValidationError,
    FutureLimit,
    IngestResult,
    parse_events,
)

router = APIRouter(tags=["events"])

_BODY_SCHEMA = {
    "oneOf": [
        {"$ref": "#/components/schemas/EventIn"},
        {"$ref": "#/components/schemas/EventBatchIn"},
    ]
}


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<something>+json``, any parameters."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def ingest(request: Request) -> Response:
    """Validate, commit durably, then answer (behaviour documented on ``post_events``)."""
    container: Runtime = request.app.state.container
    metrics: Metrics = request.app.state.metrics
    started = time.perf_counter()
    auth: Authenticator = request.app.state.auth
    try:
        request.state.principal = await auth.require(request, "POST", "events:write")
    except WinbackError as refused:
        metrics.rejected.labels("unauthorised").inc()
        return winback_error_response(refused)
    if not _is_json(request.headers.get("content-type")):
        metrics.rejected.labels("media_type").inc()
        return error_response(415, "send the events as JSON (Content-Type: application/json)")
    limit = container.settings.max_body_bytes
    try:
        body = await _read_body(request, limit)
    except _TooLarge:
        metrics.rejected.labels("too_large").inc()
        return error_response(413, f"the body is over the limit of {limit} bytes")
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        metrics.rejected.labels("malformed").inc()
        return error_response(400, f"malformed JSON: {exc}")
    try:
        skew = timedelta(seconds=container.settings.max_future_skew_seconds)
        incoming = parse_events(data, FutureLimit(container.clock.now(), skew))
    except EventValidationError as exc:
        metrics.rejected.labels("invalid").inc()
        return error_response(422, "invalid events; nothing was stored", exc.errors)
    try:
        outcome = await container.committer.submit_async(incoming)
    except IngestOverloaded as refused:  # the committer's own check, made as it queues
        shedder: Shedder = request.app.state.shedder
        return shed_response(shedder, metrics, refused, len(incoming))
    except IngestClosed:
        return error_response(503, "shutting down; retry shortly")
    if outcome.conflicts:
        metrics.rejected.labels("conflict").inc()
        prefix = "events" if "events" in data else ""
        conflicts = [
            {"path": f"{prefix}[{i}]" if prefix else "(body)", "id": event_id}
            for i, event_id in outcome.conflicts
        ]
        return error_response(
            409,
            "an event id was already received with different content; nothing was stored",
            conflicts=conflicts,
        )
    accepted = outcome.statuses.count("accepted")
    duplicates = len(outcome.statuses) - accepted
    metrics.accepted.inc(accepted)
    metrics.duplicates.inc(duplicates)
    metrics.ack_seconds.observe(time.perf_counter() - started)
    return json_response(
        {
            "accepted": accepted,
            "duplicates": duplicates,
            "events": [
                {"id": e.event_id, "status": s}
                for e, s in zip(incoming, outcome.statuses, strict=True)
            ],
        },
        202,
    )


# The hot path is served by a plain Starlette route (see ``api.app``): it skips FastAPI's
# dependency machinery, which cost more CPU per request than the ingest work itself. This
# FastAPI route declares the same endpoint so the OpenAPI schema documents it.
fast_route = Route("/v1/events", ingest, methods=["POST"], include_in_schema=False)


@router.post(
    "/v1/events",
    status_code=202,
    summary="Send one event or a batch of up to 1,000",
    response_model=IngestResult,
    dependencies=[Depends(Require("events:write"))],
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
    },
    responses={
        202: {"description": "Durably stored (accepted) or already stored (duplicate)."},
        400: {"model": ErrorBody, "description": "Malformed JSON."},
        409: {"model": ErrorBody, "description": "An id was already used for other content."},
        413: {"model": ErrorBody, "description": "Body over the size limit."},
        415: {"model": ErrorBody, "description": "The body is not JSON (Content-Type)."},
        422: {"model": ErrorBody, "description": "Invalid events; nothing was stored."},
        503: {
            "model": ErrorBody,
            "description": "Overloaded (`error`: `overloaded`, with `Retry-After` and a "
            "`reason`): nothing was stored; send the same events again later. Also sent "
            "while the server shuts down (`error`: `unavailable`).",
        },
    },
)
async def post_events(request: Request) -> Response:
    """Store events durably before answering; the same ``id`` again is a harmless duplicate.

    A batch with any invalid event is rejected whole with one error per problem, each naming
    its field path (``events[3].score.value``); nothing is stored.

    Under overload (the commit queue, the event loop's lag or the processor lag over its
    bound) the request is refused with ``503`` and ``Retry-After``; nothing of it is stored.
    """
    return await ingest(request)
