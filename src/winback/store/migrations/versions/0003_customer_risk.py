"""Customer state features and churn risk.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import winback.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> winback.store.types.UTCDateTime:
    return winback.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_risk",
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("features", _JSON, nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("as_of", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("jumped_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_risk")),
    )
    op.create_index("ix_customer_risk_probability", "customer_risk", ["probability"])


def downgrade() -> None:
    op.drop_index("ix_customer_risk_probability", table_name="customer_risk")
    op.drop_table("customer_risk")
