"""The app that ``winback serve`` and ``winback demo`` run: the API plus the console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from winback.api.app import create_app as create_api_app
from winback.bootstrap import Runtime
from winback.console import dashboard, views
from winback.console.auth import LoginRequired
from winback.console.live import ChangeFeed
from winback.runner import ProcessorRunner

STATIC = Path(__file__).parent / "static"


def create_app(container: Runtime, runner: ProcessorRunner | None = None) -> FastAPI:
    """The API app (:func:`winback.api.app.create_app`) with the console mounted on it."""
    app = create_api_app(container, runner)
    install(app, container)
    return app


def install(app: FastAPI, container: Runtime) -> None:
    app.state.change_feed = ChangeFeed(container.engine)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(views.router)
    app.include_router(dashboard.router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(exc.location, status_code=303)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)
