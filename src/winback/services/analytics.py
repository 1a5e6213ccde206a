"""Analytics: keeping the read models current, and the reports read from them.

:class:`AnalyticsUpdater` is a background worker's round (``winback-analytics``, every
``WINBACK_ANALYTICS_INTERVAL_SECONDS``): it reads what changed since its cursors — new events,
new timeline entries, new experiment records in the outbox — recomputes the facts of the cases
that changed and adds the differences to the daily sums, all in one transaction that moves its
cursors with a compare-and-set (a second worker's round then fails its check and is rolled
back), so the endpoints read small tables instead of scanning cases and events per request.

The report functions turn those tables into the documented metrics (winback.analytics).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from winback.analytics import metrics, retention, scores
from winback.analytics.periods import period_of
from winback.clock import Clock
from winback.errors import InvalidInput
from winback.store import analytics_facts as facts_store
from winback.store import analytics_queries as queries
from winback.store import analytics_store as store
from winback.store.engine import write_connection

log = logging.getLogger(__name__)

EVENTS, TIMELINE, OUTBOX = "analytics:events", "analytics:timeline", "analytics:outbox"
EVENTS_PER_CASE = 5  # events are cheaper to fold in than cases: bigger batches of them
SCORE_DIMENSIONS = ("segment", "channel", "touchpoint")
BACKLOG_DIMENSIONS = ("team", "owner", "priority", "category", "channel", "status")


@dataclass(frozen=True)
class RoundResult:
    events: int = 0
    entries: int = 0
    exposures: int = 0
    cases: int = 0
    committed: bool = True


class AnalyticsUpdater:
    """One round of read-model maintenance (see the module docstring)."""

    def __init__(
        self, engine: Engine, clock: Clock, interval_seconds: float = 5.0, batch_size: int = 2000
    ) -> None:
        self.engine, self.clock = engine, clock
        self.interval, self.batch = interval_seconds, batch_size
        self._timeline, self._outbox = store.Window(), store.Window()

    def round(self) -> float:
        """One batch; returns 0 (go again at once) while a feed had a full batch."""
        result = self.step()
        full = (
            result.events >= self.batch * EVENTS_PER_CASE
            or max(result.entries, result.exposures) >= self.batch
        )
        return 0.0 if full or not result.committed else self.interval

    def step(self) -> RoundResult:
        now = self.clock.now()
        with write_connection(self.engine) as conn, conn.begin() as tx:
            ev_at = store.read_cursor(conn, EVENTS)
            tl_at = store.read_cursor(conn, TIMELINE)
            ob_at = store.read_cursor(conn, OUTBOX)
            batch = store.read_events(conn, ev_at, self.batch * EVENTS_PER_CASE)
            case_ids, entry_ids = store.changed_cases(conn, tl_at, self._timeline, self.batch)
            found, outbox_ids = store.read_exposures(conn, ob_at, self._outbox, self.batch)
            tl_new = max([tl_at, *entry_ids])
            ob_new = max([ob_at, *outbox_ids])
            moved = (
                store.move_cursor(conn, EVENTS, ev_at, batch.last_seq, now)
                and store.move_cursor(conn, TIMELINE, tl_at, tl_new, now)
                and store.move_cursor(conn, OUTBOX, ob_at, ob_new, now)
            )
            if not moved:
                tx.rollback()
                log.info("analytics: another worker moved the cursors first; re-reading")
                return RoundResult(committed=False)
            store.write_scores(conn, batch.scores)
            store.write_fates(conn, batch.fates)
            store.write_exposures(conn, found)
            case_ids |= store.cases_answered(conn, batch.answered)
            changed = 0
            if case_ids:
                ids = sorted(case_ids)
                new = [metrics.case_facts(c) for c in facts_store.case_inputs(conn, ids)]
                changed = facts_store.write_facts(conn, new, facts_store.load_facts(conn, ids))
        self._timeline.advance(entry_ids, tl_new)
        self._outbox.advance(outbox_ids, ob_new)
        return RoundResult(batch.count, len(entry_ids), len(found), changed)

    def run_until_idle(self) -> int:
        """Rounds until every feed is drained (the CLI, tests and benchmarks); returns them."""
        rounds = 0
        while True:
            rounds += 1
            result = self.step()
            if result.committed and not (result.events or result.entries or result.exposures):
                return rounds


# -- reading ----------------------------------------------------------------------------------
def _check(names: Sequence[str], allowed: Sequence[str], what: str) -> None:
    for name in names:
        if name not in allowed:
            raise InvalidInput(f"{what}: unknown {name!r}; one of {', '.join(allowed)}", field=what)


def service_metrics(
    engine: Engine,
    *,
    start: date | None = None,
    end: date | None = None,
    period: str = "all",
    by: Sequence[str] = (),
    filters: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The service metrics per period and slice (cases counted on the day they opened)."""
    filters = dict(filters or {})
    _check(by, metrics.DIMENSIONS, "by")
    _check(list(filters), metrics.DIMENSIONS, "filter")
    with engine.connect() as conn:
        rows = queries.service_sums(conn, start, end, by, filters, per_day=period != "all")
    width = len(metrics.MEASURES)
    groups: dict[tuple[str, ...], list[float]] = {}
    for row in rows:
        day, values, sums = row[0], row[1 : 1 + len(by)], row[1 + len(by) :]
        if sums[0] is None:
            continue  # an aggregate over no case at all
        label = "all" if day is None else period_of(day, period)
        acc = groups.setdefault((label, *(str(v) for v in values)), [0.0] * width)
        for i, value in enumerate(sums):
            if value:
                acc[i] += value
    out = []
    for key in sorted(groups):
        head: dict[str, Any] = {"period": key[0]}
        head.update({d: (v or None) for d, v in zip(by, key[1:], strict=True)})
        totals = dict(zip(metrics.MEASURES, groups[key], strict=True))
        out.append({**head, **metrics.derive(totals)})
    return out


