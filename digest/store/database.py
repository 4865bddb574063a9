"""The database: SQLAlchemy Core, one module, SQLite by default and PostgreSQL by URL.

Tables: ``sources`` (page files seen), ``articles``, ``digests``,
``subscribers`` and ``deliveries`` (one row per digest and recipient, so a
recipient is never sent the same digest twice), and ``notices`` (subscription
emails waiting or sent).  Datetimes are stored as
UTC without an offset (the same on both databases) and returned aware.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.store import search_index, versioning
from digest.store.urls import mask_url, normalize_url
from digest.types import Article, Caption, Credit, DatedBy, Entry, Head, Kind, Retraction, Section


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

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
    # feeds (``output.feed_order``).  Older rows get 0 from migration 0002 (``digest/migrations``).
    sa.Column("feed_seq", sa.BigInteger),
    # Photo captions kept apart from the body: JSON [[text, credit, at], ...] (``types.Caption``);
    # NULL when it has none (and in rows from before captions were kept apart).
    sa.Column("captions", sa.Text),
)

# Feed order (``output.feed_order``) and paper order, per section too: publish reads the newest
# rows of a feed, counts ranks and pages through archives without sorting the table.
_FEED_ORDER = (articles.c.feed_seq, articles.c.issue_date, articles.c.position, articles.c.uid)
sa.Index("articles_feed_log", *_FEED_ORDER)
sa.Index("articles_section_feed_log", articles.c.section_slug, *_FEED_ORDER)
sa.Index("articles_retracted", articles.c.retracted_at)
# A re-read page finds its previous articles by file (``page_entries``) without a scan.
sa.Index("articles_source", articles.c.source)
sa.Index(
    "articles_section_paper_order",
    articles.c.section_slug,
    articles.c.issue_date,
    articles.c.position,
    articles.c.uid,
)

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
sa.Index("subscribers_key", subscribers.c.key, unique=True)

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
sa.Index("deliveries_status", deliveries.c.status, deliveries.c.next_attempt_at)

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

# Emails about a subscription (a confirmation, a "manage your subscription" note): one row per address
# and kind, sent and retried like digests (``digest.web.subscriptions.send_notices``), so a sign-up made while
# the mail server is down is not lost.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("email", sa.Text, primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # NoticeKind
    sa.Column("status", sa.String(10), nullable=False),  # pending, sent, failed, refused, expired
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
)



class DeliveryState(StrEnum):
    """Where one email of the delivery ledger (a digest copy or a subscription notice) stands.

    A ``StrEnum``: the value is what the ``status`` column holds and what metrics count by.
    """

    PENDING = "pending"  # to be sent when its attempt is due
    CLAIMED = "claimed"  # a run is handing it over; the server has no "." yet
    SENDING = "sending"  # the "." is on its way: from here on never sent again
    SENT = "sent"
    FAILED = "failed"  # a temporary failure: retried with backoff
    REFUSED = "refused"  # the server refused it for good (5xx)
    SKIPPED = "skipped"  # no longer subscribed, or nothing new in the chosen sections
    UNKNOWN = "unknown"  # the connection broke after the ".": it may have arrived; never resent
    EXPIRED = "expired"  # not delivered within its retry window


# Delivery rows that the send loop picks up (when their next attempt is due).
WAITING = (DeliveryState.PENDING, DeliveryState.FAILED)
# Ledger states no run changes any more: the only rows retention may fold into daily counts.
SETTLED = (
    DeliveryState.SENT,
    DeliveryState.REFUSED,
    DeliveryState.SKIPPED,
    DeliveryState.UNKNOWN,
    DeliveryState.EXPIRED,
)
# Subscription emails done with (sent, or given up on).
NOTICES_DONE = (DeliveryState.SENT, DeliveryState.REFUSED, DeliveryState.EXPIRED)
# A claimed row is one run's until that run ends it: ``claimed`` while the message is being
# handed over (the server has no "." yet), ``sending`` from just before the "." on.
CLAIMED = (DeliveryState.CLAIMED, DeliveryState.SENDING)
# The send loop's writes, built once (a statement built per call costs more than SQLite's
# work); bound names must differ from the column names in an UPDATE.  Each one names the state it
# expects, so a write that lost a race changes nothing and says so (rowcount 0).
_ROW = (deliveries.c.day == sa.bindparam("b_day"), deliveries.c.email == sa.bindparam("b_email"))
_MINE = deliveries.c.claim == sa.bindparam("b_claim")
_CLAIM = (
    sa.update(deliveries)
    .where(*_ROW, deliveries.c.status.in_(WAITING))
    .values(status=DeliveryState.CLAIMED, claim=sa.bindparam("b_claim"))
)
_COMMIT = (
    sa.update(deliveries)
    .where(*_ROW, _MINE, deliveries.c.status == DeliveryState.CLAIMED)
    .values(status=DeliveryState.SENDING)
)
_OUTCOME = dict(
    status=sa.bindparam("b_status"),
    attempts=deliveries.c.attempts + 1,
    last_error=sa.bindparam("b_error"),
    next_attempt_at=sa.bindparam("b_next", type_=UTCDateTime),
    sent_at=sa.func.coalesce(sa.bindparam("b_sent", type_=UTCDateTime), deliveries.c.sent_at),
)
# The outcome of a claimed row, by the run that claimed it; ``unknown`` too, which a newer run
# made of a row this run still had in flight when its lease lapsed: the answer it got is truer.
_MARK = (
    sa.update(deliveries)
    .where(*_ROW, _MINE, deliveries.c.status.in_((*CLAIMED, DeliveryState.UNKNOWN)))
    .values(**_OUTCOME)
)
# The outcome of a waiting row never claimed: skipped or expired without a try.
_MARK_WAITING = sa.update(deliveries).where(*_ROW, deliveries.c.status.in_(WAITING)).values(**_OUTCOME)

# Named counters; "articles" is the change sequence that every write to ``articles`` takes one
# step of.  Its row stays locked until the writing transaction ends, so sequence numbers become
# visible in order: a reader that sees N never later finds a row with a smaller one appear.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
_ARTICLES_SEQ = counters.c.name == "articles"

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


@dataclass(frozen=True)
class SourceRecord:
    """What the store remembers of one page file (and of the page it holds, once read)."""

    path: str
    content_hash: str
    size: int
    mtime: datetime
    last_error: str | None
    seen_at: datetime
    issue_date: date | None = None
    dated_by: str | None = None
    page: int | None = None
    parser_version: str | None = None
    missing_since: datetime | None = None
    stamp: str | None = None  # the file's stat when read (``ingest.file_stamp``); None: not trusted


@dataclass(frozen=True)
class DigestRecord:
    """A digest that was made: its window and size (the entries are re-read from ``articles``)."""

    day: date
    since: datetime
    until: datetime
    made_at: datetime
    count: int


class SubscriberStatus(Enum):
    """Where an address stands; the last three are the suppression list, never mailed and never revived."""

    PENDING = "pending"  # signed up, not confirmed yet
    CONFIRMED = "confirmed"  # receives digests
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # hard bounces reached ``digest.bounce_limit``
    COMPLAINED = "complained"  # marked as spam (a feedback report)

    @property
    def suppressed(self) -> bool:
        """Whether the address has left: only its own fresh consent brings it back."""
        return self not in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)


@dataclass(frozen=True)
class Subscriber:
    """An email recipient; empty ``sections`` means every section.

    ``status`` None means ``CONFIRMED`` or ``PENDING`` as ``confirmed`` says;
    ``confirmed`` is always ``status is CONFIRMED``.  ``key`` empty: the store
    keeps the one it has, or gives a new address a random one.
    """

    email: str
    sections: tuple[str, ...]
    confirmed: bool
    created: datetime
    confirm_sent_at: datetime | None = None
    confirmed_at: datetime | None = None  # when consent was given (the confirmation, or the import's)
    status: SubscriberStatus | None = None
    key: str = ""
    reason: str = ""
    status_at: datetime | None = None
    source: str = ""
    bounces: int = 0

    def __post_init__(self) -> None:
        if self.status is None:
            derived = SubscriberStatus.CONFIRMED if self.confirmed else SubscriberStatus.PENDING
            object.__setattr__(self, "status", derived)
        elif self.confirmed != (self.status is SubscriberStatus.CONFIRMED):
            raise ValueError(f"subscriber {self.email}: confirmed={self.confirmed} but status {self.status}")

    @property
    def state(self) -> SubscriberStatus:
        """``status``, never None."""
        assert self.status is not None  # set in __post_init__
        return self.status


class NoticeKind(Enum):
    """What a subscription email is for."""

    CONFIRM = "confirm"  # double opt-in: the link that confirms a sign-up
    MANAGE = "manage"  # a sign-up of an address already confirmed: its preferences and unsubscribe links


@dataclass(frozen=True)
class Notice:
    """One subscription email waiting, sent, or given up on."""

    email: str
    kind: NoticeKind
    status: str  # pending, sent, failed (retried), refused, expired
    attempts: int
    created: datetime
    last_error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One digest for one recipient; the statuses are explained in ``digest.mail.delivery``."""

    day: date
    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None = None
    claim: str | None = None  # the lease holder of the run that claimed the row last


