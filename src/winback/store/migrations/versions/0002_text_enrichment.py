"""Text understanding: enrichment stored beside each event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import winback.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "event_text",
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("urgency", _JSON, nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("redacted", sa.Text(), nullable=False),
        sa.Column("pii", _JSON, nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("analyzed_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_event_text_event_seq_events")
        ),
        sa.PrimaryKeyConstraint("event_seq", name=op.f("pk_event_text")),
    )


def downgrade() -> None:
    op.drop_table("event_text")
