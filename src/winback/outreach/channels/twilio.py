"""SMS and chat (WhatsApp) through Twilio's Messages API.

``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with form fields ``To``,
``From`` and ``Body``, HTTP basic auth with the account SID and auth token; a ``201`` carries
the message's ``sid``. Chat uses the same API with ``whatsapp:``-prefixed numbers. The outbox
key goes along as the ``Idempotency-Key`` header and is recorded with the answer (Twilio's
public API does not de-duplicate by it, so a repeat after a crash in the window between its
answer and our record is possible, as for every channel: docs/outreach.md). A 4xx (other than
429) is permanent — Twilio refuses the number or the content; 429, 5xx and network errors are
retried. ``base_url`` points the adapter at a compatible provider or a local fake in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from winback.outreach.channels.base import DeliveryFailed, OutgoingMessage


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    sms_from: str | None = None
    whatsapp_from: str | None = None
    base_url: str = "https://api.twilio.com"
    timeout: float = 10.0


class TwilioChannel:
    def __init__(self, config: TwilioConfig, channel: str = "sms") -> None:
        if channel not in {"sms", "chat"}:
            raise ValueError(f"Twilio sends sms or chat, not {channel!r}")
        sender = config.sms_from if channel == "sms" else config.whatsapp_from
        if not sender:
            raise ValueError(f"Twilio {channel}: no sender number configured")
        self.name = channel
        self.config = config
        self._from = sender if channel == "sms" else f"whatsapp:{sender}"
        self._client = httpx.Client(
            base_url=config.base_url,
            auth=(config.account_sid, config.auth_token),
            timeout=config.timeout,
        )

    def send(self, message: OutgoingMessage) -> str:
        to = message.to if self.name == "sms" else f"whatsapp:{message.to}"
        path = f"/2010-04-01/Accounts/{self.config.account_sid}/Messages.json"
        try:
            response = self._client.post(
                path,
                data={"To": to, "From": self._from, "Body": message.text},
                headers={"Idempotency-Key": message.key},
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"twilio: {type(exc).__name__}: {exc}") from None
        if response.status_code in (200, 201):
            sid = response.json().get("sid")
            return str(sid)
        permanent = 400 <= response.status_code < 500 and response.status_code != 429
        detail = response.text[:300]
        raise DeliveryFailed(
            f"twilio answered HTTP {response.status_code}: {detail}", permanent=permanent
        )

    def close(self) -> None:
        self._client.close()
