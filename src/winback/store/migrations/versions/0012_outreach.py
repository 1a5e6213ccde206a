"""Outreach: the outbox relay's fan-out and deliveries, webhook subscriptions, preferences.

``outbox`` gains ``dispatched_at`` (the relay fans a row out once) and a
partial index over the rows not yet fanned out. Rows queued before this migration are marked
dispatched: they are history (acknowledgements of old events), not messages to send now.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.store.types import BigID, JSONDoc, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dispatched_at", UTCDateTime()))
    op.execute("UPDATE outbox SET dispatched_at = created_at")
    op.create_index(
        "ix_outbox_undispatched",
        "outbox",
        ["id"],
        sqlite_where=sa.text("dispatched_at IS NULL"),
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", BigID, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.BigInteger(), sa.ForeignKey("outbox.id"), nullable=False),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(300), nullable=False),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("case_id", sa.BigInteger()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("claim_token", sa.String(64)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("provider_ref", sa.String(300)),
        sa.Column("reason", sa.String(500)),
        sa.UniqueConstraint("outbox_id", "destination", name="uq_outbox_deliveries_destination"),
    )
    op.create_index(
        "ix_outbox_deliveries_state_available_at", "outbox_deliveries", ["state", "available_at"]
    )
    op.create_index("ix_outbox_deliveries_stream_id", "outbox_deliveries", ["stream", "id"])
    op.create_index(
        "ix_outbox_deliveries_customer_id_created_at",
        "outbox_deliveries",
        ["customer_id", "created_at"],
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", BigID, primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("topics", JSONDoc, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "customer_preferences",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("preferences", JSONDoc, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_preferences")
    op.drop_table("webhook_subscriptions")
    op.drop_index("ix_outbox_deliveries_customer_id_created_at", table_name="outbox_deliveries")
    op.drop_index("ix_outbox_deliveries_stream_id", table_name="outbox_deliveries")
    op.drop_index("ix_outbox_deliveries_state_available_at", table_name="outbox_deliveries")
    op.drop_table("outbox_deliveries")
    op.drop_index("ix_outbox_undispatched", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dispatched_at")
