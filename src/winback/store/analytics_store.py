"""The analytics read models' feeds: reading what changed after the worker's cursors, and
writing the survey counts, the customers' fates and the exposures (the cases' facts and sums
are :mod:`~winback.store.analytics_facts`, the reports' queries
:mod:`~winback.store.analytics_queries`).

Feeds, each after a cursor kept in ``processor_cursors`` (names ``analytics:*``):

- the event log by ``seq`` (commit order, contract 9): survey answers into
  ``analytics_score_daily``, cancellations and renewals into ``analytics_customer_fates``
  (a customer's last activity is ``customers.last_event_at``);
- the case timelines by ``id``: the cases whose contribution may have changed;
- the outbox by ``id``: the playbooks' ``playbook.holdout`` / ``playbook.treated`` records into
  ``analytics_exposures``.

On PostgreSQL a timeline or outbox id is handed out before its transaction commits, so a row
can become visible behind a cursor already past it. Those two feeds therefore re-read the last
:data:`OVERLAP` ids on every round and skip the ids they have already handled
(:class:`Window`); what they derive is recomputed whole (a case's facts) or kept first-seen (an
exposure), so reading a row twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.analytics.metrics import (
    FOLLOWUP_WINDOW,
)
from winback.store.eventlog import chunks
from winback.store.tables import (
    analytics_customer_fates,
    analytics_exposures,
    analytics_score_daily,
    case_timeline,
    cases,
    customers,
    events,
    outbox,
    processor_cursors,
)

OVERLAP = 5000
EXPOSURE_TOPICS = {"playbook.holdout": "control", "playbook.treated": "treated"}
# The events the analytics read: survey answers (their score) and the subscription's end or
# renewal. A customer's last activity is ``customers.last_event_at`` (the processor keeps it).
FEED_TYPES = ("survey.response", "subscription.cancelled", "subscription.renewed")


def insert_for(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


# -- cursors --------------------------------------------------------------------------------
def read_cursor(conn: Connection, name: str) -> int:
    value = conn.execute(
        sa.select(processor_cursors.c.position).where(processor_cursors.c.name == name)
    ).scalar_one_or_none()
    return int(value or 0)


def move_cursor(conn: Connection, name: str, old: int, new: int, now: datetime) -> bool:
    """Compare-and-set: ``False`` when another worker moved it first (then roll back)."""
    if old == new:
        return True
    done = conn.execute(
        processor_cursors.update()
        .where(processor_cursors.c.name == name, processor_cursors.c.position == old)
        .values(position=new, updated_at=now)
    ).rowcount
    if done:
        return True
    if old != 0:
        return False
    inserted = conn.execute(
        insert_for(conn)(processor_cursors)
        .values(name=name, position=new, updated_at=now)
        .on_conflict_do_nothing()
    ).rowcount
    return bool(inserted)


@dataclass
class Window:
    """The ids of an id-ordered feed handled in its overlap window (see the module docstring)."""

    seen: set[int] = field(default_factory=set)

    def fresh(self, ids: Iterable[int]) -> list[int]:
        return [i for i in ids if i not in self.seen]

    def advance(self, handled: Iterable[int], cursor: int) -> None:
        self.seen.update(handled)
        low = cursor - OVERLAP
        self.seen = {i for i in self.seen if i > low}


# -- the event log: scores and fates ------------------------------------------------------
@dataclass
class EventBatch:
    last_seq: int
    count: int  # events looked at (the relevant ones and the rest)
    scores: dict[tuple[date, str, int, str, str, str], int]
    fates: dict[str, dict[str, datetime]]
    answered: dict[str, datetime]  # customer -> latest survey answer in the batch


def read_events(conn: Connection, after: int, limit: int) -> EventBatch:
    """The next ``limit`` events of the log; only the survey answers, cancellations and
    renewals among them are read whole (the database skips the rest)."""
    window = (
        sa.select(events.c.seq).where(events.c.seq > after).order_by(events.c.seq).limit(limit)
    ).subquery()
    upper, count = conn.execute(
        sa.select(sa.func.max(window.c.seq), sa.func.count()).select_from(window)
    ).one()
    batch = EventBatch(after, int(count or 0), defaultdict(int), {}, {})
    if not count:
        return batch
    batch.last_seq = int(upper)
    rows = conn.execute(
        sa.select(events.c.type, events.c.customer_id, events.c.occurred_at, events.c.payload)
        .where(events.c.seq > after, events.c.seq <= upper, events.c.type.in_(FEED_TYPES))
        .order_by(events.c.seq)
    )
    for row in rows:
        payload = row.payload or {}
        at: datetime = row.occurred_at
        score = payload.get("score")
        if isinstance(score, dict) and "kind" in score and "value" in score:
            customer = payload.get("customer") or {}
            key = (
                at.date(),
                str(score["kind"]),
                int(score["value"]),
                str(customer.get("segment") or ""),
                str(payload.get("channel") or ""),
                str(payload.get("touchpoint") or ""),
            )
            batch.scores[key] += 1
            prev = batch.answered.get(row.customer_id)
            batch.answered[row.customer_id] = at if prev is None else max(prev, at)
        if row.type == "subscription.cancelled":
            fate = batch.fates.setdefault(row.customer_id, {})
            fate["cancelled_at"] = min(fate.get("cancelled_at", at), at)
        elif row.type == "subscription.renewed":
            fate = batch.fates.setdefault(row.customer_id, {})
            fate["renewed_at"] = max(fate.get("renewed_at", at), at)
    return batch


def write_scores(conn: Connection, scores: Mapping[tuple[Any, ...], int]) -> None:
    """Add the batch's answers to the daily counts (one upsert for the batch)."""
    if not scores:
        return
    rows = [
        {
            "day": day,
            "kind": kind,
            "value": value,
            "segment": segment,
            "channel": channel,
            "touchpoint": touchpoint,
            "responses": n,
        }
        for (day, kind, value, segment, channel, touchpoint), n in scores.items()
    ]
    insert = insert_for(conn)(analytics_score_daily)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["day", "kind", "value", "segment", "channel", "touchpoint"],
            set_={"responses": analytics_score_daily.c.responses + insert.excluded.responses},
        ),
        rows,
    )


