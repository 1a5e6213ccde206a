"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from winback.api.auth import Open, Require
from winback.api.deps import MetricsDep, RuntimeDep, ShedderDep
from winback.api.errors import json_response
from winback.api.schemas import Health, Readiness
from winback.store import migrate
from winback.store.partitions import partition_lags

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="The process is up",
    dependencies=[Depends(Open())],
)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database reachable, migrations current, ingest not overloaded; reports lag",
    responses={503: {"model": Readiness}},
    dependencies=[Depends(Open())],
)
def readyz(container: RuntimeDep, shedder: ShedderDep) -> Response:
    """Ready (200), or not (503) with the reasons: the database is unreachable, migrations are
    pending, or ingest is overloaded — the commit queue, the event loop's lag or the processor
    lag is over its bound (or a request was shed within the last second), so
    ``POST /v1/events`` answers 503."""
    queued = container.committer.load().waiting_events
    try:
        with container.engine.connect() as conn:
            behind = migrate.pending(conn)
            lags = partition_lags(conn) if not behind else None
            lag = sum(lags.values()) if lags is not None else None
    except SQLAlchemyError as exc:
        database = f"error: {exc.__class__.__name__}"
        body = Readiness(
            status="unavailable",
            database=database,
            migrations="unknown",
            processor_lag=None,
            ingest_queue_events=queued,
            reasons=[f"database {database}"],
        )
        return json_response(body.model_dump(), 503)
    refused = {}
    for source in container.sources.all():
        source.get()  # look at the files now, so the answer is current
        if source.error:
            refused[source.name] = source.error
    reasons = ["migrations pending: run `winback db upgrade`"] if behind else []
    reasons += shedder.not_ready_reasons(lag)
    body = Readiness(
        status="unavailable" if reasons else "ready",
        database="ok",
        migrations="pending: run `winback db upgrade`" if behind else "current",
        processor_lag=lag,
        partition_lag={str(p): n for p, n in (lags or {}).items()},
        ingest_queue_events=queued,
        reasons=reasons,
        configuration_refused=refused,
    )
    return json_response(body.model_dump(), 503 if reasons else 200)


@router.get(
    "/metrics",
    summary="Prometheus metrics (open unless WINBACK_METRICS_PUBLIC=false)",
    response_class=Response,
    dependencies=[Depends(Require("metrics:read", open_if="metrics_public"))],
)
def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
