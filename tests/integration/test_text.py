"""Text understanding in the running system (issue 4): stored with the event on both databases,
shown by the API, raw PII kept out of the logs, the active trained model picked up."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.bootstrap import build_processor, build_stages
from winback.clock import FrozenClock
from winback.config import Settings
from winback.models.registry import ModelRegistry
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit
from winback.pipeline.processor import Processor
from winback.pipeline.stages import TextStage, default_stages
from winback.store import queries
from winback.store.tables import event_failures, event_text, events
from winback.text.analyzer import TrainedTextModel
from winback.text.build import DEFAULT_VERSION
from winback.text.loading import install_log_redaction
from winback.text.trainable import TextClassifier

from .support import api_app, body, count, log_events, nps, rows

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
PII_TEXT = f"Third time asking! Still no refund. Card {CARD}, mail {EMAIL}, call {PHONE}"
# Card numbers are replaced at ingest (docs/privacy.md); e-mail and phone stay in the log.
STORED_TEXT = PII_TEXT.replace(CARD, "[CARD]")


def test_the_processor_stores_the_enrichment_with_the_event(engine: Engine) -> None:
    log_events(
        engine,
        NOW,
        body("e-1", "complaint", text=PII_TEXT),
        nps("e-2", 10, customer="cus-2", text="Great service, thank you!"),
        body("e-3", "usage", customer="cus-3"),
    )
    Processor(engine, default_stages(), FrozenClock(NOW)).run_until_idle()
    found = {
        r.event_id: r
        for r in rows(
            engine,
            sa.select(events.c.event_id, event_text).join(
                event_text, event_text.c.event_seq == events.c.seq
            ),
        )
    }
    assert set(found) == {"e-1", "e-2"}  # no text, no row
    complaint = found["e-1"]
    assert complaint.sentiment == "negative"
    assert complaint.category == "billing"
    assert list(complaint.urgency) == ["repeat_contact"]
    assert complaint.model_version == DEFAULT_VERSION
    assert sorted(complaint.pii) == ["card", "email", "phone"]
    assert EMAIL not in complaint.redacted
    assert CARD not in complaint.redacted
    assert PHONE not in complaint.redacted
    assert found["e-2"].sentiment == "positive"
    assert -1 <= found["e-1"].sentiment_score < 0 < found["e-2"].sentiment_score <= 1
    with engine.connect() as conn:  # the read queries join it on both databases
        [shown] = queries.get_customer(conn, "cus-1")["recent_events"]  # redacted by default
        [linked] = queries.get_case(conn, 1, reveal=True)["events"]
    assert shown["analysis"]["urgency"] == ["repeat_contact"]
    assert "[EMAIL]" in shown["text"]
    assert linked["analysis"]["sentiment"] == "negative"
    assert linked["text"] == STORED_TEXT


class _Reads:
    """A stage after text that records what it saw on the context."""

    name = "reads_text"

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def process(self, ctx: EventContext, unit: Unit) -> None:
        self.seen.append(ctx.text)


def test_later_stages_see_the_analysis(sqlite_engine: Engine) -> None:
    log_events(sqlite_engine, NOW, body("e-1", text="Thanks for nothing."), body("e-2", "usage"))
    reads = _Reads()
    stages = [*default_stages()[:2], reads]
    Processor(sqlite_engine, stages, FrozenClock(NOW)).run_until_idle()
    assert reads.seen[0].sentiment == "negative"
    assert reads.seen[1] is None


@pytest.mark.parametrize("display", ["raw", "redacted"])
def test_the_api_shows_the_analysis_wherever_events_are_shown(tmp_path: Path, display: str) -> None:
    client, config, engine = api_app(tmp_path, NOW, text_display=display)
    with client:
        log_events(engine, NOW, body("e-1", text=PII_TEXT), body("e-2", "usage"))
        build_processor(config, engine, FrozenClock(NOW)).run_until_idle()
        customer = client.get("/v1/customers/cus-1").json()
        [case_summary] = client.get("/v1/cases", params={"customer": "cus-1"}).json()["items"]
        case = client.get(f"/v1/cases/{case_summary['id']}").json()
    recent = {e["id"]: e for e in customer["recent_events"]}
    linked = {e["id"]: e for e in case["events"]}
    for shown in (recent["e-1"], linked["e-1"]):
        analysis = shown["analysis"]
        assert analysis["sentiment"] == "negative"
        assert analysis["category"] == "billing"
        assert analysis["urgency"] == ["repeat_contact"]
        assert analysis["model_version"] == DEFAULT_VERSION
        assert sorted(analysis["pii"]) == ["card", "email", "phone"]
        if display == "redacted":
            assert EMAIL not in shown["text"]
            assert CARD not in shown["text"]
            assert "[EMAIL]" in shown["text"]
        else:
            assert shown["text"] == STORED_TEXT
    assert recent["e-2"]["analysis"] is None


class _FailsWithText:
    """A stage that fails with the customer's raw text in its error (a careless stage)."""

    name = "careless"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        raise ValueError(f"cannot handle {ctx.event.text!r}")


def test_raw_pii_never_reaches_the_logs(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    log_events(sqlite_engine, NOW, body("e-1", text=PII_TEXT), body("e-2", text=PII_TEXT))
    stages = [*default_stages()[:2], _FailsWithText()]
    Processor(sqlite_engine, stages, FrozenClock(NOW)).run_until_idle()
    assert count(sqlite_engine, event_failures) == 2  # the failures happened and were logged
    logged = caplog.text + "".join((r.exc_text or "") + str(r.msg) for r in caplog.records)
    assert "careless" in logged
    assert "[EMAIL]" in logged
    for raw in (EMAIL, CARD, PHONE, "4111111111111111"):
        assert raw not in logged
    # the text stage's own debug line carries the redacted copy only
    assert any(r.name == "winback.pipeline.stages.text" for r in caplog.records)


def test_the_active_trained_model_replaces_the_default(tmp_path: Path) -> None:
    texts = ["awful slow service", "love it thanks", "where is the store"] * 10
    labels = ["negative", "positive", "neutral"] * 10
    model = TrainedTextModel("unsaved", sentiment=TextClassifier().fit(texts, labels))
    registry = ModelRegistry(tmp_path / "models")
    config = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", models_dir=registry.directory)

    def text_stage() -> TextStage:
        [stage] = [s for s in build_stages(config) if isinstance(s, TextStage)]
        return stage

    assert text_stage().analyzer.version == DEFAULT_VERSION
    version = registry.save("text", model, {"n": 30}, {}, activate=True)
    analyzer = text_stage().analyzer
    assert analyzer.version == version
    result = analyzer.analyze("awful slow service")
    assert (result.sentiment, result.model_version) == ("negative", version)
