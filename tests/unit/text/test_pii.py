"""PII redaction: a corpus with recall for e-mails, phones and cards, and no false alarms."""

from __future__ import annotations

import random

import pytest

from winback.text.pii import iban_ok, luhn_ok, redact


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


def _group(number: str, rng: random.Random) -> str:
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return number
    sep = " " if style == "space" else "-"
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _corpus(n: int = 400, seed: int = 11) -> list[tuple[str, str, str]]:
    """(kind, value, sentence) triples; values in the formats customers type."""
    rng = random.Random(seed)
    names = ["anna", "j.smith", "mark_o", "li.wei+shop", "o'brien", "x99", "dana-k"]
    domains = ["example.com", "mail.co.uk", "post.example.org", "web.de", "corp-mail.io"]
    phone_formats = [
        lambda: f"+44 20 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
        lambda: (
            f"+1-{rng.randrange(200, 999)}-{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
        ),
        lambda: (
            f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
        ),
        lambda: f"{rng.randrange(200, 999)}.{rng.randrange(200, 999)}.{rng.randrange(1000, 9999)}",
        lambda: f"0{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
        lambda: "06 " + " ".join(str(rng.randrange(10, 99)) for _ in range(4)),
        lambda: f"+49 {rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}",
        lambda: f"07{rng.randrange(100000000, 999999999)}",
        lambda: (
            f"0033 {rng.randrange(1, 9)} " + " ".join(str(rng.randrange(10, 99)) for _ in range(4))
        ),
    ]
    card_prefixes = [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("4", 13)]
    templates = [
        "Please contact me at {v} as soon as possible.",
        "my details: {v}",
        "You can reach me on {v}, thanks",
        "{v} is the one I used",
        "Hi, ({v}) - still waiting!",
    ]
    out = []
    for i in range(n):
        kind = ["email", "phone", "card"][i % 3]
        if kind == "email":
            value = f"{rng.choice(names)}{rng.randrange(100)}@{rng.choice(domains)}"
        elif kind == "phone":
            value = rng.choice(phone_formats)()
        else:
            prefix, length = rng.choice(card_prefixes)
            value = _group(_luhn_complete(prefix, length, rng), rng)
        out.append((kind, value, rng.choice(templates).format(v=value)))
    return out


def test_recall_is_at_least_99_percent_for_emails_phones_and_cards() -> None:
    corpus = _corpus()
    for kind in ("email", "phone", "card"):
        items = [(v, s) for k, v, s in corpus if k == kind]
        caught = 0
        for value, sentence in items:
            red = redact(sentence)
            if value not in red.text and kind in red.found:
                caught += 1
        assert caught / len(items) >= 0.99, (kind, caught, len(items))


@pytest.mark.parametrize(
    "text",
    [
        "order #358954 arrived late",
        "Reference U25798, booked for 2026-05-01",
        "I paid 49.99 EUR for 3 months",
        "Flight 1234 was 3 hours late",
        "card ending 4242",
        "4111 1111 1111 1112 fails the Luhn check",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert redact(text).text == text


def test_ibans_need_a_valid_checksum() -> None:
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not iban_ok("GB83 WEST 1234 5698 7654 32")
    red = redact("Refund to DE89 3704 0044 0532 0130 00 please, not GB83 WEST 1234 5698 7654 32")
    assert "DE89" not in red.text
    assert red.text.count("[IBAN]") == 1
    assert "GB83 WEST" in red.text  # not an IBAN (its digits may still go, as a phone number)
    assert red.found[0] == "iban"


def test_the_analysis_carries_only_the_redacted_text() -> None:
    from winback.text import analyze

    result = analyze("Still no refund! Card 4111 1111 1111 1111, mail jo@example.com")
    assert "4111" not in result.redacted
    assert "jo@example.com" not in result.redacted
    assert set(result.pii) == {"card", "email"}
    assert result.sentiment == "negative"
