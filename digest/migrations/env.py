"""Alembic's entry point: migrate the connection ``digest.schema`` hands over, never one of its own."""

from __future__ import annotations

from alembic import context

from digest.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
