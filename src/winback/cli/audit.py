"""``winback audit verify`` and ``winback audit list``: check and read the audit trail
(see docs/audit.md).

``verify`` walks the hash chain and names the first broken record (exit status 1); it prints
the head (sequence number and hash) so that it can be kept outside the database and given back
later as ``--anchor SEQ:HASH``, which also catches records cut off the end or a chain rewritten
from scratch; ``--since-anchor`` checks only the records after the anchor. ``--checkpoint FILE``
does both for a scheduled check: it verifies from the head stored in FILE (a file outside the
database) and stores the new head there when the trail is intact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

audit_app = typer.Typer(
    help="The audit trail: verify its chain, list records.", no_args_is_help=True
)
console = Console(stderr=True)

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


@contextmanager
def _connection() -> Iterator[Any]:
    """A connection to the configured database, refusing one whose schema is not current."""
    from winback.config import ConfigError, load_settings
    from winback.store import migrate
    from winback.store.engine import make_engine

    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if migrate.pending(conn):
                console.print(
                    "[red]error:[/red] the database schema is not current; run `winback db upgrade`"
                )
                raise typer.Exit(2)
            yield conn
    finally:
        engine.dispose()


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = _ANCHOR.match(value.strip().lower())
    if match is None:
        raise typer.BadParameter(
            "SEQ:HASH, as `winback audit verify` prints it", param_hint="--anchor"
        )
    return int(match.group(1)), match.group(2)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "an ISO 8601 time, e.g. 2026-12-01T00:00Z", param_hint=name
        ) from None
    if at.tzinfo is None:
        raise typer.BadParameter("give the time zone, e.g. 2026-12-01T00:00Z", param_hint=name)
    return at


@audit_app.command("verify")
def verify_command(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier verify, kept outside the database."),
    ] = None,
    since_anchor: Annotated[
        bool, typer.Option("--since-anchor", help="Check only the records after the anchor.")
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="A file outside the database holding the last verified head: verify from it, "
            "then store the new head in it.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Walk the hash chain; exit 1 naming the first edited, deleted, reordered or inserted
    record."""
    from winback.store.audit import verify

    fixed = _anchor(anchor)
    if checkpoint is not None:
        if fixed is not None:
            raise typer.BadParameter("give --anchor or --checkpoint", param_hint="--checkpoint")
        if checkpoint.exists():
            fixed = _anchor(checkpoint.read_text())
            since_anchor = True
    if since_anchor and fixed is None:
        raise typer.BadParameter("needs --anchor", param_hint="--since-anchor")
    with _connection() as conn:
        result = verify(conn, anchor=fixed, since_anchor=since_anchor)
    if not result.ok:
        console.print(
            f"[red]error:[/red] the audit trail is broken at record {result.broken_seq}: "
            f"{escape(str(result.problem))} ({result.checked} record(s) before it verified)",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    if result.head_seq == 0:
        typer.echo("the audit trail is empty")
        return
    typer.echo(f"the audit trail is intact: {result.checked} record(s) verified")
    typer.echo(f"head: {result.head_seq}:{result.head_hash}")
    if checkpoint is not None:
        partial = checkpoint.with_name(checkpoint.name + ".new")
        partial.write_text(f"{result.head_seq}:{result.head_hash}\n")
        partial.replace(checkpoint)  # atomic: a crash leaves the old head, never half a line


@audit_app.command("list")
def list_command(
    actor: Annotated[str | None, typer.Option(help="Only this actor, e.g. user:ana.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. case.assign.")] = None,
    subject_type: Annotated[str | None, typer.Option(help="Only this subject type.")] = None,
    subject_id: Annotated[str | None, typer.Option(help="Only this subject id.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only records about this customer.")] = None,
    since: Annotated[str | None, typer.Option(help="At or after this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    cursor: Annotated[
        int | None, typer.Option(min=1, help="Records after this sequence number.")
    ] = None,
    oldest_first: Annotated[bool, typer.Option("--oldest-first", help="Oldest first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document a line.")] = False,
) -> None:
    """List audit records, newest first."""
    from winback.store.audit import AuditFilter, list_records

    where = AuditFilter(
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        customer=customer,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
    )
    with _connection() as conn:
        records = list_records(
            conn, where, limit=limit, after_seq=cursor, descending=not oldest_first
        )
    for r in records:
        if as_json:
            typer.echo(orjson.dumps(r).decode())
            continue
        change = ""
        if r["before"] or r["after"]:
            change = f"  {_short(r['before'])} -> {_short(r['after'])}"
        subject = r["subject_type"] + ("" if r["subject_id"] is None else f":{r['subject_id']}")
        typer.echo(
            f"{r['seq']:>8}  {r['at'].isoformat(timespec='seconds')}  {r['actor']} "
            f"({r['credential']})  {r['action']}  {subject}{change}"
        )


def _short(value: Any) -> str:
    return "-" if not value else orjson.dumps(value).decode()
