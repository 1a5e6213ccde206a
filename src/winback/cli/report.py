"""``winback report …``: the analytics reports on the command line (table, CSV or JSON).

Each report first brings the read models up to date (``--no-refresh`` to skip: then it shows
what the analytics worker last wrote), then prints the same rows the API serves.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

report_app = typer.Typer(
    help="Analytics reports: service metrics, scores, backlog, retention, the recovery paradox.",
    no_args_is_help=True,
)
console = Console(stderr=True)

FromOpt = Annotated[
    datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC).")
]
ToOpt = Annotated[
    datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC), included.")
]
PeriodOpt = Annotated[str, typer.Option(help="day, week, month or all.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json.")]
RefreshOpt = Annotated[bool, typer.Option(help="Bring the read models up to date first.")]


def _names(text: str | None) -> list[str]:
    return [] if not text else [p.strip() for p in text.split(",") if p.strip()]


def _run(build: Callable[[Any, datetime], list[dict[str, Any]]], refresh: bool, fmt: str) -> None:
    from winback.bootstrap import make_store_engine
    from winback.clock import SystemClock
    from winback.config import ConfigError, load_settings
    from winback.errors import WinbackError
    from winback.services.analytics import AnalyticsUpdater

    if fmt not in ("table", "csv", "json"):
        console.print("[red]error:[/red] --format: one of table, csv, json")
        raise typer.Exit(2)
    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    engine = make_store_engine(settings)
    clock = SystemClock()
    try:
        if refresh:
            AnalyticsUpdater(engine, clock).run_until_idle()
        rows = build(engine, clock.now())
    except (WinbackError, ValueError) as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    _print(rows, fmt)


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            out.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def _print(rows: Sequence[Mapping[str, Any]], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(list(rows), indent=2, default=str))
        return
    flat = [_flat(r) for r in rows]
    columns: list[str] = []
    for row in flat:
        columns.extend(k for k in row if k not in columns)
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return
    if not flat:
        typer.echo("(no rows)")
        return
    table = Table(*columns)
    for row in flat:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console(width=max(120, 14 * len(columns))).print(table)


@report_app.command("service")
def service(
    start: FromOpt = None,
    end: ToOpt = None,
    period: PeriodOpt = "all",
    by: Annotated[
        str | None, typer.Option(help="Comma-separated slices (team, rule, ...).")
    ] = None,
    fmt: FormatOpt = "table",
    refresh: RefreshOpt = True,
) -> None:
    """First response, resolution, SLA attainment, reopen, repeat contact, recovery, remedy cost."""
    from winback.services.analytics import service_metrics

    _run(
        lambda engine, _now: service_metrics(
            engine,
            start=start.date() if start else None,
            end=end.date() if end else None,
            period=period,
            by=_names(by),
        ),
        refresh,
        fmt,
    )


@report_app.command("scores")
def score_report(
    start: FromOpt = None,
    end: ToOpt = None,
    period: PeriodOpt = "all",
    kind: Annotated[str, typer.Option(help="Comma-separated: nps, csat, ces.")] = "nps,csat,ces",
    by: Annotated[str | None, typer.Option(help="segment, channel, touchpoint.")] = None,
    fmt: FormatOpt = "table",
    refresh: RefreshOpt = True,
) -> None:
    """CSAT, NPS and CES with their distributions."""
    from winback.services.analytics import score_metrics

    _run(
        lambda engine, _now: score_metrics(
            engine,
            start=start.date() if start else None,
            end=end.date() if end else None,
            period=period,
            by=_names(by),
            kinds=_names(kind),
        ),
        refresh,
        fmt,
    )


@report_app.command("backlog")
def backlog_report(
    by: Annotated[str | None, typer.Option(help="team, owner, priority, ...")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Open cases now and the age of the oldest."""
    from winback.services.analytics import backlog

    _run(lambda engine, now: backlog(engine, now, by), False, fmt)


@report_app.command("retention")
def retention_report(
    days: Annotated[str, typer.Option(help="Comma-separated horizons in days.")] = "30,60,90",
    by: Annotated[str, typer.Option(help="rule (required), segment, remedy.")] = "rule",
    inactive_days: Annotated[
        float | None, typer.Option(help="Also count this many days without activity as churn.")
    ] = None,
    confidence: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
    fmt: FormatOpt = "table",
    refresh: RefreshOpt = True,
) -> None:
    """Retention after recovery, treated against the playbooks' hold-outs, with verdicts."""
    from winback.services.analytics import retention_report as report

    try:
        horizons = [int(d) for d in _names(days)]
    except ValueError:
        console.print("[red]error:[/red] --days: comma-separated whole numbers")
        raise typer.Exit(2) from None
    _run(
        lambda engine, now: report(
            engine,
            now,
            horizons=horizons,
            by=_names(by),
            inactive_days=inactive_days,
            confidence=confidence,
        ),
        refresh,
        fmt,
    )


@report_app.command("paradox")
def paradox_report(
    days: Annotated[int, typer.Option(help="The window, ending now, in days.")] = 90,
    inactive_days: Annotated[
        float | None, typer.Option(help="Also count this many days without activity as churn.")
    ] = None,
    fmt: FormatOpt = "table",
    refresh: RefreshOpt = True,
) -> None:
    """Recovered customers against customers who never had a problem (observational)."""
    from winback.services.analytics import paradox_report as report

    def rows(engine: Any, now: datetime) -> list[dict[str, Any]]:
        found = report(engine, now, days=days, inactive_days=inactive_days)
        console.print(found["verdict"])
        return [{"group": g, **v} for g, v in found["groups"].items()]

    _run(rows, refresh, fmt)
