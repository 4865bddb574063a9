"""Cheap rescans and retention: a stat stamp per page file, and the ledger's daily counts.

``sources.stamp`` ("inode:size:mtime_ns:ctime_ns" when the bytes were read; NULL: read and hash
next time) lets a rescan skip unchanged files without opening them; ``delivery_counts`` keeps the
daily counts of ledger rows that retention prunes.  Builds between the last release and this
revision made both on open, so each step checks first.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "stamp" not in {column["name"] for column in inspector.get_columns("sources")}:
        op.add_column("sources", sa.Column("stamp", sa.String(length=80), nullable=True))
    if "delivery_counts" not in inspector.get_table_names():
        op.create_table(
            "delivery_counts",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("status", sa.String(length=10), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("day", "status"),
        )
