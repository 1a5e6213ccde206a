"""Remedy grants (the compensation ledger) and API-managed routing agents.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import winback.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> winback.store.types.UTCDateTime:
    return winback.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remedy_grants",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("remedy", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_role", sa.String(length=32), nullable=False),
        sa.Column("approver_role", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_remedy_grants_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remedy_grants")),
    )
    op.create_index(
        "ix_remedy_grants_customer_id_created_at", "remedy_grants", ["customer_id", "created_at"]
    )
    op.create_index("ix_remedy_grants_remedy_created_at", "remedy_grants", ["remedy", "created_at"])
    op.create_index("ix_remedy_grants_case_id", "remedy_grants", ["case_id"])
    op.create_table(
        "routing_agents",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_since", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_agents")),
    )


def downgrade() -> None:
    op.drop_table("routing_agents")
    op.drop_index("ix_remedy_grants_case_id", table_name="remedy_grants")
    op.drop_index("ix_remedy_grants_remedy_created_at", table_name="remedy_grants")
    op.drop_index("ix_remedy_grants_customer_id_created_at", table_name="remedy_grants")
    op.drop_table("remedy_grants")
