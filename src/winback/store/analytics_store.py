"""The analytics read models: reading what changed, writing facts and sums, and the reports'
queries.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.analytics.metrics import (
    DIMENSIONS,
    FOLLOWUP_WINDOW,
    MEASURES,
    CaseFacts,
    CaseInput,
    Entry,
    Measured,
    delta,
)
from winback.analytics.retention import Exposure, Fate
from winback.cases.model import OPEN_STATUSES
from winback.store.eventlog import chunks
from winback.store.tables import (
    analytics_case_daily,
    analytics_case_facts,
    analytics_case_slices,
    analytics_customer_fates,
    analytics_exposures,
    analytics_score_daily,
    case_sla,
    case_timeline,
    cases,
    customers,
    events,
    outbox,
    processor_cursors,
    remedy_grants,
)

OVERLAP = 5000
EXPOSURE_TOPICS = {"playbook.holdout": "control", "playbook.treated": "treated"}
# The events the analytics read: survey answers (their score) and the subscription's end or
# renewal. A customer's last activity is ``customers.last_event_at`` (the processor keeps it).
FEED_TYPES = ("survey.response", "subscription.cancelled", "subscription.renewed")
_HANDLED = ("case.status_changed", "case.reply")
# The slices summed together per day (every one but the agent, whose many values would make
# that table as large as the cases).
COMBINED = tuple(d for d in DIMENSIONS if d != "agent")


def _insert_for(conn: Connection) -> Any:
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
        _insert_for(conn)(processor_cursors)
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
    insert = _insert_for(conn)(analytics_score_daily)
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
    insert = _insert_for(conn)(analytics_customer_fates)
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


# -- case facts -------------------------------------------------------------------------------
def case_inputs(conn: Connection, case_ids: Sequence[int]) -> list[CaseInput]:
    """Everything the facts of ``case_ids`` are computed from, in a few queries per chunk."""
    out: list[CaseInput] = []
    for part in chunks(sorted(case_ids)):
        previous = (
            sa.select(sa.func.max(_prev.c.resolved_at))
            .where(
                _prev.c.customer_id == cases.c.customer_id,
                _prev.c.id != cases.c.id,
                _prev.c.resolved_at <= cases.c.opened_at,
            )
            .scalar_subquery()
        )
        rows = conn.execute(
            sa.select(
                cases.c.id,
                cases.c.customer_id,
                cases.c.opened_at,
                cases.c.status,
                cases.c.priority,
                cases.c.decided_by,
                cases.c.reopen_count,
                cases.c.resolved_at,
                cases.c.team,
                cases.c.owner,
                cases.c.category,
                cases.c.channel,
                customers.c.segment,
                previous.label("previous_resolved_at"),
            )
            .select_from(cases.outerjoin(customers, customers.c.id == cases.c.customer_id))
            .where(cases.c.id.in_(part))
        ).all()
        entries: dict[int, list[Entry]] = defaultdict(list)
        for t in conn.execute(
            sa.select(case_timeline.c.case_id, case_timeline.c.kind, case_timeline.c.at).where(
                case_timeline.c.case_id.in_(part), case_timeline.c.kind.in_(_HANDLED)
            )
        ):
            entries[t.case_id].append(Entry(t.kind, t.at))
        measured: dict[int, list[Measured]] = defaultdict(list)
        for st in conn.execute(
            sa.select(case_sla.c.case_id, case_sla.c.state).where(case_sla.c.case_id.in_(part))
        ):
            for h in (st.state or {}).get("history", []):
                measured[st.case_id].append(
                    Measured(
                        h["metric"],
                        int(h["generation"]),
                        h.get("target_s"),
                        float(h["business_s"]),
                        float(h["wall_s"]),
                        h["outcome"],
                    )
                )
        costs: dict[int, list[float]] = defaultdict(list)
        for g in conn.execute(
            sa.select(remedy_grants.c.case_id, remedy_grants.c.cost).where(
                remedy_grants.c.case_id.in_(part), remedy_grants.c.status == "applied"
            )
        ):
            costs[g.case_id].append(float(g.cost))
        followups = _followups(conn, rows)
        for r in rows:
            out.append(
                CaseInput(
                    case_id=int(r.id),
                    opened_at=r.opened_at,
                    status=r.status,
                    priority=r.priority,
                    decided_by=r.decided_by,
                    reopen_count=int(r.reopen_count or 0),
                    resolved_at=r.resolved_at,
                    team=r.team,
                    owner=r.owner,
                    category=r.category,
                    channel=r.channel,
                    segment=r.segment,
                    entries=entries.get(r.id, []),
                    measurements=measured.get(r.id, []),
                    remedy_costs=costs.get(r.id, []),
                    previous_resolved_at=r.previous_resolved_at,
                    followup=followups.get(int(r.id)),
                )
            )
    return out


_prev = cases.alias("previous_case")


def _followups(conn: Connection, rows: Sequence[Any]) -> dict[int, tuple[str, int]]:
    """Each resolved case's first survey answer within the follow-up window."""
    resolved = {r.customer_id: r for r in rows if r.resolved_at is not None}
    if not resolved:
        return {}
    since = min(r.resolved_at for r in resolved.values())
    answers: dict[str, list[tuple[datetime, str, int]]] = defaultdict(list)
    for part in chunks(list(resolved)):
        for e in conn.execute(
            sa.select(events.c.customer_id, events.c.occurred_at, events.c.payload).where(
                events.c.customer_id.in_(part),
                events.c.type == "survey.response",
                events.c.occurred_at > since,
            )
        ):
            score = (e.payload or {}).get("score")
            if isinstance(score, dict):
                answers[e.customer_id].append(
                    (e.occurred_at, str(score["kind"]), int(score["value"]))
                )
    out: dict[int, tuple[str, int]] = {}
    for customer_id, r in resolved.items():
        window = [
            a
            for a in answers.get(customer_id, [])
            if r.resolved_at < a[0] <= r.resolved_at + FOLLOWUP_WINDOW
        ]
        if window:
            _, kind, value = min(window)
            out[int(r.id)] = (kind, value)
    return out


