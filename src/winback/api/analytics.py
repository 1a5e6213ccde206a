"""Analytics API: service metrics, survey scores, the backlog, retention against control groups.

Every report answers JSON (``{"rows": [...]}`` with the request's parameters echoed) or, with
``?format=csv``, the same rows as CSV (nested values flattened to ``name_key`` columns). The
definitions are in docs/analytics.md; the figures come from the read models the analytics
worker keeps (``winback-analytics``), except the backlog, which is live.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from winback.analytics.periods import PERIODS
from winback.analytics.retention import sample_size
from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import NulFree
from winback.errors import InvalidInput
from winback.services import analytics

# Leads, managers, admins and analysts; keys with analytics:read.
router = APIRouter(tags=["analytics"], dependencies=[Depends(Require("analytics:read"))])

Format = Annotated[
    Literal["json", "csv"], Query(alias="format", description="json (default) or csv.")
]
Start = Annotated[
    date | None, Query(alias="from", description="First day (UTC) included, YYYY-MM-DD.")
]
End = Annotated[date | None, Query(alias="to", description="Last day (UTC) included.")]
Period = Annotated[
    Literal["day", "week", "month", "all"],
    Query(description=f"Fold days into periods: {', '.join(PERIODS)} (weeks start on Monday)."),
]
Slice = Annotated[str | None, Query(max_length=200), NulFree]
_ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}}


def _names(text: str | None) -> list[str]:
    return [] if not text else [p.strip() for p in text.split(",") if p.strip()]


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                out[f"{key}_{sub}"] = inner
        else:
            out[key] = value
    return out


def _csv(rows: Sequence[Mapping[str, Any]]) -> Response:
    flat = [_flat(r) for r in rows]
    columns: list[str] = []
    for row in flat:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")


def _answer(fmt: str, rows: list[dict[str, Any]], **echo: Any) -> Any:
    if fmt == "csv":
        return _csv(rows)
    return {**echo, "rows": rows}


@router.get(
    "/v1/analytics/service",
    summary="Service metrics per period and slice (first response, resolution, SLA, ...)",
    responses=_ERRORS,
)
def service(
    container: RuntimeDep,
    start: Start = None,
    end: End = None,
    period: Period = "all",
    by: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma-separated slices: team, agent, category, channel, segment, "
            "priority, rule.",
        ),
        NulFree,
    ] = None,
    team: Slice = None,
    agent: Slice = None,
    category: Slice = None,
    channel: Slice = None,
    segment: Slice = None,
    priority: Slice = None,
    rule: Slice = None,
    fmt: Format = "json",
) -> Any:
    slices = {
        "team": team,
        "agent": agent,
        "category": category,
        "channel": channel,
        "segment": segment,
        "priority": priority,
        "rule": rule,
    }
    filters = {k: v for k, v in slices.items() if v is not None}
    rows = analytics.service_metrics(
        container.engine, start=start, end=end, period=period, by=_names(by), filters=filters
    )
    return _answer(fmt, rows, period=period, by=_names(by), filters=filters)


@router.get(
    "/v1/analytics/scores",
    summary="CSAT, NPS and CES per period and slice, with their distributions",
    responses=_ERRORS,
)
def score_report(
    container: RuntimeDep,
    start: Start = None,
    end: End = None,
    period: Period = "all",
    kind: Annotated[
        str | None, Query(max_length=50, description="Comma-separated: nps, csat, ces."), NulFree
    ] = None,
    by: Annotated[
        str | None,
        Query(max_length=200, description="Comma-separated: segment, channel, touchpoint."),
        NulFree,
    ] = None,
    segment: Slice = None,
    channel: Slice = None,
    touchpoint: Slice = None,
    fmt: Format = "json",
) -> Any:
    slices = {"segment": segment, "channel": channel, "touchpoint": touchpoint}
    filters = {k: v for k, v in slices.items() if v is not None}
    kinds = _names(kind) or ["nps", "csat", "ces"]
    rows = analytics.score_metrics(
        container.engine,
        start=start,
        end=end,
        period=period,
        by=_names(by),
        kinds=kinds,
        filters=filters,
    )
    return _answer(fmt, rows, period=period, by=_names(by), kinds=kinds, filters=filters)


@router.get(
    "/v1/analytics/backlog",
    summary="Open cases now and the age of the oldest (live)",
    responses=_ERRORS,
)
def backlog(
    container: RuntimeDep,
    by: Annotated[
        Literal["team", "owner", "priority", "category", "channel", "status"] | None,
        Query(description="One slice."),
    ] = None,
    fmt: Format = "json",
) -> Any:
    rows = analytics.backlog(container.engine, container.clock.now(), by)
    return _answer(fmt, rows, by=by)


@router.get(
    "/v1/analytics/retention",
    summary="Retention after recovery, treated against the playbooks' hold-outs",
    responses=_ERRORS,
)
def retention_report(
    container: RuntimeDep,
    days: Annotated[
        str, Query(max_length=100, description="Comma-separated horizons in days."), NulFree
    ] = "30,60,90",
    by: Annotated[
        str,
        Query(max_length=100, description="Comma-separated: rule (required), segment, remedy."),
        NulFree,
    ] = "rule",
    inactive_days: Annotated[
        float | None,
        Query(gt=0, le=3650, description="Also count this many days without activity as churn."),
    ] = None,
    confidence: Annotated[float, Query(ge=0.5, lt=1)] = 0.95,
    fmt: Format = "json",
) -> Any:
    try:
        horizons = [int(d) for d in _names(days)]
    except ValueError:
        raise InvalidInput("days: comma-separated whole numbers", field="days") from None
    if not horizons or any(not 1 <= d <= 3650 for d in horizons):
        raise InvalidInput("days: each between 1 and 3650", field="days")
    rows = analytics.retention_report(
        container.engine,
        container.clock.now(),
        horizons=horizons,
        by=_names(by),
        inactive_days=inactive_days,
        confidence=confidence,
    )
    return _answer(
        fmt,
        rows,
        days=horizons,
        by=_names(by),
        inactive_days=inactive_days,
        confidence=confidence,
    )


@router.get(
    "/v1/analytics/paradox",
    summary="The recovery paradox: recovered customers against those who never had a problem",
    responses=_ERRORS,
)
def recovery_paradox(
    container: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=3650, description="The window, ending now.")] = 90,
    inactive_days: Annotated[
        float | None,
        Query(gt=0, le=3650, description="Also count this many days without activity as churn."),
    ] = None,
    confidence: Annotated[float, Query(ge=0.5, lt=1)] = 0.95,
) -> dict[str, Any]:
    return analytics.paradox_report(
        container.engine,
        container.clock.now(),
        days=days,
        inactive_days=inactive_days,
        confidence=confidence,
    )


@router.get(
    "/v1/analytics/sample-size",
    summary="Customers needed to see a given retention effect",
    responses=_ERRORS,
)
def needed(
    baseline: Annotated[float, Query(gt=0, lt=1, description="Control retention, e.g. 0.85.")],
    effect_points: Annotated[
        float, Query(gt=-100, lt=100, description="Effect to detect, in points, e.g. 4.")
    ],
    control_share: Annotated[float, Query(gt=0, lt=1)] = 0.1,
    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
    power: Annotated[float, Query(ge=0.5, lt=1)] = 0.8,
) -> dict[str, Any]:
    try:
        n = sample_size(baseline, effect_points / 100, control_share, alpha, power)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="effect_points") from None
    return {
        "baseline": baseline,
        "effect_points": effect_points,
        "control_share": control_share,
        "alpha": alpha,
        "power": power,
        "needed": n,
    }
