"""One Alembic history for both databases: upgrade, report, downgrade, upgrade again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.tables import metadata

TABLES = {
    "events",
    "customers",
    "cases",
    "case_events",
    "case_timeline",
    "outbox",
    "processor_cursors",
    "event_failures",
    "case_sla",
    "sla_timers",
    "case_actions",
    "event_text",
    "customer_risk",
    "usage_cohorts",  # usage readings per cohort, for the risk feature usage_level
    "remedy_grants",  # issue 7
    "routing_agents",
    "audit_log",
    "log_partitions",  # the log's partitions and their leases
    "processor_members",
    "outbox_deliveries",  # outreach (0012)
    "webhook_subscriptions",
    "customer_preferences",
    "teams",  # identity (0009)
    "users",
    "api_keys",
    "sessions",
    "login_throttle",
    # analytics read models
    "analytics_case_facts",
    "analytics_case_daily",
    "analytics_case_slices",
    "analytics_score_daily",
    "analytics_exposures",
    "analytics_customer_fates",
}


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def test_the_migrations_create_exactly_the_tables_the_code_declares() -> None:
    assert set(metadata.tables) == TABLES


def test_upgrade_downgrade_and_upgrade_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert migrate.pending(conn)
            assert migrate.current_revision(conn) is None
        assert table_names(engine) == set()

        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert not migrate.pending(conn)
            assert migrate.current_revision(conn) == migrate.head_revision()
        assert table_names(engine) == TABLES

        migrate.downgrade(engine, "base")
        with engine.connect() as conn:
            assert migrate.pending(conn)
            assert migrate.current_revision(conn) is None
        assert table_names(engine) == set()

        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert not migrate.pending(conn)
        assert table_names(engine) == TABLES
    finally:
        engine.dispose()


def test_upgrade_is_a_no_op_on_a_database_at_head(engine: sa.Engine) -> None:
    migrate.upgrade(engine)

    with engine.connect() as conn:
        assert not migrate.pending(conn)
    assert table_names(engine) == TABLES


def test_the_migrated_schema_has_the_columns_the_code_declares(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name, table in metadata.tables.items():
            columns = {c["name"] for c in inspector.get_columns(name)}
            assert columns == {c.name for c in table.columns}, name


def test_the_one_open_case_index_is_partial_and_unique(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("cases")}

    index = indexes["uq_cases_one_open_per_customer"]
    assert index["unique"]
    assert index["column_names"] == ["customer_id"]


@pytest.mark.postgres
def test_each_postgresql_test_runs_in_a_schema_of_its_own(pg_engine: sa.Engine) -> None:
    with pg_engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        tables = sa.inspect(conn).get_table_names(schema=schema)

    assert schema.startswith("wb_")
    assert "events" in tables
