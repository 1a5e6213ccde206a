"""Whether automation may handle a case (``cases.automated``), beside its plan.

Set by the playbooks (a rule says ``automate: true`` and no rule gives a handoff reason);
routing puts no unowned automated case in a human queue. Existing cases were all routed to
people, so they start as not automated.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("automated", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("automated")
