"""Baseline: the schema release 0.1.0 created (its ``metadata.create_all``).

A database made by 0.1.0 (or by a later build from before the schema was versioned) has these
tables without an ``alembic_version`` row; ``digest.store.versioning`` recognises it and stamps it here.
Datetimes are naive UTC ``DateTime`` columns (``store.UTCDateTime`` converts at the edge).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("section_name", sa.Text(), nullable=False),
        sa.Column("section_slug", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("kicker", sa.Text(), nullable=True),
        sa.Column("subtitle", sa.Text(), nullable=True),
        sa.Column("credits", sa.Text(), nullable=False),
        sa.Column("date", sa.String(length=5), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("jumps", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("uid"),
        sa.UniqueConstraint("tag"),
    )
    op.create_index(
        "articles_feed_order", "articles", ["first_seen", "issue_date", "position", "uid"], unique=False
    )
    op.create_index(
        "articles_section_feed_order",
        "articles",
        ["section_slug", "first_seen", "issue_date", "position", "uid"],
        unique=False,
    )
    op.create_index(
        "articles_section_paper_order",
        "articles",
        ["section_slug", "issue_date", "position", "uid"],
        unique=False,
    )
    op.create_index(op.f("ix_articles_first_seen"), "articles", ["first_seen"], unique=False)
    op.create_index(op.f("ix_articles_issue_date"), "articles", ["issue_date"], unique=False)
    op.create_index(op.f("ix_articles_seq"), "articles", ["seq"], unique=False)
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "digests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "publish_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "published_digests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "published_entries",
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("section_slug", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uid"),
    )
    op.create_table(
        "sources",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mtime", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )
    op.create_table(
        "subscribers",
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("sections", sa.Text(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("confirm_sent_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "deliveries",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["day"], ["digests.day"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "email"),
    )
    op.create_index("deliveries_status", "deliveries", ["status", "next_attempt_at"], unique=False)
    # The change sequence every write to articles takes a step of (``store.counters``).
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "articles", "value": 0}])


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade (digest restore FILE)")
