"""Composition root: the one place that picks concrete adapters and wires them together.

:func:`build_runtime` builds what one Winback process needs from settings: the engine, the
clock, the ingest committer and one :class:`~winback.sources.Source` per configuration file
(``sla.yaml``, the playbooks, ``agents.yaml``/``teams.yaml``, ``remedies.yaml``, and the
registry's active text and churn models). Everything in the process — API routes, the
processor's stages, the SLA timers, routing — reads its configuration from these sources, so
an edited file applies to all of them alike, without a restart, and never two versions at
once in one process (see :mod:`winback.sources` for the reload policy).
:func:`build_workers` makes the background workers (processor, SLA timers, routing) of one
shape (:mod:`winback.workers`), the risk re-score among them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from winback.clock import Clock, SystemClock
from winback.config import Settings
from winback.events.ingest import GroupCommitter
from winback.models.registry import ACTIVE_FILE
from winback.pipeline.ports import Stage
from winback.pipeline.processor import Processor, RoundResult
from winback.pipeline.stages import RiskStage, TextStage, default_stages
from winback.playbooks.loader import PLAYBOOK_DIR, load_playbooks
from winback.playbooks.model import PlaybookSet
from winback.remedies.catalogue import Catalogue
from winback.remedies.config import REMEDIES_FILE, load_catalogue
from winback.risk.scoring import Scorer
from winback.risk.setup import RISK_FILE, build_scorer, load_risk_config
from winback.routing.config import AGENTS_FILE, TEAMS_FILE, RoutingConfig, load_routing
from winback.services.analytics import AnalyticsUpdater
from winback.services.risk_rescore import RiskRescorer
from winback.services.routing import roster_configured, run_routing
from winback.services.sla_timers import TimerService
from winback.sla.config import SLA_FILE, load_sla_config
from winback.sla.engine import SlaEngine
from winback.sources import Source
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups
from winback.text.analyzer import TextAnalyzer
from winback.text.loading import TAXONOMY_FILE, install_log_redaction
from winback.text.loading import build_analyzer as build_text_analyzer
from winback.workers import LoopWorker, Worker

log = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()  # raw PII never reaches the logs


def make_store_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


# -- configuration sources ---------------------------------------------------------------------
@dataclass
class Sources:
    """One source per configuration file; see :mod:`winback.sources`."""

    sla: Source[SlaEngine]
    playbooks: Source[PlaybookSet]
    routing: Source[RoutingConfig]
    remedies: Source[Catalogue]
    text: Source[TextAnalyzer]
    churn: Source[Scorer]

    def all(self) -> list[Source[Any]]:
        return [self.sla, self.playbooks, self.routing, self.remedies, self.text, self.churn]

    def reload(self) -> dict[str, bool]:
        """Load every file again now; which ones are in force."""
        return {s.name: s.reload() for s in self.all()}


def build_sources(settings: Settings) -> Sources:
    """Load every configuration (raises, naming the file and field, when one is wrong)."""
    conf, models = settings.config_dir, settings.models_dir
    check = settings.config_check_seconds

    def files(*names: str) -> Callable[[], list[Path]]:
        return lambda: [] if conf is None else [conf / n for n in names]

    risk_files = files(RISK_FILE)
    return Sources(
        sla=Source(
            "sla.yaml",
            lambda: SlaEngine(load_sla_config(conf)),
            files(SLA_FILE),
            check_seconds=check,
        ),
        playbooks=Source(
            "playbooks", lambda: load_playbooks(conf), files(PLAYBOOK_DIR), check_seconds=check
        ),
        routing=Source(
            "agents.yaml/teams.yaml",
            lambda: load_routing(conf),
            files(AGENTS_FILE, TEAMS_FILE),
            check_seconds=check,
        ),
        remedies=Source(
            "remedies.yaml", lambda: load_catalogue(conf), files(REMEDIES_FILE), check_seconds=check
        ),
        text=Source(
            "text model",
            lambda: build_text_analyzer(models, conf),
            lambda: [models / ACTIVE_FILE, *files(TAXONOMY_FILE)()],
            check_seconds=check,
        ),
        churn=Source(
            "churn model",
            lambda: build_scorer(load_risk_config(conf), models),
            lambda: [models / ACTIVE_FILE, *risk_files()],
            check_seconds=check,
        ),
    )


# -- the pipeline --------------------------------------------------------------------------------
def build_stages(settings: Settings, sources: Sources | None = None) -> list[Stage]:
    install_log_redaction()
    sources = sources or build_sources(settings)
    risk = load_risk_config(settings.config_dir)
    return default_stages(
        text=TextStage(sources.text),
        risk=RiskStage(sources.churn, jump_delta=risk.jump_delta, jump_min=risk.jump_min),
        playbooks=sources.playbooks if settings.playbooks else None,
        sla=sources.sla,
        reopen_window=timedelta(hours=settings.case_reopen_window_hours),
    )


def build_processor(
    settings: Settings,
    engine: Engine,
    clock: Clock | None = None,
    on_round: Callable[[RoundResult], None] | None = None,
    sources: Sources | None = None,
) -> Processor:
    return Processor(
        engine,
        build_stages(settings, sources),
        clock or SystemClock(),
        batch_size=settings.processor_batch_size,
        on_round=on_round,
    )


def build_timer_service(
    settings: Settings, engine: Engine, clock: Clock | None = None, sources: Sources | None = None
) -> TimerService:
    sla = sources.sla if sources is not None else Source.fixed("sla", load_sla(settings))
    return TimerService(
        engine, clock or SystemClock(), sla, poll_seconds=settings.sla_timer_poll_seconds
    )


def build_risk_rescorer(
    settings: Settings, engine: Engine, clock: Clock | None = None, sources: Sources | None = None
) -> RiskRescorer:
    """The risk re-score use case (``WINBACK_RISK_RESCORE_INTERVAL_SECONDS`` > 0), reading the
    active churn model from the same source as the processor's risk stage."""
    sources = sources or build_sources(settings)
    risk = load_risk_config(settings.config_dir)
    return RiskRescorer(
        engine,
        clock or SystemClock(),
        sources.churn,
        interval_seconds=settings.risk_rescore_interval_seconds,
        jump_delta=risk.jump_delta,
        jump_min=risk.jump_min,
        batch_size=settings.processor_batch_size,
        check_seconds=settings.config_check_seconds,
    )


