"""The default sentiment model: service language, polite complaints, sarcasm, negation."""

from __future__ import annotations

import json

import pytest

from winback.text import analyze
from winback.text.build import ARTIFACT, DEFAULT_VERSION, build
from winback.text.sentiment import LexiconSentiment


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for nothing.",
        "thanks for nothing @airline",
        "Please help, my bag is still missing.",
        "Still waiting for my refund after 10 days.",
        "Third time I'm asking about this.",
        "Great job, really. Still waiting.",
        "Love paying for a service that doesn't work.",
        "Thank you for your help, but the problem is still not fixed.",
        "I was on hold for 90 minutes and then the call dropped",
        "Not happy at all.",
        "My order never arrived.",
        "Fantastic customer service, as always. Nobody answers.",
    ],
)
def test_complaints_are_negative_however_politely_put(text: str) -> None:
    result = analyze(text)
    assert result.sentiment == "negative", result
    assert result.sentiment_score < 0


@pytest.mark.parametrize(
    "text",
    [
        "Great service, thank you!",
        "Thanks, the agent sorted it out in five minutes!",
        "Had a problem but you fixed it fast, impressed.",
        "Really happy with the app.",
        "Quick and friendly help.",
    ],
)
def test_praise_is_positive(text: str) -> None:
    result = analyze(text)
    assert result.sentiment == "positive", result
    assert result.sentiment_score > 0


@pytest.mark.parametrize(
    "text",
    ["Can you tell me when the store opens on Sunday?", "My new address is 12 Oak Road.", ""],
)
def test_plain_questions_and_statements_are_neutral(text: str) -> None:
    assert analyze(text).sentiment == "neutral"


def test_negation_flips_and_damps() -> None:
    assert analyze("The service was good.").sentiment == "positive"
    assert analyze("The service was not good.").sentiment == "negative"


def test_scores_stay_in_range_and_record_the_model_version() -> None:
    for text in ["worst worst worst terrible awful!!!", "best best amazing love love!!!", "x"]:
        result = analyze(text)
        assert -1.0 <= result.sentiment_score <= 1.0
        assert result.model_version == DEFAULT_VERSION


def test_the_committed_artifact_is_what_the_build_script_produces() -> None:
    pytest.importorskip("vaderSentiment")
    committed = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(build()))
    assert committed["built_from"]["labelled_data"] == "none"


def test_a_model_loads_from_any_artifact(tmp_path: object) -> None:
    artifact = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    artifact["version"] = "text-custom-9"
    model = LexiconSentiment(artifact)
    assert model.version == "text-custom-9"
    assert model.score("awful").label == "negative"


def test_the_default_refuses_a_different_general_word_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import winback.text.build
    from winback.text.sentiment import LexiconSentiment, ModelError

    monkeypatch.setattr(winback.text.build, "read_vader_lexicon", lambda: {"good": 1.9})
    with pytest.raises(ModelError, match="differs"):
        LexiconSentiment.load()


def test_the_artifact_holds_no_copy_of_the_general_word_list() -> None:
    import json

    from winback.text.build import read_vader_lexicon
    from winback.text.sentiment import DEFAULT_ARTIFACT

    artifact = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    general = read_vader_lexicon()
    own = artifact["lexicon"]
    copied = [w for w in own if w in general and own[w] == general[w]]
    assert len(own) < 500
    assert len(copied) < 20, copied
