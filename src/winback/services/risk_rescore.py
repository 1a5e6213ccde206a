"""Risk that moves with time: re-scoring customers as of now, without waiting for an event.

The risk stage scores a customer when one of their events is processed, with the features as
of that event. Silence is a signal too — a customer who stops logging in sees their activity
trend fall — and windows age ("3 complaints in the last 7 days" is not true a week later), so
the re-score worker (``WINBACK_RISK_RESCORE_INTERVAL_SECONDS``, default 300; 0: off) re-scores:

- every customer whose row was last written more than the interval ago, oldest first, with the
  features computed as of *now* (the clock), so silence counts;
- every customer scored by another model than the active one, as soon as a newly activated
  churn model is loaded (``WINBACK_CONFIG_CHECK_SECONDS``), so a new model applies to everyone,
  not only to customers with a next event.

A re-score recomputes the features and the score from the stored feature state and writes the
row's score, reasons, features, model version, ``as_of`` (now) and ``updated_at``; it never
writes the feature state, which only the processor changes. When the probability rose by the
risk stage's jump thresholds against the previous score *of the same model*, it sets
``jumped_at`` and queues ``risk.jumped`` (key ``risk.jumped:rescore:<customer>:<time>``; a new
model's first score is a new baseline, not a jump, so activating a model does not flag every
customer at once).

**No lost updates.** The worker is optimistic, like the processor: it reads a batch outside any
write lock, computes, then writes each row with ``UPDATE … WHERE customer_id = … AND
updated_at = <what it read>``. A row the processor wrote meanwhile (a new event) no longer
matches and is left alone — its fresh score, as of the new event, stands, and the row is due
again one interval later. The ``risk.jumped`` effects are queued in the same transaction, only
for rows written. The processor writes its rows unconditionally; that is safe the other way
round too, because a re-score changes nothing the processor reads except the previous
probability.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from winback.cases.effects import Effect
from winback.clock import Clock
from winback.customers.cohort import CohortUsage
from winback.customers.features import as_datetime, epoch
from winback.customers.profile import Customer
from winback.pipeline.stages.risk import JUMP_TOPIC, assess, is_jump
from winback.risk.scoring import DEFAULT_JUMP_DELTA, DEFAULT_JUMP_MIN, CustomerRisk, Scorer
from winback.sources import Source
from winback.store.engine import write_connection
from winback.store.outbox import write_effects
from winback.store.risk_store import (
    load_usage_cohorts,
    oldest_risk_update,
    risks_of_other_models,
    stale_risks,
    update_score_if_unchanged,
)
from winback.store.uow import load_customers

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Rescore:
    """One customer's new score, and the ``updated_at`` of the row it was computed from."""

    risk: CustomerRisk
    read_at: datetime
    jump: Effect | None = None


@dataclass
class RescoreResult:
    selected: int = 0  # rows read
    rescored: int = 0  # rows written
    skipped: int = 0  # rows written by someone else since they were read: left alone
    jumped: int = 0  # risk.jumped effects queued
    failed: int = 0  # rows whose scoring raised (logged; retried on a later pass)
    customers: list[str] = field(default_factory=list)  # the ones written

    def add(self, other: RescoreResult) -> None:
        self.selected += other.selected
        self.rescored += other.rescored
        self.skipped += other.skipped
        self.jumped += other.jumped
        self.failed += other.failed
        self.customers += other.customers


def rescored(
    current: CustomerRisk,
    customer: Customer | None,
    scorer: Scorer,
    now: datetime,
    *,
    jump_delta: float = DEFAULT_JUMP_DELTA,
    jump_min: float = DEFAULT_JUMP_MIN,
    cohorts: CohortUsage | None = None,
) -> Rescore:
    """``current`` re-scored as of ``now`` (or of the customer's latest event, if that is later:
    a clock behind the events' receipt times never moves windows backwards)."""
    state = current.state
    as_of = now if state.max_ts is None or epoch(now) >= state.max_ts else as_datetime(state.max_ts)
    features, score = assess(scorer, state, customer, as_of, cohorts=cohorts)
    same_model = bool(current.model_version) and current.model_version == score.model_version
    previous = current.probability if same_model else None
    jumped = is_jump(previous, score.probability, jump_delta, jump_min)
    reasons = [r.as_dict() for r in score.reasons]
    risk = replace(
        current,
        probability=score.probability,
        reasons=reasons,
        features=features,
        model_version=score.model_version,
        horizon_days=score.horizon_days,
        as_of=as_of,
        updated_at=now,
        jumped_at=now if jumped else current.jumped_at,
    )
    jump = None
    if jumped:
        payload = {
            "customer_id": current.customer_id,
            "event_id": None,
            "at": now.isoformat(),
            "probability": score.probability,
            "previous": previous,
            "reasons": [r.text for r in score.reasons],
            "model_version": score.model_version,
        }
        key = f"{JUMP_TOPIC}:rescore:{current.customer_id}:{now.isoformat()}"
        jump = Effect(JUMP_TOPIC, key, payload)
    assert current.updated_at is not None  # a stored row always has one
    return Rescore(risk, current.updated_at, jump)


