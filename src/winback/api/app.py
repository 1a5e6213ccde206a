"""The FastAPI application, built from a :class:`~winback.bootstrap.Container`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

import winback
from winback.api import cases, customers, errors, events, health, remedies, routing
from winback.api.metrics import Metrics
from winback.api.overload import LagWatch, Shedder, SheddingGate
from winback.bootstrap import Container
from winback.events.schema import EventBatchIn
from winback.pipeline.worker import ProcessorRunner


class GatedApp(FastAPI):
    """FastAPI with the overload gate in front of everything it does per request (telemetry,
    middleware, routing), so that a shed request costs as little as it can."""

    gate: SheddingGate | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gate is not None and await self.gate.refused(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def create_app(container: Container, runner: ProcessorRunner | None = None) -> FastAPI:
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

    app = GatedApp(
        title="Winback",
        version=winback.__version__,
        summary="Real-time service recovery: events in, one recovery case per customer out.",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.metrics = metrics = Metrics(container.engine, container.committer)
    app.state.shedder = shedder
    app.gate = SheddingGate(
        shedder=shedder, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    errors.install(app)
    app.router.routes.append(events.fast_route)  # matched before the documented APIRoute
    for module in (events, cases, customers, health):
        app.include_router(module.router)
    app.include_router(remedies.router)  # issue 7: recommendations
    app.include_router(routing.router)  # issue 7: agents, routing runs

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            batch = EventBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(batch.pop("$defs", {}))
            components["EventBatchIn"] = batch
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
