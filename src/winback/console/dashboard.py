"""The leads' dashboard: two weeks of the analytics read models as server-drawn charts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from winback.analytics.metrics import derive
from winback.api.deps import RuntimeDep
from winback.console import charts
from winback.console.auth import ConsolePrincipal
from winback.console.views import render
from winback.errors import WinbackError
from winback.services import analytics

router = APIRouter(include_in_schema=False)

DASHBOARD_DAYS = 14
_DASHBOARD_ROLES = ("lead", "manager", "admin", "analyst")


def _series(
    rows: list[dict[str, Any]], days: list[str], field: str, scale: float = 1.0
) -> list[tuple[str, float | None]]:
    by_day = {r["period"]: r.get(field) for r in rows}
    points: list[tuple[str, float | None]] = []
    for day in days:
        value = by_day.get(day)
        points.append((day[5:], None if value is None else float(value) * scale))
    return points


@router.get("/console/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: ConsolePrincipal, runtime: RuntimeDep) -> HTMLResponse:
    """Charts of the last two weeks from the analytics read models (docs/analytics.md): volume,
    response and resolution times, SLA attainment, remedy spend, scores, backlog by team and
    agent, and the retention verdicts against the playbooks' hold-outs."""
    if principal.role not in _DASHBOARD_ROLES:
        refusal = "The dashboard is for leads, managers, admins and analysts."
        return render(request, "missing.html", principal, 403, case_id=None, error=refusal)
    now = runtime.clock.now()
    today = now.date()
    days = [(today - timedelta(days=n)).isoformat() for n in range(DASHBOARD_DAYS - 1, -1, -1)]
    start = today - timedelta(days=DASHBOARD_DAYS - 1)
    engine = runtime.engine
    daily = analytics.service_metrics(engine, start=start, end=today, period="day")
    # No case yet in the period (or the read models not caught up): every figure empty.
    [total] = analytics.service_metrics(engine, start=start, end=today) or [derive({})]
    scores = analytics.score_metrics(engine, start=start, end=today, period="day")
    by_team = analytics.backlog(engine, now, by="team")
    by_owner = analytics.backlog(engine, now, by="owner")
    try:
        retention = analytics.retention_report(engine, now, horizons=(30,))
    except WinbackError:
        retention = []
    hours = 1 / 3600
    score_lines = [
        charts.Series(
            kind.upper(), _series([r for r in scores if r["kind"] == kind], days, "score")
        )
        for kind in ("nps", "csat")
    ]
    figures = [
        charts.lines(
            "Cases opened and resolved per day",
            [
                charts.Series("opened", _series(daily, days, "cases_opened")),
                charts.Series("resolved", _series(daily, days, "cases_resolved")),
            ],
        ),
        charts.lines(
            "Mean first response and resolution (hours)",
            [
                charts.Series("first response", _series(daily, days, "first_response_s", hours)),
                charts.Series("resolution", _series(daily, days, "resolution_s", hours)),
            ],
            unit=" h",
        ),
        charts.lines(
            "SLA attainment (business time)",
            [
                charts.Series(
                    "first response", _series(daily, days, "sla_first_response_attainment", 100)
                ),
                charts.Series("resolution", _series(daily, days, "sla_resolution_attainment", 100)),
            ],
            unit=" %",
            top=100.0,
        ),
        charts.bars(
            "Remedy spend per day", charts.Series("cost", _series(daily, days, "remedy_cost"))
        ),
        charts.lines("Survey scores (NPS, CSAT % satisfied)", score_lines),
        charts.bars(
            "Open cases by team",
            charts.Series(
                "open", [(str(r.get("team") or "no team"), r["open_cases"]) for r in by_team]
            ),
        ),
        charts.bars(
            "Open cases by owner (load)",
            charts.Series(
                "open",
                [(str(r.get("owner") or "unassigned"), r["open_cases"]) for r in by_owner][:20],
            ),
        ),
    ]
    return render(
        request,
        "dashboard.html",
        principal,
        figures=figures,
        total=total,
        backlog=sum(r["open_cases"] for r in by_team),
        retention=[r for r in retention if r.get("verdict")][:10],
        days=DASHBOARD_DAYS,
        now=now,
    )
