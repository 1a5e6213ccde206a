"""One error shape for every failure: ``{"error": code, "message": text, "errors": [...]}``.

``errors`` (for 422) lists ``{"path", "message"}`` per problem, e.g.
``{"path": "events[3].score.value", "message": "nps score must be between 0 and 10"}``.

The application's refusals (:mod:`winback.errors`) become HTTP here and only here: the status
comes from the error's class (:data:`STATUS`, looked up along its ancestors, so a new leaf
inherits its parent's status) and ``error`` is the error's own specific code
(``illegal_transition``, ``remedy_refused``, ``role_not_allowed``…): ``401``
``unauthenticated`` (with ``WWW-Authenticate``), ``403`` ``forbidden`` / ``csrf_failed``,
``429`` ``too_many_attempts`` (with ``Retry-After``). Ingest's ``overloaded``
503 (load shed) comes with ``Retry-After`` and a ``reason``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from winback.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
    WinbackError,
)

STATUS: dict[type[WinbackError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    TooManyAttempts: 429,
}

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class FieldError(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    error: str
    message: str
    errors: list[FieldError] | None = None


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS),
        status_code=status_code,
        media_type="application/json",
    )


def error_response(
    status_code: int,
    message: str,
    errors: list[dict[str, str]] | None = None,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error body; ``code`` overrides the status's default ``error`` code."""
    body: dict[str, Any] = {"error": code or _CODES.get(status_code, "error"), "message": message}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = json_response(body, status_code)
    if headers:
        response.headers.update(headers)
    return response


def status_of(exc: WinbackError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def winback_error_response(exc: WinbackError) -> Response:
    """The HTTP answer to a refusal of the application layer."""
    body: dict[str, Any] = {"error": exc.code, "message": exc.message, **exc.details}
    response = json_response(body, status_of(exc))
    if isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="winback"'
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(WinbackError)
    async def _refused(_: Request, exc: WinbackError) -> Response:
        return winback_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "path": ".".join(str(p) for p in err["loc"]),
                "message": str(err["msg"]).removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        return error_response(422, "invalid request", errors)
