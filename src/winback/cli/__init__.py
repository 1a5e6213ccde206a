"""The ``winback`` command line (Typer)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from winback.cli.audit import audit_app
from winback.cli.churn import evaluate_churn, models_activate, models_list, train_churn
from winback.cli.customers import customers_app
from winback.cli.identity import keys_app, users_app
from winback.cli.outbox import outbox_app, templates_app
from winback.cli.report import report_app
from winback.cli.rules import rules_app
from winback.cli.sla import sla_app
from winback.cli.text import evaluate_text, train_text
from winback.config import ConfigError, Settings, load_settings, secret_key

app = typer.Typer(
    help="Winback: real-time service recovery.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
# Sub-commands that later capabilities register into (text understanding, churn risk, ...).
train_app = typer.Typer(help="Train models from your own data.", no_args_is_help=True)
app.add_typer(train_app, name="train")
evaluate_app = typer.Typer(help="Measure models on public or your own data.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")
models_app = typer.Typer(help="Versioned model files: list, activate.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(sla_app, name="sla")  # winback sla check / recompute
app.add_typer(rules_app, name="rules")  # winback rules check / dry-run
app.add_typer(audit_app, name="audit")  # winback audit verify / list
app.add_typer(customers_app, name="customers")  # winback customers export / erase
app.add_typer(outbox_app, name="outbox")  # winback outbox list / redrive
app.add_typer(templates_app, name="templates")  # winback templates check
app.add_typer(users_app, name="users")  # winback users create / list / disable / set-role
app.add_typer(keys_app, name="keys")  # winback keys create / list / revoke
app.add_typer(report_app, name="report")  # winback report service / scores / backlog / retention
console = Console(stderr=True)
evaluate_app.command("text")(evaluate_text)  # winback evaluate text
train_app.command("text")(train_text)  # winback train text
train_app.command("churn")(train_churn)  # winback train churn
evaluate_app.command("churn")(evaluate_churn)  # winback evaluate churn
models_app.command("list")(models_list)  # the model registry
models_app.command("activate")(models_activate)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _prepare(settings: Settings) -> Any:
    from winback.bootstrap import build_runtime, configure_logging, prepare_database
    from winback.store import migrate

    configure_logging(settings.log_level)
    _check_sla(settings)
    _check_risk(settings)
    container = build_runtime(settings)
    with migrate.quiet():  # the command's own output, not Alembic's INFO lines
        prepare_database(settings, container.engine)
    with container.engine.connect() as conn:
        if migrate.pending(conn):
            console.print(
                "[red]error:[/red] the database schema is not current; run `winback db upgrade`"
            )
            raise typer.Exit(2)
    return container


def _load_configuration(container: Any) -> None:
    """Load every configuration source now, so a broken file stops start-up with its message
    (later, a broken edit is refused and the last good version kept)."""
    try:
        container.sources  # noqa: B018 - loads them
    except Exception as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _check_sla(settings: Settings) -> None:
    """Refuse to start on a broken sla.yaml (the message names the file and field)."""
    from winback.bootstrap import load_sla
    from winback.sla.config import SlaConfigError

    try:
        load_sla(settings)
    except SlaConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _check_risk(settings: Settings) -> None:
    """Refuse to start on a broken risk.yaml (the message names the field)."""
    from winback.risk.setup import RiskConfigError, load_risk_config

    try:
        load_risk_config(settings.config_dir)
    except RiskConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _quiet_server_class() -> Any:
    """uvicorn's Server, except that a SIGINT/SIGTERM ends it with a clean exit (status 0, no
    traceback) after the graceful shutdown, instead of re-raising the signal afterwards."""
    import contextlib
    import logging
    from collections.abc import Iterator

    import uvicorn

    class QuietServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and sockets:  # uvicorn says where it listens only when it binds
                host, port = sockets[0].getsockname()[:2]
                logging.getLogger("uvicorn.error").info(
                    "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port
                )

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            signals = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return QuietServer


def _listen(settings: Settings) -> socket.socket:
    """Bind the server's socket now, before anything else is printed or prepared, so that a
    port in use is one clear line (naming the flag and the variable) and a non-zero exit."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"port {settings.port} is in use: pass --port N or set WINBACK_PORT"
        else:
            message = (
                f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}): "
                "pass --host/--port or set WINBACK_HOST/WINBACK_PORT"
            )
        console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    return sock