@dataclass(frozen=True)
class SendLease:
    """The run sending one digest: ``holder`` (host:pid:random) until ``expires_at`` unless renewed."""

    day: date
    holder: str
    taken_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class DeliverySummary:
    """Delivery rows by status across every digest, the next retry and the latest error."""

    counts: tuple[tuple[str, int], ...]
    next_attempt_at: datetime | None
    last_error: str | None
    leases: tuple[SendLease, ...] = ()  # runs sending (or that were, if lapsed)


@dataclass(frozen=True)
class UpsertReport:
    """How an upsert changed the articles table."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class StoreStatus:
    """Counts for ``digest status`` and the health check."""

    sources: int
    failed_sources: tuple[tuple[str, str], ...]
    articles: int
    latest_issue: date | None
    latest_digest: date | None
    subscribers: int
    pending_deliveries: int
    latest_arrival: datetime | None = None  # when the newest article was first seen
    unsure_dates: tuple[tuple[str, date], ...] = ()  # pages dated by their file time: 日期待核
    retracted: int = 0  # articles withdrawn


def content_hash(article: Article, section: Section) -> str:
    """A fingerprint of everything a reader sees of an article; ``updated`` moves when it changes."""
    return _columns_hash(_article_columns(article), section)


def _columns_hash(columns: dict[str, Any], section: Section) -> str:
    fields = {**columns, "section_name": section.name}
    if fields.get("captions") is None:
        # An article without captions keeps the hash it had before the column existed, so an
        # upgrade moves no ``updated``.
        fields.pop("captions", None)
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _article_columns(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "kicker": article.kicker,
        "subtitle": article.subtitle,
        "credits": json.dumps([[c.name, c.role] for c in article.credits], ensure_ascii=False),
        "date": article.date,
        "place": article.place,
        "kind": article.kind.value,
        "body": article.body,
        "notes": json.dumps(list(article.notes), ensure_ascii=False),
        "jumps": json.dumps(list(article.jumps), ensure_ascii=False),
        "captions": (
            json.dumps([[c.text, c.credit, c.at] for c in article.captions], ensure_ascii=False)
            if article.captions
            else None
        ),
    }


def _entry(row: sa.Row[Any]) -> Entry:
    section = Section(row.section_name, row.section_slug)
    article = Article(
        title=row.title,
        body=row.body,
        section=row.section_name,
        kicker=row.kicker,
        subtitle=row.subtitle,
        credits=tuple(Credit(name, role) for name, role in json.loads(row.credits)),
        date=row.date,
        place=row.place,
        kind=Kind(row.kind),
        notes=tuple(json.loads(row.notes)),
        jumps=tuple(json.loads(row.jumps)),
        captions=tuple(Caption(text, credit, at) for text, credit, at in json.loads(row.captions or "[]")),
    )
    return Entry(
        uid=row.uid,
        tag=row.tag,
        article=article,
        section=section,
        issue_date=row.issue_date,
        published=row.published,
        updated=row.updated,
        first_seen=row.first_seen,
        source=row.source,
        position=row.position,
        dated_by=DatedBy(row.dated_by or DatedBy.NAME),
        retracted=Retraction(row.retracted) if row.retracted else None,
        retracted_at=row.retracted_at,
        feed_seq=row.feed_seq or 0,
    )


def _subscriber(row: sa.Row[Any]) -> Subscriber:
    return Subscriber(
        email=row.email,
        sections=tuple(json.loads(row.sections)),
        confirmed=row.confirmed,
        created=row.created,
        confirm_sent_at=row.confirm_sent_at,
        confirmed_at=row.confirmed_at,
        status=SubscriberStatus(row.status) if row.status else None,
        key=row.key or "",
        reason=row.reason or "",
        status_at=row.status_at,
        source=row.source or "",
        bounces=row.bounces or 0,
    )


def _subscriber_values(subscriber: Subscriber) -> dict[str, Any]:
    """The columns of a subscriber row but ``email`` and ``created``; ``key`` only when it has one."""
    values: dict[str, Any] = {
        "sections": json.dumps(list(subscriber.sections)),
        "confirmed": subscriber.confirmed,
        "confirm_sent_at": subscriber.confirm_sent_at,
        "confirmed_at": subscriber.confirmed_at,
        "status": subscriber.state.value,
        "reason": subscriber.reason or None,
        "status_at": subscriber.status_at,
        "source": subscriber.source or None,
        "bounces": subscriber.bounces,
    }
    if subscriber.key:
        values["key"] = subscriber.key
    return values


def new_key() -> str:
    """A random subscriber key: 96 bits, URL-safe, nothing derived from the address."""
    return secrets.token_urlsafe(12)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now)


# Positions of one page's articles: page number × PAGE_SPAN + place on the page (``digest.ingest.pipeline``).
PAGE_SPAN = 1000

# Keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits on bound parameters.
_IN_BATCH = 500

# Paper order: newest issue first, then page and position on the page.
_ENTRY_ORDER = (articles.c.issue_date.desc(), articles.c.position, articles.c.uid)


# Articles not withdrawn: the only ones feeds, pages and digests show.
_LIVE = articles.c.retracted.is_(None)


def _in_feed(section: str | None) -> tuple[sa.ColumnElement[bool], ...]:
    """The filter of one feed: every live article (None) or one section's."""
    return (_LIVE,) if section is None else (_LIVE, articles.c.section_slug == section)


FeedKey = tuple[int, date, int, str]


def _dialect(name: str) -> Any:
    """The SQLAlchemy dialect module whose ``insert`` knows ``ON CONFLICT`` for database ``name``.

    PostgreSQL's is imported only when used: it is a fifth of the import time of a command on SQLite.
    """
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql
    return sqlite


def _feed_key(values: tuple[Any, ...]) -> sa.Tuple:
    """A feed-order key as SQL, each value bound with its column's type (UTC datetimes stay UTC)."""
    pairs = zip(values, _FEED_ORDER, strict=True)
    return sa.tuple_(*(sa.literal(value, column.type) for value, column in pairs))


