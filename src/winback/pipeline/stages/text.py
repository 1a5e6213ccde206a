"""The text stage: read what customers write.

For an event with text (a complaint, a message, a survey comment, a review…) it runs the
analyzer, leaves the :class:`~winback.text.analyzer.TextAnalysis` in ``ctx.text`` for the stages
after it, and records it through the unit, to be stored beside the event (table ``event_text``)
in the batch's transaction. Events without text pass through untouched. Only the redacted copy
is ever logged.
"""

from __future__ import annotations

import logging

from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit
from winback.sources import Source
from winback.text.analyzer import TextAnalyzer, default_analyzer

log = logging.getLogger(__name__)


class TextStage:
    name = "text"

    def __init__(self, analyzer: Source[TextAnalyzer] | TextAnalyzer | None = None) -> None:
        if analyzer is None:
            analyzer = default_analyzer()
        self._analyzer = Source.of("text model", analyzer)

    @property
    def analyzer(self) -> TextAnalyzer:
        return self._analyzer.get()

    def process(self, ctx: EventContext, unit: Unit) -> None:
        text = ctx.event.text
        if text is None or not text.strip():
            return
        analysis = self._analyzer.get().analyze(text)
        ctx.text = analysis
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
