"""Prometheus metrics for ``/metrics``.

Counters for what this process saw (events accepted, duplicates, rejected, shed under overload;
acknowledgement latency), and its commit queue as it is at scrape time. Figures that live in the
database — processor lag (in all and per partition of the log), cases opened, events that
failed processing, how far retention has pruned, the outbox relay's backlog and dead
letters — are read at scrape time, so they are right whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from winback.clock import Clock
from winback.events.ingest import GroupCommitter
from winback.pipeline.processor import read_cursor
from winback.sources import Source
from winback.store.analytics_queries import backlog
from winback.store.deliveries import outbox_backlog
from winback.store.partitions import partition_lags
from winback.store.privacy import RETENTION_CURSOR
from winback.store.queries import count_cases
from winback.store.tables import event_failures

SHED_REASONS = ("queue_full", "queue_wait", "loop_lag", "processor_lag")


class _StoreCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        with self._engine.connect() as conn:
            lags = partition_lags(conn)
            retention = read_cursor(conn, RETENTION_CURSOR)
            cases = count_cases(conn)
            failures = conn.execute(
                sa.select(sa.func.count()).select_from(event_failures)
            ).scalar_one()
            undispatched, deliveries = outbox_backlog(conn)
        yield GaugeMetricFamily(
            "winback_processor_lag_events",
            "Events logged but not yet processed.",
            value=sum(lags.values()),
        )
        per_partition = GaugeMetricFamily(
            "winback_partition_lag_events",
            "Events logged but not yet processed, per partition of the log (one: 0).",
            labels=["partition"],
        )
        for partition, lag in lags.items():
            per_partition.add_metric([str(partition)], lag)
        yield per_partition
        yield GaugeMetricFamily(
            "winback_retention_position",
            "The event seq up to which old payloads have been pruned (WINBACK_RETENTION_DAYS).",
            value=retention,
        )
        yield GaugeMetricFamily(
            "winback_cases_opened", "Recovery cases opened since the start.", value=cases
        )
        yield GaugeMetricFamily(
            "winback_event_failures",
            "Events a stage failed on (see event_failures).",
            value=failures,
        )
        yield GaugeMetricFamily(
            "winback_outbox_undispatched",
            "Outbox rows the relay has not fanned out yet.",
            value=undispatched,
        )
        by_state = GaugeMetricFamily(
            "winback_outbox_deliveries",
            "Outbox deliveries waiting (pending), being sent (sending) or given up on (dead: "
            "dead letters, see GET /v1/outbox?state=dead).",
            labels=["state"],
        )
        for state, count in sorted(deliveries.items()):
            by_state.add_metric([state], count)
        yield by_state


class _BacklogCollector(Collector):
    """The live service figures: open cases and the age of the oldest, per team."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine, self._clock = engine, clock

    def collect(self) -> Iterator[Metric]:
        with self._engine.connect() as conn:
            rows = backlog(conn, "team")
        now = self._clock.now()
        open_cases = GaugeMetricFamily(
            "winback_backlog_open_cases", "Open recovery cases now, by team.", labels=["team"]
        )
        oldest = GaugeMetricFamily(
            "winback_backlog_oldest_age_seconds",
            "Age of the oldest open case, by team (absent: none open).",
            labels=["team"],
        )
        for row in rows:
            team = row["team"] or ""
            open_cases.add_metric([team], float(row["open_cases"]))
            if row["oldest_opened_at"] is not None:
                age = (now - row["oldest_opened_at"]).total_seconds()
                oldest.add_metric([team], age)
        yield open_cases
        yield oldest


class _QueueCollector(Collector):
    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer

    def collect(self) -> Iterator[Metric]:
        load = self._committer.load()
        yield GaugeMetricFamily(
            "winback_ingest_queue_events",
            "Events waiting for the group committer (received, not yet being written).",
            value=load.waiting_events,
        )
        yield GaugeMetricFamily(
            "winback_ingest_queue_requests",
            "Requests waiting for the group committer.",
            value=load.waiting_requests,
        )
        yield GaugeMetricFamily(
            "winback_ingest_queue_oldest_seconds",
            "How long the oldest request not yet acknowledged has waited (0: none).",
            value=load.oldest_wait_seconds,
        )


class _SourcesCollector(Collector):
    """Which configuration files are refused (the last good version is in force)."""

    def __init__(self, sources: Callable[[], Sequence[Source[Any]]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "winback_config_refused",
            "1 while a configuration file does not load (its last good version is in force).",
            labels=["source"],
        )
        for source in self._sources():
            source.get()
            gauge.add_metric([source.name], 1.0 if source.error else 0.0)
        yield gauge


class Metrics:
    def __init__(
        self,
        engine: Engine,
        committer: GroupCommitter,
        sources: Callable[[], Sequence[Source[Any]]] = list,
        clock: Clock | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "winback_events_accepted", "Events durably accepted.", registry=self.registry
        )
        self.duplicates = Counter(
            "winback_events_duplicate",
            "Events received again (idempotent).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "winback_events_rejected",
            "Requests to POST /v1/events refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "winback_ingest_ack_seconds",
            "Time from request received to durable acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.shed_requests = Counter(
            "winback_ingest_shed_requests",
            "Requests to POST /v1/events refused with 503 under overload, by reason "
            "(queue_full, queue_wait, loop_lag, processor_lag); nothing of them was stored.",
            ["reason"],
            registry=self.registry,
        )
        self.shed_events = Counter(
            "winback_ingest_shed_events",
            "Events in the requests shed under overload, by reason.",
            ["reason"],
            registry=self.registry,
        )
        # Bound once (a label lookup costs more than the increment): present from the start,
        # at 0, so that rates work at once.
        self.shed_by_reason = {
            reason: (self.shed_requests.labels(reason), self.shed_events.labels(reason))
            for reason in SHED_REASONS
        }
        self.registry.register(_StoreCollector(engine))
        if clock is not None:
            self.registry.register(_BacklogCollector(engine, clock))
        self.registry.register(_QueueCollector(committer))
        self.registry.register(_SourcesCollector(sources))
