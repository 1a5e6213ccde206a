"""Dependencies shared by the routes (``Annotated`` aliases, as in the FastAPI template).

The cheap ones are ``async def``: a plain ``def`` dependency is run in the thread pool, a
thread hop per request for a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection

from winback.api.metrics import Metrics
from winback.api.overload import Shedder
from winback.bootstrap import Runtime
from winback.identity import Principal, may_see_raw


async def get_container(request: Request) -> Runtime:
    container: Runtime = request.app.state.container
    return container


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_shedder(request: Request) -> Shedder:
    shedder: Shedder = request.app.state.shedder
    return shedder


Reveal = Callable[[str | None], bool]


async def get_reveal(
    request: Request, container: Annotated[Runtime, Depends(get_container)]
) -> Reveal:
    """Whether this caller sees customers' contact details and free text raw, given the case's
    owner (``None``: no case, or any case) — the one place that decides it for every read route
    (cases, timelines, customers, events, exports).

    ``WINBACK_TEXT_DISPLAY=by_role`` (the default): the authenticated principal's
    :func:`~winback.identity.may_see_raw` (an agent on their own cases; leads, managers and
    admins on all); ``redacted``: nobody through the API; ``raw``: every authenticated caller.
    The principal is the one the route's ``Require`` established (``request.state``); without
    one, redacted."""
    mode = container.settings.text_display
    principal: Principal | None = getattr(request.state, "principal", None)

    def reveal(owner: str | None = None) -> bool:
        if principal is None or mode == "redacted":
            return False
        return mode == "raw" or may_see_raw(principal, owner)

    return reveal


def get_connection(container: Annotated[Runtime, Depends(get_container)]) -> Iterator[Connection]:
    with container.engine.connect() as conn:
        yield conn


RuntimeDep = Annotated[Runtime, Depends(get_container)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ShedderDep = Annotated[Shedder, Depends(get_shedder)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
RevealDep = Annotated[Reveal, Depends(get_reveal)]
