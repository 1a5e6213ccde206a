"""The e-mail channel against a real SMTP server that requires STARTTLS and a login."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from winback.outreach.channels.base import DeliveryFailed, OutgoingMessage
from winback.outreach.channels.smtp import SmtpChannel, SmtpConfig, message_id

from .outreach_support import smtp_server

MESSAGE = OutgoingMessage(
    key="case.reply:7:v3:0",
    channel="email",
    to="ana@example.com",
    text="Your parcel left today.",
    subject="Re: your case #7",
    html="<p>Your parcel left today.</p>",
)


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the STARTTLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    subprocess.run(command, check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"winback", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def test_starttls_and_login_deliver_and_a_wrong_password_is_permanent(
    tls_context: ssl.SSLContext,
) -> None:
    secure = {
        "tls_context": tls_context,
        "require_starttls": True,
        "auth_required": True,
        "auth_require_tls": True,
        "authenticator": authenticator,
    }
    with smtp_server(**secure) as (port, received):
        config = SmtpConfig(
            "127.0.0.1",
            port,
            sender="care@winback.test",
            starttls=True,
            username="winback",
            password="s3cret",
            verify_tls=False,  # the test's self-signed certificate
        )
        ref = SmtpChannel(config).send(MESSAGE)
        [mail] = received.accepted
        assert ref == mail["Message-ID"] == message_id(MESSAGE.key, "care@winback.test")
        assert mail["X-Winback-Key"] == MESSAGE.key
        assert [part.get_content_type() for part in mail.get_payload()] == [
            "text/plain",
            "text/html",
        ]

        wrong = SmtpConfig(
            "127.0.0.1", port, starttls=True, username="winback", password="nope", verify_tls=False
        )
        with pytest.raises(DeliveryFailed) as refused:
            SmtpChannel(wrong).send(MESSAGE)
        assert refused.value.permanent
        assert "535" in str(refused.value)

        plain = SmtpConfig("127.0.0.1", port)  # no STARTTLS: the server refuses
        with pytest.raises(DeliveryFailed):
            SmtpChannel(plain).send(MESSAGE)
        checked = SmtpConfig("127.0.0.1", port, starttls=True)  # verifies the certificate
        with pytest.raises(DeliveryFailed) as untrusted:
            SmtpChannel(checked).send(MESSAGE)
        assert not untrusted.value.permanent
        assert len(received.accepted) == 1
