"""The audit trail: one hash-chained record per mutation (winback.store.audit).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import winback.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_audit_log_actor_seq": ["actor", "seq"],
    "ix_audit_log_action_seq": ["action", "seq"],
    "ix_audit_log_subject_seq": ["subject_type", "subject_id", "seq"],
    "ix_audit_log_customer_id_seq": ["customer_id", "seq"],
    "ix_audit_log_at": ["at"],
    "ix_audit_log_scrubbed_by": ["scrubbed_by"],
}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("credential", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("personal", sa.Text(), nullable=True),
        sa.Column("personal_digest", sa.String(length=64), nullable=True),
        sa.Column("scrubbed_by", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "audit_log", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="audit_log")
    op.drop_table("audit_log")
