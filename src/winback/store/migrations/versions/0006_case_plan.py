"""The case's plan as columns: team, SLA policy, channel, incident, remedies, handoff.

Until now the playbooks' choices lived only in the ``data.playbook`` of the case's decision
entries on its timeline, and routing and remedies re-parsed that history. The upgrade fills
the new columns from that history, the way the old readers did (the first team, policy and
incident named; remedies and handoff reasons accumulated in order), and a case's channel from
its trigger event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_DECISIONS = ("case.opened", "case.attached", "case.reopened")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("team", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("sla_policy", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("incident", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("remedies", _JSON, nullable=True))
        batch.add_column(sa.Column("handoff", _JSON, nullable=True))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    meta = sa.MetaData()
    timeline = sa.Table("case_timeline", meta, autoload_with=conn)
    cases = sa.Table("cases", meta, autoload_with=conn)
    events = sa.Table("events", meta, autoload_with=conn)
    plans: dict[int, dict[str, Any]] = {}
    rows = conn.execute(
        sa.select(timeline.c.case_id, timeline.c.data)
        .where(timeline.c.kind.in_(_DECISIONS))
        .order_by(timeline.c.id)
    )
    for case_id, data in rows:
        chosen = (data or {}).get("playbook") or {}
        plan = plans.setdefault(case_id, {"remedies": [], "handoff": []})
        for name in ("team", "sla_policy", "incident"):
            if chosen.get(name) and not plan.get(name):
                plan[name] = str(chosen[name])
        for name in ("remedies", "handoff"):
            for item in chosen.get(name) or []:
                if item not in plan[name]:
                    plan[name].append(str(item))
    channels = conn.execute(
        sa.select(cases.c.id, events.c.payload).select_from(
            cases.join(events, events.c.event_id == cases.c.trigger_event_id)
        )
    )
    for case_id, payload in channels:
        channel = (payload or {}).get("channel")
        if channel:
            plans.setdefault(case_id, {"remedies": [], "handoff": []})["channel"] = str(channel)
    for case_id, plan in plans.items():
        conn.execute(cases.update().where(cases.c.id == case_id).values(**plan))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        for name in ("handoff", "remedies", "incident", "channel", "sla_policy", "team"):
            batch.drop_column(name)
