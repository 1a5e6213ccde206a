"""E-mail over SMTP (stdlib ``smtplib``): plain text with an optional HTML alternative.

``Message-ID`` is derived from the outbox key (``<wb.<sha256 prefix>@<domain>>``) and the key
itself travels as ``X-Winback-Key``, so a repeat is the same message to the server and to the
customer's mail client (which threads and de-duplicates by ``Message-ID``). STARTTLS, implicit
TLS and authentication are settings. A 5xx answer (a refused recipient, a refused message) is
permanent; a 4xx, a dropped connection or a timeout is retried.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from winback.outreach.channels.base import DeliveryFailed, OutgoingMessage, key_digest


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "winback@localhost"
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    verify_tls: bool = True


def message_id(key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "winback.invalid"
    return f"<wb.{key_digest(key)}@{domain}>"


class SmtpChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._local = threading.local()  # one connection per relay thread, reused

    def build(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(message.key, self.config.sender)
        mail["X-Winback-Key"] = message.key
        for name, value in message.headers.items():
            mail[name] = value
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context()
        if not cfg.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client: smtplib.SMTP
        if cfg.ssl:
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        client.ehlo()
        if cfg.starttls:
            client.starttls(context=context)
            client.ehlo()
        if cfg.username:
            client.login(cfg.username, cfg.password or "")
        return client

    def _client(self) -> tuple[smtplib.SMTP, bool]:
        """This thread's connection, and whether it is a fresh one."""
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None:
            return client, False
        client = self._connect()
        self._local.client = client
        return client, True

    def _drop(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.close()

    def send(self, message: OutgoingMessage) -> str:
        mail = self.build(message)
        try:
            client, fresh = self._client()
            try:
                refused = client.send_message(mail)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if fresh:
                    raise
                # A kept connection the server had closed (an idle timeout): once more on a
                # new one.
                self._drop()
                client, _ = self._client()
                refused = client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            permanent = 500 <= exc.smtp_code < 600
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {text}", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}") from None
        if refused:
            raise DeliveryFailed(f"recipient refused: {refused}", permanent=True)
        return str(mail["Message-ID"])

    def close(self) -> None:
        self._drop()
