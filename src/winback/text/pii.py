"""PII redaction: e-mail addresses, phone numbers, card numbers (Luhn), IBANs (mod-97).

:func:`redact` replaces each finding with a placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``,
``[IBAN]``) and returns what kinds it found. Card numbers must pass the Luhn check and IBANs
the ISO 13616 mod-97 check, so order numbers and references stay readable; phone numbers are
recognised by shape (7-15 digits, with the separators people type), after cards and IBANs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by single spaces or dashes; no card number starts with 0.
CARD = re.compile(r"(?<![\w-])[1-9](?:[ -]?\d){12,18}(?![\w-])")
IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# An optional +country code or leading 0, then groups of digits separated by space, dot, dash
# or parentheses; 7 to 15 digits in all (checked after matching).
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-/]{5,22}\d(?![\w])")

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]"}


@dataclass(frozen=True)
class Redaction:
    text: str
    found: tuple[str, ...]  # the kinds found, e.g. ("email", "card")


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


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


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
        digits = _digits(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append("card")
            return PLACEHOLDERS["card"]
        return m.group(0)

    def phone(m: re.Match[str]) -> str:
        raw = m.group(0)
        digits = _digits(raw)
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
    return Redaction(out, tuple(dict.fromkeys(found)))


_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_DIGIT = re.compile(r"\d")


def _looks_like_date(raw: str) -> bool:
    return bool(_DATE.match(raw.strip()))
