"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from winback.api.deps import MetricsDep, RuntimeDep
from winback.api.errors import json_response
from winback.api.schemas import Health, Readiness
from winback.pipeline.processor import processor_lag
from winback.store import migrate

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database reachable, migrations current; reports processor lag",
    responses={503: {"model": Readiness}},
)
def readyz(container: RuntimeDep) -> Response:
    try:
        with container.engine.connect() as conn:
            behind = migrate.pending(conn)
            lag = processor_lag(conn) if not behind else None
    except SQLAlchemyError as exc:
        body = Readiness(
            status="unavailable",
            database=f"error: {exc.__class__.__name__}",
            migrations="unknown",
            processor_lag=None,
        )
        return json_response(body.model_dump(), 503)
    body = Readiness(
        status="unavailable" if behind else "ready",
        database="ok",
        migrations="pending: run `winback db upgrade`" if behind else "current",
        processor_lag=lag,
    )
    return json_response(body.model_dump(), 503 if behind else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