def load_sla(settings: Settings) -> SlaEngine:
    """``sla.yaml`` from the config directory (built-in defaults without one); raises
    :class:`~winback.sla.config.SlaConfigError` naming the file and field when it is wrong."""
    return SlaEngine(load_sla_config(settings.config_dir))


def routing_round(
    settings: Settings, engine: Engine, clock: Clock, sources: Sources
) -> Callable[[], float]:
    """One routing pass every ``routing_interval_seconds``; nothing while no agent exists."""
    grace = timedelta(minutes=settings.routing_offline_grace_minutes)

    def round_() -> float:
        config = sources.routing.get()
        if roster_configured(engine, config):
            done = run_routing(engine, clock, sources.sla.get(), config, grace)
            if done["assigned"] or done["requeued"]:
                log.info(
                    "routing: %d assigned, %d re-queued, %d waiting",
                    len(done["assigned"]),
                    len(done["requeued"]),
                    len(done["waiting"]),
                )
        return settings.routing_interval_seconds

    return round_


def build_workers(
    settings: Settings,
    engine: Engine,
    stop: threading.Event,
    *,
    clock: Clock | None = None,
    sources: Sources | None = None,
    wake: Callable[[float], object] | None = None,
) -> list[LoopWorker]:
    """The background workers of a processing process: the processor (woken by ingest through
    ``wake``), the SLA timers (``WINBACK_SLA_TIMERS``), routing
    (``WINBACK_ROUTING_INTERVAL_SECONDS`` > 0) and the risk re-score
    (``WINBACK_RISK_RESCORE_INTERVAL_SECONDS`` > 0) and the analytics read models
    (``WINBACK_ANALYTICS_INTERVAL_SECONDS`` > 0). The first runs in the caller's thread
    (:meth:`LoopWorker.run`); start the others."""
    clock = clock or SystemClock()
    sources = sources or build_sources(settings)
    workers: list[LoopWorker] = []
    timers: TimerService | None = None
    if settings.sla_timers:
        timers = build_timer_service(settings, engine, clock, sources)
    service = timers

    def woke(result: RoundResult) -> None:
        # A round that processed events may have scheduled sooner timers.
        if service is not None and result.processed:
            service.wake()

    processor = build_processor(settings, engine, clock, woke, sources)
    idle = settings.processor_idle_poll_seconds
    workers.append(
        LoopWorker("winback-processor", lambda: processor.round(idle), stop=stop, wait=wake)
    )
    if timers is not None:
        workers.append(
            LoopWorker(
                "winback-sla-timers",
                timers.round,
                stop=stop,
                wait=timers.wait,
                on_start=timers.recompute_on_change,
            )
        )
    if settings.routing_interval_seconds > 0:
        workers.append(
            LoopWorker(
                "winback-routing", routing_round(settings, engine, clock, sources), stop=stop
            )
        )
    if settings.risk_rescore_interval_seconds > 0:
        rescorer = build_risk_rescorer(settings, engine, clock, sources)
        workers.append(LoopWorker("winback-risk-rescore", rescorer.round, stop=stop))
    if settings.analytics_interval_seconds > 0:
        updater = AnalyticsUpdater(engine, clock, settings.analytics_interval_seconds)
        workers.append(LoopWorker("winback-analytics", updater.round, stop=stop))
    return workers


# -- the process ---------------------------------------------------------------------------------
@dataclass
class Runtime:
    """Everything a running Winback process needs, built from settings. The configuration
    sources load on first use (a command that only imports events never loads a model)."""

    settings: Settings
    engine: Engine
    clock: Clock
    committer: GroupCommitter
    commit_listeners: list[Callable[[int], None]] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    @cached_property
    def sources(self) -> Sources:
        return build_sources(self.settings)

    def close(self) -> None:
        self.committer.stop()
        self.engine.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
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
    return Runtime(settings, engine, clock, committer, listeners)


def prepare_database(settings: Settings, engine: Engine) -> None:
    """Apply pending migrations where the settings allow it (the embedded SQLite default)."""
    if settings.is_sqlite and settings.auto_migrate:
        migrate.upgrade(engine)
