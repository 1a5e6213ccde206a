"""Composition root: the one place that picks concrete adapters and wires them together."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from winback.clock import Clock, SystemClock
from winback.config import Settings
from winback.events.ingest import GroupCommitter
from winback.pipeline.processor import Processor, RoundResult
from winback.pipeline.stage import Stage
from winback.pipeline.stages import default_stages
from winback.playbooks.loader import load_playbooks
from winback.playbooks.stage import install_playbooks
from winback.risk.setup import build_scorer, load_risk_config
from winback.risk.stage import RiskStage
from winback.sla.config import SlaConfig, load_sla_config
from winback.sla.engine import SlaEngine
from winback.sla.service import TimerService
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups
from winback.text.loading import build_analyzer as build_text_analyzer
from winback.text.loading import install_log_redaction
from winback.text.stage import TextStage


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()  # raw PII never reaches the logs (issue 4)


def make_store_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def build_stages(settings: Settings) -> list[Stage]:
    stages = default_stages(load_sla(settings), timedelta(hours=settings.case_reopen_window_hours))
    # issue 4: the text stage runs the registry's active text model (else the shipped default)
    install_log_redaction()
    analyzer = build_text_analyzer(settings.models_dir, settings.config_dir)
    stages = [TextStage(analyzer) if s.name == "text" else s for s in stages]
    # issue 5: churn risk scores with the registry's active churn model (else cold-start weights)
    risk = load_risk_config(settings.config_dir)
    risk_stage = RiskStage(
        build_scorer(risk, settings.models_dir), jump_delta=risk.jump_delta, jump_min=risk.jump_min
    )
    stages = [risk_stage if s.name == "risk" else s for s in stages]
    # issue 7: playbooks (config dir, else the shipped defaults) replace the built-in rule
    if settings.playbooks:
        stages = install_playbooks(
            stages,
            load_playbooks(settings.config_dir),
            timedelta(hours=settings.case_reopen_window_hours),
        )
    return stages


def load_sla(settings: Settings) -> SlaConfig:
    """``sla.yaml`` from the config directory (built-in defaults without one); raises
    :class:`~winback.sla.config.SlaConfigError` naming the file and field when it is wrong."""
    return load_sla_config(settings.config_dir)


def build_timer_service(
    settings: Settings, engine: Engine, clock: Clock | None = None
) -> TimerService:
    return TimerService(
        engine,
        clock or SystemClock(),
        SlaEngine(load_sla(settings)),
        poll_seconds=settings.sla_timer_poll_seconds,
    )


def start_routing(
    settings: Settings, engine: Engine, stop: threading.Event, clock: Clock | None = None
) -> threading.Thread | None:
    """Start the routing loop thread (issue 7) unless ``WINBACK_ROUTING_INTERVAL_SECONDS`` is 0."""
    if settings.routing_interval_seconds <= 0:
        return None
    from winback.routing.config import load_routing
    from winback.routing.service import run_routing_forever

    thread = threading.Thread(
        target=run_routing_forever,
        args=(
            engine,
            clock or SystemClock(),
            SlaEngine(load_sla(settings)),
            lambda: load_routing(settings.config_dir),
            stop,
            settings.routing_interval_seconds,
            timedelta(minutes=settings.routing_offline_grace_minutes),
        ),
        name="winback-routing",
        daemon=True,
    )
    thread.start()
    return thread


def build_processor(
    settings: Settings,
    engine: Engine,
    clock: Clock | None = None,
    on_round: Callable[[RoundResult], None] | None = None,
) -> Processor:
    return Processor(
        engine,
        build_stages(settings),
        clock or SystemClock(),
        batch_size=settings.processor_batch_size,
        on_round=on_round,
    )


@dataclass
class Container:
    """Everything a running Winback process needs, built from settings."""

    settings: Settings
    engine: Engine
    clock: Clock
    committer: GroupCommitter
    commit_listeners: list[Callable[[int], None]] = field(default_factory=list)

    def close(self) -> None:
        self.committer.stop()
        self.engine.dispose()


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    engine = make_store_engine(settings)
    listeners: list[Callable[[int], None]] = []

    def notify(events: int) -> None:
        for listener in listeners:
            listener(events)

    committer = GroupCommitter(
        lambda groups, now: append_groups(engine, groups, now),
        clock,
        max_group_events=settings.ingest_max_group_events,
        max_queued_events=settings.ingest_max_queued_events,
        max_queue_wait_seconds=settings.ingest_max_queue_wait_seconds,
        on_commit=notify,
    )
    return Container(settings, engine, clock, committer, listeners)


def prepare_database(settings: Settings, engine: Engine) -> None:
    """Apply pending migrations where the settings allow it (the embedded SQLite default)."""
    if settings.is_sqlite and settings.auto_migrate:
        migrate.upgrade(engine)
