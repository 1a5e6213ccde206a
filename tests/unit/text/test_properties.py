"""Properties that hold for any text: no crash, a score in range, no Luhn-valid card left."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from winback.text import analyze
from winback.text.pii import luhn_ok

CARD_NUMBERS = ["4111111111111111", "5500005555555559", "340000000000009", "6011000990139424"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gets_a_valid_analysis(text: str) -> None:
    result = analyze(text)
    assert result.sentiment in ("negative", "neutral", "positive")
    assert -1.0 <= result.sentiment_score <= 1.0
    assert isinstance(result.category, str)
    assert set(result.urgency) <= {"cancel_intent", "legal_threat", "repeat_contact", "vulnerable"}


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(categories=("L", "Zs", "P")), max_size=60),
    st.sampled_from(CARD_NUMBERS),
    st.sampled_from(["", " ", "-"]),
    st.text(alphabet=st.characters(categories=("L", "Zs")), max_size=60),
)
def test_a_card_number_never_survives_redaction(
    before: str, card: str, sep: str, after: str
) -> None:
    grouped = sep.join(card[i : i + 4] for i in range(0, len(card), 4)) if sep else card
    redacted = analyze(f"{before} {grouped} {after}").redacted
    digits_runs = re.findall(r"\d(?:[ -]?\d){12,18}", redacted)
    assert not any(luhn_ok(re.sub(r"\D", "", run)) for run in digits_runs), redacted