def score_metrics(
    engine: Engine,
    *,
    start: date | None = None,
    end: date | None = None,
    period: str = "all",
    by: Sequence[str] = (),
    kinds: Sequence[str] = scores.KINDS,
    filters: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """CSAT, NPS and CES per period and slice, with their distributions."""
    filters = dict(filters or {})
    _check(by, SCORE_DIMENSIONS, "by")
    _check(list(filters), SCORE_DIMENSIONS, "filter")
    _check(kinds, scores.KINDS, "kind")
    with engine.connect() as conn:
        rows = queries.score_counts(conn, start, end, by, filters)
    groups: dict[tuple[str, ...], dict[int, float]] = defaultdict(dict)
    for row in rows:
        if row["kind"] not in kinds:
            continue
        key = (period_of(row["day"], period), row["kind"], *(str(row[d]) for d in by))
        dist = groups[key]
        dist[int(row["value"])] = dist.get(int(row["value"]), 0) + int(row["responses"])
    out = []
    for key in sorted(groups):
        head: dict[str, Any] = {"period": key[0]}
        head.update({d: (v or None) for d, v in zip(by, key[2:], strict=True)})
        out.append({**head, **scores.summary(key[1], groups[key])})
    return out


def backlog(engine: Engine, now: datetime, by: str | None = None) -> list[dict[str, Any]]:
    """Open cases now and the age of the oldest, per ``by`` (live, from the cases table)."""
    if by is not None:
        _check([by], BACKLOG_DIMENSIONS, "by")
    with engine.connect() as conn:
        rows = queries.backlog(conn, by)
    out = []
    for row in sorted(rows, key=lambda r: str(r.get(by) or "") if by else ""):
        oldest = row["oldest_opened_at"]
        item: dict[str, Any] = {} if by is None else {by: row[by]}
        item["open_cases"] = int(row["open_cases"])
        item["oldest_age_s"] = None if oldest is None else (now - oldest).total_seconds()
        out.append(item)
    return out


def retention_report(
    engine: Engine,
    now: datetime,
    *,
    horizons: Sequence[int] = retention.HORIZONS,
    by: Sequence[str] = ("rule",),
    inactive_days: float | None = None,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Retention after exposure, treated against control (winback.analytics.retention)."""
    _check(by, retention.GROUPINGS, "by")
    if not by or "rule" not in by:
        raise InvalidInput("by: must include rule (each rule is its own experiment)", field="by")
    if not 0.5 <= confidence < 1:
        raise InvalidInput("confidence: must be in [0.5, 1)", field="confidence")
    with engine.connect() as conn:
        return retention.tally(
            queries.exposures_and_fates(conn),
            now,
            horizons=horizons,
            by=by,
            inactive_days=inactive_days,
            confidence=confidence,
        )


def paradox_report(
    engine: Engine,
    now: datetime,
    *,
    days: int = 90,
    inactive_days: float | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Retention of recovered customers against those who never had a problem (observational;
    winback.analytics.retention.paradox)."""
    if not 1 <= days <= 3650:
        raise InvalidInput("days: between 1 and 3650", field="days")
    if not 0.5 <= confidence < 1:
        raise InvalidInput("confidence: must be in [0.5, 1)", field="confidence")
    with engine.connect() as conn:
        return retention.paradox(queries.standings(conn), now, days, inactive_days, confidence)