class Store:
    """A handle on the database; thread-safe (one pooled connection per operation)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url
        self._pinned = threading.local()  # the connection of this thread's ``snapshot``, if any
        self.schema: versioning.SchemaVersion | None = None  # known once read or migrated

    @classmethod
    def open(cls, url: str, *, readonly: bool = False, migrate: bool = True) -> Store:
        """Connect; SQLite files get WAL, foreign keys and a busy timeout.

        A writer first brings the schema to this version (``digest.store.versioning``,
        under its lock); ``migrate=False`` leaves that to a later ``migrate``
        (``serve`` runs it while HTTP already answers).  ``readonly`` never
        writes (``digest status``, ``check``): SQLite is opened ``mode=ro``,
        PostgreSQL sessions are read-only, and the schema is only read into
        ``schema``.  Either way a database newer than this code is refused
        (``SchemaError``).
        """
        target = normalize_url(url)
        try:
            if target.startswith("sqlite"):
                engine = _sqlite_engine(target, readonly)
            else:
                engine = sa.create_engine(target, pool_pre_ping=True)
                if readonly:
                    # Read-only sessions: even a bug cannot write from ``status`` or ``check``.
                    sa.event.listen(engine, "connect", _postgresql_read_only)
        except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
            raise StoreError(f"database {mask_url(url)}: {exc}; check database.url") from exc
        store = cls(engine, url)
        try:
            if readonly:
                with store._begin() as conn:
                    store.schema = versioning.read_version(conn)
            elif migrate:
                store.migrate()
        except StoreError:
            engine.dispose()
            raise
        return store

    def migrate(self) -> tuple[versioning.SchemaVersion, str]:
        """Bring the schema to this version (``versioning.upgrade``): where it was, where it is."""
        try:
            before, after = versioning.upgrade(self._engine)
        except SQLAlchemyError as exc:
            raise self._failure(exc) from exc
        with self._begin() as conn:
            # An older database's articles, or ones written by a build without the index: found again.
            search_index.fill(conn)
        self.schema = versioning.SchemaVersion(after, after, versioned=True)
        return before, after

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        pinned: Connection | None = getattr(self._pinned, "conn", None)
        try:
            if pinned is not None:
                yield pinned
            else:
                with self._engine.begin() as conn:
                    yield conn
        except SQLAlchemyError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: SQLAlchemyError) -> StoreError:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return StoreError(
            f"database {mask_url(self.url)}: {reason}; check that the server is running, "
            "the URL is right and the file or database is writable"
        )

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """Until the block ends, this thread's reads see one state of the database, whatever other
        writers commit meanwhile; yields that state's change sequence (see ``unpublished``).

        For publishing, which must not count a feed before a new row lands and page
        through it after.  Read only: write after the block.
        """
        if getattr(self._pinned, "conn", None) is not None:
            raise RuntimeError("snapshot() does not nest")
        try:
            with self._engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    # pysqlite opens transactions only before writes; a WAL read transaction
                    # keeps its snapshot from its first read to its end.
                    with conn.begin():
                        conn.exec_driver_sql("BEGIN")
                        yield from self._pin(conn)
                else:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        yield from self._pin(conn)
        except SQLAlchemyError as exc:
            raise self._failure(exc) from exc

    def _pin(self, conn: Connection) -> Iterator[int]:
        self._pinned.conn = conn
        try:
            yield int(conn.execute(sa.select(counters.c.value).where(_ARTICLES_SEQ)).scalar_one())
        finally:
            self._pinned.conn = None

    # -- sources -----------------------------------------------------------

    def source(self, path: str) -> SourceRecord | None:
        """What was recorded for a page file, if anything."""
        return self.sources([path]).get(path)

    def sources(self, paths: Sequence[str]) -> dict[str, SourceRecord]:
        """``source`` for many files in one transaction: the records found, by path."""
        found: dict[str, SourceRecord] = {}
        with self._begin() as conn:
            for at in range(0, len(paths), _IN_BATCH):
                chosen = sa.select(sources).where(sources.c.path.in_(paths[at : at + _IN_BATCH]))
                for row in conn.execute(chosen):
                    found[row.path] = SourceRecord(**row._asdict())
        return found

    def record_source(self, record: SourceRecord) -> None:
        """Remember a page file's hash and outcome (``last_error`` None when it was read fine)."""
        self.record_sources([record])

    def record_sources(self, records: Sequence[SourceRecord]) -> None:
        """``record_source`` for many files in one transaction."""
        paths = [record.path for record in records]
        with self._begin() as conn:
            for at in range(0, len(paths), _IN_BATCH):
                conn.execute(sa.delete(sources).where(sources.c.path.in_(paths[at : at + _IN_BATCH])))
            if records:
                conn.execute(sa.insert(sources), [record.__dict__ for record in records])

    def source_stamps(self, parser_version: str) -> dict[str, str]:
        """The stamp of every file ``parser_version`` read, by path: one query, for cheap rescans."""
        query = sa.select(sources.c.path, sources.c.stamp).where(
            sources.c.stamp.is_not(None), sources.c.parser_version == parser_version
        )
        with self._begin() as conn:
            return {path: stamp for path, stamp in conn.execute(query)}

    def set_source_stamps(self, stamps: dict[str, str | None]) -> None:
        """Remember the stat of files whose bytes were found unchanged (touched, or copied over)."""
        if not stamps:
            return
        where = sources.c.path == sa.bindparam("b_path")
        statement = sa.update(sources).where(where).values(stamp=sa.bindparam("b_stamp"))
        with self._begin() as conn:
            conn.execute(statement, [{"b_path": path, "b_stamp": stamp} for path, stamp in stamps.items()])

    # -- articles ----------------------------------------------------------

    def upsert_entries(self, entries: Sequence[Entry], now: datetime | None = None) -> UpsertReport:
        """Insert new entries; rewrite changed ones keeping ``first_seen``; leave unchanged ones alone.

        A new entry is stored with its own ``updated`` (ingest gives the first
        version ``updated == published``).  A changed one (its content hash
        differs) gets ``updated`` = ``now`` (the time the change was detected,
        never before ``published``; without ``now``, the entry's own), so only a
        detected change moves it.  An entry whose content is the same but whose
        place moved (issue date, page position, date evidence) or that was
        withdrawn automatically and is back is rewritten without moving
        ``updated``.  A retraction by hand survives every re-read.  One query
        finds what is stored and one multi-row insert adds the new entries, so
        a large ingest costs round trips per batch, not per article.  Rows added or
        changed take the next step of the change sequence (``unpublished``).
        """
        new = changed = unchanged = 0
        inserts: dict[str, dict[str, Any]] = {}
        rewritten: list[str] = []  # rows updated in place: their search documents follow
        if not entries:
            return UpsertReport()
        with self._begin() as conn:
            # First, so the row lock on the counter orders concurrent writers before they read.
            conn.execute(sa.update(counters).where(_ARTICLES_SEQ).values(value=counters.c.value + 1))
            seq = conn.execute(sa.select(counters.c.value).where(_ARTICLES_SEQ)).scalar_one()
            stored: dict[str, tuple[Any, ...]] = {}
            uids = list(dict.fromkeys(entry.uid for entry in entries))
            for at in range(0, len(uids), _IN_BATCH):
                query = sa.select(
                    articles.c.uid,
                    articles.c.content_hash,
                    articles.c.issue_date,
                    articles.c.position,
                    articles.c.dated_by,
                    articles.c.retracted,
                    articles.c.source,
                ).where(articles.c.uid.in_(uids[at : at + _IN_BATCH]))
                stored.update((row.uid, tuple(row)[1:]) for row in conn.execute(query))
            for entry in entries:
                shown = _article_columns(entry.article)
                digest = _columns_hash(shown, entry.section)
                columns = {
                    **shown,
                    "section_name": entry.section.name,
                    "section_slug": entry.section.slug,
                    "position": entry.position,
                    "source": entry.source,
                    "content_hash": digest,
                    "seq": seq,
                    "issue_date": entry.issue_date,
                    "published": entry.published,
                    "dated_by": entry.dated_by.value,
                }
                known = stored.get(entry.uid)
                if known is None:
                    inserts[entry.uid] = {
                        "uid": entry.uid,
                        "tag": entry.tag,
                        "feed_seq": seq,
                        "updated": entry.updated,
                        "first_seen": entry.first_seen,
                        "retracted": None,
                        "retracted_at": None,
                        **columns,
                    }
                    new += 1
                    place = (entry.issue_date, entry.position, entry.dated_by.value)
                    stored[entry.uid] = (digest, *place, None, entry.source)
                    continue
                old_hash, old_day, old_position, old_dated, retracted, old_source = known
                # An automatic retraction ends when the article is read again; one by hand does not.
                back = retracted in (Retraction.FILE_GONE, Retraction.DROPPED)
                kept = {"retracted": None, "retracted_at": None, "feed_seq": seq} if back else {}
                place = (entry.issue_date, entry.position, entry.dated_by.value)
                if old_hash != digest:
                    updated = max(now, entry.published) if now is not None else entry.updated
                    # A new version comes again at the head of the feeds (RFC 5005 §4.1... the
                    # subscription document), while the archive page that held it stays as it was.
                    values = {"updated": updated, "feed_seq": seq, **columns, **kept}
                    changed += 1
                elif back or place != (old_day, old_position, old_dated):
                    values = {**columns, **kept}
                    unchanged += 1
                else:
                    if entry.source != old_source:  # a renamed file: nothing a reader sees moved
                        conn.execute(
                            sa.update(articles).where(articles.c.uid == entry.uid).values(source=entry.source)
                        )
                    unchanged += 1
                    continue
                if entry.uid in inserts:  # met twice in this batch: the later text wins, as a first version
                    firsts = ("updated", "feed_seq")
                    inserts[entry.uid] |= {k: v for k, v in values.items() if k not in firsts}
                else:
                    conn.execute(sa.update(articles).where(articles.c.uid == entry.uid).values(**values))
                    rewritten.append(entry.uid)
                stored[entry.uid] = (digest, *place, None if back else retracted, entry.source)
            if inserts:
                conn.execute(sa.insert(articles), list(inserts.values()))
            search_index.refresh(conn, [*rewritten, *inserts])
        return UpsertReport(new=new, changed=changed, unchanged=unchanged)

    def page_entries(self, pages: Sequence[tuple[date, int, str]]) -> list[list[Entry]]:
        """For each (issue date, page number, file) of re-read pages, the articles the page held
        before, for ``identity.match``: those of that page of that issue (0: the issue's pages of
        unknown number), and those last read from that file.

        Two indexed reads for the whole batch (the issues' articles, the files' articles), not
        two per page.
        """
        days = sorted({day for day, _, _ in pages})
        paths = sorted({source for _, _, source in pages})
        by_day: dict[date, list[Entry]] = {}
        by_source: dict[str, list[Entry]] = {}
        with self._begin() as conn:
            for at in range(0, len(days), _IN_BATCH):
                query = sa.select(articles).where(articles.c.issue_date.in_(days[at : at + _IN_BATCH]))
                for row in conn.execute(query):
                    by_day.setdefault(row.issue_date, []).append(_entry(row))
            for at in range(0, len(paths), _IN_BATCH):
                query = sa.select(articles).where(articles.c.source.in_(paths[at : at + _IN_BATCH]))
                for row in conn.execute(query):
                    by_source.setdefault(row.source, []).append(_entry(row))
        found = []
        for day, page, source in pages:
            mine = {e.uid: e for e in by_day.get(day, []) if e.position // PAGE_SPAN == page}
            mine |= {e.uid: e for e in by_source.get(source, [])}
            found.append(sorted(mine.values(), key=lambda e: (e.position, e.uid)))
        return found

    def taken_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` some stored article already has."""
        found: set[str] = set()
        with self._begin() as conn:
            for at in range(0, len(uids), _IN_BATCH):
                query = sa.select(articles.c.uid).where(articles.c.uid.in_(uids[at : at + _IN_BATCH]))
                found.update(conn.execute(query).scalars())
        return found

    def find_entry(self, key: str) -> Entry | None:
        """The article whose uid or ``tag:`` id is ``key``."""
        query = sa.select(articles).where(sa.or_(articles.c.uid == key, articles.c.tag == key))
        with self._begin() as conn:
            row = conn.execute(query).first()
        return _entry(row) if row else None

    def search(self, words: Sequence[str], limit: int, offset: int) -> tuple[int, list[tuple[Entry, bool]]]:
        """Live articles holding every one of ``words`` (``digest.store.segment``): how many (counted up to
        ``search_index.RANKED + 1``), and ``limit`` of them from ``offset``, each with whether the
        words are all in its headline, those first."""
        with self._begin() as conn:
            total, hits = search_index.search(conn, words, limit, offset)
            uids = [hit.uid for hit in hits]
            rows = {row.uid: row for row in conn.execute(sa.select(articles).where(articles.c.uid.in_(uids)))}
        return total, [(_entry(rows[hit.uid]), hit.in_headline) for hit in hits if hit.uid in rows]

    def retract(self, uids: Sequence[str], why: Retraction, at: datetime) -> int:
        """Withdraw the articles ``uids`` (those not already withdrawn); returns how many.

        The row stays (its id is never given out again) and takes a step of the
        change sequence, so the next publish replaces it with a tombstone.
        """
        count = 0
        with self._begin() as conn:
            conn.execute(sa.update(counters).where(_ARTICLES_SEQ).values(value=counters.c.value + 1))
            seq = conn.execute(sa.select(counters.c.value).where(_ARTICLES_SEQ)).scalar_one()
            for start in range(0, len(uids), _IN_BATCH):
                result = conn.execute(
                    sa.update(articles)
                    .where(articles.c.uid.in_(uids[start : start + _IN_BATCH]))
                    .where(articles.c.retracted.is_(None))
                    .values(retracted=why.value, retracted_at=at, seq=seq)
                )
                count += int(result.rowcount)
            search_index.refresh(conn, uids)
        return count

    def restore(self, uid: str) -> bool:
        """Undo the retraction of one article; True when it was withdrawn."""
        with self._begin() as conn:
            conn.execute(sa.update(counters).where(_ARTICLES_SEQ).values(value=counters.c.value + 1))
            seq = conn.execute(sa.select(counters.c.value).where(_ARTICLES_SEQ)).scalar_one()
            result = conn.execute(
                sa.update(articles)
                .where(articles.c.uid == uid, articles.c.retracted.is_not(None))
                .values(retracted=None, retracted_at=None, seq=seq, feed_seq=seq)
            )
            search_index.refresh(conn, [uid])
        return result.rowcount == 1

    def source_uids(self, paths: Sequence[str]) -> dict[str, list[str]]:
        """The live (not withdrawn) articles last read from each of ``paths``."""
        found: dict[str, list[str]] = {}
        with self._begin() as conn:
            for at in range(0, len(paths), _IN_BATCH):
                query = sa.select(articles.c.source, articles.c.uid).where(
                    articles.c.source.in_(paths[at : at + _IN_BATCH]), articles.c.retracted.is_(None)
                )
                for path, uid in conn.execute(query):
                    found.setdefault(path, []).append(uid)
        return found

    def source_paths(self) -> list[str]:
        """Every page file recorded, by path."""
        with self._begin() as conn:
            return list(conn.execute(sa.select(sources.c.path).order_by(sources.c.path)).scalars())

    def mark_missing(self, paths: Sequence[str], since: datetime | None) -> None:
        """Note when a scan first missed the files ``paths`` (None: they are back)."""
        with self._begin() as conn:
            # Only rows that change: most scans find every file where it was.
            unset = (
                sources.c.missing_since.is_(None)
                if since is not None
                else sources.c.missing_since.is_not(None)
            )
            for at in range(0, len(paths), _IN_BATCH):
                chosen = sources.c.path.in_(paths[at : at + _IN_BATCH])
                conn.execute(sa.update(sources).where(chosen, unset).values(missing_since=since))

    def forget_sources(self, paths: Sequence[str]) -> None:
        """Drop the records of page files that are gone for good."""
        with self._begin() as conn:
            for at in range(0, len(paths), _IN_BATCH):
                conn.execute(sa.delete(sources).where(sources.c.path.in_(paths[at : at + _IN_BATCH])))

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Every entry (or the ``limit`` newest issues' worth), newest issue first, in paper order."""
        query = sa.select(articles).order_by(*_ENTRY_ORDER)
        if limit is not None:
            query = query.limit(limit)
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def entries_first_seen(self, since: datetime, until: datetime) -> list[Entry]:
        """Entries first seen in ``[since, until)``: what a digest window holds."""
        query = (
            sa.select(articles)
            .where(articles.c.first_seen >= since, articles.c.first_seen < until, _LIVE)
            .order_by(*_ENTRY_ORDER)
        )
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    # -- digests -----------------------------------------------------------

    def save_digest(self, record: DigestRecord, recipients: Sequence[str] = ()) -> bool:
        """Record a digest once, with a pending delivery row per recipient, in one transaction.

        One transaction, so a crash never leaves a digest whose recipients were
        not written down.  A second save of the same day keeps the first; False then,
        also when another process saves the same day at the same moment (the insert
        does nothing on conflict rather than fail on the primary key).
        """
        with self._begin() as conn:
            dialect = _dialect(conn.dialect.name)
            insert = dialect.insert(digests).values(**record.__dict__).on_conflict_do_nothing()
            if conn.execute(insert.returning(digests.c.day)).first() is None:
                return False
            if recipients:
                conn.execute(
                    sa.insert(deliveries),
                    [
                        {"day": record.day, "email": e, "status": DeliveryState.PENDING, "attempts": 0}
                        for e in recipients
                    ],
                )
        return True

    def digest(self, day: date) -> DigestRecord | None:
        """The digest made for ``day``, if any."""
        with self._begin() as conn:
            row = conn.execute(sa.select(digests).where(digests.c.day == day)).first()
        return DigestRecord(**row._asdict()) if row else None

    def digests(self, before: date | None = None) -> list[DigestRecord]:
        """Digests made, newest first; only days before ``before`` when given."""
        query = sa.select(digests).order_by(digests.c.day.desc())
        if before is not None:
            query = query.where(digests.c.day < before)
        with self._begin() as conn:
            return [DigestRecord(**row._asdict()) for row in conn.execute(query)]

    # -- publishing (read side: what feeds and pages show) -----------------

    def feed_sections(self) -> list[Section]:
        """Each section once, in order of its first entry in feed order (stable between publishes)."""
        # Withdrawn articles count: a section whose every article went keeps its feed, of tombstones.
        slugs = sa.select(articles.c.section_slug).distinct()
        with self._begin() as conn:
            firsts = []
            for slug in conn.execute(slugs).scalars():
                # One indexed probe per section: a handful of sections, however large the archive.
                row = conn.execute(
                    sa.select(articles.c.section_name, *_FEED_ORDER)
                    .where(articles.c.section_slug == slug)
                    .order_by(*_FEED_ORDER)
                    .limit(1)
                ).one()
                firsts.append((tuple(row)[1:], Section(row.section_name, slug)))
        return [section for _, section in sorted(firsts)]

    def feed_count(self, section: str | None = None) -> int:
        """How many entries the feed of ``section`` (None: every article) holds."""
        query = sa.select(sa.func.count()).select_from(articles).where(*_in_feed(section))
        with self._begin() as conn:
            return int(conn.execute(query).scalar_one())

    def feed_stream(
        self, section: str | None = None, batch: int = 500, after: FeedKey | None = None
    ) -> Iterator[Entry]:
        """Every entry of a feed in feed order (after the feed key ``after``, when given), read
        ``batch`` rows at a time (never the whole table)."""
        query = sa.select(articles).where(*_in_feed(section)).order_by(*_FEED_ORDER).limit(batch)
        while True:
            page = query if after is None else query.where(sa.tuple_(*_FEED_ORDER) > _feed_key(after))
            with self._begin() as conn:
                rows = conn.execute(page).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < batch:
                return
            after = (rows[-1].feed_seq, rows[-1].issue_date, rows[-1].position, rows[-1].uid)

    def feed_live(self, section: str | None, after: FeedKey | None) -> tuple[int, int]:
        """How many entries of a feed come after the feed key ``after`` (the last full archive
        page), and how many of those come before the first entry of the feed's newest issue."""
        beyond = () if after is None else (sa.tuple_(*_FEED_ORDER) > _feed_key(after),)
        where = (*_in_feed(section), *beyond)
        count = sa.select(sa.func.count()).select_from(articles)
        with self._begin() as conn:
            total = int(conn.execute(count.where(*where)).scalar_one())
            newest = conn.execute(sa.select(sa.func.max(articles.c.issue_date)).where(*where)).scalar_one()
            if newest is None:
                return total, total
            in_newest = (*where, articles.c.issue_date == newest)
            first = conn.execute(
                sa.select(*_FEED_ORDER).where(*in_newest).order_by(*_FEED_ORDER).limit(1)
            ).one()
            older = sa.tuple_(*_FEED_ORDER) < _feed_key(tuple(first))
            before = conn.execute(count.where(*where, older)).scalar_one()
        return total, int(before)

    def feed_archives(self, name: str) -> list[FeedKey]:
        """The last feed key of each full archive page of feed ``name``, page 1 first."""
        query = (
            sa.select(
                feed_archives.c.last_seq,
                feed_archives.c.last_day,
                feed_archives.c.last_position,
                feed_archives.c.last_uid,
            )
            .where(feed_archives.c.feed == name)
            .order_by(feed_archives.c.number)
        )
        with self._begin() as conn:
            return [(int(seq), day, int(position), uid) for seq, day, position, uid in conn.execute(query)]

    def add_feed_archives(self, name: str, pages: Sequence[tuple[int, FeedKey]]) -> None:
        """Record archive pages of feed ``name`` that became full: (number, last feed key) each."""
        if not pages:
            return
        rows = [
            {
                "feed": name,
                "number": number,
                "last_seq": key[0],
                "last_day": key[1],
                "last_position": key[2],
                "last_uid": key[3],
            }
            for number, key in pages
        ]
        with self._begin() as conn:
            conn.execute(
                sa.delete(feed_archives).where(
                    feed_archives.c.feed == name, feed_archives.c.number.in_([n for n, _ in pages])
                )
            )
            conn.execute(sa.insert(feed_archives), rows)

    def latest_issue(self) -> list[Entry]:
        """The entries of the newest issue date, in paper order."""
        newest = sa.select(sa.func.max(articles.c.issue_date)).where(_LIVE).scalar_subquery()
        query = sa.select(articles).where(articles.c.issue_date == newest, _LIVE).order_by(*_ENTRY_ORDER)
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def issues(self) -> list[tuple[date, int]]:
        """Every issue date with live articles and how many it holds, oldest first."""
        query = (
            sa.select(articles.c.issue_date, sa.func.count())
            .where(_LIVE)
            .group_by(articles.c.issue_date)
            .order_by(articles.c.issue_date)
        )
        with self._begin() as conn:
            return [(day, int(count)) for day, count in conn.execute(query)]

    def issue_entries(self, day: date) -> list[Entry]:
        """The live entries of one issue, by position (an indexed range of ``issue_date``)."""
        query = (
            sa.select(articles)
            .where(articles.c.issue_date == day, _LIVE)
            .order_by(articles.c.position, articles.c.uid)
        )
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def issue_heads(self, day: date) -> list[Head]:
        """The heads of the live entries of one issue, by position (``types.Head``): what issue
        pages and an article's neighbours show, for a fraction of the reading of ``issue_entries``."""
        untitled = sa.or_(articles.c.title.is_(None), articles.c.title == "")
        query = (
            sa.select(
                articles.c.uid,
                articles.c.position,
                articles.c.section_name,
                articles.c.section_slug,
                articles.c.title,
                articles.c.kicker,
                articles.c.subtitle,
                sa.case((untitled, articles.c.body), else_="").label("body"),
            )
            .where(articles.c.issue_date == day, _LIVE)
            .order_by(articles.c.position, articles.c.uid)
        )
        with self._begin() as conn:
            return [
                Head(uid, day, position, Section(name, slug), title, kicker, subtitle, body)
                for uid, position, name, slug, title, kicker, subtitle, body in conn.execute(query)
            ]

    def section_latest(self, slug: str, limit: int) -> list[Entry]:
        """The ``limit`` newest entries of one section, newest issue first, in paper order."""
        query = (
            sa.select(articles)
            .where(articles.c.section_slug == slug, _LIVE)
            .order_by(*_ENTRY_ORDER)
            .limit(limit)
        )
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def retracted_entries(self, section: str | None = None, limit: int | None = None) -> list[Entry]:
        """Withdrawn articles (of one section), the latest withdrawn first: their tombstones."""
        query = (
            sa.select(articles)
            .where(articles.c.retracted.is_not(None))
            .where(*(() if section is None else (articles.c.section_slug == section,)))
            .order_by(articles.c.retracted_at.desc(), articles.c.uid)
            .limit(limit)
        )
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    # -- publishing (write side: what the output folder was built from) ----

    def publish_state(self) -> dict[str, str]:
        """Named facts about the last publish (its token, the section list it used...)."""
        with self._begin() as conn:
            return {name: value for name, value in conn.execute(sa.select(publish_state))}

    def set_publish_state(self, values: dict[str, str]) -> None:
        """Replace the named facts given, leaving the others."""
        with self._begin() as conn:
            conn.execute(sa.delete(publish_state).where(publish_state.c.name.in_(list(values))))
            if values:
                conn.execute(sa.insert(publish_state), [{"name": k, "value": v} for k, v in values.items()])

    def unpublished(self, since: int, limit: int | None = None) -> list[tuple[Entry, str | None]]:
        """Entries added or changed after change sequence ``since`` (see ``snapshot``), each with
        the section slug it was published under (None when it never was), in feed order.

        An indexed range of ``articles.seq``: the cost follows the change, not the
        archive.  With ``limit``, at most that many (the caller rebuilds instead).
        """
        query = (
            sa.select(articles, published_entries.c.section_slug.label("published_slug"))
            .outerjoin(published_entries, published_entries.c.uid == articles.c.uid)
            .where(articles.c.seq > since)
            .order_by(articles.c.seq)
            .limit(limit)
        )
        with self._begin() as conn:
            found = [(_entry(row), row.published_slug) for row in conn.execute(query)]
        return sorted(found, key=lambda pair: pair[0].feed_key)

    def unpublished_digests(self) -> list[DigestRecord]:
        """Digests made (or remade with another window) since the last publish, oldest first."""
        query = (
            sa.select(digests)
            .outerjoin(published_digests, published_digests.c.day == digests.c.day)
            .where(sa.or_(published_digests.c.day.is_(None), published_digests.c.until != digests.c.until))
            .order_by(digests.c.day)
        )
        with self._begin() as conn:
            return [DigestRecord(**row._asdict()) for row in conn.execute(query)]

    def mark_published(
        self, entries: Sequence[Entry], records: Sequence[DigestRecord], seq: int | None = None
    ) -> None:
        """Remember that ``entries`` (as given) and the digests ``records`` are now in the output,
        and with ``seq`` that every change up to that sequence is (publish state ``seq``)."""
        with self._begin() as conn:
            if seq is not None:
                conn.execute(sa.delete(publish_state).where(publish_state.c.name == "seq"))
                conn.execute(sa.insert(publish_state).values(name="seq", value=str(seq)))
            for start in range(0, len(entries), 500):
                chunk = entries[start : start + 500]
                uids = [entry.uid for entry in chunk]
                conn.execute(sa.delete(published_entries).where(published_entries.c.uid.in_(uids)))
                rows = [
                    {
                        "uid": e.uid,
                        "content_hash": content_hash(e.article, e.section),
                        "section_slug": e.section.slug,
                    }
                    for e in chunk
                ]
                conn.execute(sa.insert(published_entries), rows)
            if records:
                days = [record.day for record in records]
                conn.execute(sa.delete(published_digests).where(published_digests.c.day.in_(days)))
                conn.execute(
                    sa.insert(published_digests), [{"day": r.day, "until": r.until} for r in records]
                )

    def mark_all_published(self) -> int:
        """Take every article and digest as published, as they stand now (before a full rebuild);
        returns the change sequence of that state.

        The counter row is locked first, so the rows copied are exactly those up to
        the sequence returned: one written while the rebuild runs has a later one
        and the next publish renders it again: nothing is taken as published unseen.
        """
        with self._begin() as conn:
            # The delete first: on SQLite it takes the write lock, so the counter read next is current.
            conn.execute(sa.delete(published_entries))
            conn.execute(sa.delete(published_digests))
            seq = int(
                conn.execute(sa.select(counters.c.value).where(_ARTICLES_SEQ).with_for_update()).scalar_one()
            )
            conn.execute(
                sa.insert(published_entries).from_select(
                    ["uid", "content_hash", "section_slug"],
                    sa.select(articles.c.uid, articles.c.content_hash, articles.c.section_slug),
                )
            )
            conn.execute(
                sa.insert(published_digests).from_select(
                    ["day", "until"], sa.select(digests.c.day, digests.c.until)
                )
            )
        return seq

    # -- subscribers -------------------------------------------------------

    def add_subscriber(self, subscriber: Subscriber) -> bool:
        """Add or update a subscriber (every field but ``created``); True when the address is new."""
        return self.add_subscribers([subscriber]) == 1

    def add_subscribers(self, many: Sequence[Subscriber]) -> int:
        """Add or update subscribers in one transaction; returns how many addresses were new."""
        new = 0
        with self._begin() as conn:
            for subscriber in many:
                values = _subscriber_values(subscriber)
                where = subscribers.c.email == subscriber.email
                if conn.execute(sa.select(subscribers.c.email).where(where)).first():
                    conn.execute(sa.update(subscribers).where(where).values(**values))
                else:
                    values.setdefault("key", new_key())
                    conn.execute(
                        sa.insert(subscribers).values(
                            email=subscriber.email, created=subscriber.created, **values
                        )
                    )
                    new += 1
        return new

    def remove_subscriber(self, email: str) -> bool:
        """Forget a subscriber; True when there was one."""
        with self._begin() as conn:
            result = conn.execute(sa.delete(subscribers).where(subscribers.c.email == email))
        return bool(result.rowcount)

    def subscribers(self, confirmed_only: bool = True) -> list[Subscriber]:
        """Subscribers by address; only confirmed ones unless asked otherwise."""
        query = sa.select(subscribers).order_by(subscribers.c.email)
        if confirmed_only:
            query = query.where(subscribers.c.confirmed.is_(True))
        with self._begin() as conn:
            return [_subscriber(row) for row in conn.execute(query)]

    def subscriber(self, email: str) -> Subscriber | None:
        """One subscriber, confirmed or not."""
        with self._begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
        return _subscriber(row) if row else None

    def subscriber_by_key(self, key: str) -> Subscriber | None:
        """The subscriber whose links carry ``key``, whatever its status."""
        with self._begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.key == key)).first()
        return _subscriber(row) if row else None

    def subscriber_keys(self) -> dict[str, str]:
        """Every address's link key."""
        with self._begin() as conn:
            rows = conn.execute(sa.select(subscribers.c.email, subscribers.c.key))
            return {email: key for email, key in rows}

    def set_subscriber_status(self, email: str, status: SubscriberStatus, reason: str, at: datetime) -> bool:
        """Move an address to ``status`` (keeping its row: the suppression list); True when it exists."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(subscribers)
                .where(subscribers.c.email == email)
                .values(
                    status=status.value,
                    confirmed=status is SubscriberStatus.CONFIRMED,
                    reason=reason,
                    status_at=at,
                )
            )
        return bool(result.rowcount)

    def record_hard_bounce(self, email: str, error: str, at: datetime, limit: int) -> Subscriber | None:
        """Count one hard bounce; at ``limit`` the address becomes ``bounced``. None: an unknown address."""
        where = subscribers.c.email == email
        with self._begin() as conn:
            bounces = sa.func.coalesce(subscribers.c.bounces, 0) + 1
            if not conn.execute(sa.update(subscribers).where(where).values(bounces=bounces)).rowcount:
                return None
            conn.execute(
                sa.update(subscribers)
                .where(
                    where,
                    subscribers.c.bounces >= limit,
                    subscribers.c.status.in_(
                        (SubscriberStatus.PENDING.value, SubscriberStatus.CONFIRMED.value)
                    ),
                )
                .values(
                    status=SubscriberStatus.BOUNCED.value, confirmed=False, reason=error[:500], status_at=at
                )
            )
            row = conn.execute(sa.select(subscribers).where(where)).first()
        return _subscriber(row) if row else None

    def queue_notice(self, email: str, kind: NoticeKind, now: datetime) -> None:
        """A subscription email to send now (a new request replaces an older row of the same kind)."""
        dialect = _dialect(self._engine.dialect.name)
        values = {
            "status": DeliveryState.PENDING,
            "attempts": 0,
            "created": now,
            "last_error": None,
            "next_attempt_at": None,
        }
        with self._begin() as conn:
            conn.execute(
                dialect.insert(notices)
                .values(email=email, kind=kind.value, **values)
                .on_conflict_do_update(index_elements=["email", "kind"], set_=values)
            )

    def due_notices(self, now: datetime, email: str | None = None) -> list[Notice]:
        """Subscription emails to send at ``now`` (pending, or failed with their wait over)."""
        query = sa.select(notices).where(
            notices.c.status.in_(WAITING),
            sa.or_(notices.c.next_attempt_at.is_(None), notices.c.next_attempt_at <= now),
        )
        if email is not None:
            query = query.where(notices.c.email == email)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(notices.c.created)).all()
        return [
            Notice(
                r.email, NoticeKind(r.kind), r.status, r.attempts, r.created, r.last_error, r.next_attempt_at
            )
            for r in rows
        ]

    def mark_notice(
        self,
        notice: Notice,
        status: DeliveryState,
        error: str | None,
        now: datetime,
        next_attempt: datetime | None,
    ) -> None:
        """Record the outcome of one attempt at ``notice``."""
        with self._begin() as conn:
            conn.execute(
                sa.update(notices)
                .where(notices.c.email == notice.email, notices.c.kind == notice.kind.value)
                .values(
                    status=status,
                    attempts=notices.c.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt,
                    sent_at=now if status == DeliveryState.SENT else None,
                )
            )

    def remove_expired_signups(self, before: datetime) -> list[str]:
        """Forget web sign-ups never confirmed and last asked for before ``before``; their addresses."""
        where = sa.and_(
            subscribers.c.status == SubscriberStatus.PENDING.value,
            subscribers.c.source == "web",
            sa.func.coalesce(subscribers.c.confirm_sent_at, subscribers.c.created) < before,
        )
        with self._begin() as conn:
            gone = [email for (email,) in conn.execute(sa.select(subscribers.c.email).where(where))]
            if gone:
                conn.execute(sa.delete(subscribers).where(where))
                conn.execute(sa.delete(notices).where(notices.c.email.in_(gone)))
        return gone

    def claim_confirmation(
        self, subscriber: Subscriber, now: datetime, resend_after: timedelta
    ) -> Subscriber | None:
        """Note a confirmation email to ``subscriber`` now, unless one went within ``resend_after``.

        A new address is inserted as given.  Atomic (one conditional UPDATE), so of
        many sign-ups of one address at once exactly one is told to send; None for the others.
        """
        dialect = _dialect(self._engine.dialect.name)
        values = _subscriber_values(subscriber)
        values.setdefault("key", new_key())
        with self._begin() as conn:
            conn.execute(
                dialect.insert(subscribers)
                .values(email=subscriber.email, created=subscriber.created, **values)
                .on_conflict_do_nothing()
            )
            where = subscribers.c.email == subscriber.email
            claimed = conn.execute(
                sa.update(subscribers)
                .where(
                    where,
                    sa.or_(
                        subscribers.c.confirm_sent_at.is_(None),
                        subscribers.c.confirm_sent_at <= now - resend_after,
                    ),
                )
                .values(confirm_sent_at=now)
            ).rowcount
            row = conn.execute(sa.select(subscribers).where(where)).first() if claimed else None
        return _subscriber(row) if row else None

    def sections(self) -> list[Section]:
        """Every section articles were filed under, in the order of their earliest page position."""
        query = (
            sa.select(articles.c.section_slug, sa.func.min(articles.c.section_name))
            .group_by(articles.c.section_slug)
            .order_by(sa.func.min(articles.c.position), articles.c.section_slug)
        )
        with self._begin() as conn:
            return [Section(name, slug) for slug, name in conn.execute(query)]

    # -- deliveries --------------------------------------------------------

    def due_deliveries(self, day: date, now: datetime) -> list[Delivery]:
        """Rows of one digest waiting to be sent whose next attempt is due at ``now``."""
        query = (
            sa.select(deliveries)
            .where(deliveries.c.day == day, deliveries.c.status.in_(WAITING), _due(now))
            .order_by(deliveries.c.email)
        )
        with self._begin() as conn:
            return [Delivery(**row._asdict()) for row in conn.execute(query)]

    def days_due(self, now: datetime) -> list[date]:
        """Digests with rows due at ``now`` (or left claimed by a crash), oldest first."""
        query = (
            sa.select(deliveries.c.day)
            .where(sa.or_(deliveries.c.status.in_(WAITING) & _due(now), deliveries.c.status.in_(CLAIMED)))
            .distinct()
            .order_by(deliveries.c.day)
        )
        with self._begin() as conn:
            return list(conn.execute(query).scalars())

    def claim_delivery(self, day: date, email: str, holder: str) -> bool:
        """Mark a waiting row ``claimed`` by ``holder``; False when another sender took it first
        (compare-and-set).  Done before the message is composed, so a lost race costs no body."""
        with self._begin() as conn:
            result = conn.execute(_CLAIM, {"b_day": day, "b_email": email, "b_claim": holder})
        return result.rowcount == 1

    def commit_delivery(self, day: date, email: str, holder: str) -> bool:
        """``claimed`` → ``sending`` just before the final "."; False when the row is no longer ours."""
        with self._begin() as conn:
            result = conn.execute(_COMMIT, {"b_day": day, "b_email": email, "b_claim": holder})
        return result.rowcount == 1

    def recover_deliveries(self, day: date, holder: str, reason: str) -> tuple[int, int]:
        """Rows of ``day`` claimed by a run other than ``holder`` (which must hold the send lease, so
        those runs are over): ``claimed`` ones wait again, since their server never got the ".";
        ``sending`` ones (a crash at the point of no return) become ``unknown``.  The two counts."""
        others = (deliveries.c.day == day, sa.or_(deliveries.c.claim.is_(None), deliveries.c.claim != holder))
        with self._begin() as conn:
            retried = conn.execute(
                sa.update(deliveries)
                .where(*others, deliveries.c.status == DeliveryState.CLAIMED)
                .values(
                    status=DeliveryState.FAILED,
                    next_attempt_at=None,
                    last_error="interrupted before the message was complete; sent again",
                )
            )
            unknown = conn.execute(
                sa.update(deliveries)
                .where(*others, deliveries.c.status == DeliveryState.SENDING)
                .values(status=DeliveryState.UNKNOWN, attempts=deliveries.c.attempts + 1, last_error=reason)
            )
        return int(retried.rowcount), int(unknown.rowcount)

    def defer_deliveries(self, day: date, emails: Sequence[str], until: datetime, reason: str) -> None:
        """Leave waiting rows untried until ``until`` (the server is down: trying each is pointless)."""
        with self._begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.day == day,
                    deliveries.c.email.in_(sa.bindparam("emails", expanding=True)),
                    deliveries.c.status.in_(WAITING),
                )
                .values(next_attempt_at=until, last_error=reason),
                {"emails": list(emails)},
            )

    def deliveries(self, day: date) -> list[Delivery]:
        """Every delivery row of one digest."""
        query = sa.select(deliveries).where(deliveries.c.day == day).order_by(deliveries.c.email)
        with self._begin() as conn:
            return [Delivery(**row._asdict()) for row in conn.execute(query)]

    def mark_delivery(
        self,
        day: date,
        email: str,
        status: DeliveryState,
        at: datetime,
        error: str | None = None,
        next_attempt: datetime | None = None,
        claim: str | None = None,
    ) -> bool:
        """Record one attempt: ``sent`` (with the time), or another status with the error and retry time.

        With ``claim``, only a row that run claimed changes; without, only a waiting row (one
        skipped or expired untried).  False when the row was not in that state: nothing written.
        """
        # other states keep the time of an earlier send
        sent_at = at if status == DeliveryState.SENT else None
        values = {
            "b_day": day,
            "b_email": email,
            "b_status": status,
            "b_error": error,
            "b_next": next_attempt,
            "b_sent": sent_at,
        }
        with self._begin() as conn:
            if claim is None:
                result = conn.execute(_MARK_WAITING, values)
            else:
                result = conn.execute(_MARK, {**values, "b_claim": claim})
        return result.rowcount == 1

    # -- send leases -------------------------------------------------------

    def take_send_lease(self, day: date, holder: str, now: datetime, until: datetime) -> SendLease | None:
        """Hold the send lease of ``day`` until ``until``: None when taken, else the lease in force.

        Free, lapsed (``expires_at`` passed) or already ours: taken.  One
        statement, so of two runs asking at once exactly one gets it.
        """
        dialect = _dialect(self._engine.dialect.name)
        insert = dialect.insert(send_leases).values(day=day, holder=holder, taken_at=now, expires_at=until)
        upsert = insert.on_conflict_do_update(
            index_elements=[send_leases.c.day],
            set_={"holder": holder, "taken_at": now, "expires_at": until},
            where=sa.or_(send_leases.c.expires_at <= now, send_leases.c.holder == holder),
        )
        with self._begin() as conn:
            conn.execute(upsert)
            row = conn.execute(sa.select(send_leases).where(send_leases.c.day == day)).one()
        lease = SendLease(**row._asdict())
        return None if lease.holder == holder else lease

    def steal_send_lease(self, lease: SendLease, holder: str, now: datetime, until: datetime) -> bool:
        """Take over ``lease`` whose holder is known to be dead; False when it changed meanwhile."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(send_leases)
                .where(send_leases.c.day == lease.day, send_leases.c.holder == lease.holder)
                .values(holder=holder, taken_at=now, expires_at=until)
            )
        return result.rowcount == 1

    def renew_send_lease(self, day: date, holder: str, until: datetime) -> bool:
        """Extend our lease; False when it is no longer ours (it lapsed and another run took it)."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(send_leases)
                .where(send_leases.c.day == day, send_leases.c.holder == holder)
                .values(expires_at=until)
            )
        return result.rowcount == 1

    def release_send_lease(self, day: date, holder: str) -> None:
        """Let go of our lease (if it is still ours), so the next run need not wait for it to lapse."""
        with self._begin() as conn:
            conn.execute(
                sa.delete(send_leases).where(send_leases.c.day == day, send_leases.c.holder == holder)
            )

    def send_leases(self) -> list[SendLease]:
        """Every lease on record, lapsed or not, oldest digest first (for ``digest status``)."""
        with self._begin() as conn:
            rows = conn.execute(sa.select(send_leases).order_by(send_leases.c.day))
            return [SendLease(**row._asdict()) for row in rows]

    def delivery_summary(self) -> DeliverySummary:
        """Rows by status, the earliest retry waiting and the error of the latest failed row."""
        with self._begin() as conn:
            counts = self._delivery_counts(conn)
            waiting = deliveries.c.status.in_(WAITING)
            next_attempt = conn.execute(
                sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(waiting)
            ).scalar_one()
            error = conn.execute(
                sa.select(deliveries.c.last_error)
                .where(deliveries.c.last_error.is_not(None), deliveries.c.status != "sent")
                .order_by(deliveries.c.day.desc(), deliveries.c.next_attempt_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        return DeliverySummary(
            counts=tuple(counts.items()),
            next_attempt_at=next_attempt,
            last_error=error,
            leases=tuple(self.send_leases()),
        )

    # -- retention ---------------------------------------------------------

    def prune_deliveries(self, before: date, dry_run: bool = False) -> int:
        """Fold the settled ledger rows of digests dated before ``before`` into ``delivery_counts``
        and delete them, in one transaction (the counts are written first); how many rows.

        Rows still waiting or claimed are left to the send loop.  ``dry_run``: count only.
        """
        old = sa.and_(deliveries.c.day < before, deliveries.c.status.in_(SETTLED))
        counted = sa.select(deliveries.c.day, deliveries.c.status, sa.func.count()).where(old)
        with self._begin() as conn:
            rows = conn.execute(counted.group_by(deliveries.c.day, deliveries.c.status)).all()
            total = sum(int(n) for _, _, n in rows)
            if dry_run or not rows:
                return total
            dialect = _dialect(conn.dialect.name)
            insert = dialect.insert(delivery_counts)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["day", "status"],
                    set_={"count": delivery_counts.c["count"] + insert.excluded["count"]},
                ),
                [{"day": day, "status": status, "count": n} for day, status, n in rows],
            )
            conn.execute(sa.delete(deliveries).where(old))
        return total

    def prune_signups(self, before: datetime, dry_run: bool = False) -> tuple[int, int]:
        """Delete sign-ups still pending whose last confirmation request (or creation) is before
        ``before``, and subscription emails done with before then; how many of each.

        The suppression list (unsubscribed, bounced, complained) is never pruned:
        it is what keeps those addresses from being mailed again.
        """
        pending = sa.and_(
            subscribers.c.status == SubscriberStatus.PENDING.value,
            sa.func.coalesce(subscribers.c.confirm_sent_at, subscribers.c.created) < before,
        )
        finished = sa.func.coalesce(notices.c.sent_at, notices.c.created)
        done = sa.and_(notices.c.status.in_(NOTICES_DONE), finished < before)
        with self._begin() as conn:
            gone = [email for (email,) in conn.execute(sa.select(subscribers.c.email).where(pending))]
            mails = sa.or_(done, notices.c.email.in_(gone)) if gone else done
            count = conn.execute(sa.select(sa.func.count()).select_from(notices).where(mails)).scalar_one()
            if not dry_run:
                conn.execute(sa.delete(notices).where(mails))
                conn.execute(sa.delete(subscribers).where(pending))
        return len(gone), int(count)

    def _delivery_counts(self, conn: Connection) -> dict[str, int]:
        """Ledger rows by status, the rows retention folded into ``delivery_counts`` included."""
        counts: dict[str, int] = {}
        live = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
        folded = sa.select(delivery_counts.c.status, sa.func.sum(delivery_counts.c["count"])).group_by(
            delivery_counts.c.status
        )
        for query in (live, folded):
            for status, n in conn.execute(query):
                counts[str(status)] = counts.get(str(status), 0) + int(n)
        return dict(sorted(counts.items()))

    # -- overview ----------------------------------------------------------

    def status(self) -> StoreStatus:
        """Counts for operators."""
        with self._begin() as conn:
            count = sa.func.count()
            failed = conn.execute(
                sa.select(sources.c.path, sources.c.last_error)
                .where(sources.c.last_error.is_not(None))
                .order_by(sources.c.path)
            ).all()
            unsure = [kind.value for kind in DatedBy if kind.unsure]
            undated = conn.execute(
                sa.select(sources.c.path, sources.c.issue_date)
                .where(sources.c.dated_by.in_(unsure))
                .order_by(sources.c.path)
            ).all()
            return StoreStatus(
                unsure_dates=tuple((path, day) for path, day in undated),
                retracted=conn.execute(
                    sa.select(count).select_from(articles).where(articles.c.retracted.is_not(None))
                ).scalar_one(),
                sources=conn.execute(sa.select(count).select_from(sources)).scalar_one(),
                failed_sources=tuple((path, error) for path, error in failed),
                articles=conn.execute(sa.select(count).select_from(articles)).scalar_one(),
                latest_issue=conn.execute(sa.select(sa.func.max(articles.c.issue_date))).scalar_one(),
                latest_digest=conn.execute(sa.select(sa.func.max(digests.c.day))).scalar_one(),
                subscribers=conn.execute(
                    sa.select(count).select_from(subscribers).where(subscribers.c.confirmed.is_(True))
                ).scalar_one(),
                pending_deliveries=conn.execute(
                    sa.select(count)
                    .select_from(deliveries)
                    .where(deliveries.c.status.in_(("pending", "failed")))
                ).scalar_one(),
                latest_arrival=conn.execute(sa.select(sa.func.max(articles.c.first_seen))).scalar_one(),
            )

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Subscribers and ledger rows by status, for the metrics gauges (every status that has rows)."""
        with self._begin() as conn:
            people = conn.execute(
                sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
            ).all()
            rows = self._delivery_counts(conn)
        return {"subscribers": {str(status): int(n) for status, n in people}, "deliveries": rows}


def database_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    target = sa.make_url(normalize_url(url))
    if not target.drivername.startswith("sqlite") or target.database in (None, "", ":memory:"):
        return None
    return Path(str(target.database))


def _sqlite_engine(target: str, readonly: bool) -> Engine:
    """An engine on a SQLite file; read-only ones neither create the file nor change its mode."""
    database = sa.make_url(target).database
    in_memory = not database or database == ":memory:"
    # Jobs run on several threads; the pool lends a connection to one thread at a time.
    args: dict[str, Any] = {"check_same_thread": False}
    if readonly and not in_memory:
        assert database is not None
        if not Path(database).is_file():
            raise StoreError(
                f"database {database} does not exist yet; `digest migrate` (or serve, ingest) creates it"
            )
        uri = "sqlite:///file:" + quote(str(Path(database).resolve())) + "?mode=ro&uri=true"
        engine = sa.create_engine(uri, connect_args=args)
        sa.event.listen(engine, "connect", _sqlite_read_pragmas)
        return engine
    if not in_memory:
        assert database is not None
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(target, connect_args=args)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _postgresql_read_only(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.autocommit = autocommit


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL: a commit survives a process crash (kill -9) but is not
    # fsynced each time; only a power loss can undo the last commits.  FULL costs one fsync
    # per commit, and the delivery ledger commits three times per email.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
