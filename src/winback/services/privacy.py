"""Customers' privacy: export everything held about one, erase one, age out old payloads.

- :func:`export_customer`: every row of every table that holds the customer's data
  (:data:`winback.store.privacy.CUSTOMER_TABLES`), machine-readable; redacted unless the
  caller may see raw data (``reveal``).
- :func:`erase_customer`: irreversibly pseudonymise the customer across every table in one
  transaction (:data:`ERASURE_STEPS`), keeping aggregates. The pseudonym is random. It is
  refused (:class:`~winback.errors.Conflict`) while one of the customer's events is not yet
  processed, and it holds the ingest order lock and the processor's cursor meanwhile, so no
  batch computed from the customer's data can commit after it. An event for the same id
  that arrives later starts a new customer, unlinked to the erased history (docs/privacy.md).
- :class:`RetentionService`: the background worker's round: events received more than
  ``WINBACK_RETENTION_DAYS`` ago lose their payload's free text and contact details (kept:
  type, times, channel, score, amount), in batches, behind a cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from winback.clock import Clock
from winback.errors import Conflict, NotFound
from winback.pipeline.processor import read_cursor
from winback.store import audit
from winback.store import privacy as store
from winback.store.engine import write_connection
from winback.store.eventlog import APPEND_LOCK_ID
from winback.store.tables import processor_cursors
from winback.text.pii import redact_json

log = logging.getLogger(__name__)

EXPORT_FORMAT = "winback.customer-export/1"


# -- export ----------------------------------------------------------------------------------
def export_customer(
    engine: Engine,
    clock: Clock,
    customer_id: str,
    *,
    reveal: bool = False,
    actor: str,
    credential: str,
) -> dict[str, Any]:
    """Everything held about the customer, table by table (JSON-ready but for datetimes).
    Without ``reveal`` every string in it is PII-redacted, as on the read routes. The export
    is audited (``customer.export``: who, through which credential, raw or redacted) in the
    transaction that reads it."""
    with write_connection(engine) as conn, conn.begin():
        if not store.customer_exists(conn, customer_id):
            raise NotFound(f"no customer {customer_id!r}", customer_id=customer_id)
        tables = store.export_rows(conn, customer_id)
        now = clock.now()
        audit.record(
            conn,
            actor=actor,
            credential=credential,
            action="customer.export",
            subject_type="customer",
            subject_id=customer_id,
            details={"redacted": not reveal},
            at=now,
        )
    return {
        "format": EXPORT_FORMAT,
        "customer_id": customer_id,
        "exported_at": now,
        "redacted": not reveal,
        "tables": tables if reveal else redact_json(tables),
    }


# -- erasure ---------------------------------------------------------------------------------
ErasureStep = Callable[[Connection, store.Erasure], None]


def _count_key_only_tables(conn: Connection, erasure: store.Erasure) -> None:
    store.count_untouched(conn, erasure, ("case_events", "sla_timers", "analytics_case_facts"))


# The erasure, step by step, in one transaction. Rows found through a case or an event of the
# customer are scrubbed before the cases and events themselves move to the pseudonym.
# The audit trail comes last (:func:`erase_customer`): its scrub and the ``customer.erase``
# record take the chain's lock, which must be the last lock the transaction takes.
ERASURE_STEPS: list[ErasureStep] = [
    _count_key_only_tables,
    store.open_pseudonym,
    store.erase_event_text,
    store.erase_event_failures,
    store.erase_timeline,
    store.erase_case_actions,
    store.erase_case_sla,
    store.erase_outbox,
    store.erase_deliveries,
    store.erase_preferences,
    store.erase_analytics,
    store.erase_events,
    store.erase_cases,
    store.erase_remedy_grants,
    store.erase_risk,
    store.close_customer_row,
]


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure changed: rows per table. Holds neither the id nor the pseudonym."""

    counts: dict[str, int]


def erase_customer(
    engine: Engine, clock: Clock, customer_id: str, actor: str, credential: str
) -> ErasureResult:
    """Pseudonymise the customer everywhere (see the module docstring), the audit trail
    included; ``actor`` (through ``credential``) is who asked, recorded in a ``customer.erase``
    audit record that names the pseudonym and the counts, never the customer. Raises
    :class:`NotFound` or :class:`Conflict` (nothing changed)."""
    with write_connection(engine) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # Ingest's order lock: no event of the customer can be logged meanwhile.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_ID)))
            # The processor's cursor: its batch in flight commits before or after, never
            # across; either way it holds none of the customer's events (checked below).
            conn.execute(sa.select(processor_cursors.c.position).with_for_update())
        if not store.customer_exists(conn, customer_id):
            raise NotFound(f"no customer {customer_id!r}", customer_id=customer_id)
        if store.last_event_seq(conn, customer_id) > read_cursor(conn):
            raise Conflict(
                "some of the customer's events are not processed yet; erase again once the "
                "processor has caught up (it usually takes a moment)",
                reason="not_processed",
            )
        erasure = store.Erasure(customer_id, store.new_pseudonym())
        store.gather_identifiers(conn, erasure)
        for step in ERASURE_STEPS:
            step(conn, erasure)
        now = clock.now()
        erasure.counts["audit_log"] = audit.scrub_customer(
            conn, customer_id, erasure.pseudonym, at=now, actor=actor, credential=credential
        )
        audit.record(
            conn,
            actor=actor,
            credential=credential,
            action="customer.erase",
            subject_type="customer",
            subject_id=erasure.pseudonym,
            details={"rows": dict(erasure.counts)},
            at=now,
        )
    log.info("a customer was erased by %s: %s", actor, erasure.counts)
    return ErasureResult(dict(erasure.counts))


# -- retention -------------------------------------------------------------------------------
@dataclass
class RetentionService:
    """Prunes events received more than ``days`` ago, ``batch`` at a time (one transaction
    each), behind the ``retention`` cursor; only events the processor has already processed."""

    engine: Engine
    clock: Clock
    days: float
    batch: int = 200
    idle_seconds: float = 60.0
    pruned: int = 0  # events pruned by this process

    def round(self) -> float:
        """One batch; 0 (go again) while batches are full, else ``idle_seconds``."""
        cutoff = self.clock.now() - timedelta(days=self.days)
        with write_connection(self.engine) as conn, conn.begin():
            position = read_cursor(conn, store.RETENTION_CURSOR)
            upto = read_cursor(conn)
            pruned, last, more = store.prune_payloads(conn, position, upto, cutoff, self.batch)
            if last != position:
                self._move(conn, position, last)
        self.pruned += pruned
        return 0.0 if more else self.idle_seconds

    def run_until_done(self) -> int:
        """Rounds until nothing is left to prune now (tools and tests); the events pruned."""
        before = self.pruned
        while self.round() == 0.0:
            pass
        return self.pruned - before

    def _move(self, conn: Connection, position: int, last: int) -> None:
        now = self.clock.now()
        name = store.RETENTION_CURSOR
        moved = conn.execute(
            processor_cursors.update()
            .where(processor_cursors.c.name == name)
            .values(position=last, updated_at=now)
        ).rowcount
        if not moved:
            conn.execute(
                processor_cursors.insert().values(name=name, position=last, updated_at=now)
            )
