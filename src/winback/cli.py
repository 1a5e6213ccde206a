"""The ``winback`` command line (Typer)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from winback.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="Winback: real-time service recovery.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _prepare(settings: Settings) -> Any:
    from winback.bootstrap import build_container, configure_logging, prepare_database
    from winback.store import migrate

    configure_logging(settings.log_level)
    container = build_container(settings)
    prepare_database(settings, container.engine)
    with container.engine.connect() as conn:
        if migrate.pending(conn):
            console.print(
                "[red]error:[/red] the database schema is not current; run `winback db upgrade`"
            )
            raise typer.Exit(2)
    return container


def _serve(settings: Settings, on_started: Any = None) -> None:
    import uvicorn

    from winback.api.app import create_app
    from winback.pipeline.worker import ProcessorRunner

    container = _prepare(settings)
    runner = ProcessorRunner(settings) if settings.processor != "off" else None
    config = uvicorn.Config(
        create_app(container, runner),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
    server = uvicorn.Server(config)
    if on_started is not None:
        on_started(server)
    try:
        server.run()
    finally:
        container.engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [WINBACK_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [WINBACK_PORT].")] = None,
) -> None:
    """Run the HTTP API (and, by default, the event processor beside it)."""
    _serve(_settings(host=host, port=port))


@app.command()
def worker() -> None:
    """Run the event processor alone (production: beside `serve` with WINBACK_PROCESSOR=off)."""
    from winback.pipeline.worker import run_processor

    settings = _settings()
    _prepare(settings).engine.dispose()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print("winback worker: processing events (Ctrl-C to stop)")
    run_processor(settings, stop)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply pending migrations."""
    from winback.store import migrate
    from winback.store.engine import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine, revision)
        with engine.connect() as conn:
            console.print(f"database at revision {migrate.current_revision(conn)}")
    finally:
        engine.dispose()


@app.command("import")
def import_events(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="Events per commit.")] = 500,
) -> None:
    """Import events from a JSONL or CSV file. Re-running it imports nothing twice."""
    from winback.events.importfile import Rejected, read_events

    settings = _settings()
    container = _prepare(settings)
    committer = container.committer
    with file.open("rb") as handle:
        total = sum(1 for line in handle if line.strip())
    if file.suffix.lower() == ".csv":
        total = max(0, total - 1)
    accepted = duplicates = 0
    rejected: list[Rejected] = []

    def flush(batch: list[tuple[int, Any]]) -> None:
        nonlocal accepted, duplicates
        while batch:
            outcome = committer.append_now([e for _, e in batch])
            if not outcome.conflicts:
                accepted += outcome.statuses.count("accepted")
                duplicates += outcome.statuses.count("duplicate")
                return
            bad = {i for i, _ in outcome.conflicts}
            for i in sorted(bad):
                rejected.append(Rejected(batch[i][0], "id already imported with different content"))
            batch = [item for i, item in enumerate(batch) if i not in bad]

    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal and os.environ.get("CI") is not None,
    )
    pending: list[tuple[int, Any]] = []
    try:
        with progress:
            task = progress.add_task("import", total=total)
            for number, item in read_events(file):
                if isinstance(item, Rejected):
                    rejected.append(item)
                else:
                    pending.append((number, item))
                if len(pending) >= chunk:
                    flush(pending)
                    pending = []
                progress.advance(task)
            flush(pending)
    finally:
        container.close()
    for item in sorted(rejected, key=lambda r: r.line)[:100]:
        console.print(f"[yellow]line {item.line}:[/yellow] {item.reason}")
    if len(rejected) > 100:
        console.print(f"… and {len(rejected) - 100} more rejected lines")
    typer.echo(
        f"imported {accepted} events, {duplicates} already present, {len(rejected)} rejected"
    )
    if rejected:
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    rate: Annotated[float, typer.Option(min=0.1, help="Events per second.")] = 5.0,
    events: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    database: Annotated[Path, typer.Option(help="SQLite file (recreated).")] = Path(
        "winback-demo.db"
    ),
) -> None:
    """Start Winback on SQLite and stream a small company's events into it, live."""
    from winback.demo import stream

    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = _settings(database_url=f"sqlite:///{database}", port=port, log_level="warning")
    base = f"http://{settings.host}:{settings.port}"
    stop = threading.Event()

    def started(server: Any) -> None:
        def run() -> None:
            stream(base, stop, rate=rate, limit=events, report=typer.echo)
            if events is not None:
                server.should_exit = True

        threading.Thread(target=run, name="winback-demo", daemon=True).start()

    typer.echo(
        "Winback demo on SQLite "
        f"({database}). Look at:\n"
        f"  {base}/v1/cases        recovery cases, newest first\n"
        f"  {base}/docs            the API, interactive\n"
        f"  {base}/metrics         Prometheus metrics\n"
        "Ctrl-C to stop."
    )
    try:
        _serve(settings, on_started=started)
    finally:
        stop.set()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