def _serve(settings: Settings, on_started: Any = None, sock: socket.socket | None = None) -> None:
    import uvicorn

    _QuietServer = _quiet_server_class()  # noqa: N806

    from winback.console.app import create_app
    from winback.runner import ProcessorRunner

    try:
        secret_key(settings)  # refused outside demo mode when missing or weak
    except ConfigError as exc:
        if sock is not None:
            sock.close()
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    sock = sock or _listen(settings)
    try:
        container = _prepare(settings)
        _load_configuration(container)
    except BaseException:
        sock.close()
        raise
    runner = ProcessorRunner(settings) if settings.processor != "off" else None
    config = uvicorn.Config(
        create_app(container, runner),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
    server = _QuietServer(config)
    if on_started is not None:
        on_started(server)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
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
    """Run the event processor alone (production: beside `serve` with WINBACK_PROCESSOR=off).
    On a partitioned log (`winback db partitions N`) run as many as you like, on any machines:
    each processes its share of the partitions, re-balanced as workers come and go."""
    from winback.runner import run_processor

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
    """Apply pending migrations, one line per migration as it is applied."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from winback.store import migrate
    from winback.store.engine import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            todo = migrate.pending_revisions(conn, revision)
        if todo:
            console.print(f"applying {len(todo)} migration(s): {', '.join(todo)}")
        done = 0

        def applied(rev: str, description: str) -> None:
            nonlocal done
            done += 1
            console.print(f"  [{done}/{len(todo)}] {rev} {escape(description)}", soft_wrap=True)

        with migrate.quiet():
            migrate.upgrade(engine, revision, on_applied=applied)
        with engine.connect() as conn:
            console.print(f"database at revision {migrate.current_revision(conn)}")
    except (CommandError, RevisionError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@db_app.command("partitions")
def db_partitions(
    count: Annotated[
        int | None,
        typer.Argument(help="Partitions of the log (1-1024); only on an empty log.", min=1),
    ] = None,
) -> None:
    """Show, or set on an empty log, how many partitions the event log has: each partition is
    processed in order by one worker at a time, so N bounds how many workers help
    (docs/operations.md). Without COUNT: each partition's holder and lag."""
    from winback.clock import SystemClock
    from winback.errors import WinbackError
    from winback.store.engine import make_engine
    from winback.store.partitions import lease_now, owners, partition_lags, set_partition_count

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        if count is not None:
            try:
                set_partition_count(engine, count)
            except WinbackError as exc:
                console.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
                raise typer.Exit(2) from None
        with engine.connect() as conn:
            now = lease_now(conn, SystemClock())
            held, lags = owners(conn, now), partition_lags(conn)
        console.print(f"{len(held)} partition(s)")
        for partition in sorted(held):
            holder = held[partition] or "-"
            console.print(f"  {partition:>4}  lag {lags.get(partition, 0):>8}  {escape(holder)}")
    finally:
        engine.dispose()


@app.command("import")
def import_events(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="Events per commit.")] = 500,
) -> None:
    """Import events from a JSONL or CSV file. Re-running it imports nothing twice."""
    from datetime import timedelta

    from winback.events.importfile import Rejected, read_events
    from winback.events.schema import FutureLimit

    settings = _settings()
    container = _prepare(settings)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
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
            for number, item in read_events(file, FutureLimit(container.clock.now(), skew)):
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
        console.print(f"[yellow]line {item.line}:[/yellow] {escape(item.reason)}")
    if len(rejected) > 100:
        console.print(f"… and {len(rejected) - 100} more rejected lines")
    typer.echo(
        f"imported {accepted} events, {duplicates} already present, {len(rejected)} rejected"
    )
    if rejected:
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[
        int | None, typer.Option(help="Port to serve on [WINBACK_PORT, else 8000].")
    ] = None,
    rate: Annotated[float, typer.Option(min=0.1, help="Events per second, at most.")] = 20.0,
    events: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    database: Annotated[Path, typer.Option(help="SQLite file (recreated).")] = Path(
        "winback-demo.db"
    ),
    industry: Annotated[
        str, typer.Option(help="The simulated company: saas, telecom, retail, travel, bank.")
    ] = "telecom",
    customers: Annotated[int, typer.Option(min=1, help="Its customers.")] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same company.")] = 7,
    speed: Annotated[
        float,
        typer.Option(min=0.01, help="Simulated hours per real second (the simulated clock)."),
    ] = 1.0,
) -> None:
    """Start Winback on SQLite and stream a simulated company's events into it, live, with a
    simulated team working the cases."""
    from winback.bootstrap import build_runtime
    from winback.demo import (
        LEAD,
        TEAM_AGENTS,
        DemoCompany,
        DemoTeam,
        stream,
        write_demo_config,
    )
    from winback.sim.industries import INDUSTRIES

    if industry not in INDUSTRIES:
        console.print(f"[red]error:[/red] --industry is one of {', '.join(INDUSTRIES)}")
        raise typer.Exit(2)
    config_dir = write_demo_config(database.with_name(f"{database.stem}-config"))
    settings = _settings(
        database_url=f"sqlite:///{database}",
        port=port,
        log_level="warning",
        config_dir=config_dir,
        demo_mode=True,
    )
    sock = _listen(settings)  # a port in use stops here, before the banner and the database
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    base = f"http://{settings.host}:{settings.port}"
    stop = threading.Event()
    company = DemoCompany(industry=industry, customers=customers, seed=seed)

    def started(server: Any) -> None:
        from winback.demo import create_demo_identities

        people, token = create_demo_identities(settings.database_url)
        typer.echo(f"Log in at {base}/console (or POST /v1/auth/login with name and password) as:")
        for name, role, password in people:
            typer.echo(f"  {role:<8} {name:<6} password {password}")
        typer.echo(
            "The demo's event stream uses its own API key (scopes events:write, cases:read, "
            "customers:read); these passwords are new for every demo run.\n"
            f"  curl -H 'Authorization: Bearer {token}' {base}/v1/cases"
        )

        def run() -> None:
            stream(
                base, stop, rate=rate, limit=events, company=company, speed=speed,
                report=typer.echo, token=token,
            )  # fmt: skip
            if events is not None:
                server.should_exit = True

        team = DemoTeam(build_runtime(settings), TEAM_AGENTS, LEAD)
        threading.Thread(target=run, name="winback-demo", daemon=True).start()
        threading.Thread(target=team.run, args=(stop,), name="winback-team", daemon=True).start()

    typer.echo(
        f"Winback demo on SQLite ({database}): a simulated {industry} company with "
        f"{customers} customers (seed {seed}), {speed:g} simulated hour(s) per second, and a "
        f"simulated team ({', '.join(TEAM_AGENTS)}; lead {LEAD}) working the cases. "
        f"Configuration: {config_dir}/. Look at:\n"
        f"  {base}/console         the console: the queue, cases, approvals\n"
        f"  {base}/v1/cases?open=true&sort=due  the queue as JSON, earliest SLA deadline first\n"
        f"  {base}/docs            the API, interactive\n"
        f"  {base}/metrics         Prometheus metrics\n"
        "Every 25 events: events sent, cases opened, customers at risk (churn risk 30%+ within "
        "90 days). Ctrl-C to stop."
    )
    try:
        _serve(settings, on_started=started, sock=sock)
    finally:
        stop.set()


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal and os.environ.get("CI") is not None,
    )


