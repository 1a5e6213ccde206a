"""The text stage on an in-memory unit, and training from an organisation's own labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from winback.clock import FrozenClock
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.memory import MemoryUnit
from winback.pipeline.stages.text import TextStage
from winback.text.training import (
    TrainingDataError,
    load_training_set,
    score_label,
    train,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _event(text: str | None, seq: int = 1) -> Event:
    data: dict[str, Any] = {"customer": {"id": "c"}}
    if text is not None:
        data["text"] = text
    return Event(seq, f"e-{seq}", "complaint", "c", T0, T0, data)


def test_the_stage_analyses_text_and_records_it() -> None:
    unit = MemoryUnit(FrozenClock(T0))
    ctx = EventContext(event=_event("Thanks for nothing, mail me at a@b.com"))
    TextStage().process(ctx, unit)
    analysis = ctx.text
    assert analysis is not None
    assert analysis.sentiment == "negative"
    assert analysis.redacted == "Thanks for nothing, mail me at [EMAIL]"
    assert unit.texts == {ctx.event.event_id: analysis}


@pytest.mark.parametrize("text", [None, "", "   "])
def test_events_without_text_pass_through(text: str | None) -> None:
    unit = MemoryUnit(FrozenClock(T0))
    ctx = EventContext(event=_event(text))
    TextStage().process(ctx, unit)
    assert ctx.text is None
    assert unit.texts == {}


@pytest.mark.parametrize(
    ("kind", "score", "label"),
    [
        ("nps", 0, "negative"),
        ("nps", 6, "negative"),
        ("nps", 7, "neutral"),
        ("nps", 8, "neutral"),
        ("nps", 9, "positive"),
        ("nps", 10, "positive"),
        ("csat", 1, "negative"),
        ("csat", 2, "negative"),
        ("csat", 3, "neutral"),
        ("csat", 4, "positive"),
        ("csat", 5, "positive"),
    ],
)
def test_survey_scores_become_labels(kind: str, score: int, label: str) -> None:
    assert score_label(kind, score) == label


def test_score_bands_reject_impossible_scores() -> None:
    with pytest.raises(ValueError, match="outside"):
        score_label("nps", 11)
    with pytest.raises(ValueError, match="unknown"):
        score_label("ces", 3)


def _survey_rows() -> list[dict[str, Any]]:
    neg = ["support never replied", "too slow and too many problems", "billing is a mess"]
    mid = ["it's fine, nothing special", "works mostly", "ok overall"]
    pos = ["great service thank you", "quick and friendly help", "love it"]
    rows = []
    for i in range(8):
        rows.append({"comment": f"{neg[i % 3]} {i}", "nps": i % 7, "topic": "billing"})
        rows.append({"comment": f"{mid[i % 3]} {i}", "nps": 7 + i % 2, "topic": "technical"})
        rows.append({"comment": f"{pos[i % 3]} {i}", "nps": 9 + i % 2, "topic": "delivery"})
    return rows


def test_training_from_survey_scores_in_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "surveys.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _survey_rows()) + "\n")
    data = load_training_set(
        path,
        text_column="comment",
        label_column=None,
        score_column="nps",
        score_kind="nps",
        category_column="topic",
    )
    assert len(data.sentiment_texts) == 24
    assert len(data.category_texts) == 24
    model, metrics = train(data, folds=3)
    assert metrics["sentiment"]["cv"]["folds"] == 3
    assert set(metrics["sentiment"]["labels"]) == {"negative", "neutral", "positive"}
    assert model.sentiment.predict(["great service thank you"]) == ["positive"]
    assert model.category.predict(["billing is a mess"]) == ["billing"]


def test_training_from_labels_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "labelled.csv"
    lines = ["text,label"] + [
        f"{t} {i},{lab}"
        for i in range(6)
        for t, lab in (("awful wait", "negative"), ("fine", "neutral"), ("superb", "pos"))
    ]
    path.write_text("\n".join(lines) + "\n")
    data = load_training_set(path)
    assert sorted(set(data.sentiment_labels)) == ["negative", "neutral", "positive"]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("text,label\nhello,angry\n", ".csv", "sentiment label 'angry'"),
        ("text,nps\nhello,12\n", ".csv", "outside 0-10"),
        ('{"text": "a"}\nnot json\n', ".jsonl", ":2: not JSON"),
        ("x", ".txt", "use a .csv or .jsonl"),
        ("other,label\nhello,negative\n", ".csv", "no column 'text'"),
    ],
)
def test_bad_training_data_is_a_clear_error(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(content)

    def load_and_train() -> None:
        score_column = "nps" if "nps" in content else None
        train(load_training_set(path, score_column=score_column, score_kind="nps"))

    with pytest.raises(TrainingDataError, match=message):
        load_and_train()


def test_too_few_rows_per_label_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("text,label\na,negative\nb,positive\n")
    with pytest.raises(TrainingDataError, match="at least 5 rows"):
        train(load_training_set(path))


def test_cross_validation_reports_each_fold_as_it_is_done() -> None:
    from winback.text.training import cross_validate

    texts, labels = [], []
    for i in range(6):
        texts += [f"awful slow refund {i}", f"great quick help {i}", f"it is an order {i}"]
        labels += ["negative", "positive", "neutral"]
    done: list[int] = []
    report = cross_validate(texts, labels, folds=3, lexicon=False, on_fold=done.append)
    assert done == [1, 2, 3]
    assert len(report["macro_f1_per_fold"]) == 3
