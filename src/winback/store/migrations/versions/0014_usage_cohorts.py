"""Usage readings per cohort, for the risk feature ``usage_level``.

A count per (cohort, histogram bin): how many usage readings of a measure and plan fell in each
log-spaced bin (``winback.customers.cohort``). The processor adds to the counts with each batch;
the re-score worker and training read them.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_cohorts",
        sa.Column("cohort", sa.String(300), primary_key=True),
        sa.Column("bin", sa.Integer(), primary_key=True),
        sa.Column("readings", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_cohorts")
