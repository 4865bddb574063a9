"""Alembic migrations of the database schema, run in-process by ``digest.schema`` (no alembic.ini)."""
