"""Initial schema: event log, customers, cases, case links and timeline, outbox, cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import winback.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of the open statuses at this revision (the one-open-case-per-customer index).
OPEN_CASE = "status IN ('acknowledged', 'in_progress', 'new', 'reopened', 'waiting_on_customer')"


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("plan", sa.String(length=100), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "field_times",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("first_seen_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", winback.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["delivered_at", "available_at"], unique=False)

    op.create_table(
        "processor_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_processor_cursors")),
    )
    op.create_table(
        "cases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("trigger_event_id", sa.String(length=200), nullable=False),
        sa.Column("signal_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cases_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_status_id", ["status", "id"], unique=False)
        batch_op.create_index(
            "uq_cases_one_open_per_customer",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text(OPEN_CASE),
            postgresql_where=sa.text(OPEN_CASE),
        )

    op.create_table(
        "event_failures",
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("processor", sa.String(length=100), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("error", sa.String(length=4000), nullable=False),
        sa.Column("failed_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_event_failures_event_seq_events")
        ),
        sa.PrimaryKeyConstraint("event_seq", name=op.f("pk_event_failures")),
    )
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("attached_at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_case_events_event_seq_events")
        ),
        sa.PrimaryKeyConstraint("case_id", "event_seq", name=op.f("pk_case_events")),
    )
    op.create_table(
        "case_timeline",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("at", winback.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("event_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_timeline_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_case_timeline_event_seq_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_timeline")),
        sa.UniqueConstraint("case_id", "kind", "event_seq", name="uq_case_timeline_event"),
    )
    with op.batch_alter_table("case_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_case_timeline_case_id_id", ["case_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("case_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timeline_case_id_id")

    op.drop_table("case_timeline")
    op.drop_table("case_events")
    op.drop_table("event_failures")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cases_one_open_per_customer",
            sqlite_where=sa.text(OPEN_CASE),
            postgresql_where=sa.text(OPEN_CASE),
        )
        batch_op.drop_index("ix_cases_status_id")

    op.drop_table("cases")
    op.drop_table("processor_cursors")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_customer_id"))

    op.drop_table("events")
    op.drop_table("customers")
