"""Which outbox topics send the customer a message, with which template, of which kind.

A topic not listed here still reaches webhook subscribers; it sends the customer nothing.
``kind`` is what an opt-out names (``service``: about their own case; ``marketing``: anything
else). ``critical`` messages may pass quiet hours (when the policy allows it) and the frequency
cap: an agent's reply is an answer the customer is waiting for. ``first_response``: delivering
it answers the case's first-response clock (an agent's reply already did when it was made).
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE = "service"
MARKETING = "marketing"
KINDS = (SERVICE, MARKETING)


@dataclass(frozen=True)
class MessageSpec:
    template: str
    kind: str = SERVICE
    critical: bool = False
    first_response: bool = False


MESSAGES: dict[str, MessageSpec] = {
    "case.acknowledgement": MessageSpec("acknowledgement", first_response=True),
    "case.reply": MessageSpec("reply", critical=True),
    "case.escalated": MessageSpec("escalation"),
    "remedy.applied": MessageSpec("remedy_applied"),
}

# The templates every template set must have (one per message above).
REQUIRED_TEMPLATES = tuple(sorted({spec.template for spec in MESSAGES.values()}))


def message_for(topic: str, payload: dict[str, object]) -> MessageSpec | None:
    """The customer message ``topic`` sends (``None``: none). An acknowledgement names its
    own template (the playbook's ``acknowledge``); ``default`` means the shipped one."""
    spec = MESSAGES.get(topic)
    if spec is None:
        return None
    named = payload.get("template")
    if topic == "case.acknowledgement" and isinstance(named, str) and named != "default":
        return MessageSpec(named, spec.kind, spec.critical, spec.first_response)
    return spec
