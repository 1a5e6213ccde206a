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
fired. What a timer does to its case is a transition (:func:`winback.cases.transitions.sla_event`,
:func:`~winback.cases.transitions.sla_escalate`) persisted by the one writer, so its timeline
entries and outbox effects follow the same rule as every other change; an effect's key names
the (case, metric, cycle, kind, level) it came from. A timer made
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

from winback.cases import transitions
from winback.cases.model import OPEN_STATUSES, RecoveryCase
from winback.cases.transitions import Change
from winback.clock import Clock
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.sla.tracking import SlaState, TimerSpec
from winback.sources import Source
from winback.store.cases import lock_cases, update_cases, write_changes
from winback.store.engine import write_connection
from winback.store.sla_store import (
    claim_timers,
    customers_facts,
    due_timers,
    load_sla_states,
    next_due,
    stale_case_ids,
    write_sla,
)

log = logging.getLogger(__name__)


@dataclass
class _Writes:
    """What one batch of firings writes, collected so it goes out in bulk."""

    changes: list[tuple[Change, int]] = field(default_factory=list)
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
        sla: Source[SlaEngine] | SlaEngine,
        *,
        poll_seconds: float = 0.25,
        batch_size: int = 500,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._source = Source.of("sla", sla)
        self._poll = poll_seconds
        self._batch = batch_size
        self._wake = threading.Event()
        self.fired_total = 0
        self._applied: str | None = None

    @property
    def _sla(self) -> SlaEngine:
        return self._source.get()

    def wake(self) -> None:
        """Re-read the earliest due time now (a sooner timer was just added)."""
        self._wake.set()

    # -- one round -------------------------------------------------------------------------
    def fire_due(self) -> list[Fired]:
        """Fire up to one batch of due timers; return what fired."""
        now = self._clock.now()
        with self._engine.connect() as conn:
            due = due_timers(conn, now, self._batch)
        if not due:
            return []
        fired: list[Fired] = []
        with write_connection(self._engine) as conn, conn.begin():
            now = self._clock.now()
            claimed = claim_timers(conn, [t.id for t in due], now)
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
            write_changes(conn, writes.changes, now)
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
        applied: set[int] = set()
        for t in timers:
            run = state.clocks.get(str(t.metric))
            if run is None or run.generation != t.generation or state.paused_since is not None:
                continue  # stale: that clock stopped, restarted or is paused
            metric, kind, level = str(t.metric), str(t.kind), int(t.level)
            ref = f"{case.id}:{metric}:{run.generation}:{kind}:{level}"
            data: dict[str, Any] = {
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
                summary = f"SLA warning: {label} due at {t.due_at:%Y-%m-%d %H:%M} UTC"
                change = transitions.sla_event(case, "sla.warning", summary, data, ref, now)
            elif kind == "breach":
                run.breached = True
                summary = f"SLA breached: {label}"
                change = transitions.sla_event(case, "sla.breached", summary, data, ref, now)
            elif kind == "escalation" and policy is not None:
                levels = [e for e in policy.escalations if e.level == level]
                if not levels:
                    continue
                esc = levels[0]
                run.escalated = max(run.escalated, level)
                summary = f"SLA escalation level {level}: {label} breached"
                notify = {**data, "notify": esc.notify, "level": level}
                change = transitions.sla_event(case, "sla.escalated", summary, notify, ref, now)
                then = transitions.sla_escalate(
                    case, level, esc.raise_priority, esc.reassign, ref, now
                )
                change.entries += then.entries
            else:
                continue
            writes.changes.append((change, read_version))
            applied.add(int(t.id))
        if not applied:
            return applied
        facts = replace(state.facts, priority=case.priority)
        if case.priority != priority_before:
            state, timers_now = self._sla.track(state, facts, case.status, now, SlaUpdate())
        else:
            timers_now = self._sla.clock(state).timers(state)
        writes.sla.append((case.id, state, timers_now))
        return applied

    def next_due(self) -> datetime | None:
        with self._engine.connect() as conn:
            return next_due(conn)

    # -- recomputation ---------------------------------------------------------------------
    def recompute(self, force: bool = False, batch: int = 500) -> int:
        """Recompute the clocks and timers of open cases computed under another
        configuration (all open cases with ``force``). Returns how many."""
        engine = self._sla
        fingerprint = engine.config.fingerprint
        done, after = 0, 0
        while True:
            with write_connection(self._engine) as conn, conn.begin():
                ids = stale_case_ids(conn, None if force else fingerprint, after, batch)
                if not ids:
                    return done
                now = self._clock.now()
                locked = lock_cases(conn, ids)
                states = load_sla_states(conn, ids)
                people = customers_facts(conn, {c.customer_id for c in locked.values()})
                items = []
                for case_id in ids:
                    case = locked[case_id]
                    state = states.get(case_id)
                    facts = facts_for(
                        case.priority, case.category, people.get(case.customer_id), case.channel
                    )
                    if case.sla_policy is not None:
                        facts = replace(facts, policy=case.sla_policy)
                    if state is None:
                        state, _ = engine.track(
                            None, facts, "new", case.opened_at, SlaUpdate(opened=True)
                        )
                        state, timers = engine.track(
                            state,
                            facts,
                            case.status,
                            case.opened_at,
                            SlaUpdate(status_changed=True),
                        )
                    else:
                        state, timers = engine.track(state, facts, case.status, now, SlaUpdate())
                    items.append((case_id, state, timers))
                # Bump the versions so a processor batch computed from the old state retries.
                update_cases(conn, [(c, c.version) for c in locked.values()])
                write_sla(conn, items, now)
                done += len(ids)
                after = ids[-1]

    # -- the loop --------------------------------------------------------------------------
    def round(self) -> float:
        """One round of the timer worker: apply a changed configuration, fire what is due, and
        say how long to sleep (until the next due time, at most ``poll_seconds``)."""
        if self._sla.config.fingerprint != self._applied:
            self.recompute_on_change()
        fired = self.fire_due()
        if len(fired) >= self._batch:
            return 0.0
        due = self.next_due()
        timeout = self._poll
        if due is not None:
            timeout = min(timeout, max(0.0, (due - self._clock.now()).total_seconds()))
        return timeout

    def wait(self, timeout: float) -> None:
        """The worker's pause: ends early when :meth:`wake` is called."""
        if timeout > 0 and self._wake.wait(timeout):
            self._wake.clear()

    def recompute_on_change(self) -> None:
        """Recompute the deadlines of open cases computed under another ``sla.yaml`` (at start,
        and whenever the configuration source loads a new version)."""
        self._applied = self._sla.config.fingerprint
        try:
            changed = self.recompute()
            if changed:
                log.info("SLA: recomputed the deadlines of %d open cases", changed)
        except Exception:
            log.error("SLA recompute failed:\n%s", traceback.format_exc())


__all__ = ["Fired", "TimerService"]
