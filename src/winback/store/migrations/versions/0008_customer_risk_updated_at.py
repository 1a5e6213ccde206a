"""An index on ``customer_risk.updated_at`` for the risk re-score worker.

The worker looks for the rows scored longest ago (and for the earliest such time, to know when
to look again); without the index each look would read every row, feature state included.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customer_risk_updated_at", "customer_risk", ["updated_at", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_risk_updated_at", table_name="customer_risk")
