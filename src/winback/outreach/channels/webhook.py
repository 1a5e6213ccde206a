"""Outbound webhooks signed with the Standard Webhooks scheme (its reference library).

The body is ``{"type": <topic>, "timestamp": <RFC 3339>, "data": <the outbox payload>}``; the
headers are ``webhook-id`` (the outbox idempotency key: the same on every retry, so a receiver
drops repeats), ``webhook-timestamp`` and ``webhook-signature`` (``v1,<HMAC-SHA256>`` with the
subscription's ``whsec_`` secret). A 2xx is delivered; 408, 425, 429 and 5xx, a timeout or a
refused connection are retried; any other 4xx is permanent (the receiver refuses this message).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import datetime

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from winback.outreach.channels.base import DeliveryFailed, WebhookMessage

RETRYABLE_STATUS = frozenset({408, 425, 429})


def new_secret() -> str:
    """A fresh signing secret in the scheme's ``whsec_<base64>`` form (24 random bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def signed_request(message: WebhookMessage, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``message`` signed at ``now``."""
    body = orjson.dumps(
        {"type": message.topic, "timestamp": now.isoformat(), "data": message.payload}
    )
    signature = Webhook(message.secret).sign(message.key, now, body.decode())
    headers = {
        "content-type": "application/json",
        "webhook-id": message.key,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "winback-webhooks",
    }
    return body, headers


class WebhookChannel:
    name = "webhook"

    def __init__(self, now: Callable[[], datetime], timeout: float = 10.0) -> None:
        self._now = now
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, message: WebhookMessage) -> str:
        body, headers = signed_request(message, self._now())
        try:
            response = self._client.post(message.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook: {type(exc).__name__}: {exc}") from None
        if 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        permanent = (
            400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
        )
        raise DeliveryFailed(
            f"webhook answered HTTP {response.status_code}: {response.text[:200]}",
            permanent=permanent,
        )

    def close(self) -> None:
        self._client.close()
