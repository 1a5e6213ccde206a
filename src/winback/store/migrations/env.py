"""Alembic environment. Winback passes the connection in (see ``winback.store.migrate``)."""

from __future__ import annotations

from alembic import context

from winback.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always driven through winback.store.migrate
    raise RuntimeError("run migrations with `winback db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    on_version_apply=context.config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
