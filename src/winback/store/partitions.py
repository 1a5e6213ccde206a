"""The log's partitions: how many, which one a customer is in, who holds each, how far behind.

``log_partitions`` has one row per partition (N = the row count; migration 0016 creates one, on
the ``pipeline`` cursor). A partition's position is its row in ``processor_cursors``, moved by the
processor's compare-and-set with the batch's effects (see :mod:`winback.pipeline.processor`).
Workers hold partitions by *lease*: :func:`claim` takes or renews the ones a worker should hold
and that nobody else holds unexpired; :func:`release` gives the others back. Lease and
heartbeat times are the database's clock on PostgreSQL (hosts' clocks may drift) and the
injected clock on SQLite (one machine). A lease only saves duplicated work: the cursor's
compare-and-set is what stops two holders from both applying a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.clock import Clock
from winback.errors import Conflict, InvalidInput
from winback.store.engine import write_connection
from winback.store.eventlog import APPEND_LOCK_ID, partition_count, partition_of
from winback.store.tables import events, log_partitions, processor_cursors, processor_members

DEFAULT_CURSOR = "pipeline"
MAX_PARTITIONS = 1024

__all__ = ["partition_count", "partition_of"]  # with the rest: they live beside the log


def cursor_name(partition: int, count: int) -> str:
    """Partition ``partition``'s cursor; with one partition, today's ``pipeline``."""
    return DEFAULT_CURSOR if count <= 1 else f"{DEFAULT_CURSOR}.p{partition:03d}"


def partition_cursors(conn: Connection) -> dict[int, str]:
    return {
        int(r.partition): str(r.cursor)
        for r in conn.execute(sa.select(log_partitions.c.partition, log_partitions.c.cursor))
    }


def set_partition_count(engine: Engine, count: int) -> None:
    """Make the log ``count`` partitions. Only on an empty log: moving a customer to another
    partition while events of theirs wait could let two workers run them at once. Taken under
    the append lock, so no ingest can stamp an event with the old N meanwhile."""
    if not 1 <= count <= MAX_PARTITIONS:
        raise InvalidInput(f"partitions: between 1 and {MAX_PARTITIONS}", field="partitions")
    with write_connection(engine) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
        if partition_count(conn) == count:
            return
        held_events = conn.execute(sa.select(events.c.seq).limit(1)).first() is not None
        moved = conn.execute(
            sa.select(processor_cursors.c.name).where(processor_cursors.c.position > 0).limit(1)
        ).first()
        if held_events or moved is not None:  # events now, or once (processes remember N)
            raise Conflict(
                "the log already holds events: the partition count is fixed once events exist"
            )
        conn.execute(log_partitions.delete())
        conn.execute(processor_cursors.delete())
        conn.execute(
            log_partitions.insert(),
            [{"partition": p, "cursor": cursor_name(p, count)} for p in range(count)],
        )


# -- time, membership and leases -----------------------------------------------------------
def lease_now(conn: Connection, clock: Clock) -> datetime:
    """The time leases are measured in: the database's on PostgreSQL, else the clock's."""
    if conn.dialect.name == "postgresql":
        value = conn.execute(sa.select(sa.func.now())).scalar_one()
        assert isinstance(value, datetime)
        return value
    return clock.now()


def heartbeat(conn: Connection, worker_id: str, now: datetime, ttl: timedelta) -> None:
    """Say ``worker_id`` is alive until ``now + ttl``."""
    updated = conn.execute(
        processor_members.update()
        .where(processor_members.c.worker_id == worker_id)
        .values(heartbeat_at=now, expires_at=now + ttl)
    ).rowcount
    if updated == 0:
        conn.execute(
            processor_members.insert().values(
                worker_id=worker_id, started_at=now, heartbeat_at=now, expires_at=now + ttl
            )
        )


def live_members(conn: Connection, now: datetime) -> list[str]:
    """The workers whose heartbeat has not expired (forgetting those long dead)."""
    conn.execute(processor_members.delete().where(processor_members.c.expires_at < now - _FORGET))
    rows = conn.execute(
        sa.select(processor_members.c.worker_id)
        .where(processor_members.c.expires_at > now)
        .order_by(processor_members.c.worker_id)
    )
    return [str(r.worker_id) for r in rows]


_FORGET = timedelta(minutes=10)


def leave(conn: Connection, worker_id: str) -> None:
    """A worker stopping on purpose: drop its heartbeat and its leases at once."""
    conn.execute(processor_members.delete().where(processor_members.c.worker_id == worker_id))
    conn.execute(
        log_partitions.update()
        .where(log_partitions.c.owner == worker_id)
        .values(owner=None, lease_expires_at=None)
    )


def claim(
    conn: Connection, worker_id: str, wanted: Iterable[int], now: datetime, ttl: timedelta
) -> set[int]:
    """Take or renew the leases on ``wanted`` that are free, expired or already ours; return
    the partitions this worker now holds."""
    wanted = sorted(wanted)
    if not wanted:
        return set()
    rows = conn.execute(
        log_partitions.update()
        .where(
            log_partitions.c.partition.in_(wanted),
            sa.or_(
                log_partitions.c.owner.is_(None),
                log_partitions.c.owner == worker_id,
                log_partitions.c.lease_expires_at < now,
            ),
        )
        .values(owner=worker_id, lease_expires_at=now + ttl)
        .returning(log_partitions.c.partition)
    )
    return {int(p) for p in rows.scalars()}


def release(conn: Connection, worker_id: str, partitions: Iterable[int]) -> None:
    """Give back the leases on ``partitions`` that this worker holds."""
    partitions = sorted(partitions)
    if partitions:
        conn.execute(
            log_partitions.update()
            .where(log_partitions.c.partition.in_(partitions), log_partitions.c.owner == worker_id)
            .values(owner=None, lease_expires_at=None)
        )


def owners(conn: Connection, now: datetime) -> dict[int, str | None]:
    """Each partition's holder (None: free or expired)."""
    return {
        int(r.partition): (
            r.owner
            if r.owner is not None and r.lease_expires_at and r.lease_expires_at > now
            else None
        )
        for r in conn.execute(sa.select(log_partitions))
    }


# -- lag -----------------------------------------------------------------------------------
def partition_lags(conn: Connection) -> dict[int, int]:
    """Events logged but not yet processed, per partition (one partition: ``{0: lag}``)."""
    cursors = partition_cursors(conn)
    count = max(1, len(cursors))
    positions = {
        str(r.name): int(r.position)
        for r in conn.execute(sa.select(processor_cursors.c.name, processor_cursors.c.position))
    }
    if count == 1:
        position = positions.get(cursors.get(0, DEFAULT_CURSOR), 0)
        last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0)))
        return {0: max(0, int(last.scalar_one()) - position)}
    lags: dict[int, int] = {}
    for partition, name in sorted(cursors.items()):
        behind = conn.execute(
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.partition == partition, events.c.seq > positions.get(name, 0))
        ).scalar_one()
        lags[partition] = int(behind)
    return lags
