"""End-to-end support: real ``winback`` processes on loopback, real SQLite files.

Everything here runs the installed console script (``.venv/bin/winback``) as a subprocess with
an explicit ``WINBACK_*`` environment and a working directory under ``tmp_path``, and talks to
it over HTTP with httpx. Servers start in their own session (process group) so that stopping
or crashing one takes its processor child process with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

WINBACK = Path(sys.executable).parent / "winback"
HOST = "127.0.0.1"
READY_TIMEOUT = 90.0  # seconds; the machine is small and shared
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"  # an absolute path gives sqlite:////abs/path.db


def winback_env(database: Path | None = None, **settings: object) -> dict[str, str]:
    """The current environment without any ``WINBACK_*`` or ``CI``, plus explicit settings.

    ``settings`` are given without the prefix: ``winback_env(db, port=8123)`` sets
    ``WINBACK_PORT=8123``. Rich output is made wide so that messages are not wrapped.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_") and k != "CI"}
    env.update({"COLUMNS": "250", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"})
    env["WINBACK_HOST"] = HOST
    env["WINBACK_SECRET_KEY"] = os.environ["WINBACK_SECRET_KEY"]  # tests/conftest.py sets it
    env["WINBACK_LOG_LEVEL"] = "info"
    if database is not None:
        env["WINBACK_DATABASE_URL"] = sqlite_url(database)
    for key, value in settings.items():
        env[f"WINBACK_{key.upper()}"] = str(value)
    return env


def admin_key(database: Path | str, name: str = "e2e-admin") -> str:
    """Create an API key with the ``admin`` scope in a (migrated) Winback database (a SQLite
    file or a URL), straight through the identity service, as ``winback keys create`` does;
    returns its token."""
    from datetime import UTC, datetime

    from winback.identity import SYSTEM
    from winback.services.identity import create_key
    from winback.store.engine import make_engine, write_connection

    engine = make_engine(database if isinstance(database, str) else sqlite_url(database))
    try:
        with write_connection(engine) as conn, conn.begin():
            token, _ = create_key(conn, SYSTEM, name, ["admin"], datetime.now(UTC))
    finally:
        engine.dispose()
    return token


def deadline_wait(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            pytest.fail(f"timed out after {timeout:.0f}s: {text}")
        time.sleep(interval)


def read_only(database: Path) -> sqlite3.Connection:
    """A read-only connection to a Winback SQLite file (safe while a server writes to it)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def query(database: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = read_only(database)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(database: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = query(database, sql, params)
    return rows[0][0] if rows else None


def log_tail(path: Path, chars: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return text[-chars:] if text else "(no output)"


def start_worker(env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``winback worker`` in its own session, its output going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(WINBACK), "worker"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Server:
    """One ``winback serve`` process (and its processor child) on a free loopback port."""

    database: Path
    workdir: Path
    settings: dict[str, object] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    token: str | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "server-0.log"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A client with the server's admin API key (made on its first start)."""
        headers = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def output(self) -> str:
        return log_tail(self.log_path)

    def start(self, timeout: float = READY_TIMEOUT) -> Server:
        """Start (or restart, on the same database) and wait until ``/readyz`` says ready."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = free_port()
        self.starts += 1
        self.log_path = self.workdir / f"server-{self.starts}.log"
        env = winback_env(self.database, port=self.port, **self.settings)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(WINBACK), "serve"],
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        if self.token is None:
            # Several servers may share one PostgreSQL database: each its own key.
            url = self.settings.get("database_url")
            name = f"e2e-admin-{self.port}"
            self.token = admin_key(str(url) if url else self.database, name)
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                code = self.proc.poll()
                if code is not None:
                    pytest.fail(
                        f"`winback serve` exited with {code} before it was ready; "
                        f"its output:\n{self.output()}"
                    )
                try:
                    response = client.get("/readyz")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        body: dict[str, Any] = response.json()
                        return body
                    last = f"{response.status_code} {response.text}"
                time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"`winback serve` on {self.base_url} was not ready within {timeout:.0f}s "
            f"(last /readyz: {last}); its output:\n{self.output()}"
        )

    def wait_processed(self, timeout: float = 60.0) -> None:
        """Wait until ``/readyz`` reports a processor lag of 0."""
        last: dict[str, Any] = {}

        def caught_up() -> bool:
            nonlocal last
            with self.client() as client:
                last = client.get("/readyz").json()
            return last.get("processor_lag") == 0

        deadline_wait(
            caught_up,
            timeout=timeout,
            interval=0.1,
            message=lambda: f"processor lag not 0 (last /readyz {last}); output:\n{self.output()}",
        )

    def kill(self) -> None:
        """Crash: SIGKILL the whole process group (server, processor child, helpers)."""
        if self.proc is None:
            return
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM the group, wait, then SIGKILL whatever is left. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        # Anything of the group still around (the processor child, the resource tracker).
        _signal_group(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120.0) -> Result:
    """Run ``winback ARGS`` to completion and capture its output."""
    done = subprocess.run(
        [str(WINBACK), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Result(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )
