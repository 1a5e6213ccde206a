"""The response model's shape and the text generator's variety."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

import winback.sim
from winback.sim.model import ResponseModel, ces_score, csat_score, nps_score
from winback.sim.text import COMPLAINTS, SURVEY_POSITIVE, Writer


def test_faster_resolution_restores_more_and_an_instant_one_overshoots() -> None:
    m = ResponseModel()
    damage = 1.0
    fast, slow, late = (m.resolved(damage, h, remedy=False) for h in (0.5, 24, 120))
    assert fast > slow > late > 0
    assert m.resolved(damage, 0.0, remedy=False) == pytest.approx(1.0 + m.paradox)
    assert m.resolved(damage, 2.0, remedy=True) > m.resolved(damage, 2.0, remedy=False)
    assert m.acknowledged(0.1) > m.acknowledged(4) > m.acknowledged(48)
    assert m.neglected() < 0
    assert m.followed_up() < 0


def test_effect_zero_turns_every_reaction_off() -> None:
    m = ResponseModel(effect=0.0)
    assert m.resolved(1.0, 1.0, remedy=True) == 0
    assert m.acknowledged(30) == 0
    assert m.neglected() == m.followed_up() == m.heard() == 0


def test_scores_follow_satisfaction() -> None:
    assert nps_score(-2.0, 0.0) < nps_score(0.0, 0.0) < nps_score(1.5, 0.0)
    assert csat_score(-2.0, 0.0) < csat_score(1.5, 0.0)
    assert ces_score(-2.0, 0.0, 2) > ces_score(1.5, 0.0, 0)


def test_complaints_vary_and_stay_on_topic() -> None:
    writer = Writer(random.Random(1), "my connection", "EUR")
    texts = [writer.complaint("billing", "angry") for _ in range(300)]
    assert len(set(texts)) > 250
    lowered = " ".join(texts).lower()
    assert "charged" in lowered or "bill" in lowered
    assert "{" not in lowered  # every slot filled


def test_survey_comments_match_the_score() -> None:
    writer = Writer(random.Random(2), "the app", "USD")
    positive = {t.format(product="the app") for t in SURVEY_POSITIVE}
    for _ in range(200):
        text = writer.survey_comment("nps", 2, "billing", recovered=False, unanswered=False)
        assert text is None or text not in positive
    bad = [writer.survey_comment("csat", 1, "delivery", False, True) for _ in range(200)]
    assert any(t for t in bad)
    assert all(t is None or "great service" not in t.lower() for t in bad)


def test_every_topic_has_words() -> None:
    from winback.sim.industries import INDUSTRIES

    topics = {f.topic for i in INDUSTRIES.values() for f in i.failures} | {"outage"}
    assert topics <= set(COMPLAINTS)


PURE = (
    "rng", "industries", "model", "text", "customers", "schedule", "clock", "churn", "activity",
    "problems", "feedback", "response", "generator", "truth",
)  # fmt: skip
FORBIDDEN = ("sqlalchemy", "fastapi", "starlette", "httpx", "uvicorn", "pydantic")


@pytest.mark.parametrize("module", PURE)
def test_the_simulator_core_is_plain_python(module: str) -> None:
    path = Path(winback.sim.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    for name in names:
        assert not name.startswith(FORBIDDEN), f"{module} imports {name}"
        assert not name.startswith(("winback.store", "winback.api", "winback.bootstrap"))
