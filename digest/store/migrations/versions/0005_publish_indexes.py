"""Two indexes a one-page publish reads through: a section's tombstones, and the issue list.

Each feed's subscription document lists its section's latest withdrawn articles
(``retracted_entries``): without ``articles_section_retracted`` the query read every row of the
section through the feed-order index.  The issue list counts each issue's live articles
(``issues``): ``articles_issue_live`` holds both columns it reads, so the count never visits the
rows.  At 100k articles the two queries were half of a one-page publish.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = {
    "articles_section_retracted": ["section_slug", "retracted_at"],
    "articles_issue_live": ["issue_date", "retracted"],
}


def upgrade() -> None:
    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("articles")}
    for name, columns in INDEXES.items():
        if name not in existing:
            op.create_index(name, "articles", columns, unique=False)
