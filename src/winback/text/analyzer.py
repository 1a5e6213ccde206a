"""Putting the parts together: one text in, one :class:`TextAnalysis` out.

Order: redact PII first (everything after sees, and everything stored or logged keeps, only the
redacted copy), then normalise once, then sentiment, category, urgency and language.

The analyzer uses the shipped default lexicon model unless a trained text model is given
(``winback train text`` saves one in the model registry; ``winback models activate`` makes it
the one the processor uses). A trained model may replace the sentiment, the category, or both;
what it does not replace comes from the default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from winback.text.categories import RuleCategoriser, Taxonomy
from winback.text.language import detect_language
from winback.text.pii import redact
from winback.text.sentiment import LexiconSentiment
from winback.text.tokens import normalise
from winback.text.urgency import urgency_cues

MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class TextAnalysis:
    """What Winback understood from one text."""

    sentiment: str  # "negative" | "neutral" | "positive"
    sentiment_score: float  # in [-1, 1]
    category: str
    urgency: tuple[str, ...]  # e.g. ("cancel_intent", "repeat_contact")
    language: str  # ISO 639-1, or "und"
    redacted: str  # the text with PII replaced by placeholders
    model_version: str
    pii: tuple[str, ...] = ()  # kinds of PII found: "email", "phone", "card", "iban"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["urgency"] = list(self.urgency)
        data["pii"] = list(self.pii)
        return data


@dataclass(frozen=True)
class TrainedTextModel:
    """What ``winback train text`` saves: classifiers for sentiment and/or category."""

    version: str
    sentiment: Any = None  # winback.text.trainable.TextClassifier
    category: Any = None


class TextAnalyzer:
    def __init__(
        self,
        sentiment: LexiconSentiment | None = None,
        taxonomy: Taxonomy | None = None,
        trained: TrainedTextModel | None = None,
    ) -> None:
        self.lexicon = sentiment or default_lexicon()
        self.categoriser = RuleCategoriser(taxonomy)
        self.trained = trained
        self.version = self.lexicon.version if trained is None else trained.version

    def analyze(self, text: str) -> TextAnalysis:
        if self.trained is None:
            return self._with_lexicon(text)
        return self.analyze_many([text])[0]

    def _with_lexicon(self, text: str) -> TextAnalysis:
        """:meth:`analyze_many` for one text with the default model alone (the processor's
        case: one text per event, no lists to build)."""
        red = redact(text[:MAX_TEXT_CHARS])
        norm = normalise(red.text)
        result = self.lexicon.score(red.text, norm)
        return TextAnalysis(
            sentiment=result.label,
            sentiment_score=result.score,
            category=self.categoriser.categorise(norm),
            urgency=urgency_cues(norm),
            language=detect_language(norm),
            redacted=red.text,
            model_version=self.version,
            pii=red.found,
        )

    def analyze_many(self, texts: list[str]) -> list[TextAnalysis]:
        if self.trained is None:
            return [self._with_lexicon(t) for t in texts]
        redactions = [redact(t[:MAX_TEXT_CHARS]) for t in texts]
        clean = [r.text for r in redactions]
        norms = [normalise(t) for t in clean]
        trained = self.trained
        labels: list[tuple[str, float]]
        if trained is not None and trained.sentiment is not None:
            labels = _classifier_sentiment(trained.sentiment, clean)
        else:
            labels = []
            for t, n in zip(clean, norms, strict=True):
                r = self.lexicon.score(t, n)
                labels.append((r.label, r.score))
        if trained is not None and trained.category is not None:
            categories = [str(c) for c in trained.category.predict(clean)]
        else:
            categories = [self.categoriser.categorise(n) for n in norms]
        return [
            TextAnalysis(
                sentiment=label,
                sentiment_score=score,
                category=category,
                urgency=urgency_cues(norm),
                language=detect_language(norm),
                redacted=red.text,
                model_version=self.version,
                pii=red.found,
            )
            for red, norm, (label, score), category in zip(
                redactions, norms, labels, categories, strict=True
            )
        ]


def _classifier_sentiment(model: Any, texts: list[str]) -> list[tuple[str, float]]:
    proba = model.predict_proba(texts)
    classes = list(model.classes)
    out = []
    for row in proba:
        best = max(range(len(classes)), key=lambda i: row[i])
        p = dict(zip(classes, (float(x) for x in row), strict=True))
        score = p.get("positive", 0.0) - p.get("negative", 0.0)
        out.append((classes[best], round(max(-1.0, min(1.0, score)), 4)))
    return out


@lru_cache(maxsize=1)
def default_lexicon() -> LexiconSentiment:
    return LexiconSentiment.load()


@lru_cache(maxsize=1)
def default_analyzer() -> TextAnalyzer:
    return TextAnalyzer()


def analyze(text: str) -> TextAnalysis:
    """Analyse one text with the shipped default model (see :class:`TextAnalyzer`)."""
    return default_analyzer().analyze(text)
