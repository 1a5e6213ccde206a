"""The default text model's output on Winback's 2,400 service messages, pinned.

``pinned-analyses.tsv`` holds, per message, what the shipped analyzer said (label, score,
category, urgency cues, language, PII kinds and a hash of the redacted text), as recorded before
the analyzer's hot paths were optimised (factored urgency patterns, cached category look-ups,
one-pass language counts). Any change to what the analyzer says shows up here, message by
message.

A deliberate change of the model (a rebuilt artifact, new rules) changes these lines too: then
regenerate the file and review its diff::

    PYTHONPATH=src python tests/unit/text/test_pinned_analyses.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from winback.text.analyzer import TextAnalyzer

CORPUS = Path(__file__).resolve().parents[3] / "data" / "service-messages"
PINNED = Path(__file__).with_name("data") / "pinned-analyses.tsv"


def analysis_lines() -> list[str]:
    analyzer = TextAnalyzer()
    lines = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            a = analyzer.analyze(json.loads(raw)["text"])
            redacted = hashlib.sha256(a.redacted.encode()).hexdigest()[:12]
            fields = (
                f"{path.name}:{number}",
                a.sentiment,
                repr(a.sentiment_score),
                a.category,
                ",".join(a.urgency),
                a.language,
                ",".join(a.pii),
                redacted,
            )
            lines.append("\t".join(fields))
    return lines


def test_the_analyzer_says_what_it_said_on_every_service_message() -> None:
    pinned = PINNED.read_text(encoding="utf-8").splitlines()
    now = analysis_lines()
    assert len(now) == len(pinned) == 2400
    changed = [(p, n) for p, n in zip(pinned, now, strict=True) if p != n]
    assert not changed, f"{len(changed)} analyses changed, e.g. (pinned, now): {changed[:5]}"


if __name__ == "__main__":
    PINNED.write_text("\n".join(analysis_lines()) + "\n", encoding="utf-8")
    print(f"wrote {PINNED}")