def load_facts(conn: Connection, case_ids: Sequence[int]) -> dict[int, CaseFacts]:
    found: dict[int, CaseFacts] = {}
    for part in chunks(sorted(case_ids)):
        for row in conn.execute(
            sa.select(analytics_case_facts).where(analytics_case_facts.c.case_id.in_(part))
        ):
            found[int(row.case_id)] = CaseFacts.from_row(dict(row._mapping))
    return found


def write_facts(conn: Connection, new: Sequence[CaseFacts], old: Mapping[int, CaseFacts]) -> int:
    """Store each case's facts and add the differences to the daily sums (one upsert per
    table); returns the number of cases whose contribution changed."""
    daily: dict[tuple[Any, ...], dict[str, float]] = {}
    combos: dict[tuple[Any, ...], dict[str, float]] = {}
    rows = []
    for facts in new:
        parts = delta(old.get(facts.case_id), facts)
        if not parts:
            continue
        rows.append(facts.to_row())
        for day, key, diff in parts:
            named = dict(zip(DIMENSIONS, key, strict=True))
            targets = [(daily, (day, "", "")), (combos, (day, *(named[d] for d in COMBINED)))]
            targets += [(daily, (day, d, v)) for d, v in named.items()]
            for sums, target in targets:
                total = sums.setdefault(target, {})
                for k, v in diff.items():
                    total[k] = total.get(k, 0.0) + v
    if rows:
        insert = _insert_for(conn)(analytics_case_facts)
        columns = [c for c in rows[0] if c != "case_id"]
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["case_id"], set_={c: insert.excluded[c] for c in columns}
            ),
            rows,
        )
    _add_sums(conn, analytics_case_daily, ("day", "dimension", "value"), daily)
    _add_sums(conn, analytics_case_slices, ("day", *COMBINED), combos)
    return len(rows)


def _add_sums(
    conn: Connection,
    table: sa.Table,
    key_names: Sequence[str],
    sums: Mapping[tuple[Any, ...], Mapping[str, float]],
) -> None:
    rows = []
    emptied = []
    for key, diff in sums.items():
        diff = {k: v for k, v in diff.items() if v}
        if not diff:
            continue
        named = dict(zip(key_names, key, strict=True))
        rows.append({**dict.fromkeys(MEASURES, 0.0), **named, **diff})
        if diff.get("opened", 0.0) < 0:
            emptied.append({f"k_{n}": v for n, v in named.items()})
    if not rows:
        return
    cols = table.c
    insert = _insert_for(conn)(table)
    # Every row names every measure (0 where unchanged): executemany needs one shape.
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=list(key_names),
            set_={m: cols[m] + insert.excluded[m] for m in MEASURES},
        ),
        rows,
    )
    if emptied:
        # A slice left with no case (a case moved out of it): drop its row.
        conn.execute(
            table.delete().where(
                *(cols[n] == sa.bindparam(f"k_{n}") for n in key_names), cols.opened < 0.5
            ),
            emptied,
        )


