"""Cases and SLA clocks against a real database (SQLite, and PostgreSQL when configured):
the processor, agents' actions and the timer service writing the same cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import FrozenClock
from winback.errors import AnotherOpenCase, IdempotencyKeyReused, IllegalTransition
from winback.identity import Principal
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Stage, Unit
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.services.cases import perform_action
from winback.services.sla_timers import TimerService
from winback.sla.config import SlaConfig, parse_sla
from winback.sla.engine import SlaEngine
from winback.store.sla_store import load_sla_states
from winback.store.tables import case_sla, case_timeline, cases, outbox, sla_timers

from .support import body, count, log_events, rows

ANA = Principal(kind="user", name="ana", role="agent", credential="test")

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
H = timedelta(hours=1)

CONFIG = parse_sla(
    {
        "policies": [
            {
                "name": "fast",
                "targets": {"first_response": "1h", "next_response": "2h", "resolution": "8h"},
                "warning_at": "50%",
                "escalations": [
                    {"after": "0m", "notify": "lead"},
                    {"after": "30m", "raise_priority": True, "reassign": "team-lead"},
                ],
            }
        ]
    }
)


def run(engine: Engine, clock: FrozenClock, config: SlaConfig = CONFIG, **kw: Any) -> Processor:
    processor = Processor(engine, default_stages(sla=SlaEngine(config), **kw), clock)
    processor.run_until_idle()
    return processor


def open_case(engine: Engine, clock: FrozenClock, customer: str = "cus-1") -> int:
    log_events(
        engine, clock.now(), body(f"e-{customer}-{clock.now():%H%M%S}", "complaint", customer)
    )
    run(engine, clock)
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.max(cases.c.id)).where(cases.c.customer_id == customer)
            ).scalar_one()
        )


def act(engine: Engine, clock: FrozenClock, case_id: int, action: str, **params: Any) -> Any:
    key = params.pop("key", None)
    return perform_action(engine, clock, SlaEngine(CONFIG), case_id, action, ANA, params, key)


def timers(engine: Engine, case_id: int, pending: bool = True) -> set[tuple[str, str, int]]:
    query = sa.select(sla_timers).where(sla_timers.c.case_id == case_id)
    if pending:
        query = query.where(sla_timers.c.fired_at.is_(None))
    return {(r.metric, r.kind, r.level) for r in rows(engine, query)}


def kinds(engine: Engine, case_id: int) -> list[str]:
    query = (
        sa.select(case_timeline.c.kind)
        .where(case_timeline.c.case_id == case_id)
        .order_by(case_timeline.c.id)
    )
    # The case's and the SLA clock's own entries (other stages, e.g. playbooks, add theirs).
    return [r.kind for r in rows(engine, query) if r.kind.split(".")[0] in {"case", "sla"}]


def service(engine: Engine, clock: FrozenClock, config: SlaConfig = CONFIG) -> TimerService:
    return TimerService(engine, clock, SlaEngine(config))


def test_an_opened_case_gets_its_clocks_and_timers(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    assert timers(engine, case_id) == {
        (metric, kind, level)
        for metric in ("first_response", "resolution")
        for kind, level in (("warning", 0), ("breach", 0), ("escalation", 1), ("escalation", 2))
    }
    [due] = rows(
        engine,
        sa.select(sla_timers.c.due_at).where(
            sla_timers.c.case_id == case_id,
            sla_timers.c.metric == "first_response",
            sla_timers.c.kind == "breach",
        ),
    )
    assert due.due_at == T0 + H


def test_actions_walk_the_lifecycle_and_write_the_timeline(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    act(engine, clock, case_id, "assign", owner="ana")
    act(engine, clock, case_id, "acknowledge")
    clock.advance(H / 2)
    act(engine, clock, case_id, "reply", text="We are on it")
    act(engine, clock, case_id, "wait_on_customer")
    result = act(engine, clock, case_id, "note", text="asked for the order number")
    assert result.case["status"] == "waiting_on_customer"
    assert kinds(engine, case_id) == [
        "case.opened",
        "case.assigned",
        "case.status_changed",
        "case.reply",
        "case.status_changed",
        "case.status_changed",
        "case.note",
    ]
    # The reply met first response; the wait paused the resolution clock: no timers pending.
    assert timers(engine, case_id) == set()
    with engine.connect() as conn:
        state = load_sla_states(conn, [case_id])[case_id]
    assert [(m.metric, m.outcome) for m in state.history] == [("first_response", "met")]
    assert state.paused_since == T0 + H / 2
    assert count(engine, outbox, outbox.c.topic == "case.reply") == 1


def test_an_illegal_action_changes_nothing(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    [before] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    with pytest.raises(IllegalTransition, match="cannot close a case that is new"):
        act(engine, clock, case_id, "close")
    [after] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    assert after == before
    assert kinds(engine, case_id) == ["case.opened"]


def test_a_retried_action_with_its_idempotency_key_has_one_effect(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    first = act(engine, clock, case_id, "note", text="hello", key="k-1")
    again = act(engine, clock, case_id, "note", text="hello", key="k-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.case["version"] == first.case["version"]
    assert kinds(engine, case_id).count("case.note") == 1
    with pytest.raises(IdempotencyKeyReused, match="different request"):
        act(engine, clock, case_id, "note", text="something else", key="k-1")


def test_a_signal_soon_after_resolution_reopens_the_case(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    act(engine, clock, case_id, "acknowledge")
    act(engine, clock, case_id, "resolve", outcome="refund", root_cause="late delivery")
    clock.advance(H)
    assert open_case(engine, clock) == case_id
    [case] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    assert (case.status, case.reopen_count) == ("reopened", 1)
    assert kinds(engine, case_id)[-1] == "case.reopened"
    assert ("resolution", "breach", 0) in timers(engine, case_id)
    # Outside the window a new case opens instead.
    act(engine, clock, case_id, "resolve", outcome="refund", root_cause="late delivery")
    clock.advance(timedelta(hours=73))
    assert open_case(engine, clock) != case_id
    assert count(engine, cases) == 2


def test_a_zero_window_never_reopens(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    act(engine, clock, case_id, "acknowledge")
    act(engine, clock, case_id, "resolve", outcome="ok", root_cause="none")
    log_events(engine, clock.now(), body("later", "complaint", "cus-1"))
    run(engine, clock, reopen_window=timedelta(0))
    assert count(engine, cases) == 2


def test_timers_fire_at_their_deadline_once_with_their_effects(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    act(engine, clock, case_id, "assign", owner="ana")
    svc = service(engine, clock)
    clock.advance(H / 2 - timedelta(seconds=1))
    assert svc.fire_due() == []
    clock.advance(timedelta(seconds=1))
    [warning] = svc.fire_due()
    assert (warning.metric, warning.kind, warning.delay) == (
        "first_response",
        "warning",
        timedelta(0),
    )
    clock.advance(H)  # first response breached (T0+1h), escalation 1 (+0m) and 2 (+30m)
    fired = svc.fire_due()
    assert [(f.kind, f.level) for f in fired] == [
        ("breach", 0),
        ("escalation", 1),
        ("escalation", 2),
    ]
    assert all(f.applied for f in fired)
    [case] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    assert (case.priority, case.owner) == ("P2", "team-lead")
    # Every escalation reaches the outbox (one rule for all timeline entries); the one with
    # people to notify names them.
    notified = [
        r.payload["notify"]
        for r in rows(
            engine,
            sa.select(outbox).where(outbox.c.topic == "sla.escalation").order_by(outbox.c.id),
        )
    ]
    assert notified == ["lead", None]
    assert count(engine, outbox, outbox.c.topic == "sla.breached") == 1
    # The priority and owner changes an escalation makes reach the outbox too.
    by_sla = [
        r.topic
        for r in rows(engine, sa.select(outbox).order_by(outbox.c.id))
        if r.payload.get("actor") == "winback:sla"
    ]
    assert by_sla[-2:] == ["case.escalated", "case.assigned"]
    assert kinds(engine, case_id)[-5:] == [
        "sla.breached",
        "sla.escalated",
        "sla.escalated",
        "case.escalated",
        "case.assigned",
    ]
    assert svc.fire_due() == []  # nothing fires twice


def test_a_timer_delivered_twice_has_one_effect(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    clock.advance(H)
    one, two = service(engine, clock), service(engine, clock)
    fired = one.fire_due()
    assert {f.kind for f in fired} == {"warning", "breach", "escalation"}
    assert two.fire_due() == []
    # Replaying the same claim by hand (a crashed service's retry) claims nothing either.
    with engine.begin() as conn:
        again = conn.execute(
            sla_timers.update()
            .where(
                sla_timers.c.case_id == case_id,
                sla_timers.c.fired_at.is_(None),
                sla_timers.c.metric == "first_response",
                sla_timers.c.kind == "breach",
            )
            .values(fired_at=clock.now())
        ).rowcount
    assert again == 0
    assert count(engine, outbox, outbox.c.topic == "sla.breached") == 1
    assert kinds(engine, case_id).count("sla.breached") == 1


def test_overdue_timers_fire_once_after_a_restart(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    clock.advance(timedelta(days=2))  # the service was down through every deadline
    fired = service(engine, clock).fire_due()
    assert {(f.metric, f.kind) for f in fired} >= {
        ("first_response", "breach"),
        ("resolution", "breach"),
    }
    assert all(f.delay > timedelta(0) for f in fired)
    assert service(engine, clock).fire_due() == []  # a second restart fires nothing again
    assert kinds(engine, case_id).count("sla.breached") == 2


def test_a_reply_before_the_deadline_cancels_its_timers(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    clock.advance(H / 4)
    act(engine, clock, case_id, "reply", text="hi")
    clock.advance(H)
    fired = service(engine, clock).fire_due()
    assert all(f.metric != "first_response" for f in fired)
    assert "sla.breached" not in kinds(engine, case_id)


def test_an_agent_acting_mid_batch_makes_the_processor_retry_and_both_changes_stay(
    engine: Engine,
) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)

    class AgentActsMidBatch:
        name = "agent"
        done = False

        def process(self, ctx: EventContext, unit: Unit) -> None:
            if not self.done:
                self.done = True
                act(engine, clock, case_id, "assign", owner="ana")

    stages: list[Stage] = [AgentActsMidBatch(), *default_stages(sla=SlaEngine(CONFIG))]
    log_events(engine, clock.now(), body("second", "complaint", "cus-1"))
    Processor(engine, stages, clock).run_until_idle()
    [case] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    assert (case.owner, case.signal_count) == ("ana", 2)
    assert kinds(engine, case_id) == ["case.opened", "case.assigned", "case.attached"]


def test_a_changed_policy_recomputes_open_cases_by_fingerprint(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    slower = parse_sla(
        {"policies": [{"name": "slow", "targets": {"first_response": "4h", "resolution": "2d"}}]}
    )
    svc = service(engine, clock, slower)
    assert svc.recompute() == 1
    assert svc.recompute() == 0  # already under the new fingerprint
    [row] = rows(engine, sa.select(case_sla).where(case_sla.c.case_id == case_id))
    assert (row.policy, row.fingerprint) == ("slow", slower.fingerprint)
    [due] = rows(
        engine,
        sa.select(sla_timers.c.due_at).where(
            sla_timers.c.case_id == case_id,
            sla_timers.c.metric == "first_response",
            sla_timers.c.kind == "breach",
        ),
    )
    assert due.due_at == T0 + 4 * H
    assert svc.recompute(force=True) == 1


def test_reopening_by_hand_is_refused_while_the_customer_has_another_open_case(
    engine: Engine,
) -> None:
    clock = FrozenClock(T0)
    first = open_case(engine, clock)
    act(engine, clock, first, "acknowledge")
    act(engine, clock, first, "resolve", outcome="ok", root_cause="none")
    clock.advance(timedelta(days=4, minutes=1))  # outside the re-open window: a new case
    second = open_case(engine, clock)
    assert second != first
    with pytest.raises(AnotherOpenCase, match="already has another open case"):
        act(engine, clock, first, "reopen")
    [case] = rows(engine, sa.select(cases).where(cases.c.id == first))
    assert case.status == "resolved"
    assert kinds(engine, first)[-1] == "case.status_changed"


def test_each_action_on_a_case_bumps_its_version_once(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    versions = [act(engine, clock, case_id, a).case["version"] for a in ("acknowledge", "start")]
    assert versions == [1, 2]


def test_a_customer_signal_while_waiting_resumes_the_case_and_its_clocks(engine: Engine) -> None:
    clock = FrozenClock(T0)
    case_id = open_case(engine, clock)
    act(engine, clock, case_id, "reply", text="Could you send the order number?")
    act(engine, clock, case_id, "wait_on_customer")
    assert timers(engine, case_id) == set()  # paused
    clock.advance(H)
    assert open_case(engine, clock) == case_id  # the customer writes back
    [case] = rows(engine, sa.select(cases).where(cases.c.id == case_id))
    assert case.status == "in_progress"
    assert kinds(engine, case_id)[-2:] == ["case.attached", "case.status_changed"]
    pending = timers(engine, case_id)
    assert ("resolution", "breach", 0) in pending
    assert ("next_response", "breach", 0) in pending
    with engine.connect() as conn:
        state = load_sla_states(conn, [case_id])[case_id]
    assert state.paused_since is None
    assert state.clocks["resolution"].paused_wall_us == H // timedelta(microseconds=1)
