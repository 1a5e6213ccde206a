"""Composition root: the one place that picks concrete adapters and wires them together.

:func:`build_runtime` builds what one Winback process needs from settings: the engine, the
clock, the ingest committer and one :class:`~winback.sources.Source` per configuration file
(``sla.yaml``, the playbooks, ``agents.yaml``/``teams.yaml``, ``remedies.yaml``, and the
registry's active text and churn models). Everything in the process — API routes, the
processor's stages, the SLA timers, routing — reads its configuration from these sources, so
an edited file applies to all of them alike, without a restart, and never two versions at
once in one process (see :mod:`winback.sources` for the reload policy).
:func:`build_workers` makes the background workers (processor, SLA timers, routing) of one
shape (:mod:`winback.workers`), the risk re-score among them. :class:`ConfigAudit` records each
configuration reload and refusal in the audit trail.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from winback.clock import Clock, SystemClock
from winback.config import Settings
from winback.events.ingest import GroupCommitter
from winback.identity import SYSTEM
from winback.models.registry import ACTIVE_FILE
from winback.outreach.channels.base import Channel
from winback.outreach.channels.smtp import SmtpChannel, SmtpConfig
from winback.outreach.channels.twilio import TwilioChannel, TwilioConfig
from winback.outreach.channels.webhook import WebhookChannel
from winback.outreach.preferences import Policy, QuietHours
from winback.outreach.retry import RetryPolicy
from winback.outreach.templates import TemplateSet, load_templates, template_files
from winback.pipeline.partitioned import PartitionedProcessor
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
from winback.services.privacy import RetentionService
from winback.services.relay import Relay, RelayConfig
from winback.services.risk_rescore import RiskRescorer
from winback.services.routing import roster_configured, try_run_routing
from winback.services.sla_timers import TimerService
from winback.sla.config import SLA_FILE, load_sla_config
from winback.sla.engine import SlaEngine
from winback.sources import Reload, Source, file_digests
from winback.store import audit, migrate
from winback.store.engine import make_engine, write_connection
from winback.store.eventlog import append_groups, partition_count
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


class ConfigAudit:
    """A listener of the configuration sources that appends a ``config.reload`` or
    ``config.refused`` audit record (the source, each file's size and SHA-256, the error) in a
    transaction of its own.

    The records are written by one thread of its own, not by the thread that noticed the
    change: a source is read anywhere, even inside another write transaction, whose SQLite
    writer lock a second transaction of the same thread would wait for forever. Each process
    records the reloads it makes (the API and the processor process each load the file).
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine, self.clock = engine, clock
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="winback-config-audit")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def watch(self, sources: Sources) -> None:
        for source in sources.all():
            source.listen(self)

    def __call__(self, reload: Reload) -> None:
        # The files' digests now, while they are (most likely) what was just loaded.
        details: dict[str, Any] = {"files": file_digests(reload.files), "process": self.process}
        at = self.clock.now()
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._writer.submit(self._write, reload, details, at))

    def _write(self, reload: Reload, details: dict[str, Any], at: datetime) -> None:
        if reload.error is not None:
            details["error"] = reload.error[:2000]
        try:
            with write_connection(self.engine) as conn, conn.begin():
                audit.record(
                    conn,
                    actor=SYSTEM.actor,
                    credential=SYSTEM.credential,
                    action="config.reload" if reload.ok else "config.refused",
                    subject_type="config",
                    subject_id=reload.source,
                    details=details,
                    at=at,
                )
        except Exception:
            log.exception("%s: could not record the reload in the audit trail", reload.source)

    def flush(self) -> None:
        """Wait until every reload heard so far is recorded."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)


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


def build_partitioned_processor(
    settings: Settings,
    engine: Engine,
    clock: Clock | None = None,
    on_round: Callable[[RoundResult], None] | None = None,
    sources: Sources | None = None,
    worker_id: str | None = None,
) -> PartitionedProcessor:
    """This worker's share of a partitioned log (see docs/operations.md)."""
    return PartitionedProcessor(
        engine,
        build_stages(settings, sources),
        clock or SystemClock(),
        worker_id=worker_id,
        batch_size=settings.processor_batch_size,
        lease_seconds=settings.partition_lease_seconds,
        heartbeat_seconds=settings.partition_heartbeat_seconds,
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
            done = try_run_routing(engine, clock, sources.sla.get(), config, grace)
            if done is not None and (done["assigned"] or done["requeued"]):
                log.info(
                    "routing: %d assigned, %d re-queued, %d waiting",
                    len(done["assigned"]),
                    len(done["requeued"]),
                    len(done["waiting"]),
                )
        return settings.routing_interval_seconds

    return round_


def build_feed_waiter(url: str) -> Callable[[float], object]:
    """The processor's wait on the Redis wake-up feed (the ``redis`` extra)."""
    from winback.bus.redis_feed import FeedWaiter

    return FeedWaiter(url)


# -- outreach ------------------------------------------------------------------------------------
def templates_source(settings: Settings) -> Source[TemplateSet]:
    """The message templates (shipped, overlaid with ``<config_dir>/templates``), reloaded
    when a file changes like every other configuration file."""
    conf = settings.config_dir
    return Source(
        "templates",
        lambda: load_templates(conf, settings.outreach_default_language),
        lambda: template_files(conf),
        check_seconds=settings.config_check_seconds,
    )


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The customer channels the settings configure: e-mail (``WINBACK_SMTP_HOST``), SMS and
    chat through Twilio (``WINBACK_TWILIO_ACCOUNT_SID`` and a sender number each)."""
    channels: dict[str, Channel] = {}
    if settings.smtp_host:
        channels["email"] = SmtpChannel(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                starttls=settings.smtp_starttls,
                ssl=settings.smtp_ssl,
                username=settings.smtp_username,
                password=settings.smtp_password,
                timeout=settings.smtp_timeout_seconds,
                verify_tls=settings.smtp_verify_tls,
            )
        )
    if settings.twilio_account_sid and settings.twilio_auth_token:
        twilio = TwilioConfig(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            sms_from=settings.twilio_sms_from,
            whatsapp_from=settings.twilio_whatsapp_from,
            base_url=settings.twilio_base_url,
            timeout=settings.webhook_timeout_seconds,
        )
        if twilio.sms_from:
            channels["sms"] = TwilioChannel(twilio, "sms")
        if twilio.whatsapp_from:
            channels["chat"] = TwilioChannel(twilio, "chat")
    return channels


def build_relay(
    settings: Settings,
    engine: Engine,
    clock: Clock | None = None,
    sources: Sources | None = None,
    channels: dict[str, Channel] | None = None,
) -> Relay:
    """The outbox relay with the configured channels and the webhooks."""
    clock = clock or SystemClock()
    sla = sources.sla if sources is not None else Source.fixed("sla", load_sla(settings))
    quiet = settings.outreach_quiet_hours
    config = RelayConfig(
        batch_size=settings.outreach_batch_size,
        lease=timedelta(seconds=settings.outreach_lease_seconds),
        retry=RetryPolicy(
            max_attempts=settings.outreach_max_attempts,
            base_seconds=settings.outreach_backoff_base_seconds,
            cap_seconds=settings.outreach_backoff_max_seconds,
        ),
        poll_seconds=settings.outreach_poll_seconds,
        concurrency=settings.outreach_concurrency,
        policy=Policy(
            quiet_hours=None if not quiet else QuietHours.parse(quiet),
            critical_overrides_quiet_hours=settings.outreach_critical_overrides_quiet_hours,
            max_per_window=settings.outreach_frequency_cap,
            window=timedelta(hours=settings.outreach_frequency_window_hours),
        ),
        company=settings.outreach_company_name,
    )
    return Relay(
        engine,
        clock,
        channels=build_channels(settings) if channels is None else channels,
        webhooks=WebhookChannel(SystemClock().now, settings.webhook_timeout_seconds),
        templates=templates_source(settings),
        sla=sla,
        config=config,
    )


def relay_workers(relay: Relay, stop: threading.Event) -> list[LoopWorker]:
    """The relay's workers: the fan-out, and one delivery lane per channel (a channel that
    fails or hangs holds back no other); the fan-out wakes the lanes."""
    lanes = [
        LoopWorker(f"winback-outbox-{lane}", relay.lane_round(lane), stop=stop)
        for lane in relay.lanes
    ]

    def wake_lanes() -> None:
        for lane in lanes:
            lane.wake()

    relay.on_dispatched = wake_lanes
    return [LoopWorker("winback-outbox-dispatch", relay.dispatch_round, stop=stop), *lanes]


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
    (``WINBACK_RISK_RESCORE_INTERVAL_SECONDS`` > 0), retention (``WINBACK_RETENTION_DAYS`` > 0)
    and the analytics read models (``WINBACK_ANALYTICS_INTERVAL_SECONDS`` > 0). On a
    partitioned log (``winback db partitions N``) the processor processes this worker's share
    and a ``winback-partitions`` worker heartbeats and re-balances it. The first runs in the
    caller's thread (:meth:`LoopWorker.run`); start the others."""
    clock = clock or SystemClock()
    sources = sources or build_sources(settings)
    if wake is None and settings.redis_url:  # a worker of its own: woken by the Redis feed
        wake = build_feed_waiter(settings.redis_url)
    workers: list[LoopWorker] = []
    timers: TimerService | None = None
    if settings.sla_timers:
        timers = build_timer_service(settings, engine, clock, sources)
    service = timers
    relay = build_relay(settings, engine, clock, sources) if settings.outreach_relay else None
    outreach = [] if relay is None else relay_workers(relay, stop)

    def woke(result: RoundResult) -> None:
        # A round that processed events may have scheduled sooner timers, and queued messages.
        if service is not None and result.processed:
            service.wake()
        if outreach and result.processed:
            outreach[0].wake()

    idle = settings.processor_idle_poll_seconds
    with engine.connect() as conn:
        partitions = partition_count(conn)
    if partitions == 1:  # one log, one cursor: the processor as it always was
        processor = build_processor(settings, engine, clock, woke, sources)
        workers.append(
            LoopWorker("winback-processor", lambda: processor.round(idle), stop=stop, wait=wake)
        )
    else:  # this worker's share of the partitions, re-balanced by a heartbeat thread
        share = build_partitioned_processor(settings, engine, clock, woke, sources)
        workers.append(
            LoopWorker("winback-processor", lambda: share.round(idle), stop=stop, wait=wake)
        )
        workers.append(
            LoopWorker("winback-partitions", share.balance, stop=stop, on_stop=share.leave)
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
    if settings.retention_days > 0:
        retention = RetentionService(engine, clock, settings.retention_days)
        workers.append(LoopWorker("winback-retention", retention.round, stop=stop))
    workers.extend(outreach)
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
    closers: list[Callable[[], object]] = field(default_factory=list)

    @cached_property
    def config_audit(self) -> ConfigAudit:
        return ConfigAudit(self.engine, self.clock)

    @cached_property
    def sources(self) -> Sources:
        sources = build_sources(self.settings)
        self.config_audit.watch(sources)
        return sources

    @cached_property
    def templates(self) -> Source[TemplateSet]:
        return templates_source(self.settings)

    def close(self) -> None:
        self.committer.stop()
        if "config_audit" in self.__dict__:
            self.config_audit.close()
        for close in self.closers:
            close()
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
    runtime = Runtime(settings, engine, clock, committer, listeners)
    if settings.redis_url:  # tell workers elsewhere that the log moved (the `redis` extra)
        from winback.bus.redis_feed import FeedPublisher

        feed = FeedPublisher(settings.redis_url)
        listeners.append(feed.notify)
        runtime.closers.append(feed.stop)
    return runtime


def prepare_database(settings: Settings, engine: Engine) -> None:
    """Apply pending migrations where the settings allow it (the embedded SQLite default)."""
    if settings.is_sqlite and settings.auto_migrate:
        migrate.upgrade(engine)
