"""The demo's simulated team works its cases through the application layer, as people would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.bootstrap import build_runtime, build_stages
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.demo import DEMO_CONFIG, write_demo_config
from winback.pipeline.processor import Processor
from winback.services.routing import run_routing
from winback.sim import team as team_module
from winback.sim.team import DemoTeam
from winback.store.tables import case_timeline, cases, remedy_grants

from .support import body, log_events, rows


def test_the_team_acknowledges_offers_a_remedy_gets_approval_and_resolves(
    sqlite_engine: Engine, frozen_clock: FrozenClock, tmp_path: Path
) -> None:
    config = write_demo_config(tmp_path / "demo-config")
    assert (config / "sla.yaml").read_text() == (DEMO_CONFIG / "sla.yaml").read_text()
    settings = load_settings(
        database_url=sqlite_engine.url.render_as_string(hide_password=False),
        config_dir=config,
        models_dir=tmp_path / "models",
        processor="off",
    )
    runtime = build_runtime(settings, frozen_clock)
    runtime.engine.dispose()
    runtime.engine = sqlite_engine
    processor = Processor(sqlite_engine, build_stages(settings, runtime.sources), frozen_clock)
    # Cancellations: the policy offers a loyalty offer, above an agent's limit (a lead approves).
    kinds = ("complaint", "payment.failed", "subscription.cancelled")
    for n in range(12):
        text = "You charged me twice and nobody answers."
        event = body(f"e{n}", kinds[n % 3], f"c{n}", text=text, customer_fields={"value": 2000})
        log_events(sqlite_engine, frozen_clock.now(), event)
    processor.run_until_idle()
    sources = runtime.sources
    run_routing(sqlite_engine, frozen_clock, sources.sla.get(), sources.routing.get())
    owners = {r.owner for r in rows(sqlite_engine, sa.select(cases))}
    assert owners >= {"ana", "ben", "chloe", "dev"}

    team = DemoTeam(runtime, ("ben", "chloe", "dev"), "lea")
    for _ in range(40):  # eight minutes of demo, a pass every 12 s
        frozen_clock.advance(timedelta(seconds=12))
        team.step()
        team.approve_pending()

    by_owner = {}
    for case in rows(sqlite_engine, sa.select(cases)):
        by_owner.setdefault(case.owner, []).append(case)
    # The person's cases are left to the person; most of the team's are resolved, a few left
    # alone on purpose so the SLA clocks can be seen to warn and breach.
    assert all(c.status == "new" for c in by_owner["ana"])
    worked = [c for o in ("ben", "chloe", "dev") for c in by_owner.get(o, [])]
    idle = [c for c in worked if team_module._share(c.id, "idle") < team_module.IDLE_SHARE]
    assert all(c.status == "new" for c in idle)
    assert all(c.status == "resolved" for c in worked if c not in idle)
    assert any(c.status == "resolved" for c in worked)
    actors = {r.actor for r in rows(sqlite_engine, sa.select(case_timeline.c.actor))}
    assert {"user:ben", "user:chloe", "user:dev"} & actors
    grants = rows(sqlite_engine, sa.select(remedy_grants))
    assert grants
    assert all(g.status == "applied" for g in grants)
    approved = [g for g in grants if g.requested_role == "agent" and g.decided_by == "user:lea"]
    assert approved  # a loyalty offer is above an agent's limit: the lead approved it
    assert all(g.requested_by != g.decided_by for g in approved)
