"""The processor: the event log, in sequence order, through the stages, exactly once.

Each round (:meth:`Processor.run_once`):

1. read the cursor and the next batch of events after it;
2. load the state those events touch and run every event through the stages, in memory;
3. in one write transaction: move the cursor forward *only if it is still where we read it*
   (compare-and-set), write every stage's effects, commit.

So an event's effects and the cursor move together: a crash before the commit redoes the batch,
a crash after it never redoes it, and two processors on the same log cannot both apply a batch
(the loser's compare-and-set fails and it re-reads). Reads happen outside the write lock so the
ingest path's commits are held up only for the short write.

When a case the batch touches changed meanwhile (an agent acted, a timer fired), the write
fails its version check and the batch is redone *at once with its cases locked*: state is read
inside the write transaction (PostgreSQL ``FOR UPDATE`` on the customers' cases; SQLite's writer
lock), so nothing can move underneath and the batch always commits. A busy support floor
therefore slows the processor by one redo at most; it can never stall it.

A stage that raises on an event does not wedge the log: the batch is retried one event at a
time, and an event that still fails is recorded in ``event_failures`` (stage and error) and
skipped, so it can be inspected and re-driven.

A processor reads the whole log on one cursor (the default), or one partition of it on that
partition's cursor (``partition``; see :mod:`winback.pipeline.partitioned`): everything above
holds per partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from winback.clock import Clock
from winback.events.model import Event
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Stage, Unit
from winback.store.engine import write_connection
from winback.store.eventlog import last_seq, read_after
from winback.store.partitions import DEFAULT_CURSOR, partition_lags
from winback.store.tables import event_failures, processor_cursors
from winback.store.uow import StaleState, load_batch_unit
from winback.text.pii import redact

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CURSOR", "Processor", "RoundResult", "processor_lag", "read_cursor"]


class _StageFailed(Exception):
    def __init__(self, event: Event, stage: str, error: str) -> None:
        super().__init__(f"stage {stage} failed on event {event.event_id}: {error}")
        self.event, self.stage, self.error = event, stage, error


@dataclass
class RoundResult:
    processed: int = 0
    failed: int = 0
    retried: bool = False
    redone_locked: bool = False  # a case moved underneath; the batch was redone with locks


def read_cursor(conn: Connection, name: str = DEFAULT_CURSOR) -> int:
    position = conn.execute(
        sa.select(processor_cursors.c.position).where(processor_cursors.c.name == name)
    ).scalar()
    return int(position or 0)


def processor_lag(conn: Connection, name: str | None = None) -> int:
    """Events logged but not yet processed, over every partition; or, given a cursor's
    ``name``, how far the whole log is ahead of that cursor."""
    if name is None:
        return sum(partition_lags(conn).values())
    return max(0, last_seq(conn) - read_cursor(conn, name))


class Processor:
    def __init__(
        self,
        engine: Engine,
        stages: Sequence[Stage],
        clock: Clock,
        *,
        batch_size: int = 500,
        name: str = DEFAULT_CURSOR,
        partition: int | None = None,
        on_round: Callable[[RoundResult], None] | None = None,
    ) -> None:
        self._engine = engine
        self._stages = list(stages)
        self._clock = clock
        self._batch_size = batch_size
        self._name = name
        self._partition = partition
        self._on_round = on_round

    @property
    def name(self) -> str:
        return self._name

    # -- one round -------------------------------------------------------------------------
    def run_once(self) -> RoundResult:
        """Process the next batch; return how many events it consumed (0: log caught up)."""
        with self._engine.connect() as conn:
            position = read_cursor(conn, self._name)
            batch = read_after(conn, position, self._batch_size, self._partition)
        if not batch:
            return RoundResult()
        try:
            result = self._apply(position, batch)
        except _StageFailed:
            result = self._apply_one_by_one(position, batch)
        if self._on_round is not None:
            self._on_round(result)
        return result

    def _apply(self, position: int, batch: list[Event]) -> RoundResult:
        customer_ids = sorted({e.customer_id for e in batch})
        with self._engine.connect() as conn:
            unit = load_batch_unit(conn, self._clock, customer_ids)
        self._run_stages(batch, unit)
        try:
            with write_connection(self._engine) as conn, conn.begin():
                if not self._advance(conn, position, batch[-1].seq):
                    return RoundResult(retried=True)
                unit.flush(conn)
        except (StaleState, IntegrityError) as exc:
            log.info(
                "processor %s: state moved underneath, redoing with locks (%s)", self._name, exc
            )
            return self._apply_locked(position, batch, customer_ids)
        return RoundResult(processed=len(batch))

    def _apply_locked(
        self, position: int, batch: list[Event], customer_ids: list[str]
    ) -> RoundResult:
        """Read, run and write the batch in one write transaction, its cases locked."""
        with write_connection(self._engine) as conn, conn.begin():
            unit = load_batch_unit(conn, self._clock, customer_ids, lock=True)
            self._run_stages(batch, unit)
            if not self._advance(conn, position, batch[-1].seq):
                return RoundResult(retried=True)  # another processor took it: nothing written
            unit.flush(conn)
        return RoundResult(processed=len(batch), redone_locked=True)

    def _run_stages(self, batch: list[Event], unit: Unit) -> None:
        for event in batch:
            ctx = EventContext(event=event)
            for stage in self._stages:
                try:
                    stage.process(ctx, unit)
                except Exception as exc:
                    raise _StageFailed(event, stage.name, repr(exc)) from exc

    def _apply_one_by_one(self, position: int, batch: list[Event]) -> RoundResult:
        result = RoundResult()
        for event in batch:
            try:
                one = self._apply(position, [event])
            except _StageFailed as failure:
                log.error("processor %s: %s", self._name, failure)
                if not self._record_failure(position, failure):
                    return result
                result.failed += 1
            else:
                if one.retried:
                    result.retried = True
                    return result
                result.processed += one.processed
            position = event.seq
        return result

    def _record_failure(self, position: int, failure: _StageFailed) -> bool:
        with write_connection(self._engine) as conn, conn.begin():
            if not self._advance(conn, position, failure.event.seq):
                return False
            conn.execute(
                event_failures.insert().values(
                    event_seq=failure.event.seq,
                    processor=self._name,
                    stage=failure.stage,
                    # An error message may quote the event's text: store it redacted, like logs.
                    error=redact(failure.error).text[:4000],
                    failed_at=self._clock.now(),
                )
            )
        return True

    def _advance(self, conn: Connection, expected: int, new: int) -> bool:
        """Compare-and-set the cursor from ``expected`` to ``new``; False if it had moved."""
        now = self._clock.now()
        moved = conn.execute(
            processor_cursors.update()
            .where(processor_cursors.c.name == self._name, processor_cursors.c.position == expected)
            .values(position=new, updated_at=now)
        ).rowcount
        if moved == 1:
            return True
        exists = conn.execute(
            sa.select(processor_cursors.c.position).where(processor_cursors.c.name == self._name)
        ).first()
        if exists is not None or expected != 0:
            return False
        conn.execute(
            processor_cursors.insert().values(name=self._name, position=new, updated_at=now)
        )
        return True

    # -- the loop --------------------------------------------------------------------------
    def run_until_idle(self, max_rounds: int = 1_000_000) -> int:
        """Process until the log is caught up; return the number of events processed."""
        total = 0
        for _ in range(max_rounds):
            result = self.run_once()
            total += result.processed + result.failed
            if result.processed == 0 and result.failed == 0 and not result.retried:
                break
        return total

    def round(self, idle_seconds: float = 0.05) -> float:
        """One round of the processor worker: process a batch; 0 (go on) while there is work,
        else ``idle_seconds`` (the worker waits that long, or until ingest wakes it)."""
        result = self.run_once()
        if result.processed or result.failed or result.retried:
            return 0.0
        return idle_seconds
