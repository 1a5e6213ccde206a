"""Understanding what customers write: sentiment, category, urgency, language, PII redaction.

``winback.text.analyze(text)`` returns a :class:`TextAnalysis`. Plain Python on the hot path (a
lexicon-and-rules default model, no torch, no numpy); see ``docs/text.md``.
"""

from winback.text.analyzer import TextAnalysis, TextAnalyzer, TrainedTextModel, analyze
from winback.text.categories import Taxonomy
from winback.text.pii import redact

__all__ = ["Taxonomy", "TextAnalysis", "TextAnalyzer", "TrainedTextModel", "analyze", "redact"]
