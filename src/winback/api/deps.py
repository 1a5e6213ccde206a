"""Dependencies shared by the routes (``Annotated`` aliases, as in the FastAPI template).

The cheap ones are ``async def``: a plain ``def`` dependency is run in the thread pool, a
thread hop per request for a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection

from winback.api.metrics import Metrics
from winback.api.overload import Shedder
from winback.bootstrap import Runtime


async def get_container(request: Request) -> Runtime:
    container: Runtime = request.app.state.container
    return container


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_shedder(request: Request) -> Shedder:
    shedder: Shedder = request.app.state.shedder
    return shedder


async def get_reveal(container: Annotated[Runtime, Depends(get_container)]) -> bool:
    """Whether this caller sees customers' contact details and free text raw — the one place
    that decides it for every read route (cases, timelines, customers, events, exports).

    Today a deployment-wide setting (``WINBACK_TEXT_DISPLAY``, ``redacted`` by default); with
    identity it becomes the principal's ``may_see_raw`` (docs/privacy.md)."""
    return container.settings.text_display == "raw"


def get_connection(container: Annotated[Runtime, Depends(get_container)]) -> Iterator[Connection]:
    with container.engine.connect() as conn:
        yield conn


RuntimeDep = Annotated[Runtime, Depends(get_container)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ShedderDep = Annotated[Shedder, Depends(get_shedder)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
RevealDep = Annotated[bool, Depends(get_reveal)]
