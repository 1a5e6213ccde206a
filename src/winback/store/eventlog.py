"""The durable event log: append (idempotently, in groups) and read in sequence order.

Appends are serialised across processes so that sequence order equals commit order (the
processor relies on it to never skip an event): SQLite by ``BEGIN IMMEDIATE``, PostgreSQL by a
transaction-scoped advisory lock taken before the inserts. When the log has several partitions
(``log_partitions``), each new event is stamped with its customer's partition, N being read
under that lock. The group committer calls
:func:`append_groups` with several requests' events at once, paying one commit (one fsync) for
all of them.
"""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.events.ingest import GroupOutcome
from winback.events.model import Event
from winback.events.schema import IncomingEvent
from winback.store.engine import write_connection
from winback.store.tables import events, log_partitions

APPEND_LOCK_ID = 0x57696E6261636B  # "Winback": the advisory lock that orders appends on PostgreSQL
_CHUNK = 500  # bound IN (...) lists well under SQLite's variable limit


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def partition_of(customer_id: str, count: int) -> int:
    """The customer's partition among ``count``: stable across processes and machines
    (``crc32``; Python's ``hash()`` is salted per process)."""
    return zlib.crc32(customer_id.encode()) % count if count > 1 else 0


def partition_count(conn: Connection) -> int:
    """The log's partition count N (the rows of ``log_partitions``; 1 when empty)."""
    n = conn.execute(sa.select(sa.func.count()).select_from(log_partitions)).scalar_one()
    return max(1, int(n))


# N per engine, remembered once this process has logged an event: from then on the log is not
# empty, and the count cannot change (set_partition_count refuses, under the append lock).
_KNOWN_COUNTS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def _existing_hashes(conn: Connection, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in chunks(ids):
        rows = conn.execute(
            sa.select(events.c.event_id, events.c.content_hash).where(events.c.event_id.in_(part))
        )
        found.update({row.event_id: row.content_hash for row in rows})
    return found


def append_groups(
    engine: Engine, groups: list[list[IncomingEvent]], now: datetime
) -> list[GroupOutcome]:
    """Log the new events of every group in one transaction; report each group's outcome.

    A group containing an id already stored (or earlier in this call) with different content
    is refused whole (its ``conflicts`` are set) and nothing of it is stored; other groups are
    unaffected. Same id and content is a duplicate: reported, not stored again.
    """
    ids = list({e.event_id for group in groups for e in group})
    outcomes: list[GroupOutcome] = []
    with write_connection(engine) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
        known = _existing_hashes(conn, ids)
        # Read under the append lock: the partition count cannot change meanwhile.
        count = _KNOWN_COUNTS.get(engine) or partition_count(conn)
        rows: list[dict[str, Any]] = []
        for group in groups:
            outcome = GroupOutcome()
            fresh: dict[str, str] = {}
            for index, e in enumerate(group):
                seen = known.get(e.event_id) or fresh.get(e.event_id)
                if seen is None:
                    fresh[e.event_id] = e.content_hash
                    outcome.statuses.append("accepted")
                elif seen == e.content_hash:
                    outcome.statuses.append("duplicate")
                else:
                    outcome.conflicts.append((index, e.event_id))
            outcomes.append(outcome)
            if outcome.conflicts:
                continue
            known.update(fresh)
            rows.extend(
                {
                    "event_id": e.event_id,
                    "type": e.type,
                    "customer_id": e.customer_id,
                    "occurred_at": e.occurred_at or now,
                    "received_at": now,
                    "content_hash": e.content_hash,
                    "payload": e.payload,
                }
                for e, status in zip(group, outcome.statuses, strict=True)
                if status == "accepted"
            )
        if rows and count > 1:
            for row in rows:
                row["partition"] = partition_of(row["customer_id"], count)
        if rows:
            conn.execute(events.insert(), rows)
    if rows:
        _KNOWN_COUNTS[engine] = count
    return outcomes


def to_event(row: Any) -> Event:
    return Event(
        seq=row.seq,
        event_id=row.event_id,
        type=row.type,
        customer_id=row.customer_id,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        data=row.payload,
    )


def read_after(
    conn: Connection, position: int, limit: int, partition: int | None = None
) -> list[Event]:
    """The next events after ``position``, in sequence order: of the unpartitioned log, or of
    one partition (read through the partial index on (partition, seq)).

    Unpartitioned means unstamped (``partition IS NULL``): with one partition no event is
    stamped, so this is the whole log; and a processor still running on the single cursor after
    ``winback db partitions`` was run can never take the stamped events that the partitions'
    workers will process."""
    query = sa.select(events).where(events.c.seq > position)
    if partition is None:
        query = query.where(events.c.partition.is_(None))
    else:
        query = query.where(events.c.partition == partition)
    rows = conn.execute(query.order_by(events.c.seq).limit(limit))
    return [to_event(row) for row in rows]


def last_seq(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())
