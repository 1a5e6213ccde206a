"""Analytics against a real database (SQLite, and PostgreSQL when configured): the processor
and agents make cases, the analytics worker keeps the read models, the reports read them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from winback.bootstrap import build_workers
from winback.cli import app
from winback.clock import FrozenClock
from winback.config import Settings
from winback.errors import InvalidInput
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.pipeline.stages import default_stages
from winback.playbooks.engine import control_bucket
from winback.playbooks.loader import parse_playbook
from winback.playbooks.model import PlaybookSet
from winback.remedies.config import load_catalogue
from winback.services import analytics
from winback.services.cases import perform_action
from winback.services.remedies import perform_remedy_action
from winback.sla.config import parse_sla
from winback.sla.engine import SlaEngine
from winback.sources import Source
from winback.store.tables import analytics_case_daily, analytics_exposures, case_timeline, cases

from .support import api_app, body, log_events, nps, rows

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
H = timedelta(hours=1)
RULE = "care/complaints"

SLA = parse_sla(
    {
        "policies": [
            {
                "name": "standard",
                "targets": {"first_response": "1h", "next_response": "4h", "resolution": "8h"},
            }
        ]
    }
)
BOOK = parse_playbook(
    """
playbook: care
version: 1
mode: first_match
rules:
  - name: complaints
    when: {event.type: complaint}
    then: {priority: P2, assign: {team: care}, sla_policy: standard, control: 0.5}
