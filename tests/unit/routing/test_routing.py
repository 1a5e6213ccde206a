"""Routing: eligibility, least-loaded with round-robin ties, the urgency queue, offline
re-queueing, shifts, and fairness measured over many cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from winback.routing.config import RoutingConfigError, load_routing
from winback.routing.engine import Router, fairness, queue_key
from winback.routing.model import Agent, CaseRequest, Team
from winback.sla.calendar import load_calendar

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


def router(*agents: Agent, teams: dict[str, Team] | None = None) -> Router:
    return Router({a.id: a for a in agents}, teams or {})


def test_least_loaded_then_round_robin_on_ties() -> None:
    r = router(Agent("a", capacity=5), Agent("b", capacity=5), Agent("c", capacity=5))
    r.hold(CaseRequest(100), "a")  # a already owns one
    for i in range(6):
        r.enqueue(CaseRequest(i, opened_at=NOW + timedelta(seconds=i)))
    order = [x.agent_id for x in r.dispatch(NOW)]
    # b and c (0 open) first, in turn; then all three equal at 1, then 2: they take turns.
    assert order == ["b", "c", "a", "b", "c", "a"]
    assert r.load == {"a": 3, "b": 2, "c": 2}


def test_skills_tier_team_capacity_and_availability() -> None:
    r = router(
        Agent("pt", languages=frozenset({"pt"}), capacity=1),
        Agent("billing", categories=frozenset({"billing"}), teams=frozenset({"money"})),
        Agent("senior", tier=3, status="away"),
        Agent("any"),
        teams={"money": Team("money", frozenset({"billing"}))},
    )
    assert {a.id for a in r.eligible(CaseRequest(1, language="pt"), NOW)} == {
        "pt",
        "billing",
        "any",
    }
    assert {a.id for a in r.eligible(CaseRequest(2, language="de"), NOW)} == {"billing", "any"}
    assert {a.id for a in r.eligible(CaseRequest(3, category="billing", team="money"), NOW)} == {
        "billing"
    }
    assert r.eligible(CaseRequest(4, min_tier=2), NOW) == []  # the senior agent is away
    r.set_status("senior", "online", NOW)
    assert [a.id for a in r.eligible(CaseRequest(4, min_tier=2), NOW)] == ["senior"]
    r.hold(CaseRequest(9), "pt")  # at capacity
    assert "pt" not in {a.id for a in r.eligible(CaseRequest(5, language="pt"), NOW)}


def test_shift_calendar_makes_an_agent_unavailable_off_hours() -> None:
    shift = load_calendar({"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}})
    r = router(Agent("day", shift=shift))
    assert r.eligible(CaseRequest(1), NOW)
    assert not r.eligible(CaseRequest(1), NOW.replace(hour=20))
    assert not r.eligible(CaseRequest(1), NOW + timedelta(days=5))  # Sunday


def test_queue_orders_by_deadline_then_urgency_and_freed_capacity_takes_the_most_urgent() -> None:
    r = router(Agent("a", capacity=1))
    r.hold(CaseRequest(99), "a")  # full
    soon = CaseRequest(1, deadline=NOW + timedelta(minutes=30), opened_at=NOW)
    later = CaseRequest(2, deadline=NOW + timedelta(hours=4), opened_at=NOW)
    urgent_no_deadline = CaseRequest(3, priority="P1", severity="critical", risk=0.9, value=5000)
    mild_no_deadline = CaseRequest(4, priority="P4", risk=0.1, opened_at=NOW)
    newest = CaseRequest(5, deadline=NOW + timedelta(hours=4), opened_at=NOW + timedelta(hours=1))
    for c in (newest, mild_no_deadline, urgent_no_deadline, later, soon):
        r.enqueue(c)
    ordered = [c.case_id for c in sorted(r.waiting.values(), key=queue_key)]
    assert ordered == [1, 2, 5, 3, 4]
    assert r.dispatch(NOW) == []  # nobody has capacity
    assert r.release(99) == "a"
    assert [x.case_id for x in r.dispatch(NOW)] == [1]  # the most urgent, not the newest
    r.release(1)
    assert [x.case_id for x in r.dispatch(NOW)] == [2]


def test_urgency_is_risk_times_value_times_severity() -> None:
    base = CaseRequest(1, priority="P3", severity="medium", risk=0.2, value=100)
    assert (
        CaseRequest(2, priority="P3", severity="high", risk=0.2, value=100).urgency > base.urgency
    )
    assert (
        CaseRequest(3, priority="P3", severity="medium", risk=0.8, value=100).urgency > base.urgency
    )
    assert (
        CaseRequest(4, priority="P3", severity="medium", risk=0.2, value=9000).urgency
        > base.urgency
    )
    assert (
        CaseRequest(5, priority="P1", severity="medium", risk=0.2, value=100).urgency > base.urgency
    )


def test_offline_agents_cases_are_requeued_after_the_grace() -> None:
    r = router(Agent("a", capacity=5), Agent("b", capacity=5))
    for i in range(4):
        r.enqueue(CaseRequest(i))
    r.dispatch(NOW)
    mine = sorted(c.case_id for c in r.held.values() if c.owner == "a")
    r.set_status("a", "offline", NOW)
    assert r.requeue_offline(NOW + timedelta(minutes=5), timedelta(minutes=15)) == []
    moved = r.requeue_offline(NOW + timedelta(minutes=16), timedelta(minutes=15))
    assert moved == mine
    assert r.load["a"] == 0
    again = r.dispatch(NOW + timedelta(minutes=16))
    assert {x.case_id for x in again} == set(mine)
    assert {x.agent_id for x in again} == {"b"}


def test_fairness_over_many_cases() -> None:
    rng = random.Random(7)
    agents = [Agent(f"ag{i}", capacity=6) for i in range(8)]
    r = router(*agents)
    case_id = 0
    for _minute in range(600):
        for _ in range(rng.randint(0, 3)):
            case_id += 1
            r.enqueue(CaseRequest(case_id, priority=rng.choice(["P1", "P2", "P3", "P4"])))
        r.dispatch(NOW)
        for held in list(r.held.values()):
            if rng.random() < 0.25:
                r.release(held.case_id)
        # Least loaded: while cases wait, no agent holds two more than another.
        loads = [r.load.get(a.id, 0) for a in agents]
        assert max(loads) - min(loads) <= 1 or not r.waiting
    stats = fairness(r.assigned_count, [a.id for a in agents])
    assert sum(stats.per_agent.values()) > 800
    # Cases close at random, so shares differ a little; they stay within a few percent.
    assert stats.stdev / stats.mean < 0.06, stats
    assert stats.max_min_ratio < 1.25, stats


def test_equal_agents_with_equal_work_get_exactly_equal_shares() -> None:
    agents = [Agent(f"ag{i}", capacity=2) for i in range(5)]
    r = router(*agents)
    for i in range(1000):
        r.enqueue(CaseRequest(i))
        [_done] = r.dispatch(NOW)
        if i >= 5:
            r.release(i - 5)
    stats = fairness(r.assigned_count, [a.id for a in agents])
    assert set(stats.per_agent.values()) == {200}
    assert stats.max_min_ratio == 1.0


def test_routing_yaml(tmp_path: Path) -> None:
    assert load_routing(None).agents == {}
    (tmp_path / "agents.yaml").write_text(
        """agents:
  ana: {name: Ana, teams: [billing], categories: [billing], languages: [en, pt], capacity: 8,
        tier: 2, shift: weekdays}
  bo: {}
