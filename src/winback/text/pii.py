"""PII redaction: e-mail addresses, phone numbers, card numbers (Luhn), IBANs (mod-97).

:func:`redact` replaces each finding with a placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``,
``[IBAN]``) and returns what kinds it found. Card numbers must pass the Luhn check and IBANs
the ISO 13616 mod-97 check, so order numbers and references stay readable; phone numbers are
recognised by shape (7-15 digits, with the separators people type), after cards and IBANs.

Cards and IBANs are found by :mod:`winback.payment` (payment data is never stored; see
docs/privacy.md). :func:`redact_json` applies :func:`redact` to every string of a value, for
display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from winback.payment import CARD, IBAN, digits_of, iban_ok, luhn_ok

__all__ = [
    "CARD",
    "EMAIL",
    "IBAN",
    "PHONE",
    "PLACEHOLDERS",
    "Redaction",
    "iban_ok",
    "luhn_ok",
    "redact",
    "redact_json",
]

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# An optional +country code or leading 0, then groups of digits separated by space, dot, dash
# or parentheses; 7 to 15 digits in all (checked after matching).
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-/]{5,22}\d(?![\w])")

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]"}


@dataclass(frozen=True)
class Redaction:
    text: str
    found: tuple[str, ...]  # the kinds found, e.g. ("email", "card")


def redact(text: str) -> Redaction:
    """The text with PII replaced by placeholders, and the kinds found."""
    if not text:
        return Redaction(text, ())
    found: list[str] = []

    def email(m: re.Match[str]) -> str:
        found.append("email")
        return PLACEHOLDERS["email"]

    def iban(m: re.Match[str]) -> str:
        if iban_ok(m.group(0)):
            found.append("iban")
            return PLACEHOLDERS["iban"]
        return m.group(0)

    def card(m: re.Match[str]) -> str:
        digits = digits_of(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append("card")
            return PLACEHOLDERS["card"]
        return m.group(0)

    def phone(m: re.Match[str]) -> str:
        raw = m.group(0)
        digits = digits_of(raw)
        if not 7 <= len(digits) <= 15:
            return raw
        # A bare run of digits is a phone number only when it is long enough and not a
        # reference-looking token inside words like "order 1234567".
        separated = any(ch in raw for ch in " -.()/") or raw.startswith(("+", "00"))
        if not separated and len(digits) < 9:
            return raw
        if _looks_like_date(raw):
            return raw
        found.append("phone")
        return PLACEHOLDERS["phone"]

    out = EMAIL.sub(email, text) if "@" in text else text
    if _DIGIT.search(out):
        out = IBAN.sub(iban, out)
        out = CARD.sub(card, out)
        out = PHONE.sub(phone, out)
    if "[" in text:  # payment data redacted at ingest still counts as found
        found.extend(kind for kind in ("card", "iban") if PLACEHOLDERS[kind] in text)
    return Redaction(out, tuple(dict.fromkeys(found)))


_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_DIGIT = re.compile(r"\d")


def _looks_like_date(raw: str) -> bool:
    return bool(_DATE.match(raw.strip()))


def redact_json(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it (keys stay): for display."""
    if isinstance(value, str):
        return redact(value).text
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    return value
