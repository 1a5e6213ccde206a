"""Categories (configurable taxonomy), urgency cues and language detection."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from winback.text import Taxonomy, TextAnalyzer, analyze
from winback.text.categories import load_taxonomy
from winback.text.language import detect_language
from winback.text.tokens import normalise
from winback.text.urgency import _B, _E, ANY_CUE, CUE_PATTERNS, CUES


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I was charged twice on my invoice", "billing"),
        ("Where is my parcel? Tracking hasn't moved", "delivery"),
        ("The item arrived broken and scratched", "product_quality"),
        ("The agent was rude and hung up on me", "staff_behaviour"),
        ("I've been on hold for an hour, still waiting", "wait_time"),
        ("The app crashes with an error every time", "technical"),
        ("I'm locked out of my account, password reset fails", "account"),
        ("Just wanted to say hello", "other"),
    ],
)
def test_default_taxonomy(text: str, category: str) -> None:
    assert analyze(text).category == category


def test_a_custom_taxonomy_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "categories:\n  noise: [loud, noisy, music]\n  cleanliness: [dirty, smell]\n"
        "fallback: general\n"
    )
    taxonomy = load_taxonomy(path)
    analyzer = TextAnalyzer(taxonomy=taxonomy)
    assert analyzer.analyze("The room was dirty and had a smell").category == "cleanliness"
    assert analyzer.analyze("Loud music all night").category == "noise"
    assert analyzer.analyze("I was charged twice").category == "general"
    assert taxonomy.categories == ("noise", "cleanliness", "general")


@pytest.mark.parametrize(
    "doc",
    ["categories: []\n", "categories:\n  Bad Name: [x]\n", "categories:\n  a: word\n", ": :"],
)
def test_a_bad_taxonomy_file_is_a_clear_error(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(doc)
    with pytest.raises(ValueError, match=r"taxonomy\.yaml"):
        load_taxonomy(path)


def test_taxonomy_from_mapping_validates() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Taxonomy.from_mapping({})


@pytest.mark.parametrize(
    ("text", "cues"),
    [
        ("I'm cancelling my subscription and switching to a competitor", {"cancel_intent"}),
        ("Fix it or I'm leaving.", {"cancel_intent"}),
        ("Please close my account.", {"cancel_intent"}),
        ("I will take this to the ombudsman and my lawyer", {"legal_threat"}),
        ("Reporting you to the regulator.", {"legal_threat"}),
        ("This is the third time I'm writing about this.", {"repeat_contact"}),
        ("Still no answer. Following up again.", {"repeat_contact"}),
        ("My mother is 85 years old and disabled, she has no heating", {"vulnerable"}),
        ("I can't afford these fees, I'm on benefits", {"vulnerable"}),
        ("The delivery was late.", set()),
        ("Can I switch off notifications?", set()),
    ],
)
def test_urgency_cues(text: str, cues: set[str]) -> None:
    assert set(analyze(text).urgency) == cues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I have been waiting for my refund for two weeks and nobody answers", "en"),
        ("Ich warte immer noch auf meine Erstattung, bitte helfen Sie mir", "de"),
        ("Je suis toujours en attente de mon remboursement, merci de me répondre", "fr"),
        ("Todavía estoy esperando mi reembolso y nadie me responde", "es"),
        ("Ik wacht nog steeds op mijn terugbetaling", "nl"),
        ("12345", "und"),
    ],
)
def test_language(text: str, language: str) -> None:
    assert detect_language(text.lower()) == language


def test_urgency_patterns_match_exactly_where_their_phrases_do() -> None:
    """Each cue's pattern (the word boundaries written once around its alternatives) and the
    any-cue pattern find a match in exactly the texts where one of the phrases, each with its
    own boundaries, does: on the service messages and on texts made to hit every cue."""
    corpus = Path(__file__).resolve().parents[3] / "data" / "service-messages"
    texts = [
        json.loads(line)["text"]
        for path in sorted(corpus.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    texts += [
        "I'm cancelling my subscription, my lawyer says this is the third time",
        "she's 85 years old and cannot afford this",
        "unsure: ombudsmanship, resue, 2nd timer, dotcom",  # inside longer words: no cue
    ]
    norms = [normalise(t) for t in texts]
    for name, patterns in CUE_PATTERNS.items():
        one_by_one = re.compile("|".join(_B + p + _E for p in patterns))
        hits = [n for n in norms if one_by_one.search(n)]
        assert hits, name
        assert [n for n in norms if CUES[name].search(n)] == hits
    every = re.compile("|".join(_B + p + _E for ps in CUE_PATTERNS.values() for p in ps))
    assert [bool(ANY_CUE.search(n)) for n in norms] == [bool(every.search(n)) for n in norms]
