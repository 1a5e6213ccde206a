"""``winback users …`` and ``winback keys …``: people and API keys from the command line.

The command line acts as the local operator (``operator:<login>``), who may do everything: it
is how the first admin is made (``winback users create ana --role admin``). A password is
prompted for, read from standard input (``--password-stdin``), or generated and printed once
(``--generate-password``); an API key's token is printed once and never stored.
"""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from winback.config import ConfigError, load_settings

users_app = typer.Typer(help="People: create, list, disable, change role.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for machines: create, list, revoke.", no_args_is_help=True)
console = Console(stderr=True)


def _engine() -> Any:
    from winback.store import migrate
    from winback.store.engine import make_engine

    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    if settings.is_sqlite and settings.auto_migrate:
        with migrate.quiet():
            migrate.upgrade(engine)
    with engine.connect() as conn:
        if migrate.pending(conn):
            console.print(
                "[red]error:[/red] the database schema is not current; run `winback db upgrade`"
            )
            raise typer.Exit(2)
    return engine


def _operator() -> Any:
    from winback.identity import Principal

    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a container)
        login = "unknown"
    return Principal(kind="operator", name=login, role=None, credential="cli")


def _run(action: Any) -> Any:
    """Run ``action(conn, operator, now)`` in one write transaction; errors become messages."""
    from winback.clock import SystemClock
    from winback.errors import WinbackError
    from winback.store.engine import write_connection

    engine = _engine()
    try:
        with write_connection(engine) as conn, conn.begin():
            return action(conn, _operator(), SystemClock().now())
    except WinbackError as exc:
        console.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _password(stdin: bool, generate: bool) -> tuple[str | None, bool]:
    """(password, whether it was generated)."""
    if stdin and generate:
        console.print("[red]error:[/red] --password-stdin or --generate-password, not both")
        raise typer.Exit(2)
    if generate:
        return secrets.token_urlsafe(18), True
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line, False
    if not sys.stdin.isatty():
        console.print(
            "[red]error:[/red] no terminal to ask for a password: pass --password-stdin "
            "or --generate-password"
        )
        raise typer.Exit(2)
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        console.print("[red]error:[/red] the passwords differ")
        raise typer.Exit(2)
    return first, False


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name (lower case), e.g. ana.")],
    role: Annotated[str, typer.Option(help="agent, lead, manager, admin or analyst.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate one and print it once.")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    team: Annotated[str | None, typer.Option(help="Team (created if new).")] = None,
) -> None:
    """Create a person (an agent or lead joins the routing roster). Without a password option
    the password is asked for twice."""
    from winback.services.identity import create_user

    password, generated = _password(password_stdin, generate_password)
    user = _run(
        lambda conn, op, now: create_user(
            conn,
            op,
            name=name,
            role=role,
            password=password,
            now=now,
            display_name=display_name,
            email=email,
            team=team,
        )
    )
    typer.echo(f"created {user.role} {user.name}")
    if generated:
        typer.echo(f"password (shown once): {password}")


@users_app.command("list")
def users_list() -> None:
    """Every person: name, role, team, active, last login."""
    from winback.store.identity import list_users

    for user in _run(lambda conn, op, now: list_users(conn)):
        last = user.last_login_at.isoformat() if user.last_login_at else "never"
        state = "active" if user.active else "disabled"
        typer.echo(f"{user.name}\t{user.role}\t{user.team or '-'}\t{state}\tlast login {last}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a person: no more logins, their sessions end, routing stops giving them cases."""
    from winback.services.identity import disable_user

    _run(lambda conn, op, now: disable_user(conn, op, name, now))
    typer.echo(f"disabled {name}")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="agent, lead, manager, admin or analyst.")],
) -> None:
    """Change a person's role (their sessions end, so it applies at once)."""
    from winback.services.identity import set_role

    user = _run(lambda conn, op, now: set_role(conn, op, name, role, now))
    typer.echo(f"{user.name} is now {user.role}")


@users_app.command("set-password")
def users_set_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate one and print it once.")
    ] = False,
) -> None:
    """Set a person's password (their sessions end)."""
    from winback.services.identity import set_password

    password, generated = _password(password_stdin, generate_password)
    assert password is not None
    _run(lambda conn, op, now: set_password(conn, op, name, password, now))
    typer.echo(f"password set for {name}")
    if generated:
        typer.echo(f"password (shown once): {password}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. crm.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="Repeat for several: events:write, cases:read, cases:write, customers:read, "
            "routing:read, routing:write, metrics:read, admin.",
        ),
    ],
) -> None:
    """Create an API key; its token is printed once (only its hash is kept)."""
    from winback.services.identity import create_key

    token, key = _run(lambda conn, op, now: create_key(conn, op, name, scope, now))
    console.print(f"created key {key.id} {key.name} ({', '.join(key.scopes)}); the token:")
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, name, scopes, created, last used, revoked (never the token)."""
    from winback.store.identity import list_keys

    for key in _run(lambda conn, op, now: list_keys(conn)):
        used = key.last_used_at.isoformat() if key.last_used_at else "never used"
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.name}\t{key.prefix}…\t{','.join(key.scopes)}\t{used}\t{state}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's id or name.")]) -> None:
    """Revoke a key; servers stop accepting it within WINBACK_API_KEY_CACHE_SECONDS."""
    from winback.services.identity import revoke_key

    revoked = _run(lambda conn, op, now: revoke_key(conn, op, key, now))
    typer.echo(f"revoked key {revoked.id} {revoked.name}")
