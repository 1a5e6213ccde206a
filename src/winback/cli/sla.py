"""``winback sla …``: check ``sla.yaml``, and recompute the deadlines of open cases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

sla_app = typer.Typer(help="SLA policies and calendars: check, recompute.", no_args_is_help=True)
console = Console(stderr=True)


def _fmt(delta: timedelta) -> str:
    seconds, parts = int(delta.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


@sla_app.command("check")
def check(
    config_dir: Annotated[
        Path | None,
        typer.Option(help="Directory holding sla.yaml [WINBACK_CONFIG_DIR].", file_okay=False),
    ] = None,
) -> None:
    """Validate sla.yaml and list its calendars and policies."""
    from winback.config import load_settings
    from winback.sla.config import SlaConfigError, load_sla_config

    directory = config_dir or load_settings().config_dir
    try:
        config = load_sla_config(directory)
    except SlaConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"{config.source}: ok (fingerprint {config.fingerprint})")
    for name, calendar in sorted(config.calendars.items()):
        kind = "24/7" if calendar.always else "business hours"
        typer.echo(f"  calendar {name}: {calendar.timezone}, {kind}")
    for policy in config.policies:
        targets = ", ".join(f"{m} {_fmt(d)}" for m, d in policy.targets.items())
        typer.echo(f"  policy {policy.name} ({policy.calendar}): {targets}")


@sla_app.command("recompute")
def recompute(
    all_cases: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every open case, not only those computed under another version of sla.yaml.",
        ),
    ] = False,
) -> None:
    """Recompute the SLA deadlines of open cases after sla.yaml changed."""
    from winback.bootstrap import build_timer_service, make_store_engine
    from winback.config import ConfigError, load_settings
    from winback.sla.config import SlaConfigError

    try:
        settings = load_settings()
        engine = make_store_engine(settings)
        service = build_timer_service(settings, engine)
    except (ConfigError, SlaConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        done = service.recompute(force=all_cases)
    finally:
        engine.dispose()
    typer.echo(f"recomputed the SLA deadlines of {done} open case(s)")
