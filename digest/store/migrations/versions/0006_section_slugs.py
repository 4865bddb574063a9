"""Each section name's slug, given once and kept: the ``sections`` table.

Slugs were made from each name on every ingest, so two names that read
alike in pinyin (时事 and 实事) shared one slug, one section page and one
feed, and a pypinyin release that read a name differently would have moved
its section's URLs.  The table starts with the slug each stored name has.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "sections" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "sections",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("slug", sa.Text, nullable=False),
        )
    op.execute(
        "INSERT INTO sections (name, slug) SELECT section_name, MIN(section_slug) FROM articles"
        " WHERE section_name NOT IN (SELECT name FROM sections) GROUP BY section_name"
    )
