"""The tables, on SQLite and PostgreSQL alike.

Tables: ``sources`` (page files seen), ``articles``, ``digests``, ``subscribers`` and ``deliveries``
(one row per digest and recipient, so a recipient is never sent the same digest twice), ``notices``
(subscription emails waiting or sent), ``section_notices`` (who was told a chosen section emptied),
``send_leases``, ``counters`` and the publishing state.
Datetimes are stored as UTC without an offset (the same on both databases) and returned aware."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


def naive_utc(value: datetime | None) -> datetime | None:
    """``value`` as the database keeps it: naive UTC.  A naive ``value`` is a bug, refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to the store")
    return value.astimezone(UTC).replace(tzinfo=None)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()


sources = sa.Table(
    "sources",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("mtime", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    # The page the file holds (issue date, its evidence, page number; ``digest.paper.dating``) and the
    # parser version that read it.  NULL in rows from before they were kept.
    sa.Column("issue_date", sa.Date),
    sa.Column("dated_by", sa.String(20)),
    sa.Column("page", sa.Integer),
    sa.Column("parser_version", sa.String(20)),
    # When a scan first missed the file; it is retracted once gone ``ingest.settle_seconds``.
    sa.Column("missing_since", UTCDateTime),
    # "inode:size:mtime_ns:ctime_ns" of the file when its bytes were last read (``ingest.file_stamp``):
    # a rescan that finds the same stat skips the file without opening it.  NULL: read it again.
    sa.Column("stamp", sa.String(80)),
    # Of a file refused for its encoding, the ``ingest.encoding`` setting it was refused under ("": detect
    # it): under another setting it is read again.  NULL for a file read, or refused for anything else.
    sa.Column("refused_encoding", sa.String(64)),
)


articles = sa.Table(
    "articles",
    metadata,
    sa.Column("uid", sa.String(40), primary_key=True),
    sa.Column("tag", sa.Text, nullable=False, unique=True),
    sa.Column("issue_date", sa.Date, nullable=False, index=True),
    sa.Column("section_name", sa.Text, nullable=False),
    sa.Column("section_slug", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("kicker", sa.Text),
    sa.Column("subtitle", sa.Text),
    sa.Column("credits", sa.Text, nullable=False),  # JSON [[name, role], ...]
    sa.Column("date", sa.String(5)),
    sa.Column("place", sa.Text),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("notes", sa.Text, nullable=False),  # JSON list
    sa.Column("jumps", sa.Text, nullable=False),  # JSON list
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("published", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False, index=True),
    # The change sequence (``counters``) of the write that last added or changed the row: publish
    # finds what changed since it last ran with one indexed range.  NULL: unchanged since an upgrade.
    sa.Column("seq", sa.BigInteger, index=True),
    # How sure its issue date is (``types.DatedBy``); NULL in rows from before it was kept.
    sa.Column("dated_by", sa.String(20)),
    # Withdrawn (``types.Retraction``) and when: out of the feeds (a tombstone instead), 410 on the site.
    sa.Column("retracted", sa.String(20)),
    sa.Column("retracted_at", UTCDateTime),
    # The change sequence of its first version or its latest change of content: its place in the
    # feeds (``output.feed_order``).  Older rows get 0 from migration 0002 (``digest/store/migrations``).
    sa.Column("feed_seq", sa.BigInteger),
    # Photo captions kept apart from the body: JSON [[text, credit, at], ...] (``types.Caption``);
    # NULL when it has none (and in rows from before captions were kept apart).
    sa.Column("captions", sa.Text),
    # The uid of the article a withdrawn one's text now lives in (a re-read of its page merged it
    # into another): its URL leads there (301) instead of answering 410.  NULL for every other row.
    sa.Column("successor", sa.String(40)),
)


# Feed order and paper order, per section too: publish reads the newest rows of a feed, counts ranks
# and pages through archives without sorting the table.  The SQL mirror of ``types.FeedKey`` (its
# home): the same columns in the same order, ``types.FEED_KEY_FIELDS`` (tests/test_store.py holds it).
FEED_ORDER = (articles.c.feed_seq, articles.c.issue_date, articles.c.position, articles.c.uid)


digests = sa.Table(
    "digests",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("made_at", UTCDateTime, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)


subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("email", sa.Text, primary_key=True),
    sa.Column("sections", sa.Text, nullable=False),  # JSON list of slugs; empty = every section
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("confirm_sent_at", UTCDateTime),  # last confirmation email: throttles repeats
    sa.Column("confirmed_at", UTCDateTime),
    # Added with the suppression list; migration 0002 fills them in rows of an older version.
    sa.Column("key", sa.String(32)),  # the opaque id in this subscriber's links (no address in a URL)
    sa.Column("status", sa.String(12)),  # SubscriberStatus; ``confirmed`` mirrors status == confirmed
    sa.Column("reason", sa.Text),  # why the status last changed
    sa.Column("status_at", UTCDateTime),
    sa.Column("source", sa.Text),  # where the consent came from: web, cli, import
    sa.Column("bounces", sa.Integer),  # hard bounces since the last confirmation
)


deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("day", sa.Date, sa.ForeignKey("digests.day", ondelete="CASCADE"), primary_key=True),
    sa.Column("email", sa.Text, primary_key=True),
    # pending, claimed, sending, sent, failed, refused, skipped, unknown, expired: see digest.mail.delivery
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    # The send lease (``send_leases.holder``) of the run that claimed the row: every later write of
    # that attempt names it, so a run that lost its lease can no longer change the row.
    sa.Column("claim", sa.Text),
)


# What ``digest.service.retention`` kept of the ledger rows it deleted: how many rows of each digest day
# ended in each status, so ``digest_deliveries`` and ``digest status`` still count them.
delivery_counts = sa.Table(
    "delivery_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("status", sa.String(10), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)


# One sender per digest at a time, across processes and machines: the run holding a digest's row
# here until ``expires_at`` is the only one that sends it (see ``digest.store.lease``).
send_leases = sa.Table(
    "send_leases",
    metadata,
    sa.Column("day", sa.Date, sa.ForeignKey("digests.day", ondelete="CASCADE"), primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),  # host:pid:random, one per run
    sa.Column("taken_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)


# Emails about a subscription (a confirmation, a "manage your subscription" note, a chosen section that
# emptied): one row per address and kind, claimed, sent and retried like digests
# (``digest.mail.subscribers.send_notices``), so a sign-up made while the mail server is down is not
# lost and no such email goes twice.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("email", sa.Text, primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # NoticeKind
    # pending, claimed, sending, sent, failed, refused, unknown, expired (as ``deliveries``)
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    # The sender (``lease.new_holder``) that claimed the row last, and when by the wall clock: a
    # claim older than ``digest.mail.subscribers.CLAIM_SECONDS`` is a dead sender's (revision 0009).
    sa.Column("claim", sa.Text),
    sa.Column("claimed_at", UTCDateTime),
)


# Who was told that a section they chose has no articles any more (``digest.mail.emptied``): one row per
# address and section slug, so the notice goes once.  A section that has articles again loses its rows
# (``SectionRepository.forget_refilled_notices``): emptied again, it is told again.
section_notices = sa.Table(
    "section_notices",
    metadata,
    sa.Column("email", sa.Text, sa.ForeignKey("subscribers.email", ondelete="CASCADE"), primary_key=True),
    sa.Column("slug", sa.Text, primary_key=True),
    sa.Column("told_at", UTCDateTime, nullable=False),
)


# The slug each section name was given, once (``SectionRepository.filed_sections``): a name keeps its
# URLs whatever a later pypinyin reads it as, and names that read alike (时事 and 实事, both
# ``shi-shi``) get slugs of their own instead of sharing one section and its feed.  Another character
# form of a stored name (經濟 of 经济) adds no row: it is filed under that name's section.
sections = sa.Table(
    "sections",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("slug", sa.Text, nullable=False),
)


# Named counters; "articles" is the change sequence that every write to ``articles`` takes one
# step of.  Its row stays locked until the writing transaction ends, so sequence numbers become
# visible in order: a reader that sees N never later finds a row with a smaller one appear.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


ARTICLES_SEQ = counters.c.name == "articles"


# What the output folder was last published from, so a publish renders only what changed.
publish_state = sa.Table(
    "publish_state",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


published_entries = sa.Table(
    "published_entries",
    metadata,
    sa.Column("uid", sa.String(40), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("section_slug", sa.Text, nullable=False),
)


published_digests = sa.Table(
    "published_digests",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
)


# The full archive pages of each article feed (RFC 5005), frozen: page ``number`` holds the entries
# whose feed key is after the previous page's last key and up to its own (``feeds.FeedPlan``).
feed_archives = sa.Table(
    "feed_archives",
    metadata,
    sa.Column("feed", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("last_position", sa.Integer, nullable=False),
    sa.Column("last_uid", sa.String(40), nullable=False),
)
# The feed key of a full archive page's last entry, column for column in ``FEED_KEY_FIELDS`` order.
ARCHIVE_LAST_KEY = (
    feed_archives.c.last_seq,
    feed_archives.c.last_day,
    feed_archives.c.last_position,
    feed_archives.c.last_uid,
)

# Indexes the queries rely on (create_all makes them with their tables).
sa.Index("articles_feed_log", *FEED_ORDER)
sa.Index("articles_section_feed_log", articles.c.section_slug, *FEED_ORDER)
sa.Index("articles_retracted", articles.c.retracted_at)
# A section feed's tombstones (``retracted_entries``): its withdrawn rows only, not the whole section.
sa.Index("articles_section_retracted", articles.c.section_slug, articles.c.retracted_at)
# The issue list's counts (``issues``) and the newest issue, from the index alone.
sa.Index("articles_issue_live", articles.c.issue_date, articles.c.retracted)
# A re-read page finds its previous articles by file (``page_entries``) without a scan.
sa.Index("articles_source", articles.c.source)
sa.Index(
    "articles_section_paper_order",
    articles.c.section_slug,
    articles.c.issue_date,
    articles.c.position,
    articles.c.uid,
)
sa.Index("subscribers_key", subscribers.c.key, unique=True)
sa.Index("deliveries_status", deliveries.c.status, deliveries.c.next_attempt_at)