@app.command()
def simulate(
    industry: Annotated[str, typer.Option(help="saas, telecom, retail, travel or bank.")] = "saas",
    customers: Annotated[
        int | None, typer.Option(min=1, help="Customers [default: 1000; 3000 with --compare].")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Simulated days.")] = 90,
    seed: Annotated[int, typer.Option(help="Same seed, same company, same events.")] = 7,
    out: Annotated[
        Path | None, typer.Option(help="Write the events here as JSONL ('-': stdout).")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write the hidden ground truth here as JSONL.")
    ] = None,
    start: Annotated[
        str, typer.Option(help="When the simulation starts (RFC 3339).")
    ] = "2026-01-05T00:00:00Z",
    policy: Annotated[
        str, typer.Option(help="Who responds to customers: none, helpdesk (open loop).")
    ] = "none",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="Run the company closed loop under none, helpdesk and Winback."
        ),
    ] = False,
    paradox: Annotated[
        float | None, typer.Option(min=0, help="Size of the recovery paradox [0.15].")
    ] = None,
    recovery_effect: Annotated[
        float | None,
        typer.Option(min=0, help="Scale of every reaction to a response; 0 turns it off [1]."),
    ] = None,
    step_minutes: Annotated[
        float, typer.Option(min=1, max=240, help="Closed-loop step in simulated minutes.")
    ] = 10.0,
) -> None:
    """Simulate a company's customers and events (with hidden ground truth), or --compare
    response policies on it."""
    from datetime import datetime

    from winback.sim.compare import compare as run_compare
    from winback.sim.compare import drive, with_response
    from winback.sim.generator import SimConfig, Simulation

    try:
        began = datetime.fromisoformat(start)
        if began.tzinfo is None:
            raise ValueError("needs a UTC offset")
        config = SimConfig(
            industry=industry,
            customers=customers or (3000 if compare else 1000),
            days=days,
            seed=seed,
            start=began,
            record_truth=truth is not None,
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    changes = {"paradox": paradox, "effect": recovery_effect}
    config = with_response(config, **{k: v for k, v in changes.items() if v is not None})
    if compare:
        if out is not None or truth is not None:
            console.print("[red]error:[/red] --compare writes a table, not --out or --truth")
            raise typer.Exit(2)
        _compare(config, run_compare, step_minutes)
        return
    if policy not in ("none", "helpdesk"):
        console.print("[red]error:[/red] --policy is none or helpdesk (Winback: use --compare)")
        raise typer.Exit(2)
    if out is None:
        console.print("[red]error:[/red] give --out FILE (or --out - for stdout)")
        raise typer.Exit(2)
    _simulate(config, Simulation(config), drive, policy, out, truth, step_minutes)


def _simulate(
    config: Any, sim: Any, drive: Any, policy: str, out: Path, truth: Path | None, step: float
) -> None:
    import time

    import orjson

    from winback.sim.truth import truth_records

    began = time.perf_counter()
    handle = sys.stdout.buffer if str(out) == "-" else out.open("wb")
    written = 0

    def sink(events: list[dict[str, Any]]) -> None:
        nonlocal written
        handle.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
        written += len(events)

    try:
        with _progress(f"simulating {config.industry}") as progress:
            task = progress.add_task("simulate", total=config.days)

            def advanced(t: float) -> None:
                progress.update(task, completed=min(config.days, int(t // 24)))

            if policy == "none":
                day = 0.0
                while day < sim.horizon:
                    day = min(sim.horizon, day + 24.0)
                    sink(sim.advance(day))
                    advanced(day)
            else:
                drive(sim, policy, step_minutes=step, sink=sink, on_progress=advanced)
    finally:
        if handle is not sys.stdout.buffer:
            handle.close()
    if truth is not None:
        with truth.open("wb") as t_handle:
            for record in truth_records(sim, policy):
                t_handle.write(orjson.dumps(record) + b"\n")
    summary = sim.summary()
    console.print(
        f"simulated {config.customers} {config.industry} customers over {config.days} days "
        f"(seed {config.seed}, policy {policy}): {written} events, {summary['churned']} churned "
        f"({summary['churn_rate']:.1%}), in {time.perf_counter() - began:.1f}s"
    )


def _compare(config: Any, run_compare: Any, step: float) -> None:
    import time

    from winback.sim.compare import POLICY_NAMES

    began = time.perf_counter()
    with _progress("comparing") as progress:
        tasks = {p: progress.add_task(p, total=config.days) for p in POLICY_NAMES}

        def advanced(policy: str, t: float) -> None:
            progress.update(tasks[policy], completed=min(config.days, int(t // 24)))

        try:
            results = run_compare(config, step_minutes=step, on_progress=advanced)
        except RuntimeError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    base = results[0]
    currency = (
        __import__("winback.sim.industries", fromlist=["INDUSTRIES"])
        .INDUSTRIES[config.industry]
        .currency
    )
    typer.echo(
        f"{config.customers} {config.industry} customers, {config.days} days, seed "
        f"{config.seed}; revenue is annual, in {currency}\n"
    )
    typer.echo(
        "| policy | churned | churn rate | customers kept | revenue kept | churn prevented "
        "| revenue saved | remedy cost | problems acknowledged | median hours to acknowledge |"
    )
    typer.echo("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ack = "-" if r.median_ack_hours is None else f"{r.median_ack_hours:.2f}"
        typer.echo(
            f"| {r.policy} | {r.churned} | {r.churn_rate:.2%} | {r.customers_kept} "
            f"| {r.revenue_kept:,.0f} | {base.churned - r.churned} "
            f"| {base.revenue_lost - r.revenue_lost:,.0f} | {r.remedy_cost:,.0f} "
            f"| {r.acknowledged} of {r.failures} | {ack} |"
        )
    console.print(f"compared in {time.perf_counter() - began:.1f}s")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
