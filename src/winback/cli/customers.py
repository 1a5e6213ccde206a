"""``winback customers …``: export everything held about a customer, or erase them."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console

customers_app = typer.Typer(
    help="Customers' data: export (right of access), erase (right to erasure).",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _operator() -> dict[str, str]:
    """The audit trail's actor for the command line: the operator's login, through the CLI."""
    return {"actor": f"operator:{getpass.getuser()}", "credential": "cli"}


@customers_app.command("export")
def export(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    redacted: Annotated[
        bool,
        typer.Option(
            "--redacted/--raw",
            help="Redact contact details and free text (as the API does for callers who may "
            "not see raw data); the default is the whole, raw record for the customer.",
        ),
    ] = False,
) -> None:
    """Print everything held about a customer as JSON (stdout)."""
    from winback.bootstrap import make_store_engine
    from winback.clock import SystemClock
    from winback.config import ConfigError, load_settings
    from winback.errors import NotFound
    from winback.services.privacy import export_customer

    try:
        engine = make_store_engine(load_settings())
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        data = export_customer(
            engine, SystemClock(), customer_id, reveal=not redacted, **_operator()
        )
    except NotFound as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


@customers_app.command("erase")
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask for confirmation (scripts).")
    ] = False,
) -> None:
    """Erase a customer: pseudonymise them in every table, irreversibly (asks first)."""
    from winback.bootstrap import make_store_engine
    from winback.clock import SystemClock
    from winback.config import ConfigError, load_settings
    from winback.errors import WinbackError
    from winback.services.privacy import erase_customer

    if not yes:
        typer.confirm(
            f"Erase customer {customer_id!r} from every table? This cannot be undone",
            abort=True,
        )
    try:
        engine = make_store_engine(load_settings())
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        result = erase_customer(engine, SystemClock(), customer_id, **_operator())
    except WinbackError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    changed = ", ".join(f"{table} {n}" for table, n in result.counts.items() if n)
    typer.echo(f"erased: rows pseudonymised per table: {changed or 'none'}")
