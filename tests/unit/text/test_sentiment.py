"""The default sentiment model: service language, polite complaints, sarcasm, negation."""

from __future__ import annotations

import json
import re

import pytest

from winback.text import analyze
from winback.text.build import ARTIFACT, DEFAULT_VERSION, LABEL_ORDER, build, read_corpus
from winback.text.sentiment import LexiconSentiment, features
from winback.text.tokens import normalise, tokens


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


@pytest.mark.parametrize("text", ["", "   ", "...", "https://example.com/x", "@brand"])
def test_a_text_with_nothing_to_read_is_neutral_with_score_zero(text: str) -> None:
    result = analyze(text)
    assert (result.sentiment, result.sentiment_score) == ("neutral", 0.0)


def test_negation_flips_and_damps() -> None:
    assert analyze("The service was good.").sentiment == "positive"
    assert analyze("The service was not good.").sentiment == "negative"


def test_scores_stay_in_range_and_record_the_model_version() -> None:
    for text in ["worst worst worst terrible awful!!!", "best best amazing love love!!!", "x"]:
        result = analyze(text)
        assert -1.0 <= result.sentiment_score <= 1.0
        assert result.model_version == DEFAULT_VERSION


def test_the_committed_artifact_is_what_the_build_script_produces() -> None:
    committed = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    built = json.loads(json.dumps(build()))
    # The fitted weights are compared to within their rounding (another BLAS may differ in the
    # last digit); everything else must be identical.
    committed_linear, built_linear = committed.pop("linear"), built.pop("linear")
    assert committed == built
    assert committed_linear["classes"] == built_linear["classes"] == list(LABEL_ORDER)
    assert committed_linear["weights"].keys() == built_linear["weights"].keys()
    for name, weights in built_linear["weights"].items():
        assert weights == pytest.approx(committed_linear["weights"][name], abs=2e-3), name
    assert built_linear["bias"] == pytest.approx(committed_linear["bias"], abs=2e-3)


def test_the_default_is_built_from_winbacks_own_corpus_only() -> None:
    artifact = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    source = artifact["built_from"]
    assert source["labelled_data"].startswith("Winback's own service messages")
    rows = read_corpus()
    assert {r.part for r in rows} == {"part-a", "part-b", "part-c", "part-d"}
    # The corpus keeps clear of air travel, so the airline tweets stay a test the model never saw.
    air = re.compile(r"\b(airlines?|flights?|airports?|planes?|pilots?|boarding)\b", re.I)
    assert [r.text for r in rows if air.search(r.text)] == []


def test_every_corpus_message_has_a_category_of_the_default_taxonomy() -> None:
    from winback.text.categories import DEFAULT_CATEGORIES

    rows = read_corpus()
    allowed = {*DEFAULT_CATEGORIES, "other"}
    assert {r.category for r in rows} == allowed


def test_categories_are_measured_on_the_corpus_by_rules_and_held_out_parts() -> None:
    from winback.text.analyzer import TextAnalyzer
    from winback.text.evaluation import service_message_categories

    result = service_message_categories(TextAnalyzer())
    assert result is not None
    assert result["data"].startswith("SYNTHETIC")
    assert result["rules"]["n"] == result["trainable_leave_one_part_out"]["n"] == 2400
    assert 0.0 < result["rules"]["macro_f1"] < 1.0


def test_the_linear_layer_decides_from_evidence_and_words() -> None:
    model = LexiconSentiment.load()
    assert model.linear is not None
    ev = model.evidence("still no refund :(")
    feats = features(ev)
    assert feats["lex:complaint"] > 0
    assert feats["w:refund"] == 1.0
    assert feats["b:no refund"] == 1.0
    assert "w::(" in feats
    probs = model.linear.probabilities(ev)
    assert set(probs) == set(LABEL_ORDER)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max(probs, key=probs.__getitem__) == "negative"


