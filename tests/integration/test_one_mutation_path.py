"""Every change to a case, whoever makes it, comes out the same way: timeline entries, and the
outbox effects the one rule derives from them.

The scenario drives each transition through each path that can cause it — the processor
(open, attach, re-open, resume on a customer's reply, a playbook's assignment), an agent's
actions, routing, SLA timers (warning, breach, escalation with a priority raise and a new
owner) and remedies (applied, approval requested, approved, rejected) — on SQLite and on
PostgreSQL. Then, for every timeline entry of every case, the outbox must hold exactly the
effect :data:`winback.cases.effects.TOPICS` names for its kind, keyed by the entry, carrying
the case's id; and nothing else about cases.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.bootstrap import build_stages, load_sla
from winback.cases.effects import TOPICS
from winback.clock import FrozenClock
from winback.config import load_settings
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.remedies.config import load_catalogue
from winback.routing.config import load_routing
from winback.services.cases import perform_action
from winback.services.remedies import perform_remedy_action
from winback.services.routing import run_routing
from winback.services.sla_timers import TimerService
from winback.store.tables import case_timeline, cases, outbox

from .support import body, log_events, nps, rows

ANA = Principal(kind="user", name="ana", role="agent", credential="test")
MO = Principal(kind="user", name="mo", role="manager", credential="test")

SLA = """
policies:
  - name: standard
    targets: {first_response: 1h, resolution: 8h}
    warning_at: 50%
    escalations:
      - {after: 0m, notify: lead, raise_priority: true, reassign: team-lead}
"""

PLAYBOOK = """
playbook: paths
version: 1
mode: all_match
rules:
  - name: vip-to-ana
    when: {event.type: complaint, customer.segment: vip}
    then: {priority: P2, assign: {agent: ana}, remedies: [credit]}
  - name: complaints
    when: {event.type: complaint}
    then: {priority: P3, category: delivery, remedies: [credit]}
  - name: detractors
    when: {event.type: survey.response, event.score.value: {lte: 6}}
    then: {priority: P3}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    (directory / "playbooks").mkdir(parents=True)
    (directory / "playbooks" / "paths.yaml").write_text(PLAYBOOK)
    (directory / "sla.yaml").write_text(SLA)
    (directory / "agents.yaml").write_text("agents:\n  bo: {capacity: 5}\n")
    return directory


def test_every_path_that_changes_a_case_queues_the_effects_its_entries_name(
    engine: Engine, config_dir: Path, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    processor = Processor(engine, build_stages(settings), clock)
    sla = load_sla(settings)
    catalogue = load_catalogue(config_dir)

    def process(*bodies: dict[str, object]) -> None:
        log_events(engine, clock.now(), *bodies)
        processor.run_until_idle()

    def case_id(customer: str) -> int:
        [row] = rows(engine, sa.select(cases.c.id).where(cases.c.customer_id == customer))
        return int(row.id)

    # The processor: open (with a playbook's agent for a VIP), attach, a neutral reply.
    vip = {"segment": "vip"}
    process(body("a1", "complaint", "vip", customer_fields=vip, text="Parcel lost again."))
    process(body("b1", "complaint", "plain", text="Where is my order?"))
    process(nps("a2", 2, "vip"))
    vip_case, plain_case = case_id("vip"), case_id("plain")

    # An agent: acknowledge, start, wait on the customer; the customer's neutral reply resumes.
    for action in ("acknowledge", "start", "wait_on_customer"):
        perform_action(engine, clock, sla, vip_case, action, ANA, {})
    process(body("a3", "message", "vip", text="Order number is 12345"))
    perform_action(engine, clock, sla, vip_case, "note", ANA, {"text": "checking"})
    perform_action(engine, clock, sla, vip_case, "reply", ANA, {"text": "On it."})
    perform_action(engine, clock, sla, vip_case, "escalate", ANA, {"reason": "vip"})

    # Routing assigns the unowned case.
    done = run_routing(engine, clock, sla, load_routing(config_dir))
    assert [a["case_id"] for a in done["assigned"]] == [plain_case]

    # Remedies: applied, approval requested then approved, requested then rejected.
    def remedy(action: str, key: str, by: Principal = ANA, **params: object) -> None:
        perform_remedy_action(engine, clock, catalogue, vip_case, action, by, params, key)

    remedy("apply_remedy", "r1", remedy="credit", amount=20)
    remedy("apply_remedy", "r2", remedy="credit", amount=100)
    remedy("apply_remedy", "r3", remedy="credit", amount=60)
    pending = [
        r.payload["grant_id"]
        for r in rows(
            engine, sa.select(outbox).where(outbox.c.topic == "remedy.approval_requested")
        )
    ]
    assert len(pending) == 2
    remedy("approve", "r4", MO, grant_id=pending[0])
    remedy("reject", "r5", MO, grant_id=pending[1])

    # SLA timers: the plain case's warning, breach and escalation.
    clock.advance(timedelta(hours=2))
    fired = TimerService(engine, clock, sla).fire_due()
    assert {f.kind for f in fired if f.case_id == plain_case} >= {"warning", "breach", "escalation"}

    # The agent resolves, the customer complains again: the case re-opens.
    perform_action(
        engine, clock, sla, vip_case, "resolve", ANA, {"outcome": "ok", "root_cause": "x"}
    )
    process(body("a4", "complaint", "vip", customer_fields=vip, text="Broken again."))

    timeline = rows(engine, sa.select(case_timeline).order_by(case_timeline.c.id))
    effects = rows(engine, sa.select(outbox).order_by(outbox.c.id))
    kinds = Counter(e.kind for e in timeline)
    for kind in (
        "case.opened",
        "case.attached",
        "case.reopened",
        "case.customer_contact",
        "case.status_changed",
        "case.assigned",
        "case.escalated",
        "case.reply",
        "case.note",
        "sla.warning",
        "sla.breached",
        "sla.escalated",
        "remedy.applied",
        "remedy.approval_requested",
        "remedy.approved",
        "remedy.rejected",
    ):
        assert kinds[kind] >= 1, f"the scenario never made a {kind} entry"
    actors = {(e.kind, e.actor) for e in timeline if e.kind == "case.assigned"}
    assert {"winback:processor", "system:routing", "winback:sla"} <= {a for _, a in actors}

    # The rule: every entry whose kind has a topic has exactly one effect of that topic for
    # its case; effects about cases are exactly those.
    expected = Counter((TOPICS[e.kind], e.case_id) for e in timeline if e.kind in TOPICS)
    case_topics = set(TOPICS.values())
    queued = Counter((fx.topic, fx.payload["case_id"]) for fx in effects if fx.topic in case_topics)
    assert queued == expected
    assert len({fx.idempotency_key for fx in effects}) == len(effects)
