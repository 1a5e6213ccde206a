"""Composition root: the one place that picks concrete adapters and wires them together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from winback.clock import Clock, SystemClock
from winback.config import Settings
from winback.events.ingest import GroupCommitter
from winback.pipeline.processor import Processor
from winback.pipeline.stage import Stage
from winback.pipeline.stages import default_stages
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def make_store_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def build_stages(settings: Settings) -> list[Stage]:
    return default_stages()


def build_processor(settings: Settings, engine: Engine, clock: Clock | None = None) -> Processor:
    return Processor(
        engine,
        build_stages(settings),
        clock or SystemClock(),
        batch_size=settings.processor_batch_size,
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
        on_commit=notify,
    )
    return Container(settings, engine, clock, committer, listeners)


def prepare_database(settings: Settings, engine: Engine) -> None:
    """Apply pending migrations where the settings allow it (the embedded SQLite default)."""
    if settings.is_sqlite and settings.auto_migrate:
        migrate.upgrade(engine)
