"""``winback outbox …`` (deliveries, dead letters, re-drive) and ``winback templates check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

outbox_app = typer.Typer(
    help="The outbox relay's deliveries: list, redrive dead letters.", no_args_is_help=True
)
templates_app = typer.Typer(help="Message templates: check.", no_args_is_help=True)
console = Console(stderr=True)


@outbox_app.command("list")
def list_deliveries(
    state: Annotated[
        str | None,
        typer.Option(help="pending, sending, delivered, dead (dead letters) or suppressed."),
    ] = "dead",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List deliveries (by default the dead letters), oldest first."""
    from winback.bootstrap import make_store_engine
    from winback.config import load_settings
    from winback.errors import WinbackError
    from winback.services.outreach import list_outbox

    engine = make_store_engine(load_settings())
    try:
        items = list_outbox(engine, state or None, limit, 0)
    except WinbackError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for d in items:
        error = f"  {d['last_error']}" if d["last_error"] else ""
        reason = f"  ({d['reason']})" if d["reason"] else ""
        typer.echo(
            f"outbox {d['outbox_id']}  delivery {d['id']}  {d['state']}  {d['topic']}  "
            f"-> {d['destination']} ({d['channel']})  tries {d['attempts']}{reason}{error}"
        )
    typer.echo(f"{len(items)} deliver{'y' if len(items) == 1 else 'ies'}")


@outbox_app.command("redrive")
def redrive(
    outbox_ids: Annotated[list[int], typer.Argument(help="Outbox row ids (see `list`).")],
) -> None:
    """Send the dead deliveries of these outbox rows again, with a fresh count of tries."""
    from winback.bootstrap import make_store_engine
    from winback.clock import SystemClock
    from winback.config import load_settings
    from winback.errors import WinbackError
    from winback.services.outreach import redrive as redrive_row

    engine = make_store_engine(load_settings())
    failed = False
    try:
        for outbox_id in outbox_ids:
            try:
                done = redrive_row(engine, SystemClock(), outbox_id)
            except WinbackError as exc:
                console.print(f"[red]error:[/red] {exc.message}")
                failed = True
                continue
            typer.echo(f"outbox {outbox_id}: {done['redriven']} dead deliver(ies) re-driven")
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(1)


@outbox_app.command("relay")
def relay(
    once: Annotated[
        bool, typer.Option("--once", help="Fan out and deliver one batch per lane, then exit.")
    ] = False,
) -> None:
    """Run the outbox relay alone (fan-out and one lane per channel) until stopped; several
    relays may run at once. `serve` and `worker` already run one unless
    WINBACK_OUTREACH_RELAY=false."""
    import signal
    import threading

    from winback.bootstrap import (
        build_relay,
        build_sources,
        configure_logging,
        make_store_engine,
        relay_workers,
    )
    from winback.config import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    engine = make_store_engine(settings)
    # The SLA source reloads sla.yaml like everywhere else (a first response moves the clocks).
    service = build_relay(settings, engine, sources=build_sources(settings))
    try:
        if once:
            typer.echo(f"{service.run_once()} outbox row(s) and deliveries handled")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        workers = relay_workers(service, stop)
        for worker in workers:
            worker.start()
        stop.wait()
        for worker in workers:
            worker.stop()
    finally:
        service.close()
        engine.dispose()


@templates_app.command("check")
def check(
    config_dir: Annotated[
        Path | None,
        typer.Option(help="Directory holding templates/ [WINBACK_CONFIG_DIR].", file_okay=False),
    ] = None,
) -> None:
    """Load every template (shipped and configured), render each with sample data, and check
    that every acknowledgement a playbook names exists; errors name file and line."""
    from winback.config import ConfigError, load_settings
    from winback.outreach.templates import TemplateConfigError, load_templates
    from winback.playbooks.loader import load_playbooks

    try:
        settings = load_settings()
        directory = config_dir or settings.config_dir
        templates = load_templates(directory, settings.outreach_default_language)
        playbooks = load_playbooks(directory)
    except (ConfigError, TemplateConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    missing = []
    for playbook in playbooks.playbooks:
        for rule in playbook.rules:
            name = rule.then.acknowledge
            if name is None:
                continue
            name = "acknowledgement" if name == "default" else name
            if not templates.has(templates.default_language, name, "txt"):
                missing.append(
                    f"{playbook.source}:{rule.line}: rule {rule.name!r} acknowledges "
                    f"with template {name!r}, which does not exist"
                )
    if missing:
        console.print("[red]error:[/red] " + "\n  ".join(["missing templates:", *missing]))
        raise typer.Exit(2)
    typer.echo(f"templates: ok ({', '.join(templates.languages)})")
    names = sorted({n.split("/", 1)[1].rsplit(".", 1)[0] for n in templates.names()})
    for name in names:
        langs = [lang for lang in templates.languages if templates.has(lang, name, "txt")]
        typer.echo(f"  {name}: {', '.join(langs)}")
