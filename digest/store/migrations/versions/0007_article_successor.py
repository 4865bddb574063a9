"""Where a merged article's text went: ``articles.successor``.

A re-read of a page (a parser upgrade, a corrected page file) that reads two
stories as one withdrew the one that disappeared, and its URL told readers it
was withdrawn (410) although its text was still on the site, in the other
article.  The new column holds that other article's uid, so the old URL leads
there.  Rows withdrawn before it keep their notice: nothing recorded where
their text went.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "successor" not in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("articles")}:
        op.add_column("articles", sa.Column("successor", sa.String(length=40), nullable=True))
