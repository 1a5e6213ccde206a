"""Fixtures for the end-to-end tests (helpers live in ``_support``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._support import Server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``winback serve`` processes for this test; all are stopped afterwards.

    ``start_server(database=None, **settings)``: settings are ``WINBACK_*`` without the
    prefix (``max_body_bytes=2048``, ``processor="off"``).
    """
    servers: list[Server] = []

    def start(database: Path | None = None, **settings: object) -> Server:
        workdir = tmp_path / f"server{len(servers)}"
        workdir.mkdir()
        server = Server(database or workdir / "w.db", workdir, dict(settings))
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a module's tests (tests use unique ids; see ``uid``)."""
    workdir = tmp_path_factory.mktemp("server")
    srv = Server(workdir / "w.db", workdir)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def uid() -> str:
    """A short unique prefix for the ids a test sends."""
    return uuid.uuid4().hex[:10]


from .browser import browser  # noqa: E402, F401  (Chromium for the console's browser tests)