# -- the reports' queries --------------------------------------------------------------------
def service_sums(
    conn: Connection,
    start: date | None,
    end: date | None,
    by: Sequence[str],
    filters: Mapping[str, str],
    per_day: bool = True,
) -> list[tuple[Any, ...]]:
    """The measures summed per ``by`` slice (and per day unless ``per_day`` is false) between
    ``start`` and ``end`` (inclusive), over the cases matching ``filters``: rows of
    ``(day or None, *slice values, *MEASURES)``.

    No filter and at most one slice: the daily sums per dimension. Slices and filters without
    the agent: the daily sums per combination. With the agent among several: the per-case
    facts of the days asked for, summed by the database.
    """
    if len(by) <= 1 and not filters:
        table = analytics_case_daily.c
        keys: list[Any] = [table.value] if by else []
        where: list[Any] = [table.dimension == (by[0] if by else "")]
    elif "agent" not in by and "agent" not in filters:
        table = analytics_case_slices.c
        keys = [table[name] for name in by]
        where = [table[name] == value for name, value in filters.items()]
    else:
        table = analytics_case_facts.c
        keys = [table[name] for name in by]
        where = [table[name] == value for name, value in filters.items()]
    if start is not None:
        where.append(table.day >= start)
    if end is not None:
        where.append(table.day <= end)
    day: Any = table.day if per_day else sa.null()
    group = [table.day, *keys] if per_day else keys
    query = sa.select(day, *keys, *(sa.func.sum(table[m]) for m in MEASURES)).where(*where)
    if group:
        query = query.group_by(*group)
    return [tuple(r) for r in conn.execute(query)]


def score_counts(
    conn: Connection,
    start: date | None,
    end: date | None,
    by: Sequence[str],
    filters: Mapping[str, str],
) -> list[dict[str, Any]]:
    cols = analytics_score_daily.c
    keys = [cols.day, cols.kind, cols.value, *(cols[d] for d in by)]
    query = sa.select(*keys, sa.func.sum(cols.responses).label("responses")).group_by(*keys)
    if start is not None:
        query = query.where(cols.day >= start)
    if end is not None:
        query = query.where(cols.day <= end)
    for name, value in filters.items():
        query = query.where(cols[name] == value)
    return [dict(r._mapping) for r in conn.execute(query)]


def backlog(conn: Connection, by: str | None) -> list[dict[str, Any]]:
    """Open cases now: how many, and the oldest's opening, per ``by`` (a case column)."""
    keys = [] if by is None else [getattr(cases.c, by).label(by)]
    query = sa.select(
        *keys,
        sa.func.count().label("open_cases"),
        sa.func.min(cases.c.opened_at).label("oldest_opened_at"),
    ).where(cases.c.status.in_(sorted(OPEN_STATUSES)))
    if keys:
        query = query.group_by(*keys)
    return [dict(r._mapping) for r in conn.execute(query)]


def exposures_and_fates(conn: Connection) -> Iterator[tuple[Exposure, Fate]]:
    """Every exposure with its customer's fate, value and first remedy after exposure."""
    grants: dict[str, list[tuple[datetime, str, float]]] = defaultdict(list)
    for g in conn.execute(
        sa.select(
            remedy_grants.c.customer_id,
            remedy_grants.c.created_at,
            remedy_grants.c.remedy,
            remedy_grants.c.cost,
        ).where(remedy_grants.c.status == "applied")
    ):
        grants[g.customer_id].append((g.created_at, g.remedy, float(g.cost)))
    x, f = analytics_exposures.c, analytics_customer_fates.c
    query = sa.select(
        x.customer_id,
        x.rule,
        x.arm,
        x.at,
        x.segment,
        customers.c.value,
        customers.c.last_event_at,
        f.cancelled_at,
    ).select_from(
        analytics_exposures.outerjoin(
            analytics_customer_fates, f.customer_id == x.customer_id
        ).outerjoin(customers, customers.c.id == x.customer_id)
    )
    for r in conn.execution_options(yield_per=10_000).execute(query):
        given = grants.get(r.customer_id)
        after = sorted(g for g in given if g[0] >= r.at) if given else []
        yield (
            Exposure(
                r.customer_id,
                r.rule,
                r.arm,
                r.at,
                r.segment,
                after[0][1] if after else None,
                sum(g[2] for g in after),
                r.value,
            ),
            Fate(r.cancelled_at, r.last_event_at),
        )
