"""Real servers on loopback for the outreach tests: an SMTP server (aiosmtpd) and a small HTTP
server that records requests (a webhook receiver, a fake of Twilio's Messages API)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    """What the SMTP server was handed: every DATA, accepted or refused."""

    accepted: list[Message] = field(default_factory=list)
    refused: list[Message] = field(default_factory=list)
    refuse: Callable[[Message], str | None] = lambda _m: None  # an SMTP reply to refuse with
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.accepted if m["To"] == address]


class _Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content)
        answer = self.received.refuse(message)
        with self.received.lock:
            if answer is not None:
                self.received.refused.append(message)
                return answer
            self.received.accepted.append(message)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(**controller_args: Any) -> Iterator[tuple[int, Received]]:
    received = Received()
    port = free_port()
    controller = Controller(_Handler(received), hostname="127.0.0.1", port=port, **controller_args)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpRecorder:
    requests: list[Request] = field(default_factory=list)
    # (request) -> (status, body); default 200 {}
    answer: Callable[[Request], tuple[int, dict[str, Any]]] = lambda _r: (200, {})
    url: str = ""


@contextmanager
def http_server() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
            recorder.requests.append(request)
            status, doc = recorder.answer(request)
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
