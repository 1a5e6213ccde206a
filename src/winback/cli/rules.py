"""``winback rules check`` and ``winback rules dry-run`` (see docs/playbooks.md)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

rules_app = typer.Typer(
    help="Playbooks: validate, and replay against history.", no_args_is_help=True
)
console = Console(stderr=True)

_SINCE = re.compile(r"^\s*(\d+)\s*([dhwm])\s*$")
_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "m": timedelta(minutes=1),
}

ConfigDirOption = Annotated[
    Path | None,
    typer.Option(help="Configuration directory [WINBACK_CONFIG_DIR].", file_okay=False),
]


def parse_since(value: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m`` → a duration."""
    match = _SINCE.match(value)
    if match is None:
        raise typer.BadParameter(
            "use a number and a unit: 30d, 12h, 2w or 90m", param_hint="--since"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def _settings(config_dir: Path | None) -> Any:
    from winback.config import ConfigError, load_settings

    try:
        return load_settings(**({} if config_dir is None else {"config_dir": config_dir}))
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def check_config(config_dir: Path | None) -> tuple[Any, list[str]]:
    """Load playbooks, remedies, routing and SLA names; return the playbooks and problems."""
    from winback.playbooks.loader import PlaybookError, References, check_references, load_playbooks
    from winback.remedies.config import RemedyConfigError, load_catalogue
    from winback.routing.config import RoutingConfigError, load_routing
    from winback.sla.config import SlaConfigError, load_sla_config

    problems: list[str] = []
    playbooks = None
    try:
        playbooks = load_playbooks(config_dir)
    except PlaybookError as exc:
        problems += exc.problems
    refs: dict[str, frozenset[str] | None] = {}
    try:
        refs["sla_policies"] = frozenset(p.name for p in load_sla_config(config_dir).policies)
    except SlaConfigError as exc:
        problems.append(str(exc))
    try:
        refs["remedies"] = load_catalogue(config_dir).names()
    except RemedyConfigError as exc:
        problems += exc.problems
    try:
        routing = load_routing(config_dir)
        if routing.agents or routing.teams:
            refs["teams"] = frozenset(routing.teams)
            refs["agents"] = frozenset(routing.agents)
    except RoutingConfigError as exc:
        problems += exc.problems
    if playbooks is not None:
        problems += check_references(playbooks, References(**refs))
    return playbooks, problems


@rules_app.command("check")
def check(config_dir: ConfigDirOption = None) -> None:
    """Validate the playbooks (and the names they use: SLA policies, remedies, teams, agents)."""
    directory = config_dir if config_dir is not None else _settings(None).config_dir
    playbooks, problems = check_config(directory)
    if problems:
        # Plain echo: one problem per line, never wrapped (file:line must stay greppable).
        typer.echo("error: " + "\n  ".join(["invalid configuration:", *problems]), err=True)
        raise typer.Exit(2)
    typer.echo(f"{playbooks.source}: ok ({playbooks.version})")
    for book in playbooks.playbooks:
        state = "" if book.enabled else ", disabled"
        typer.echo(
            f"  playbook {book.name} v{book.version} ({book.mode}{state}): {len(book.rules)} rules"
        )
        for rule in book.rules:
            typer.echo(f"    {rule.name}")


def _events_from_file(path: Path) -> Iterator[Any]:
    from winback.events.importfile import Rejected, read_events
    from winback.events.model import Event

    now = datetime.now(UTC)
    for number, item in read_events(path):
        if isinstance(item, Rejected):
            console.print(f"[yellow]skipped[/yellow] {path}:{item.line}: {item.reason}")
            continue
        at = item.occurred_at or now
        data = {**item.payload, "occurred_at": at.isoformat()}
        yield Event(number, item.event_id, item.type, item.customer_id, at, at, data)


def _count_records(path: Path) -> int:
    """Records in an events file, for the progress bar: non-blank lines (less a CSV header)."""
    with path.open("rb") as handle:
        total = sum(1 for line in handle if line.strip())
    return max(0, total - 1) if path.suffix.lower() == ".csv" else total


def _replaying(events: Iterable[Any], total: int, progress: Progress) -> Iterator[Any]:
    task = progress.add_task("replay", total=total)
    for event in events:
        yield event
        progress.advance(task)


def _events_from_store(settings: Any, since: timedelta) -> list[Any]:
    import sqlalchemy as sa

    from winback.bootstrap import make_store_engine
    from winback.store.eventlog import to_event
    from winback.store.tables import events

    engine = make_store_engine(settings)
    try:
        with engine.connect() as conn:  # read-only: never committed
            query = (
                sa.select(events)
                .where(events.c.occurred_at >= datetime.now(UTC) - since)
                .order_by(events.c.seq)
            )
            return [to_event(row) for row in conn.execute(query)]
    finally:
        engine.dispose()


@rules_app.command("dry-run")
def dry_run_command(
    events_file: Annotated[
        Path | None,
        typer.Option(
            "--events", help="A JSONL (or CSV) file of events.", exists=True, dir_okay=False
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Replay the store's event log over this period, e.g. 30d.")
    ] = None,
    config_dir: ConfigDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show what the playbooks would have done with past events, changing nothing."""
    from winback.bootstrap import build_stages
    from winback.playbooks.loader import PlaybookError, load_playbooks
    from winback.remedies.config import RemedyConfigError, load_catalogue
    from winback.services.dryrun import dry_run

    if (events_file is None) == (since is None):
        console.print("[red]error:[/red] give exactly one of --events FILE or --since 30d")
        raise typer.Exit(2)
    settings = _settings(config_dir)
    try:
        playbooks = load_playbooks(settings.config_dir)
        catalogue = load_catalogue(settings.config_dir)
        # Always the playbooks (even with WINBACK_PLAYBOOKS=false: that is what is being tried).
        with_playbooks = settings.model_copy(update={"playbooks": True})
        stages = [s for s in build_stages(with_playbooks) if s.name != "sla"]
    except (PlaybookError, RemedyConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if events_file is not None:
        events: Any = _events_from_file(events_file)
        total = _count_records(events_file)
    else:
        events = _events_from_store(settings, parse_since(since or ""))
        total = len(events)
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal and os.environ.get("CI") is not None,
    )
    with progress:  # on stderr: --json output on stdout stays clean
        replayed = _replaying(events, total, progress)
        report = dry_run(replayed, stages, playbooks.version, catalogue, playbooks.rule_ids())
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    data = report.as_dict()
    typer.echo(
        f"playbooks {data['playbooks']}: {data['events']} events "
        f"({data['from']} … {data['to']}), nothing was changed"
    )
    typer.echo(
        f"cases opened {data['cases_opened']}, signals attached {data['signals_attached']}, "
        f"acknowledgements {data['acknowledgements']}, remedy cost {data['cost']:.2f}"
    )
    typer.echo(
        f"{'rule':44} {'matched':>8} {'opened':>7} {'attached':>8} {'cost':>10}  "
        "priorities / remedies"
    )
    for row in data["rules"]:
        prios = " ".join(f"{k}:{v}" for k, v in row["priorities"].items())
        remedies = " ".join(f"{k}:{v}" for k, v in row["remedies"].items())
        extra = ""
        if row["held_out"] or row["suppressed"]:
            extra = f" held-out:{row['held_out']} suppressed:{row['suppressed']}"
        typer.echo(
            f"{row['rule']:44} {row['matched']:>8} {row['cases_opened']:>7} "
            f"{row['signals_attached']:>8} {row['cost']:>10.2f}  {prios} / {remedies}{extra}"
        )
