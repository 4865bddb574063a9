"""0.2.0: issue dating, retraction, feeds as a log, the suppression list, send leases, notices.

Written to be re-run safely: builds from between 0.1.0 and 0.2.0 added some of these columns
and indexes on open (without a version), so each step checks what is there before it acts.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# New nullable columns, by table.
COLUMNS = {
    "sources": (
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("dated_by", sa.String(length=20), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("parser_version", sa.String(length=20), nullable=True),
        sa.Column("missing_since", sa.DateTime(), nullable=True),
    ),
    "articles": (
        sa.Column("dated_by", sa.String(length=20), nullable=True),
        sa.Column("retracted", sa.String(length=20), nullable=True),
        sa.Column("retracted_at", sa.DateTime(), nullable=True),
        sa.Column("feed_seq", sa.BigInteger(), nullable=True),
    ),
    "deliveries": (sa.Column("claim", sa.Text(), nullable=True),),
    "subscribers": (
        sa.Column("key", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("bounces", sa.Integer(), nullable=True),
    ),
}

# Feed order moved from first_seen to the change sequence of a first version or a correction.
OLD_INDEXES = ("articles_feed_order", "articles_section_feed_order")
NEW_INDEXES = (
    ("articles_feed_log", "articles", ("feed_seq", "issue_date", "position", "uid"), False),
    ("articles_retracted", "articles", ("retracted_at",), False),
    (
        "articles_section_feed_log",
        "articles",
        ("section_slug", "feed_seq", "issue_date", "position", "uid"),
        False,
    ),
    ("articles_source", "articles", ("source",), False),
    ("subscribers_key", "subscribers", ("key",), True),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    _create_tables(tables)
    for table, columns in COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)
    indexes = {
        index["name"] for table in ("articles", "subscribers") for index in inspector.get_indexes(table)
    }
    for name in OLD_INDEXES:
        if name in indexes:
            op.drop_index(name, table_name="articles")
    _fill_rows()
    for name, table, keys, unique in NEW_INDEXES:
        if name not in indexes:
            op.create_index(name, table, list(keys), unique=unique)


def _create_tables(tables: set[str]) -> None:
    if "feed_archives" not in tables:
        op.create_table(
            "feed_archives",
            sa.Column("feed", sa.Text(), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("last_seq", sa.BigInteger(), nullable=False),
            sa.Column("last_day", sa.Date(), nullable=False),
            sa.Column("last_position", sa.Integer(), nullable=False),
            sa.Column("last_uid", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("feed", "number"),
        )
    if "notices" not in tables:
        op.create_table(
            "notices",
            sa.Column("email", sa.Text(), nullable=False),
            sa.Column("kind", sa.String(length=10), nullable=False),
            sa.Column("status", sa.String(length=10), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("created", sa.DateTime(), nullable=False),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("sent_at", sa.DateTime(), nullable=True),
            sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("email", "kind"),
        )
    if "send_leases" not in tables:
        op.create_table(
            "send_leases",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("holder", sa.Text(), nullable=False),
            sa.Column("taken_at", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["day"], ["digests.day"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("day"),
        )


def _fill_rows() -> None:
    """Values the new columns need in old rows (before the unique index on the subscribers' keys)."""
    bind = op.get_bind()
    articles = sa.table("articles", sa.column("feed_seq", sa.BigInteger))
    # Rows from before feed_seq take the oldest place in the feeds; the first publish lays them out.
    bind.execute(sa.update(articles).where(articles.c.feed_seq.is_(None)).values(feed_seq=0))
    subscribers = sa.table(
        "subscribers",
        sa.column("email", sa.Text),
        sa.column("confirmed", sa.Boolean),
        sa.column("status", sa.String),
        sa.column("key", sa.String),
    )
    status = sa.case((subscribers.c.confirmed.is_(True), "confirmed"), else_="pending")
    bind.execute(sa.update(subscribers).where(subscribers.c.status.is_(None)).values(status=status))
    keyless = bind.execute(sa.select(subscribers.c.email).where(subscribers.c.key.is_(None))).scalars()
    for email in list(keyless):
        # The opaque id in a subscriber's links, made as ``store.new_key`` makes it (96 random bits).
        key = secrets.token_urlsafe(12)
        bind.execute(sa.update(subscribers).where(subscribers.c.email == email).values(key=key))
