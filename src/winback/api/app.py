"""The FastAPI application, built from a :class:`~winback.bootstrap.Runtime`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

import winback
from winback.api import cases, customers, errors, events, health, remedies, routing
from winback.api.metrics import Metrics
from winback.bootstrap import Runtime
from winback.events.schema import EventBatchIn
from winback.runner import ProcessorRunner


def create_app(container: Runtime, runner: ProcessorRunner | None = None) -> FastAPI:
    """Build the app. With ``runner``, the processor starts and stops with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        container.committer.start()
        if runner is not None:
            container.commit_listeners.append(runner.notify)
            runner.start()
        try:
            yield
        finally:
            container.committer.stop()
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
    app.state.metrics = Metrics(container.engine)
    errors.install(app)
    app.router.routes.append(events.fast_route)  # matched before the documented APIRoute
    for module in (events, cases, customers, health):
        app.include_router(module.router)
    app.include_router(remedies.router)  # remedy recommendations
    app.include_router(routing.router)  # agents, routing runs

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
