"""Payment data: the pre-check never lets through what redaction would catch; scrubbing
replaces card numbers and IBANs anywhere in a JSON-like value and nothing else."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winback.payment import (
    CARD,
    IBAN,
    digits_of,
    iban_ok,
    luhn_ok,
    may_hold_payment,
    redact_payment,
    scrub_payment,
)

# Examples from national IBAN formats, chosen for the fewest digits in a row: letters in the
# bank code (GB, NL, IE, MT, QA, SC, LC), in the account (FR, BR, KZ, SC), short (NO, BE).
IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "NL91ABNA0417164300",
    "FR1420041010050500013M02606",
    "MT84MALT011000012345MTLCAST001S",
    "NO9386011117947",
    "BE68539007547034",
    "KZ86125KZT5004100100",
    "LC55HEMM000100010012001200023015",
    "SC18SSCB11010000000000001497USD",
    "IE29AIBK93115212345678",
    "QA58DOHB00001234567890ABCDEFG",
    "BR1800360305000010009795493C1",
]
CARDS = ["4111111111111111", "5500005555555559", "340000000000009", "6011000990139424"]


def grouped(value: str, sep: str = " ") -> str:
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


@pytest.mark.parametrize("iban", IBANS)
def test_every_iban_format_passes_the_pre_check_and_is_replaced(iban: str) -> None:
    assert iban_ok(iban)
    for written in (iban, grouped(iban), iban.lower()):
        text = f"Please refund to {written}, thanks"
        assert may_hold_payment(text.encode())
        assert redact_payment(text) == "Please refund to [IBAN], thanks"


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("sep", ["", " ", "-"])
def test_card_numbers_are_replaced_however_grouped(card: str, sep: str) -> None:
    text = f"my card {grouped(card, sep) if sep else card} expired"
    assert may_hold_payment(text.encode())
    assert redact_payment(text) == "my card [CARD] expired"


def test_an_ordinary_event_costs_only_the_pre_check() -> None:
    event = {
        "id": "bench-000000123",
        "customer": {"id": "cust-000123", "email": "cust-000123@example.com", "plan": "pro"},
        "text": "Order 12345678 arrived broken on 2026-11-02; call me back at 5 pm.",
        "occurred_at": "2026-12-02T17:20:29.123456+00:00",
        "amount": 49.0,
        "score": {"kind": "nps", "value": 3},
    }
    assert not may_hold_payment(orjson.dumps(event))
    assert scrub_payment(event) is event
    # A phone number passes the pre-check (ten digits in a row once spaces are gone), and
    # the closer look leaves the event as it was: the very same object.
    event["text"] = "call me at 030 1234567"
    assert may_hold_payment(orjson.dumps(event))
    assert scrub_payment(event) is event


def test_scrubbing_reaches_every_string_key_and_card_number_integer() -> None:
    value = {
        "text": f"card {CARDS[0]}",
        "nested": [{"iban": grouped(IBANS[0])}, 7, 1.5, None, True],
        f"key {CARDS[1]}": "x",
        "as_number": int(CARDS[0]),
        "order": 1234567890123,  # fails Luhn: an order number stays
        "phone": "+44 20 7946 0958",  # not payment data
        "email": "a@b.example",
    }
    assert scrub_payment(value) == {
        "text": "card [CARD]",
        "nested": [{"iban": "[IBAN]"}, 7, 1.5, None, True],
        "key [CARD]": "x",
        "as_number": "[CARD]",
        "order": 1234567890123,
        "phone": "+44 20 7946 0958",
        "email": "a@b.example",
    }
    unchanged = {"a": ["b", {"c": 1}]}
    assert scrub_payment(unchanged) is unchanged


def _redact_unguarded(text: str) -> str:
    """What redaction would replace without the pre-check."""

    def card(m: re.Match[str]) -> str:
        digits = digits_of(m.group(0))
        return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else m.group(0)

    def iban(m: re.Match[str]) -> str:
        return "[IBAN]" if iban_ok(m.group(0)) else m.group(0)

    return CARD.sub(card, IBAN.sub(iban, text))


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="0123456789 -abNLDEGBWST.", max_size=60),
    st.sampled_from([*CARDS, *IBANS, *(grouped(i) for i in IBANS), grouped(CARDS[0], "-")]),
    st.text(alphabet="0123456789 -abNLDE.", max_size=30),
)
def test_the_pre_check_never_misses_what_redaction_would_catch(
    before: str, secret: str, after: str
) -> None:
    for text in (before + secret + after, before + " " + secret + " " + after, before + after):
        if _redact_unguarded(text) != text:
            assert may_hold_payment(text.encode()), text
            assert redact_payment(text) == _redact_unguarded(text)