def _earliest(column: Any, new: Any) -> Any:
    return sa.case(
        (column.is_(None), new), (new.is_(None), column), (new < column, new), else_=column
    )


def _latest(column: Any, new: Any) -> Any:
    return sa.case(
        (column.is_(None), new), (new.is_(None), column), (new > column, new), else_=column
    )


def write_fates(conn: Connection, fates: Mapping[str, Mapping[str, datetime]]) -> None:
    """Merge (one upsert for the batch): the first cancellation and the latest renewal."""
    if not fates:
        return
    rows = [
        {
            "customer_id": customer_id,
            "cancelled_at": fate.get("cancelled_at"),
            "renewed_at": fate.get("renewed_at"),
        }
        for customer_id, fate in fates.items()
    ]
    c = analytics_customer_fates.c
    insert = insert_for(conn)(analytics_customer_fates)
    new = insert.excluded
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "cancelled_at": _earliest(c.cancelled_at, new.cancelled_at),
                "renewed_at": _latest(c.renewed_at, new.renewed_at),
            },
        ),
        rows,
    )


def cases_answered(conn: Connection, answered: Mapping[str, datetime]) -> set[int]:
    """Resolved cases a survey answer in ``answered`` may be the follow-up of."""
    found: set[int] = set()
    for part in chunks(list(answered)):
        for row in conn.execute(
            sa.select(cases.c.id, cases.c.customer_id, cases.c.resolved_at).where(
                cases.c.customer_id.in_(part), cases.c.resolved_at.is_not(None)
            )
        ):
            at = answered[row.customer_id]
            if row.resolved_at < at <= row.resolved_at + FOLLOWUP_WINDOW:
                found.add(int(row.id))
    return found


# -- id-ordered feeds: timelines and the outbox ---------------------------------------------
def changed_cases(
    conn: Connection, after: int, window: Window, limit: int
) -> tuple[set[int], list[int]]:
    """Cases with timeline entries not handled yet, and those entries' ids."""
    rows = conn.execute(
        sa.select(case_timeline.c.id, case_timeline.c.case_id)
        .where(case_timeline.c.id > after - OVERLAP)
        .order_by(case_timeline.c.id)
        .limit(OVERLAP + limit)
    ).all()
    fresh = set(window.fresh(r.id for r in rows))
    return {int(r.case_id) for r in rows if r.id in fresh}, sorted(fresh)


def read_exposures(
    conn: Connection, after: int, window: Window, limit: int
) -> tuple[list[dict[str, Any]], list[int]]:
    rows = conn.execute(
        sa.select(outbox.c.id, outbox.c.topic, outbox.c.payload)
        .where(outbox.c.id > after - OVERLAP, outbox.c.topic.in_(list(EXPOSURE_TOPICS)))
        .order_by(outbox.c.id)
        .limit(OVERLAP + limit)
    ).all()
    fresh = set(window.fresh(r.id for r in rows))
    found = [{**r.payload, "arm": EXPOSURE_TOPICS[r.topic]} for r in rows if r.id in fresh]
    return found, sorted(fresh)


def write_exposures(conn: Connection, found: Sequence[Mapping[str, Any]]) -> None:
    """Keep each (customer, rule)'s earliest exposure, timed by its event's ``occurred_at``."""
    if not found:
        return
    event_ids = list({str(f["event_id"]) for f in found})
    when: dict[str, datetime] = {}
    for part in chunks(event_ids):
        for ev in conn.execute(
            sa.select(events.c.event_id, events.c.occurred_at).where(events.c.event_id.in_(part))
        ):
            when[ev.event_id] = ev.occurred_at
    customer_ids = list({str(f["customer_id"]) for f in found})
    segments: dict[str, str | None] = {}
    existing: dict[tuple[str, str], datetime] = {}
    for part in chunks(customer_ids):
        for c in conn.execute(
            sa.select(customers.c.id, customers.c.segment).where(customers.c.id.in_(part))
        ):
            segments[c.id] = c.segment
        for row in conn.execute(
            sa.select(
                analytics_exposures.c.customer_id,
                analytics_exposures.c.rule,
                analytics_exposures.c.at,
            ).where(analytics_exposures.c.customer_id.in_(part))
        ):
            existing[(row.customer_id, row.rule)] = row.at
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for f in found:
        at = when.get(str(f["event_id"]))
        if at is None:
            continue
        key = (str(f["customer_id"]), str(f["rule"]))
        if key in best and best[key]["at"] <= at:
            continue
        best[key] = {
            "customer_id": key[0],
            "rule": key[1],
            "arm": f["arm"],
            "at": at,
            "event_id": str(f["event_id"]),
            "segment": segments.get(key[0]),
        }
    inserts: list[dict[str, Any]] = []
    for key, item in best.items():
        old = existing.get(key)
        if old is None:
            inserts.append(item)
        elif item["at"] < old:
            conn.execute(
                analytics_exposures.update()
                .where(
                    analytics_exposures.c.customer_id == key[0],
                    analytics_exposures.c.rule == key[1],
                )
                .values(at=item["at"], event_id=item["event_id"])
            )
    if inserts:
        conn.execute(analytics_exposures.insert(), inserts)