class RiskRescorer:
    """The re-score use case and the worker's round (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        scorer: Source[Scorer] | Scorer,
        *,
        interval_seconds: float,
        jump_delta: float = DEFAULT_JUMP_DELTA,
        jump_min: float = DEFAULT_JUMP_MIN,
        batch_size: int = DEFAULT_BATCH,
        check_seconds: float = 1.0,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("the re-score interval must be positive (0 turns the worker off)")
        self._engine = engine
        self._clock = clock
        self._source = Source.of("churn model", scorer)
        self.interval = timedelta(seconds=interval_seconds)
        self.jump_delta = jump_delta
        self.jump_min = jump_min
        self.batch_size = batch_size
        self._check = check_seconds
        # The model whose pass over every other model's rows finished; a pass's cursors.
        self._applied_model: str | None = None
        self._model_after: str | None = None
        self._due_after: tuple[datetime, str] | None = None
        self._next_due: datetime | None = None
        self.totals = RescoreResult()

    # -- the use case ----------------------------------------------------------------------
    def rescore(self, rows: list[CustomerRisk], scorer: Scorer | None = None) -> RescoreResult:
        """Re-score ``rows`` (as read) as of now and write those nobody wrote since."""
        scorer = scorer or self._source.get()
        result = RescoreResult(selected=len(rows))
        if not rows:
            return result
        now = self._clock.now()
        with self._engine.connect() as conn:
            people = load_customers(conn, [r.customer_id for r in rows])
            cohorts = load_usage_cohorts(conn)
        plans: list[Rescore] = []
        for row in rows:
            try:
                plans.append(
                    rescored(
                        row,
                        people.get(row.customer_id),
                        scorer,
                        now,
                        jump_delta=self.jump_delta,
                        jump_min=self.jump_min,
                        cohorts=cohorts,
                    )
                )
            except Exception:
                result.failed += 1
                log.error("re-scoring %s failed:\n%s", row.customer_id, traceback.format_exc())
        written = self.write(plans)
        result.rescored = len(written)
        result.skipped = len(plans) - len(written)
        result.jumped = sum(1 for p in written if p.jump is not None)
        result.customers = [p.risk.customer_id for p in written]
        return result

    def write(self, plans: list[Rescore]) -> list[Rescore]:
        """Write each plan whose row is unchanged since it was read, with its ``risk.jumped``
        effect, in one transaction; return the ones written."""
        if not plans:
            return []
        written: list[Rescore] = []
        with write_connection(self._engine) as conn, conn.begin():
            for plan in plans:
                if update_score_if_unchanged(conn, plan.risk, plan.read_at):
                    written.append(plan)
            effects = [p.jump for p in written if p.jump is not None]
            if effects:
                write_effects(conn, effects, self._clock.now())
        return written

    def rescore_due(self) -> RescoreResult:
        """Everything due now, batch after batch: rows of another model than the active one,
        then rows last written more than the interval ago (``winback`` tools and tests; the
        worker does the same one batch per round)."""
        total = RescoreResult()
        while True:
            done, more = self._step()
            total.add(done)
            if not more:
                return total

    # -- the worker ------------------------------------------------------------------------
    def round(self) -> float:
        """One batch; then how long to wait: 0 while batches are full, else until the oldest
        row is due, looking at least every ``check_seconds`` for a newly activated model."""
        now = self._clock.now()
        version = self._source.get().version
        if (
            version == self._applied_model
            and self._due_after is None
            and self._next_due is not None
            and now < self._next_due
        ):
            return min(self._check, (self._next_due - now).total_seconds())
        done, more = self._step()
        if done.rescored or done.skipped or done.failed:
            log.info(
                "risk re-score: %d re-scored, %d moved meanwhile, %d jumped, %d failed",
                done.rescored,
                done.skipped,
                done.jumped,
                done.failed,
            )
        return 0.0 if more else self.round_wait()

    def round_wait(self) -> float:
        if self._next_due is None:
            return self._check
        wait = (self._next_due - self._clock.now()).total_seconds()
        return max(0.0, min(self._check, wait))

    def _step(self) -> tuple[RescoreResult, bool]:
        """One batch of the current pass; whether there is more to do at once."""
        scorer = self._source.get()
        if scorer.version != self._applied_model:
            with self._engine.connect() as conn:
                rows = risks_of_other_models(
                    conn, scorer.version, self.batch_size, self._model_after
                )
            done = self.rescore(rows, scorer)
            self.totals.add(done)
            if len(rows) >= self.batch_size:
                self._model_after = rows[-1].customer_id
            else:
                self._applied_model, self._model_after = scorer.version, None
            return done, True
        now = self._clock.now()
        with self._engine.connect() as conn:
            rows = stale_risks(conn, now - self.interval, self.batch_size, self._due_after)
        done = self.rescore(rows, scorer)
        self.totals.add(done)
        if len(rows) >= self.batch_size:
            last = rows[-1]
            assert last.updated_at is not None
            self._due_after = (last.updated_at, last.customer_id)
            return done, True
        self._due_after = None
        with self._engine.connect() as conn:
            oldest = oldest_risk_update(conn)
        # A row that failed stays the oldest: look again after a pause, not at once.
        floor = now + min(self.interval, timedelta(seconds=5))
        self._next_due = floor if oldest is None else max(oldest + self.interval, floor)
        return done, False


__all__ = ["Rescore", "RescoreResult", "RiskRescorer", "rescored"]
