"""Schema migrations (Alembic): one history for SQLite and PostgreSQL.

``winback db upgrade`` calls :func:`upgrade` and reports each migration as it is applied;
``serve`` and the other commands call it on start for the embedded SQLite default, inside
:func:`quiet` so that Alembic's INFO lines do not interleave with their own output; ``/readyz``
uses :func:`pending` to report a schema that is behind the code.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(
    engine: Engine, revision: str = "head", on_applied: Callable[[str, str], Any] | None = None
) -> None:
    """Upgrade to ``revision``; ``on_applied(revision, description)`` after each migration."""
    with engine.begin() as conn:
        config = alembic_config(conn)
        if on_applied is not None:

            def applied(*, step: Any, **_: Any) -> None:
                script = step.up_revision
                on_applied(step.up_revision_id, (script.doc or "").strip() if script else "")

            config.attributes["on_version_apply"] = applied
        command.upgrade(config, revision)


def pending_revisions(conn: Connection, revision: str = "head") -> list[str]:
    """The revisions an upgrade to ``revision`` would apply, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(conn)
    steps = script.iterate_revisions(revision, current)  # newest first
    return [r.revision for r in reversed(list(steps))]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep Alembic's INFO lines ("Context impl…", "Running upgrade…") out of the output."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the history is never empty
        raise RuntimeError("no migrations found")
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's revision (read directly: cheap enough for every ``/readyz`` probe)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def pending(conn: Connection) -> bool:
    """True when the database is not at the code's head revision."""
    return current_revision(conn) != head_revision()