def test_without_a_linear_layer_the_lexicon_thresholds_decide() -> None:
    artifact = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    del artifact["linear"]
    model = LexiconSentiment(artifact)
    assert model.linear is None
    assert model.score("awful, just awful").label == "negative"
    assert model.score("Can you tell me when the store opens on Sunday?").label == "neutral"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("still no reply :(", "negative"),
        ("sorted in 5 mins, thank you :)", "positive"),
        ("bill went up AGAIN 😡😡", "negative"),
        ("all fixed now 👍", "positive"),
    ],
)
def test_emoticons_and_emoji_carry_feeling(text: str, expected: str) -> None:
    assert analyze(text).sentiment == expected


def test_emoticons_and_emoji_are_tokens_and_times_are_not_emoticons() -> None:
    expected = ["ok", ":d", ":(", "<3", "-_-", "😡", "👍"]
    assert tokens(normalise("ok :D :( <3 -_- 😡👍🏽")) == expected
    assert tokens(normalise("at 10:30 re:delivery (item 8)")) == [
        "at",
        "10",
        "30",
        "re",
        "delivery",
        "item",
        "8",
    ]


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


def test_the_fast_scoring_path_sums_exactly_the_training_features() -> None:
    import math

    model = LexiconSentiment.load()
    layer = model.linear
    assert layer is not None
    for text in [
        "still no refund!! third time asking :( 😡",
        "thanks thanks thanks, sorted",
        "Can you tell me when the store opens on Sunday?",
        "",
    ]:
        ev = model.evidence(text)
        logits = list(layer.bias)
        for name, value in features(ev, layer.ngrams).items():
            for k, w in enumerate(layer.weights.get(name, (0.0, 0.0, 0.0))):
                logits[k] += w * value
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        expected = [e / sum(exps) for e in exps]
        got = layer.probabilities(ev)
        assert [got[c] for c in layer.classes] == pytest.approx(expected, abs=1e-12)


def test_a_corpus_with_a_bad_label_or_no_files_is_refused(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no \*\.jsonl"):
        read_corpus(directory)
    (directory / "part-x.jsonl").write_text(
        '{"text": "fine", "label": "positive"}\n{"text": "meh", "label": "mixed"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"part-x\.jsonl:2"):
        read_corpus(directory)


def test_the_tuning_rule_takes_the_best_fit_that_keeps_the_real_text_check() -> None:
    from winback.text.tuning import choose

    table = [
        {"settings": "lexicon thresholds", "macro_f1_pooled": 0.70, "fine_foods_auc": 0.76},
        {"settings": {"c": 3}, "macro_f1_pooled": 0.90, "fine_foods_auc": 0.74},
        {"settings": {"c": 1}, "macro_f1_pooled": 0.85, "fine_foods_auc": 0.755},
        {"settings": {"c": 0.1}, "macro_f1_pooled": 0.80, "fine_foods_auc": 0.77},
    ]
    assert choose(table) == {"c": 1}
    assert choose([{**row, "fine_foods_auc": None} for row in table][:1] + table[1:]) == {"c": 3}


def test_leave_one_part_out_holds_each_part_out(tmp_path: object) -> None:
    from winback.text.build import Labelled
    from winback.text.tuning import evaluate_setting

    rows = [
        Labelled(text, label, part)
        for part in ("p1", "p2")
        for text, label in [
            ("awful service, still broken", "negative"),
            ("terrible, no reply for days", "negative"),
            ("thanks, all sorted, great job", "positive"),
            ("love it, quick and friendly", "positive"),
            ("what time do you open?", "neutral"),
            ("my account number is 55", "neutral"),
        ]
    ]
    settings = {"c": 1.0, "min_count": 1, "ngrams": 2, "class_weight": "balanced"}
    result = evaluate_setting(rows, settings)
    assert set(result["macro_f1_by_held_out_part"]) == {"p1", "p2"}
    assert 0.0 <= result["macro_f1_pooled"] <= 1.0
    assert evaluate_setting(rows, None)["settings"] == "lexicon thresholds"