calendars:
  weekdays: {timezone: Europe/Lisbon, hours: {mon-fri: "09:00-18:00"}}
"""
    )
    (tmp_path / "teams.yaml").write_text("teams:\n  billing: {members: [ana], min_tier: 2}\n")
    config = load_routing(tmp_path)
    assert config.agents["ana"].capacity == 8
    assert config.agents["ana"].shift is not None
    assert config.teams["billing"].min_tier == 2
    (tmp_path / "teams.yaml").write_text("teams:\n  billing: {members: [zed], min_teir: 2}\n")
    with pytest.raises(RoutingConfigError, match=r"teams\.yaml:2: teams\.billing\.min_teir"):
        load_routing(tmp_path)


@pytest.mark.parametrize("deadline", [NOW + timedelta(hours=4), None])
def test_on_equal_or_absent_deadlines_a_new_p1_goes_before_an_older_p3(
    deadline: datetime | None,
) -> None:
    # The P3's risk and value alone would out-weigh the P1 in urgency (2 x 1.4 x 10 = 28
    # against 8 x 4 x 0.6 = 19.2): priority must still come first, then urgency, then age.
    r = router(Agent("a", capacity=1))
    r.hold(CaseRequest(99), "a")
    older_p3 = CaseRequest(1, priority="P3", risk=0.9, value=9000, deadline=deadline, opened_at=NOW)
    legal_p1 = CaseRequest(
        2,
        priority="P1",
        severity="critical",
        risk=0.1,
        deadline=deadline,
        opened_at=NOW + timedelta(hours=1),
    )
    assert older_p3.urgency > legal_p1.urgency
    r.enqueue(older_p3)
    r.enqueue(legal_p1)
    r.release(99)
    assert [x.case_id for x in r.dispatch(NOW)] == [2]