""",
    "test",
)


ANA = Principal(kind="user", name="ana", role="agent", credential="session")


def run(engine: Engine, clock: FrozenClock) -> None:
    stages = default_stages(
        playbooks=Source.fixed("playbooks", PlaybookSet((BOOK,))),
        sla=Source.fixed("sla", SlaEngine(SLA)),
    )
    Processor(engine, stages, clock).run_until_idle()


def act(engine: Engine, clock: FrozenClock, case_id: int, action: str, **params: Any) -> None:
    perform_action(engine, clock, SlaEngine(SLA), case_id, action, ANA, params, None)


def case_of(engine: Engine, customer: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(cases.c.id).where(cases.c.customer_id == customer)).scalar_one()
        )


def treated(customer: str) -> bool:
    return control_bucket(customer, RULE) >= 0.5


def complaint(customer: str, segment: str = "smb") -> dict[str, Any]:
    return body(
        f"c-{customer}",
        "complaint",
        customer,
        text="this is terrible",
        channel="chat",
        customer_fields={"segment": segment},
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def test_service_metrics_follow_cases_as_they_change(engine: Engine, clock: FrozenClock) -> None:
    people = [f"p{i}" for i in range(30) if treated(f"p{i}")][:3]
    assert len(people) == 3
    a, b, c = people
    log_events(engine, clock.now(), *(complaint(p) for p in people))
    run(engine, clock)
    updater = analytics.AnalyticsUpdater(engine, clock)
    updater.run_until_idle()
    [row] = analytics.service_metrics(engine)
    assert row["cases_opened"] == 3
    assert row["cases_resolved"] == 0
    assert row["first_response_s"] is None

    # a: replied after 30 minutes, resolved after 2 hours (both SLA targets met).
    clock.set(T0 + H / 2)
    act(engine, clock, case_of(engine, a), "reply", text="sorry, on it")
    clock.set(T0 + 2 * H)
    act(engine, clock, case_of(engine, a), "resolve", outcome="fixed", root_cause="bug")
    # b: acknowledged and replied to after 3 hours (first response breached).
    clock.set(T0 + 3 * H)
    act(engine, clock, case_of(engine, b), "acknowledge")
    act(engine, clock, case_of(engine, b), "reply", text="here is what happened")
    # a answers the follow-up survey well, a day after the resolution.
    clock.set(T0 + 26 * H)
    log_events(engine, clock.now(), nps("s-a", 9, a, channel="email"))
    run(engine, clock)
    updater.run_until_idle()

    [row] = analytics.service_metrics(engine)
    assert row["cases_opened"] == 3
    assert row["cases_resolved"] == 1
    assert row["first_response_s"] == pytest.approx((1800 + 3 * 3600) / 2)
    assert row["time_to_acknowledge_s"] == pytest.approx((1800 + 3 * 3600) / 2)
    assert row["resolution_s"] == pytest.approx(2 * 3600)
    assert row["sla_first_response_attainment"] == pytest.approx(0.5)
    assert row["sla_first_response_attainment_wall"] == pytest.approx(0.5)
    assert row["sla_resolution_attainment"] == pytest.approx(1.0)
    assert row["followup_answered"] == 1
    assert row["recovery_rate"] == pytest.approx(1.0)
    assert row["reopen_rate"] == pytest.approx(0.0)

    # Sliced: the rule, team, segment and channel come from the case and its customer.
    [sliced] = analytics.service_metrics(engine, by=["rule", "team", "segment", "channel"])
    assert (sliced["rule"], sliced["team"], sliced["segment"]) == (RULE, "care", "smb")
    assert sliced["channel"] == "chat"
    per_day = analytics.service_metrics(engine, period="day")
    assert [r["period"] for r in per_day] == ["2026-11-24"]

    # Reassigning c moves its contribution to another slice, it is not counted twice.
    clock.set(T0 + 27 * H)
    act(engine, clock, case_of(engine, c), "assign", owner="bo")
    updater.run_until_idle()
    by_agent = {r["agent"]: r for r in analytics.service_metrics(engine, by=["agent"])}
    assert by_agent["bo"]["cases_opened"] == 1
    assert sum(r["cases_opened"] for r in by_agent.values()) == 3
    # The three read paths agree: per dimension, per combination, per case.
    combined = analytics.service_metrics(engine, by=["team", "priority"], filters={"rule": RULE})
    per_case = analytics.service_metrics(engine, by=["agent", "team"])
    assert [r["cases_opened"] for r in combined] == [3]
    assert sorted((r["agent"] or "", r["cases_opened"]) for r in per_case) == [("", 2), ("bo", 1)]
    drop = {"period", "team", "priority", "agent"}
    assert {k: v for k, v in combined[0].items() if k not in drop} == {
        k: v for k, v in analytics.service_metrics(engine)[0].items() if k not in drop
    }

    # Running again changes nothing (the read model is idempotent).
    before = rows(engine, sa.select(analytics_case_daily).order_by(*analytics_case_daily.c))
    assert updater.step().cases == 0
    after = rows(engine, sa.select(analytics_case_daily).order_by(*analytics_case_daily.c))
    assert before == after

    # A fresh worker (a restart) re-reads its overlap window and still changes nothing.
    analytics.AnalyticsUpdater(engine, clock).run_until_idle()
    assert rows(engine, sa.select(analytics_case_daily).order_by(*analytics_case_daily.c)) == after

    scores = analytics.score_metrics(engine, kinds=["nps"])
    assert [(s["kind"], s["responses"], s["score"]) for s in scores] == [("nps", 1, 100.0)]

    backlog = analytics.backlog(engine, clock.now())
    assert backlog == [{"open_cases": 2, "oldest_age_s": 27 * 3600.0}]

    with pytest.raises(InvalidInput):
        analytics.service_metrics(engine, by=["planet"])


def test_retention_compares_treated_with_the_held_out(engine: Engine, clock: FrozenClock) -> None:
    people = [f"r{i}" for i in range(60)]
    log_events(engine, clock.now(), *(complaint(p) for p in people))
    run(engine, clock)
    # Every held-out customer cancels 40 days later; treated ones stay.
    held = [p for p in people if not treated(p)]
    assert 10 < len(held) < 50
    clock.set(T0 + timedelta(days=40))
    log_events(
        engine,
        clock.now(),
        *(body(f"x-{p}", "subscription.cancelled", p) for p in held),
    )
    run(engine, clock)
    clock.set(T0 + timedelta(days=100))
    analytics.AnalyticsUpdater(engine, clock).run_until_idle()
    arms = {r.customer_id: r.arm for r in rows(engine, sa.select(analytics_exposures))}
    assert arms == {p: ("treated" if treated(p) else "control") for p in people}

    report = analytics.retention_report(engine, clock.now(), horizons=(30, 60))
    by_days = {r["days"]: r for r in report}
    assert by_days[30]["effect_points"] == 0.0  # nobody had left by day 30
    assert by_days[60]["control_retention"] == 0.0
    assert by_days[60]["treated_retention"] == 1.0
    assert by_days[60]["effect_points"] == 100.0
    assert by_days[60]["ci_low_points"] > 50
    assert by_days[60]["verdict"].startswith(f"{RULE}: +100.0 points retained at 60 days")
    assert by_days[60]["n"] == len(people)

    segments = analytics.retention_report(
        engine, clock.now(), horizons=(60,), by=["rule", "segment"]
    )
    assert [r["segment"] for r in segments] == ["smb"]
    with pytest.raises(InvalidInput):
        analytics.retention_report(engine, clock.now(), by=["segment"])


def test_the_processing_process_runs_the_analytics_worker_unless_turned_off(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    stop = threading.Event()
    base: dict[str, Any] = {
        "models_dir": tmp_path / "m",
        "sla_timers": False,
        "routing_interval_seconds": 0,
        "risk_rescore_interval_seconds": 0,
        "retention_days": 0,
        "outreach_relay": False,
    }
    on = build_workers(Settings(**base), sqlite_engine, stop)
    off = build_workers(Settings(**base, analytics_interval_seconds=0), sqlite_engine, stop)
    assert [w.name for w in on] == ["winback-processor", "winback-analytics"]
    assert [w.name for w in off] == ["winback-processor"]


def test_the_api_serves_json_csv_and_live_gauges(tmp_path: Path) -> None:
    client, _, engine = api_app(tmp_path, T0)
    clock = FrozenClock(T0)
    log_events(engine, T0, complaint("a1", "vip"), complaint("a2", "smb"))
    log_events(engine, T0, nps("n1", 10, "a9", channel="email"), nps("n2", 2, "a8"))
    Processor(engine, default_stages(), clock).run_until_idle()
    analytics.AnalyticsUpdater(engine, clock).run_until_idle()

    got = client.get("/v1/analytics/service", params={"by": "segment", "period": "day"})
    assert got.status_code == 200, got.text
    body_ = got.json()
    assert body_["by"] == ["segment"]
    assert {(r["period"], r["segment"], r["cases_opened"]) for r in body_["rows"]} == {
        ("2026-11-24", "smb", 1),
        ("2026-11-24", "vip", 1),
        ("2026-11-24", None, 1),  # the detractor's case: no segment known
    }
    only = client.get("/v1/analytics/service", params={"segment": "vip"}).json()["rows"]
    assert [r["cases_opened"] for r in only] == [1]
    empty = client.get("/v1/analytics/service", params={"from": "2026-11-25"}).json()
    assert empty["rows"] == []

    csv_text = client.get("/v1/analytics/service", params={"by": "segment", "format": "csv"})
    assert csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.splitlines()
    assert lines[0].startswith("period,segment,cases_opened,")
    assert len(lines) == 4

    nps_rows = client.get("/v1/analytics/scores", params={"kind": "nps"}).json()["rows"]
    assert [(r["responses"], r["score"], r["promoters"]) for r in nps_rows] == [(2, 0.0, 1)]
    scores_csv = client.get("/v1/analytics/scores", params={"kind": "nps", "format": "csv"})
    assert "distribution_10" in scores_csv.text.splitlines()[0]

    live = client.get("/v1/analytics/backlog").json()["rows"]
    assert live == [{"open_cases": 3, "oldest_age_s": 0.0}]
    metrics = client.get("/metrics").text
    assert 'winback_backlog_open_cases{team=""} 3.0' in metrics
    assert "winback_backlog_oldest_age_seconds" in metrics

    retention = client.get("/v1/analytics/retention", params={"days": "30"})
    assert retention.status_code == 200
    assert retention.json()["rows"] == []  # the built-in rule holds nobody out

    paradox = client.get("/v1/analytics/paradox", params={"days": 30})
    assert paradox.status_code == 200
    assert set(paradox.json()["groups"]) == {"recovered", "not_recovered", "never_a_problem"}

    needed = client.get(
        "/v1/analytics/sample-size", params={"baseline": 0.85, "effect_points": 4}
    ).json()
    assert needed["needed"]["total"] > needed["needed"]["treated"] > 0

    for bad in (
        ("/v1/analytics/service", {"by": "planet"}),
        ("/v1/analytics/service", {"period": "decade"}),
        ("/v1/analytics/scores", {"kind": "mood"}),
        ("/v1/analytics/retention", {"days": "soon"}),
        ("/v1/analytics/retention", {"by": "segment"}),
        ("/v1/analytics/sample-size", {"baseline": 0.9, "effect_points": 0}),
    ):
        answer = client.get(bad[0], params=bad[1])
        assert answer.status_code == 422, (bad, answer.text)


def test_winback_report_prints_tables_csv_and_json(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(T0)
    log_events(sqlite_engine, T0, complaint("k1", "vip"), nps("k2", 9, "k2"))
    Processor(sqlite_engine, default_stages(), clock).run_until_idle()
    monkeypatch.setenv("WINBACK_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("WINBACK_MODELS_DIR", str(tmp_path / "models"))
    runner = CliRunner()
    as_json = runner.invoke(app, ["report", "service", "--by", "segment", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    [row] = json.loads(as_json.stdout)
    assert (row["segment"], row["cases_opened"]) == ("vip", 1)
    table = runner.invoke(app, ["report", "scores", "--kind", "nps"])
    assert table.exit_code == 0, table.output
    assert "nps" in table.stdout
    as_csv = runner.invoke(app, ["report", "backlog", "--by", "team", "--format", "csv"])
    assert as_csv.stdout.splitlines()[0] == "team,open_cases,oldest_age_s"
    retention = runner.invoke(app, ["report", "retention", "--days", "30"])
    assert retention.exit_code == 0, retention.output
    assert "(no rows)" in retention.stdout
    paradox = runner.invoke(app, ["report", "paradox", "--format", "csv"])
    assert paradox.exit_code == 0, paradox.output
    assert paradox.stdout.splitlines()[0] == "group,customers,retained"
    bad = runner.invoke(app, ["report", "service", "--by", "planet"])
    assert bad.exit_code == 2
    assert "unknown 'planet'" in bad.output


def test_a_timeline_entry_committed_behind_the_cursor_is_still_seen(
    engine: Engine, clock: FrozenClock
) -> None:
    """On PostgreSQL ids are handed out before commit: an entry can appear below the cursor."""
    people = [f"q{i}" for i in range(30) if treated(f"q{i}")][:2]
    log_events(engine, clock.now(), *(complaint(p) for p in people))
    run(engine, clock)
    updater = analytics.AnalyticsUpdater(engine, clock)
    updater.run_until_idle()
    first, second = (case_of(engine, p) for p in people)
    with engine.begin() as conn:
        top = conn.execute(sa.select(sa.func.max(case_timeline.c.id))).scalar_one()

    def reply(case_id: int, entry_id: int) -> None:
        with engine.begin() as conn:
            conn.execute(
                case_timeline.insert().values(
                    id=entry_id,
                    case_id=case_id,
                    at=T0 + H,
                    kind="case.reply",
                    actor="user:ana",
                    summary="",
                    data={},
                )
            )

    reply(first, top + 100)  # committed first, with the later id
    updater.step()
    reply(second, top + 50)  # committed later, with an id behind the cursor
    updater.run_until_idle()
    [row] = analytics.service_metrics(engine)
    assert row["first_response_s"] == 3600.0
    facts = analytics.service_metrics(engine, by=["rule", "team"])
    assert facts[0]["first_response_s"] == 3600.0
    assert rows(
        engine, sa.select(analytics_case_daily.c.fr_n).where(analytics_case_daily.c.dimension == "")
    ) == [(2.0,)]


def test_remedies_count_as_cost_and_split_the_retention_report(
    engine: Engine, clock: FrozenClock
) -> None:
    people = [f"m{i}" for i in range(40)]
    log_events(engine, clock.now(), *(complaint(p) for p in people))
    run(engine, clock)
    given = [p for p in people if treated(p)][:3]
    catalogue = load_catalogue(None)
    for n, person in enumerate(given):
        done = perform_remedy_action(
            engine,
            clock,
            catalogue,
            case_of(engine, person),
            "apply_remedy",
            ANA,
            {"remedy": "credit", "amount": 10},
            f"key-{n}",
        )
        assert [e["kind"] for e in done.entries] == ["remedy.applied"]
    cost = catalogue.remedies["credit"].cost(10)
    clock.set(T0 + timedelta(days=45))
    analytics.AnalyticsUpdater(engine, clock).run_until_idle()
    [row] = analytics.service_metrics(engine)
    assert row["remedies_applied"] == 3
    assert row["remedy_cost"] == pytest.approx(3 * cost)
    split = analytics.retention_report(engine, clock.now(), horizons=(30,), by=["rule", "remedy"])
    by_remedy = {r["remedy"]: r for r in split}
    assert by_remedy["credit"]["treated"] == 3
    assert by_remedy["credit"]["remedy_cost"] == pytest.approx(3 * cost)
    assert by_remedy["credit"]["control"] == by_remedy[""]["control"] > 0
    assert not by_remedy["credit"]["randomised"]


def test_the_recovery_paradox_report(engine: Engine, clock: FrozenClock) -> None:
    log_events(
        engine,
        clock.now(),
        body("p-a", "complaint", "pa", text="this is terrible"),
        body("p-b", "usage", "pb"),
        body("p-d", "usage", "pd"),
    )
    Processor(engine, default_stages(), clock).run_until_idle()
    clock.set(T0 + H)
    act(engine, clock, case_of(engine, "pa"), "acknowledge")
    act(engine, clock, case_of(engine, "pa"), "resolve", outcome="fixed", root_cause="bug")
    clock.set(T0 + timedelta(days=1))
    log_events(engine, clock.now(), nps("p-a-nps", 9, "pa"))
    clock.set(T0 + timedelta(days=80))
    log_events(engine, clock.now(), body("p-d-2", "usage", "pd"))
    Processor(engine, default_stages(), clock).run_until_idle()
    clock.set(T0 + timedelta(days=100))
    analytics.AnalyticsUpdater(engine, clock).run_until_idle()
    found = analytics.paradox_report(engine, clock.now(), days=90)
    assert found["groups"]["recovered"] == {"customers": 1, "retained": 1.0}
    assert found["groups"]["never_a_problem"] == {"customers": 2, "retained": 1.0}
    assert found["groups"]["not_recovered"] == {"customers": 0, "retained": None}
    assert "no difference shown" in found["verdict"]
    # Sixty quiet days count as churn: pb (last seen on day 0) and pa (day 1) have left.
    quiet = analytics.paradox_report(engine, clock.now(), days=90, inactive_days=60)
    assert quiet["groups"]["recovered"] == {"customers": 1, "retained": 0.0}
    assert quiet["groups"]["never_a_problem"] == {"customers": 2, "retained": 0.5}
    assert quiet["difference_points"] == -50.0
