"""Schema migrations (Alembic): one history for SQLite and PostgreSQL.

``winback db upgrade`` calls :func:`upgrade`; ``serve`` calls it on start for the embedded
SQLite default; ``/readyz`` uses :func:`pending` to report a schema that is behind the code.
"""

from __future__ import annotations

from pathlib import Path

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


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
