"""An index on ``cases.owner``: an agent's own queue ("my cases") without reading every case.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_owner_status", "cases", ["owner", "status"])


def downgrade() -> None:
    op.drop_index("ix_cases_owner_status", table_name="cases")
