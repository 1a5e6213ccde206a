"""Processing a partitioned log: this worker's share of the partitions, each in order.

A :class:`PartitionedProcessor` has two rounds, run by two :class:`~winback.workers.LoopWorker`
threads of the worker process:

- :meth:`~PartitionedProcessor.balance` (every ``heartbeat`` seconds): heartbeat this worker,
  read the live members, compute the assignment every member computes
  (:func:`winback.pipeline.assignment.share`), give back the leases that are no longer ours and
  take or renew the ones that are. Three short transactions — heartbeat, release, claim — so
  two workers trading partitions never wait on each other's locks in opposite orders.
- :meth:`~PartitionedProcessor.round`: one pass over the held partitions, starting at a
  rotating one, one batch each, through a :class:`~winback.pipeline.processor.Processor` on
  that partition's cursor. A partition with a backlog gets one batch per pass, so it never
  holds back the others. A partition found caught up is not read again until the log's head
  (``max(seq)``, one index lookup per pass) moves past where it was.

Exactly-once does not rest on the leases: a partition briefly held by two workers (a paused
process whose lease expired) is still applied once, by the cursor's compare-and-set.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy.engine import Engine

from winback.clock import Clock
from winback.pipeline.assignment import share
from winback.pipeline.ports import Stage
from winback.pipeline.processor import Processor, RoundResult
from winback.store.engine import write_connection
from winback.store.eventlog import last_seq
from winback.store.partitions import (
    claim,
    heartbeat,
    lease_now,
    leave,
    live_members,
    partition_cursors,
    release,
)

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """Unique per process and start: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PartitionedProcessor:
    def __init__(
        self,
        engine: Engine,
        stages: Sequence[Stage],
        clock: Clock,
        *,
        worker_id: str | None = None,
        batch_size: int = 500,
        lease_seconds: float = 3.0,
        heartbeat_seconds: float = 1.0,
        on_round: Callable[[RoundResult], None] | None = None,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self._engine = engine
        self._clock = clock
        self._ttl = timedelta(seconds=lease_seconds)
        self._heartbeat = heartbeat_seconds
        with engine.connect() as conn:
            cursors = partition_cursors(conn)
        self.partitions = sorted(cursors)
        self._processors = {
            p: Processor(
                engine,
                stages,
                clock,
                batch_size=batch_size,
                name=name,
                partition=p,
                on_round=on_round,
            )
            for p, name in cursors.items()
        }
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._caught_up: dict[int, int] = {}  # partition -> log head when it had nothing left
        self._turn = 0
        self.members: list[str] = []

    @property
    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    # -- membership and leases ---------------------------------------------------------------
    def balance(self) -> float:
        """Heartbeat, then give back and take leases to match the shared assignment."""
        with write_connection(self._engine) as conn, conn.begin():
            now = lease_now(conn, self._clock)
            heartbeat(conn, self.worker_id, now, self._ttl)
            members = live_members(conn, now)
        mine = share(self.partitions, members, self.worker_id)
        with self._lock:
            before = set(self._held)
            # Stop processing what we give back before giving it back.
            self._held &= mine
        if before - mine:
            with write_connection(self._engine) as conn, conn.begin():
                release(conn, self.worker_id, before - mine)
        with write_connection(self._engine) as conn, conn.begin():
            got = claim(conn, self.worker_id, mine, lease_now(conn, self._clock), self._ttl)
        with self._lock:
            self._held = got
        if got != before or members != self.members:
            log.info(
                "%s: %d members, holding partitions %s (wanted %d)",
                self.worker_id,
                len(members),
                sorted(got),
                len(mine),
            )
        self.members = members
        return self._heartbeat

    def leave(self) -> None:
        """Stopping on purpose: drop the heartbeat and the leases, so others take over now."""
        with self._lock:
            self._held = set()
        with write_connection(self._engine) as conn, conn.begin():
            leave(conn, self.worker_id)

    # -- processing ----------------------------------------------------------------------------
    def run_once(self) -> RoundResult:
        """One pass: a batch from each held partition that may have work."""
        with self._engine.connect() as conn:
            head = last_seq(conn)
        held = sorted(self.held)
        total = RoundResult()
        if not held:
            return total
        self._turn = (self._turn + 1) % len(held)
        for partition in held[self._turn :] + held[: self._turn]:
            if self._caught_up.get(partition, -1) >= head:
                continue
            if partition not in self.held:
                continue  # given back meanwhile
            result = self._processors[partition].run_once()
            total.processed += result.processed
            total.failed += result.failed
            total.retried = total.retried or result.retried
            total.redone_locked = total.redone_locked or result.redone_locked
            if result.processed or result.failed or result.retried:
                self._caught_up.pop(partition, None)
            else:
                self._caught_up[partition] = head
        return total

    def round(self, idle_seconds: float = 0.05) -> float:
        """The processing worker's round: 0 (go on) while there was work, else ``idle``."""
        result = self.run_once()
        if result.processed or result.failed or result.retried:
            return 0.0
        return idle_seconds

    def run_until_idle(self, max_rounds: int = 1_000_000) -> int:
        total = 0
        for _ in range(max_rounds):
            result = self.run_once()
            total += result.processed + result.failed
            if result.processed == 0 and result.failed == 0 and not result.retried:
                break
        return total
