"""Analytics read models: per-case facts, daily sums per slice dimension and value and per
combination of slices (all but the agent), survey answers per day, the playbooks' experiment
exposures and the customers' fates (first cancellation, latest renewal).

Empty on creation: the analytics worker fills them from the log, the timelines and the outbox
from the start (its cursors begin at 0), so an existing store is back-filled by the worker.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.store.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Frozen here (not imported) so that this revision creates the same tables forever.
_DIMENSIONS = (
    ("team", 100),
    ("agent", 200),
    ("category", 64),
    ("channel", 64),
    ("segment", 100),
    ("priority", 8),
    ("rule", 200),
)
_MEASURES = (
    "opened", "resolved", "reopened", "repeat", "answered", "recovered", "ack_n", "ack_s",
    "fr_n", "fr_s", "fr_business_n", "fr_business_s", "res_n", "res_s", "res_business_n",
    "res_business_s", "fr_sla_n", "fr_sla_met", "fr_sla_met_wall", "res_sla_n", "res_sla_met",
    "res_sla_met_wall", "remedy_n", "remedy_cost",
)  # fmt: skip


def _dimensions() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(size), nullable=False) for name, size in _DIMENSIONS]


def _measures() -> list[sa.Column[float]]:
    return [
        sa.Column(name, sa.Float(), nullable=False, server_default=sa.text("0"))
        for name in _MEASURES
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_case_facts",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_dimensions(),
        *_measures(),
        sa.PrimaryKeyConstraint("case_id", name="pk_analytics_case_facts"),
    )
    op.create_index("ix_analytics_case_facts_day", "analytics_case_facts", ["day"])
    op.create_table(
        "analytics_case_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        *_measures(),
        sa.PrimaryKeyConstraint("day", "dimension", "value", name="pk_analytics_case_daily"),
    )
    op.create_table(
        "analytics_case_slices",
        sa.Column("day", sa.Date(), nullable=False),
        *(
            sa.Column(name, sa.String(size), nullable=False)
            for name, size in _DIMENSIONS
            if name != "agent"
        ),
        *_measures(),
        sa.PrimaryKeyConstraint(
            "day", *(name for name, _ in _DIMENSIONS if name != "agent"),
            name="pk_analytics_case_slices",
        ),
    )  # fmt: skip
    op.create_table(
        "analytics_score_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("touchpoint", sa.String(100), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "kind", "value", "segment", "channel", "touchpoint",
            name="pk_analytics_score_daily",
        ),
    )  # fmt: skip
    op.create_table(
        "analytics_exposures",
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("arm", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("segment", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", "rule", name="pk_analytics_exposures"),
    )
    op.create_table(
        "analytics_customer_fates",
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("renewed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name="pk_analytics_customer_fates"),
    )


def downgrade() -> None:
    for table in (
        "analytics_customer_fates",
        "analytics_exposures",
        "analytics_score_daily",
        "analytics_case_slices",
        "analytics_case_daily",
        "analytics_case_facts",
    ):
        op.drop_table(table)
