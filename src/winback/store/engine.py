"""Engines for SQLite and PostgreSQL, with the settings durability depends on.

SQLite: WAL journal, ``synchronous=FULL`` (every commit is fsynced: an acknowledged event
survives power loss), a generous busy timeout (ingest and the processor are separate writers),
and transactions we begin ourselves so that writers can take the lock up front with
``BEGIN IMMEDIATE`` (see :func:`write_connection`) instead of failing on a lock upgrade.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from winback.store.types import json_dumps

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

_IMMEDIATE = "winback_immediate"


def normalize_url(url: str) -> str:
    """Map ``postgres://`` / ``postgresql://`` to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 5, **connect_args: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 60, **connect_args},
            poolclass=sa.pool.QueuePool,
            pool_size=pool_size,
            max_overflow=10,
        )
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _sqlite_writer_lock(database: str | None) -> Iterator[None]:
    """Serialise SQLite writers (threads and processes) with a blocking OS lock.

    SQLite's own busy handler makes a waiting writer *sleep* with growing back-off, so a writer
    that commits back to back (the ingest committer) can starve another (the processor) for
    hundreds of milliseconds. A blocked ``flock`` is woken the moment the lock is released.
    Each acquisition opens its own file description, so threads of one process exclude each
    other too.
    """
    if fcntl is None or not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for a read-then-write transaction; commit or roll back inside the block.

    On SQLite it holds the writer lock (above) and begins with ``BEGIN IMMEDIATE``.
    """
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        with _sqlite_writer_lock(engine.url.database):
            yield conn.execution_options(**{_IMMEDIATE: True})
