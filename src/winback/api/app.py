"""The FastAPI application, built from a :class:`~winback.bootstrap.Runtime`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

import winback
from winback.api import (
    analytics,
    audit,
    cases,
    customers,
    errors,
    events,
    health,
    identity,
    oidc,
    outbox,
    outreach,
    ratelimit,
    remedies,
    routing,
)
from winback.api.auth import SESSION_COOKIE, Authenticator, permission_of
from winback.api.metrics import Metrics
from winback.api.overload import LagWatch, Shedder, SheddingGate
from winback.api.security import SecurityHeaders, install_credential_redaction
from winback.bootstrap import Runtime
from winback.config import secret_key
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
    """Build the app. With ``runner``, the processor starts and stops with the app.

    Raises :class:`~winback.config.ConfigError` when the secret key is missing or weak outside
    demo mode."""

    settings = container.settings
    secret = secret_key(settings)
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
    app.state.auth = Authenticator(container.engine, container.clock, settings, secret)
    app.state.metrics = metrics = Metrics(
        container.engine, container.committer, container.sources.all, clock=container.clock
    )
    app.state.shedder = shedder
    install_credential_redaction()  # process-wide, idempotent: no credential in a log line
    # Middleware, innermost first (each add wraps the ones before): CORS (off unless origins
    # are configured), the security headers (on every answer, CORS preflights included), and
    # the overload gate outermost, so a shed request costs nothing else.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,  # API keys in a header, never the console's cookies
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeaders,
        hsts_seconds=settings.hsts_seconds,
        hashed_pages=("/docs", "/docs/oauth2-redirect"),  # fastapi-offline's pages
        styled_pages=("/redoc",),
    )
    gate = SheddingGate(shedder=shedder, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(_Gate, gate=gate)
    errors.install(app)
    ratelimit.install(app, settings, container.clock)  # app.state.rate_limits, 429 answers
    app.router.routes.append(events.fast_route)  # matched before the documented APIRoute
    for module in (events, cases, customers, health):
        app.include_router(module.router)
    app.include_router(remedies.router)  # remedy recommendations
    app.include_router(routing.router)  # agents, routing runs
    app.include_router(analytics.router)  # service metrics, scores, backlog, retention
    app.include_router(audit.router)  # the audit trail
    app.include_router(outbox.router)  # deliveries, dead letters, webhook subscriptions
    app.include_router(outreach.router)  # preferences, template previews, inbound e-mail
    app.include_router(identity.router)  # login, logout, me; users and keys
    # Single sign-on, when configured: a verified person gets a session, like a password login.
    oidc.install(app, settings, container.clock, identity.sso_session(container, app.state.auth))

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
            _document_permissions(app, schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _api_routes(app: FastAPI) -> list[Any]:
    """The application's routes, each with the dependencies of the routers it was included
    through (FastAPI 0.165 keeps included routers nested; older versions copy the routes)."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is not None:
        return list(contexts(app.routes))
    return [r for r in app.routes if isinstance(r, APIRoute)]


def _document_permissions(app: FastAPI, schema: dict[str, Any]) -> None:
    """Record on each operation the permission its route declares (``x-permission``; a setting
    that opens it to anyone in ``x-open-if``) and document its 401 and 403 answers."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["apiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`wb_…`): `winback keys create NAME --scope …`.",
    }
    schemes["session"] = {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session cookie of POST /v1/auth/login; requests that change "
        "something also send its CSRF token in X-CSRF-Token.",
    }
    for route in _api_routes(app):
        if not getattr(route, "include_in_schema", False):
            continue
        dependant = getattr(route, "dependant", None)
        declared = None if dependant is None else permission_of(dependant)
        item = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None or declared is None:
                continue  # undeclared: the route x role test fails on it
            permission, open_if = declared
            operation["x-permission"] = permission
            if open_if is not None:
                operation["x-open-if"] = f"WINBACK_{open_if.upper()}"
            if permission != "public":
                operation["security"] = [{"apiKey": []}, {"session": []}]
                responses = operation.setdefault("responses", {})
                responses.setdefault(
                    "401", {"description": "No valid credential.", "content": error}
                )
                responses.setdefault(
                    "403",
                    {"description": f"The credential lacks {permission}.", "content": error},
                )


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
