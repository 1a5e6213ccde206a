"""The processor stage that reads what customers write.

For an event with text (a complaint, a message, a survey comment, a review…) it runs the
analyzer, leaves the :class:`~winback.text.TextAnalysis` in ``ctx.results["text"]`` for the
stages after it, and records it through the unit of work, to be stored beside the event (table
``event_text``) in the batch's transaction. Events without text pass through untouched.

Only the redacted copy is ever logged.
"""

from __future__ import annotations

import logging

from winback.pipeline.stage import EventContext, Unit
from winback.text.analyzer import TextAnalyzer, default_analyzer

log = logging.getLogger(__name__)

RESULT_KEY = "text"


class TextStage:
    name = "text"

    def __init__(self, analyzer: TextAnalyzer | None = None) -> None:
        self.analyzer = analyzer or default_analyzer()

    def process(self, ctx: EventContext, unit: Unit) -> None:
        text = ctx.event.text
        if text is None or not text.strip():
            return
        analysis = self.analyzer.analyze(text)
        ctx.results[RESULT_KEY] = analysis
        unit.save_text_analysis(ctx.event, analysis)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "event %s: %s %.2f %s %s: %s",
                ctx.event.event_id,
                analysis.sentiment,
                analysis.sentiment_score,
                analysis.category,
                ",".join(analysis.urgency) or "-",
                analysis.redacted[:200],
            )
