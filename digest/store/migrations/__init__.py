"""Alembic migrations of the database schema, run in-process by ``digest.store.versioning``
(no alembic.ini)."""
