"""Payment data — card numbers (Luhn) and IBANs (ISO 13616 mod-97) — which is never stored.

:func:`scrub_payment` replaces card numbers and IBANs (only those: e-mail addresses and phone
numbers stay) anywhere in a JSON-like value with ``[CARD]`` / ``[IBAN]``.
:func:`may_hold_payment` is the cheap pre-check run over a document's serialised bytes first:
a document without a run of 10 digits (spaces and dashes aside) costs one ``bytes.translate``
and one substring search, and nothing more.

Ingest (:func:`winback.events.schema.to_incoming`) and the engine's JSON serializer
(:func:`winback.store.types.json_dumps`) use both; :mod:`winback.text.pii` finds the rest of
the PII with the same card and IBAN patterns. A bottom-layer module: plain Python, no imports
of the package.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER_CARD = "[CARD]"
PLACEHOLDER_IBAN = "[IBAN]"

# 13-19 digits, optionally grouped by single spaces or dashes; no card number starts with 0.
CARD = re.compile(r"(?<![\w-])[1-9](?:[ -]?\d){12,18}(?![\w-])")
IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def digits_of(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


# The cheap pre-check. Every card number has a run of 13 digits once the spaces and dashes
# between its groups are gone, and every IBAN has a run of at least 10 (the Netherlands' account
# number after its four-letter bank code; the check digits follow the country code directly).
# Deleting spaces and dashes and turning every digit into "0" (one ``bytes.translate``, in C)
# lets a plain substring search find such a run: no regular expression steps through the text.
# A match only means "look closer" (a phone number or a long order number also matches).
HINT_RUN = 10
_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * HINT_RUN


def may_hold_payment(doc: bytes) -> bool:
    """Whether ``doc`` (serialised JSON, or text as UTF-8) may hold a card number or an IBAN;
    False means it certainly does not."""
    return _RUN in doc.translate(_ZEROS, b" -")


def redact_payment(text: str) -> str:
    """``text`` with valid card numbers and IBANs replaced by ``[CARD]`` / ``[IBAN]`` (e-mail
    addresses and phone numbers stay)."""
    if len(text) < HINT_RUN or not may_hold_payment(text.encode()):
        return text

    def iban(m: re.Match[str]) -> str:
        return PLACEHOLDER_IBAN if iban_ok(m.group(0)) else m.group(0)

    def card(m: re.Match[str]) -> str:
        digits = digits_of(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return PLACEHOLDER_CARD
        return m.group(0)

    out = CARD.sub(card, IBAN.sub(iban, text))
    return text if out == text else out


def _card_number(value: int) -> bool:
    digits = str(value)
    return 13 <= len(digits) <= 19 and digits[0] != "-" and luhn_ok(digits)


def scrub_payment(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every card number and IBAN
    replaced — in strings, keys, and integers that are card numbers. Returns ``value`` itself
    (the same object) when there was nothing to replace."""
    if isinstance(value, str):
        return redact_payment(value)
    if isinstance(value, dict):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = redact_payment(key) if isinstance(key, str) else key
            new_item = scrub_payment(item)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [scrub_payment(item) for item in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return items if isinstance(value, list) else tuple(items)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and _card_number(value):
        return PLACEHOLDER_CARD
    return value
