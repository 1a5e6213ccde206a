"""The log partitioned by customer: ``events.partition``, ``log_partitions``, ``processor_members``.

``log_partitions`` holds one row per partition: its cursor's name in ``processor_cursors`` and
its lease (which worker processes it, until when). The migration creates partition 0 on the
``pipeline`` cursor, so an installation keeps one partition — today's processor, unchanged —
until ``winback db partitions N`` is run on an empty log. ``events.partition`` is stamped by
ingest only when there are several partitions; the index that reads a partition in order is
partial (``partition IS NOT NULL``), so the one-partition default pays nothing for it.
``processor_members`` holds the workers' heartbeats.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("partition", sa.SmallInteger(), nullable=True))
    op.create_index(
        "ix_events_partition_seq",
        "events",
        ["partition", "seq"],
        postgresql_where=sa.text("partition IS NOT NULL"),
        sqlite_where=sa.text("partition IS NOT NULL"),
    )
    log_partitions = op.create_table(
        "log_partitions",
        sa.Column("partition", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("cursor", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("partition", name=op.f("pk_log_partitions")),
    )
    op.bulk_insert(log_partitions, [{"partition": 0, "cursor": "pipeline"}])
    op.create_table(
        "processor_members",
        sa.Column("worker_id", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_processor_members")),
    )


def downgrade() -> None:
    op.drop_table("processor_members")
    op.drop_table("log_partitions")
    op.drop_index("ix_events_partition_seq", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("partition")
