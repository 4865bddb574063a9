"""Who was told that a section they chose has no articles any more: the ``section_notices`` table.

A re-read that files every article of a section elsewhere leaves that section's
email subscribers with nothing from then on, indistinguishable from quiet days.
The daily digest run now tells each of them once (in the digest, or in a short
email of its own) and records it here, one row per address and section slug.
It starts empty: every subscriber of a section emptied before this revision is
told at the next digest run.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "section_notices" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "section_notices",
            sa.Column("email", sa.Text(), nullable=False),
            sa.Column("slug", sa.Text(), nullable=False),
            sa.Column("told_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["email"], ["subscribers.email"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("email", "slug"),
        )
