"""No credential or session id ever appears in a log line.

The real app runs under a real uvicorn on loopback, with the access log on and uvicorn at its
most talkative level (``trace``: it logs each ASGI scope, headers included), and a handler on
the root logger and on every uvicorn logger captures every record. Each case sends a request
carrying a secret (a bearer key, a session cookie, an OpenID Connect code and state) and the
secret must appear in no formatted line, no argument and no traceback.

``CASES`` is a list of (request, secret) pairs: once the identity core is merged, add its real
flows (a password login, a created API key, its session cookie, its CSRF token) here.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from winback.api.app import create_app
from winback.bootstrap import build_runtime
from winback.clock import FrozenClock
from winback.config import Settings
from winback.store import migrate

from .oidc_fake import CLIENT_ID, CLIENT_SECRET, FakeIssuer, running

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LOGGERS = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "winback", "httpx"]

BEARER = "wbk_test_7Hq2Lr9ZxP4mN8sV3cT6"
SESSION = "sess_4Kd9Qw2Zr7Xy5Pb8Nm3Vt6Lh"
CSRF = "csrf_8Jv3Nq6Wx2Rt9Yk5Lp7Mz4"
CODE = "code_5Tn8Qx2Lw7Rz4Kv9Pm3Jh6"
STATE = "state_3Mw7Xq9Rt2Kz5Nv8Lp4Jy6"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None


BEARER_AUTH = {"Authorization": f"Bearer {BEARER}"}
SESSION_COOKIE = {"winback_session": SESSION}
CALLBACK = "/v1/auth/oidc/callback"
SIGN_IN = {"code": CODE, "state": STATE}

CASES = [
    pytest.param(Call("GET", "/v1/cases", BEARER_AUTH), BEARER, id="bearer-read"),
    pytest.param(
        Call("POST", "/v1/events", BEARER_AUTH, json={"events": [{}]}), BEARER, id="bearer-422"
    ),
    pytest.param(Call("GET", "/no/such/route", BEARER_AUTH), BEARER, id="bearer-404"),
    pytest.param(Call("GET", "/v1/cases", cookies=SESSION_COOKIE), SESSION, id="session-read"),
    pytest.param(
        Call("POST", "/v1/cases/1/actions", {"X-CSRF-Token": CSRF}, SESSION_COOKIE, json={}),
        SESSION,
        id="session-post",
    ),
    pytest.param(
        Call("POST", "/v1/cases/1/actions", {"X-CSRF-Token": CSRF}, SESSION_COOKIE, json={}),
        CSRF,
        id="csrf-token",
    ),
    pytest.param(Call("GET", CALLBACK, params=SIGN_IN), CODE, id="oidc-code"),
    pytest.param(Call("GET", CALLBACK, params=SIGN_IN), STATE, id="oidc-state"),
]


class Capture(logging.Handler):
    """Every record, formatted the way a log file would show it."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))
        self.lines.extend(str(v) for k, v in vars(record).items() if k not in {"args", "msg"})

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Served:
    base: str
    logs: Capture
    fake: FakeIssuer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("logs")
    clock = FrozenClock(NOW)
    with running(FakeIssuer(clock)) as fake:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(
            database_url=f"sqlite:///{tmp / 'w.db'}",
            processor="off",
            models_dir=tmp / "models",
            oidc_issuer=fake.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_redirect_url=f"{base}/v1/auth/oidc/callback",
            oidc_role_map={"support-agents": "agent"},
        )
        container = build_runtime(settings, clock)
        migrate.upgrade(container.engine)
        app = create_app(container)
        # uvicorn configures its loggers when its Config is made: capture after that.
        config = uvicorn.Config(app, log_level="trace", access_log=True, lifespan="on")
        server = uvicorn.Server(config)
        capture = Capture()
        saved = {name: logging.getLogger(name).level for name in LOGGERS}
        for name in LOGGERS:
            logging.getLogger(name).addHandler(capture)
            logging.getLogger(name).setLevel(1)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert thread.is_alive(), "the server stopped"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.01)
            yield Served(base, capture, fake)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            for name, level in saved.items():
                logging.getLogger(name).removeHandler(capture)
                logging.getLogger(name).setLevel(level)
            container.close()


def during(served: Served, action: Callable[[], None]) -> str:
    """What was logged while ``action`` ran (and the server finished answering)."""
    start = len(served.logs.lines)
    action()
    time.sleep(0.05)  # uvicorn writes the access line after the response has gone
    return "\n".join(served.logs.lines[start:])


@pytest.mark.parametrize(("call", "secret"), CASES)
def test_a_credential_in_a_request_is_never_logged(served: Served, call: Call, secret: str) -> None:
    responses: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=served.base, cookies=call.cookies) as client:
            responses.append(
                client.request(
                    call.method, call.path, headers=call.headers, params=call.params, json=call.json
                )
            )

    logged = during(served, send)
    assert responses[0].status_code < 500, responses[0].text
    assert call.path in logged, "the request was not logged at all: the test would prove nothing"
    assert secret not in logged


def test_a_whole_single_sign_on_leaves_no_code_token_or_secret_in_the_logs(
    served: Served,
) -> None:
    def sign_in() -> None:
        with httpx.Client(base_url=served.base) as browser:
            login = browser.get("/v1/auth/oidc/login")
            assert login.status_code == 302
            back = httpx.get(login.headers["location"])
            assert back.status_code == 302
            done = browser.get(back.headers["location"])
            assert done.status_code == 303, done.text  # a session, then the console
            served.fake.issued.append(login.cookies["winback_oidc"])
            served.fake.issued.append(done.cookies["winback_session"])  # never logged either

    logged = during(served, sign_in)
    assert "/v1/auth/oidc/callback" in logged
    assert served.fake.issued  # the code, the access token, the ID token, the sign-in cookie
    for secret in [*served.fake.issued, CLIENT_SECRET]:
        assert secret not in logged
