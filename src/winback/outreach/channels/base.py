"""What a channel adapter is given and what it answers.

Every message carries its outbox idempotency key to the provider (the SMTP ``Message-ID`` is
derived from it; webhooks send it as ``webhook-id``; the SMS provider gets it as a header), so
a message delivered twice — a relay that died between the provider accepting it and the
relay recording that — is recognisable as the same message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to a customer."""

    key: str  # the outbox idempotency key
    channel: str  # email | sms | chat
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    topic: str = ""
    customer_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookMessage:
    """A change for a webhook subscriber."""

    key: str  # the outbox idempotency key: the Standard Webhooks ``webhook-id``
    url: str
    secret: str
    topic: str
    payload: dict[str, Any]


class DeliveryFailed(Exception):
    """The provider did not take the message. ``permanent``: retrying cannot help (a refused
    address, a 4xx from a webhook), so the delivery goes straight to the dead letters."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """Sends one message; returns the provider's reference for it; raises
    :class:`DeliveryFailed`. Must be safe to call from several threads."""

    name: str

    def send(self, message: OutgoingMessage) -> str: ...


def key_digest(key: str, length: int = 32) -> str:
    """A stable, header-safe token for an idempotency key."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


class WebhookSender(Protocol):
    """Sends one signed webhook; returns a short description of the answer; raises
    :class:`DeliveryFailed`. Must be safe to call from several threads."""

    def send(self, message: WebhookMessage) -> str: ...
