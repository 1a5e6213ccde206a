"""The analytics read model of cases: each case's facts and the sums they add up to.

``case_inputs`` reads everything a case's contribution is computed from (the case, its
customer's segment and previous case, its timeline, its SLA measurements, its applied remedies,
its follow-up survey answer) in a few queries per chunk of cases; ``write_facts`` stores the
recomputed facts and adds the *differences* from the old ones to ``analytics_case_daily`` (per
dimension and value) and ``analytics_case_slices`` (per combination of every slice but the
agent), one upsert per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
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
from winback.store.analytics_store import insert_for
from winback.store.eventlog import chunks
from winback.store.tables import (
    analytics_case_daily,
    analytics_case_facts,
    analytics_case_slices,
    case_sla,
    case_timeline,
    cases,
    customers,
    events,
    remedy_grants,
)

_HANDLED = ("case.status_changed", "case.reply")
# The slices summed together per day (every one but the agent, whose many values would make
# that table as large as the cases).
COMBINED = tuple(d for d in DIMENSIONS if d != "agent")


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
        insert = insert_for(conn)(analytics_case_facts)
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
    insert = insert_for(conn)(table)
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
