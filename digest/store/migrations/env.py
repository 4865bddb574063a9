"""Alembic's entry point: migrate the connection ``digest.store.versioning`` hands over, never one
of its own."""

from __future__ import annotations

from alembic import context

from digest.store.schema import metadata
from digest.store.versioning import modelled

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True, include_object=modelled)
with context.begin_transaction():
    context.run_migrations()
