"""Photo captions apart from the body, and the full-text search index.

``articles.captions`` holds JSON ``[[text, credit, at], ...]`` (NULL: none).  The search index is
not in the SQLAlchemy models (FTS5 virtual tables, tsvector columns): its DDL is written here as
it stood at this revision, and ``digest.store.search_index`` fills it.  Builds between 0.1.0 and
this revision made both on open, so each step checks before it acts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE = (
    "CREATE TABLE IF NOT EXISTS search_docs (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5("
    "headline, byline, body, tokenize = 'unicode61 remove_diacritics 2')",
    # The headlines again, alone: "every word in the headline" then costs what the headline hits
    # cost, where a column filter on search_text reads every match of the words (13 ms at 100k).
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_heads USING fts5("
    "headline, tokenize = 'unicode61 remove_diacritics 2')",
)
POSTGRESQL = (
    "CREATE TABLE IF NOT EXISTS search_docs "
    "(uid TEXT PRIMARY KEY, id BIGSERIAL NOT NULL, headline tsvector NOT NULL, doc tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS search_docs_doc ON search_docs USING gin (doc)",
)


def upgrade() -> None:
    bind = op.get_bind()
    present = {column["name"] for column in sa.inspect(bind).get_columns("articles")}
    if "captions" not in present:
        op.add_column("articles", sa.Column("captions", sa.Text(), nullable=True))
    for statement in POSTGRESQL if bind.dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
