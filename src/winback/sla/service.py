"""The SLA timer service: fires warnings, breaches and escalations within a second.

Timers live in ``sla_timers`` (durable: they survive restarts). The loop:

1. fire every unfired timer whose ``due_at`` has passed, in batches, oldest first;
2. ask the partial index for the earliest unfired ``due_at`` and sleep until then — but never
   longer than ``poll_seconds`` (0.25 s by default), so a sooner timer added by another process
   is seen in time; :meth:`TimerService.wake` ends the sleep at once for writers in the same
   process.

Idle, that is a handful of index lookups a second, whatever the number of open timers.

Firing is idempotent. A batch *claims* its timers with ``UPDATE … SET fired_at = now WHERE id
IN (…) AND fired_at IS NULL`` and applies their effects in the same transaction, so a timer
delivered twice (two services, a retry after a crash) has one effect: the second claim finds it
fired. Outbox messages carry a key per (case, metric, cycle, kind, level) as well. A timer made
stale by a later change (the clock it belonged to stopped or restarted, the case is paused or
closed) is consumed without effect. At start, overdue timers fire once — they are simply due.

At start the service also recomputes the deadlines of open cases computed under another
``sla.yaml`` (by fingerprint), so an edited policy or calendar takes effect.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.cases.model import OPEN_STATUSES, RecoveryCase, TimelineEntry
from winback.clock import Clock
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.sla.policy import raised
from winback.sla.tracking import SlaState, TimerSpec
from winback.store.case_commands import (
    append_timeline,
    enqueue_many,
    lock_cases,
    save_case,
    save_cases,
)
from winback.store.engine import write_connection
from winback.store.sla_store import load_sla_states, next_due, write_sla
from winback.store.tables import case_sla, cases, customers, sla_timers

log = logging.getLogger(__name__)

SLA_ACTOR = "winback:sla"


@dataclass
class _Writes:
    """What one batch of firings writes, collected so it goes out in bulk."""

    cases: list[tuple[RecoveryCase, int]] = field(default_factory=list)
    entries: list[tuple[int, TimelineEntry]] = field(default_factory=list)
    outbox: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    sla: list[tuple[int, SlaState, list[TimerSpec]]] = field(default_factory=list)


@dataclass(frozen=True)
class Fired:
    timer_id: int
    case_id: int
    metric: str
    kind: str
    level: int
    due_at: datetime
    fired_at: datetime
    applied: bool  # False: the timer was stale and was consumed without effect

    @property
    def delay(self) -> timedelta:
        return self.fired_at - self.due_at


class TimerService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        sla: SlaEngine,
        *,
        poll_seconds: float = 0.25,
        batch_size: int = 500,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sla = sla
        self._poll = poll_seconds
        self._batch = batch_size
        self._wake = threading.Event()
        self.fired_total = 0

    def wake(self) -> None:
        """Re-read the earliest due time now (a sooner timer was just added)."""
        self._wake.set()

    # -- one round -------------------------------------------------------------------------
    def fire_due(self) -> list[Fired]:
        """Fire up to one batch of due timers; return what fired."""
        now = self._clock.now()
        with self._engine.connect() as conn:
            due = conn.execute(
                sa.select(sla_timers)
                .where(sla_timers.c.fired_at.is_(None), sla_timers.c.due_at <= now)
                .order_by(sla_timers.c.due_at)
                .limit(self._batch)
            ).all()
        if not due:
            return []
        fired: list[Fired] = []
        with write_connection(self._engine) as conn, conn.begin():
            now = self._clock.now()
            claimed = set(
                conn.execute(
                    sla_timers.update()
                    .where(
                        sla_timers.c.id.in_([t.id for t in due]), sla_timers.c.fired_at.is_(None)
                    )
                    .values(fired_at=now)
                    .returning(sla_timers.c.id)
                ).scalars()
            )
            mine = [t for t in due if t.id in claimed]
            by_case: dict[int, list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
            for t in mine:
                by_case[t.case_id].append(t)
            locked = lock_cases(conn, list(by_case))
            states = load_sla_states(conn, list(by_case))
            writes = _Writes()
            for case_id, timers in by_case.items():
                case, state = locked.get(case_id), states.get(case_id)
                applied_ids = self._apply(conn, case, state, timers, now, writes)
                for t in timers:
                    fired.append(
                        Fired(
                            t.id,
                            case_id,
                            t.metric,
                            t.kind,
                            t.level,
                            t.due_at,
                            now,
                            t.id in applied_ids,
                        )
                    )
            # Every effect of the batch in a few bulk statements, in the claim's transaction.
            if not save_cases(conn, writes.cases):  # pragma: no cover - the cases are locked
                raise RuntimeError("a locked case changed underneath the timer service")
            append_timeline(conn, writes.entries)
            enqueue_many(conn, writes.outbox, now)
            write_sla(conn, writes.sla, now)
        self.fired_total += len(fired)
        return fired

    def _apply(
        self,
        conn: sa.Connection,
        case: RecoveryCase | None,
        state: SlaState | None,
        timers: list[sa.Row[tuple[object, ...]]],
        now: datetime,
        writes: _Writes,
    ) -> set[int]:
        if case is None or state is None or case.status not in OPEN_STATUSES:
            return set()
        assert case.id is not None
        read_version, priority_before = case.version, case.priority
        policy = self._sla.policy(state)
        entries: list[TimelineEntry] = []
        applied: set[int] = set()
        for t in timers:
            run = state.clocks.get(str(t.metric))
            if run is None or run.generation != t.generation or state.paused_since is not None:
                continue  # stale: that clock stopped, restarted or is paused
            metric, kind, level = str(t.metric), str(t.kind), int(t.level)
            key = f"sla:{case.id}:{metric}:{run.generation}:{kind}:{level}"
            payload = {
                "case_id": case.id,
                "customer_id": case.customer_id,
                "metric": metric,
                "cycle": run.generation,
                "due_at": t.due_at,
                "fired_at": now,
                "policy": state.policy,
                "priority": case.priority,
                "owner": case.owner,
            }
            label = metric.replace("_", " ")
            if kind == "warning":
                run.warned = True
                entries.append(
                    self._entry(
                        now,
                        "sla.warning",
                        f"SLA warning: {label} due at {t.due_at:%Y-%m-%d %H:%M} UTC",
                        payload,
                    )
                )
                writes.outbox[key] = ("sla.warning", payload)
            elif kind == "breach":
                run.breached = True
                entries.append(self._entry(now, "sla.breached", f"SLA breached: {label}", payload))
                writes.outbox[key] = ("sla.breached", payload)
            elif kind == "escalation" and policy is not None:
                levels = [e for e in policy.escalations if e.level == level]
                if not levels:
                    continue
                esc = levels[0]
                run.escalated = max(run.escalated, level)
                entries.append(
                    self._entry(
                        now,
                        "sla.escalated",
                        f"SLA escalation level {level}: {label} breached",
                        payload,
                    )
                )
                if esc.notify:
                    notify = {**payload, "notify": esc.notify, "level": level}
                    writes.outbox[key] = ("sla.escalation", notify)
                if esc.raise_priority and raised(case.priority) != case.priority:
                    new = raised(case.priority)
                    entries.append(
                        TimelineEntry(
                            kind="case.escalated",
                            at=now,
                            actor=SLA_ACTOR,
                            summary=f"Priority {case.priority} → {new} (SLA escalation {level})",
                            data={
                                "previous_priority": case.priority,
                                "priority": new,
                                "reason": f"sla escalation {level}",
                            },
                        )
                    )
                    case.priority = new
                if esc.reassign and esc.reassign != case.owner:
                    entries.append(
                        TimelineEntry(
                            kind="case.assigned",
                            at=now,
                            actor=SLA_ACTOR,
                            summary=f"Owner {case.owner or 'nobody'} → {esc.reassign} "
                            f"(SLA escalation {level})",
                            data={
                                "previous_owner": case.owner,
                                "owner": esc.reassign,
                                "reason": f"sla escalation {level}",
                            },
                        )
                    )
                    case.owner = esc.reassign
            else:
                continue
            applied.add(int(t.id))
        if not applied:
            return applied
        case.updated_at = now
        writes.cases.append((case, read_version))
        writes.entries.extend((case.id, e) for e in entries)
        facts = replace(state.facts, priority=case.priority)
        update = SlaUpdate()
        if case.priority != priority_before:
            state, timers_now = self._sla.track(state, facts, case.status, now, update)
        else:
            timers_now = self._sla.clock(state).timers(state)
        writes.sla.append((case.id, state, timers_now))
        return applied

    @staticmethod
    def _entry(now: datetime, kind: str, summary: str, data: dict[str, object]) -> TimelineEntry:
        return TimelineEntry(kind=kind, at=now, actor=SLA_ACTOR, summary=summary, data=dict(data))

    def next_due(self) -> datetime | None:
        with self._engine.connect() as conn:
            return next_due(conn)

    # -- recomputation ---------------------------------------------------------------------
    def recompute(self, force: bool = False, batch: int = 500) -> int:
        """Recompute the clocks and timers of open cases computed under another
        configuration (all open cases with ``force``). Returns how many."""
        fingerprint = self._sla.config.fingerprint
        done, after = 0, 0
        while True:
            with write_connection(self._engine) as conn, conn.begin():
                query = (
                    sa.select(cases.c.id)
                    .outerjoin(case_sla, case_sla.c.case_id == cases.c.id)
                    .where(cases.c.status.in_(sorted(OPEN_STATUSES)), cases.c.id > after)
                    .order_by(cases.c.id)
                    .limit(batch)
                )
                if not force:
                    query = query.where(
                        sa.or_(
                            case_sla.c.fingerprint.is_(None), case_sla.c.fingerprint != fingerprint
                        )
                    )
                ids = list(conn.execute(query).scalars())
                if not ids:
                    return done
                now = self._clock.now()
                locked = lock_cases(conn, ids)
                states = load_sla_states(conn, ids)
                people = {
                    row.id: row
                    for row in conn.execute(
                        sa.select(
                            customers.c.id,
                            customers.c.segment,
                            customers.c.value,
                            customers.c.timezone,
                        ).where(customers.c.id.in_({c.customer_id for c in locked.values()}))
                    )
                }
                items = []
                for case_id in ids:
                    case = locked[case_id]
                    state = states.get(case_id)
                    facts = facts_for(
                        case.priority, case.category, people.get(case.customer_id), None
                    )
                    if state is None:
                        state, _ = self._sla.track(
                            None, facts, "new", case.opened_at, SlaUpdate(opened=True)
                        )
                        state, timers = self._sla.track(
                            state,
                            facts,
                            case.status,
                            case.opened_at,
                            SlaUpdate(status_changed=True),
                        )
                    else:
                        state, timers = self._sla.track(state, facts, case.status, now, SlaUpdate())
                    items.append((case_id, state, timers))
                    # Bump the version so a processor batch computed from the old state retries.
                    case.updated_at = case.updated_at
                    save_case(conn, case, case.version)
                write_sla(conn, items, now)
                done += len(ids)
                after = ids[-1]

    # -- the loop --------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event) -> None:
        log.info("SLA timer service started")
        try:
            changed = self.recompute()
            if changed:
                log.info("SLA: recomputed the deadlines of %d open cases", changed)
        except Exception:
            log.error("SLA recompute failed:\n%s", traceback.format_exc())
        while not stop.is_set():
            try:
                fired = self.fire_due()
                if len(fired) >= self._batch:
                    continue
                due = self.next_due()
            except Exception:
                log.error("SLA timer round failed:\n%s", traceback.format_exc())
                stop.wait(1.0)
                continue
            timeout = self._poll
            if due is not None:
                timeout = min(timeout, max(0.0, (due - self._clock.now()).total_seconds()))
            if timeout > 0 and self._wake.wait(timeout):
                self._wake.clear()
        log.info("SLA timer service stopped")


def start_in_thread(service: TimerService, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=service.run_forever, args=(stop,), name="winback-sla-timers", daemon=True
    )
    thread.start()
    return thread


__all__ = ["Fired", "TimerService", "start_in_thread"]
