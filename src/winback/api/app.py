"""The FastAPI application, built from a :class:`~winback.bootstrap.Runtime`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

import winback
from winback.api import analytics, cases, customers, errors, events, health, remedies, routing
from winback.api.metrics import Metrics
from winback.api.overload import LagWatch, Shedder, SheddingGate
from winback.bootstrap import Runtime
from winback.events.schema import EventBatchIn
from winback.runner import ProcessorRunner


class _Gate:
    """The overload gate as the outermost ASGI middleware: a shed request is answered before
    routing, validation or any other per-request work."""

    def __init__(self, app: ASGIApp, gate: SheddingGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self.gate.refused(scope, receive, send):
            return
        await self.app(scope, receive, send)


def create_app(container: Runtime, runner: ProcessorRunner | None = None) -> FastAPI:
    """Build the app. With ``runner``, the processor starts and stops with the app."""

    settings = container.settings
    lag = LagWatch(container.engine, settings.ingest_lag_check_seconds)
    shedder = Shedder(
        container.committer,
        lag,
        max_processor_lag=settings.ingest_max_processor_lag,
        retry_after_seconds=settings.ingest_retry_after_seconds,
        max_loop_lag_seconds=settings.ingest_max_loop_lag_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        container.committer.start()
        if settings.ingest_max_processor_lag:
            lag.start()
        if settings.ingest_max_loop_lag_seconds:
            shedder.loop_lag.start(asyncio.get_running_loop())
        if runner is not None:
            container.commit_listeners.append(runner.notify)
            runner.start()
        try:
            yield
        finally:
            container.committer.stop()
            lag.stop()
            shedder.loop_lag.stop()
            if runner is not None:
                runner.stop()

    # /docs (Swagger UI) and /redoc with their scripts, styles and icon served from the installed
    # fastapi-offline package: the API reference works without a network (FastAPI's own pages
    # load them from a CDN). validatorUrl=None: no badge that sends the schema's URL out.
    app = FastAPIOffline(
        title="Winback",
        version=winback.__version__,
        summary="Real-time service recovery: events in, one recovery case per customer out.",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.container = container
    app.state.metrics = metrics = Metrics(
        container.engine, container.committer, container.sources.all, clock=container.clock
    )
    app.state.shedder = shedder
    gate = SheddingGate(shedder=shedder, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(_Gate, gate=gate)
    errors.install(app)
    app.router.routes.append(events.fast_route)  # matched before the documented APIRoute
    for module in (events, cases, customers, health):
        app.include_router(module.router)
    app.include_router(remedies.router)  # remedy recommendations
    app.include_router(routing.router)  # agents, routing runs
    app.include_router(analytics.router)  # service metrics, scores, backlog, retention

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            batch = EventBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(batch.pop("$defs", {}))
            components["EventBatchIn"] = batch
            _document_errors(schema, components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _document_errors(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Document the error shape the handlers really send (:mod:`winback.api.errors`).

    FastAPI documents its own ``{"detail": [...]}`` body for every 422 it may raise; Winback
    answers those with :class:`~winback.api.errors.ErrorBody`. A route that reads a JSON body
    also answers 400 when the body does not parse.
    """
    components["ErrorBody"] = errors.ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components.update(components["ErrorBody"].pop("$defs", {}))
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operation in (op for item in schema["paths"].values() for op in item.values()):
        responses = operation.setdefault("responses", {})
        if "422" in responses:
            responses["422"]["content"] = error
        if "requestBody" in operation and "400" not in responses:
            responses["400"] = {"description": "The body is not JSON.", "content": error}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
