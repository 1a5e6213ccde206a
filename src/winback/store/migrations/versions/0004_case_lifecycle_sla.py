"""Case lifecycle, actions, SLA deadlines and durable timers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import winback.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CASE_COLUMNS = ("owner", "severity", "resolved_at", "closed_at", "outcome", "root_cause")


def _utc() -> winback.store.types.UTCDateTime:
    return winback.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("owner", sa.String(length=200), nullable=True))
    op.add_column("cases", sa.Column("severity", sa.String(length=16), nullable=True))
    op.add_column("cases", sa.Column("resolved_at", _utc(), nullable=True))
    op.add_column("cases", sa.Column("closed_at", _utc(), nullable=True))
    op.add_column("cases", sa.Column("outcome", sa.String(length=200), nullable=True))
    op.add_column("cases", sa.Column("root_cause", sa.String(length=500), nullable=True))
    op.add_column(
        "cases",
        sa.Column("reopen_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.create_index("ix_cases_customer_id_resolved_at", "cases", ["customer_id", "resolved_at"])
    op.create_table(
        "case_sla",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_sla_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_sla")),
    )
    op.create_index("ix_case_sla_fingerprint", "case_sla", ["fingerprint"])
    op.create_table(
        "sla_timers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("due_at", _utc(), nullable=False),
        sa.Column("fired_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_sla_timers_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_timers")),
        sa.UniqueConstraint(
            "case_id", "metric", "kind", "level", "generation", name="uq_sla_timers_key"
        ),
    )
    op.create_index(
        "ix_sla_timers_pending_due",
        "sla_timers",
        ["due_at"],
        sqlite_where=sa.text("fired_at IS NULL"),
        postgresql_where=sa.text("fired_at IS NULL"),
    )
    op.create_table(
        "case_actions",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", _JSON, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_actions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "idempotency_key", name=op.f("pk_case_actions")),
    )


def downgrade() -> None:
    op.drop_table("case_actions")
    op.drop_index("ix_sla_timers_pending_due", table_name="sla_timers")
    op.drop_table("sla_timers")
    op.drop_index("ix_case_sla_fingerprint", table_name="case_sla")
    op.drop_table("case_sla")
    op.drop_index("ix_cases_customer_id_resolved_at", table_name="cases")
    for column in ("reopen_count", *reversed(_CASE_COLUMNS)):
        op.drop_column("cases", column)
