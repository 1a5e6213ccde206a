"""Fixtures shared by every suite: databases (SQLite always, PostgreSQL when configured) and time.

PostgreSQL tests need ``WINBACK_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/
test``); without it they are skipped with a visible reason. Each PostgreSQL test gets a schema of
its own (``wb_<hex>``), selected for every connection through the URL's ``options`` parameter,
and dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import FrozenClock
from winback.store import migrate
from winback.store.engine import make_engine

#: The server secret every test process uses (settings read WINBACK_SECRET_KEY from the
#: environment; the API refuses to start without a strong one outside demo mode).
TEST_SECRET = "winback-test-secret-7Qm2xLp9Vz4Rk8Tn"
os.environ.setdefault("WINBACK_SECRET_KEY", TEST_SECRET)

POSTGRES_ENV = "WINBACK_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = f"{POSTGRES_ENV} is not set: PostgreSQL tests skipped"

FROZEN_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def with_search_path(url: str, schema: str) -> str:
    """``url`` with psycopg's ``options`` set so that every connection uses ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


# -- SQLite -----------------------------------------------------------------------------------
@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'winback.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


# -- PostgreSQL -------------------------------------------------------------------------------
@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_schema()


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """Like ``postgres_url``, shared by the tests of one module."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_SKIP_REASON)
    schema = f"wb_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(base, schema)
        with admin.begin() as conn:
            # A connection a test leaked must not hang the whole run on the drop.
            conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


# -- Either, parametrised -------------------------------------------------------------------
@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """A URL to an empty database (no migrations applied): SQLite, then PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine: the test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    migrated: Engine = request.getfixturevalue(name)
    return migrated
