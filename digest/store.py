"""The database: SQLAlchemy Core, one module, SQLite by default and PostgreSQL by URL.

Tables: ``sources`` (page files seen), ``articles``, ``digests``,
``subscribers`` and ``deliveries`` (one row per digest and recipient, so a
recipient is never sent the same digest twice).  Datetimes are stored as
UTC without an offset (the same on both databases) and returned aware.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.types import Article, Credit, Entry, Kind, Section


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
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("day", sa.Date, sa.ForeignKey("digests.day", ondelete="CASCADE"), primary_key=True),
    sa.Column("email", sa.Text, primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),  # pending, sent, failed, refused
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UTCDateTime),
)


@dataclass(frozen=True)
class SourceRecord:
    """What the store remembers of one page file."""

    path: str
    content_hash: str
    size: int
    mtime: datetime
    last_error: str | None
    seen_at: datetime


@dataclass(frozen=True)
class DigestRecord:
    """A digest that was made: its window and size (the entries are re-read from ``articles``)."""

    day: date
    since: datetime
    until: datetime
    made_at: datetime
    count: int


@dataclass(frozen=True)
class Subscriber:
    """An email recipient; empty ``sections`` means every section."""

    email: str
    sections: tuple[str, ...]
    confirmed: bool
    created: datetime


@dataclass(frozen=True)
class Delivery:
    """One digest for one recipient: ``pending``, ``sent``, ``failed`` (retried) or ``refused`` (never)."""

    day: date
    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


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


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def content_hash(article: Article, section: Section) -> str:
    """A fingerprint of everything a reader sees of an article; ``updated`` moves when it changes."""
    fields = _article_columns(article)
    fields["section_name"] = section.name
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
    )


# Paper order: newest issue first, then page and position on the page.
_ENTRY_ORDER = (articles.c.issue_date.desc(), articles.c.position, articles.c.uid)


class Store:
    """A handle on the database; thread-safe (one pooled connection per operation)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and create missing tables; SQLite files get WAL, foreign keys and a busy timeout."""
        target = normalize_url(url)
        try:
            if target.startswith("sqlite"):
                database = sa.make_url(target).database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                # Jobs run on several threads; the pool lends a connection to one thread at a time.
                engine = sa.create_engine(target, connect_args={"check_same_thread": False})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = sa.create_engine(target, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
            raise StoreError(f"database {mask_url(url)}: {exc}; check database.url") from exc
        store = cls(engine, url)
        try:
            with store._begin() as conn:
                metadata.create_all(conn)
        except StoreError:
            engine.dispose()
            raise
        return store

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
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(
                f"database {mask_url(self.url)}: {reason}; check that the server is running, "
                "the URL is right and the file or database is writable"
            ) from exc

    # -- sources -----------------------------------------------------------

    def source(self, path: str) -> SourceRecord | None:
        """What was recorded for a page file, if anything."""
        with self._begin() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.path == path)).first()
        return SourceRecord(**row._asdict()) if row else None

    def record_source(self, record: SourceRecord) -> None:
        """Remember a page file's hash and outcome (``last_error`` None when it was read fine)."""
        with self._begin() as conn:
            conn.execute(sa.delete(sources).where(sources.c.path == record.path))
            conn.execute(sa.insert(sources).values(**record.__dict__))

    # -- articles ----------------------------------------------------------

    def upsert_entries(self, entries: Sequence[Entry]) -> UpsertReport:
        """Insert new entries; rewrite changed ones keeping ``first_seen``; leave unchanged ones alone.

        ``updated`` is taken from the entry only when the content hash differs
        from the stored one, so re-reading a page never moves it.
        """
        new = changed = unchanged = 0
        with self._begin() as conn:
            for entry in entries:
                digest = content_hash(entry.article, entry.section)
                stored = conn.execute(
                    sa.select(articles.c.content_hash).where(articles.c.uid == entry.uid)
                ).scalar_one_or_none()
                columns = {
                    **_article_columns(entry.article),
                    "section_name": entry.section.name,
                    "section_slug": entry.section.slug,
                    "position": entry.position,
                    "source": entry.source,
                    "content_hash": digest,
                }
                if stored is None:
                    conn.execute(
                        sa.insert(articles).values(
                            uid=entry.uid,
                            tag=entry.tag,
                            issue_date=entry.issue_date,
                            published=entry.published,
                            updated=entry.updated,
                            first_seen=entry.first_seen,
                            **columns,
                        )
                    )
                    new += 1
                elif stored != digest:
                    conn.execute(
                        sa.update(articles)
                        .where(articles.c.uid == entry.uid)
                        .values(updated=entry.updated, **columns)
                    )
                    changed += 1
                else:
                    unchanged += 1
        return UpsertReport(new=new, changed=changed, unchanged=unchanged)

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
            .where(articles.c.first_seen >= since, articles.c.first_seen < until)
            .order_by(*_ENTRY_ORDER)
        )
        with self._begin() as conn:
            return [_entry(row) for row in conn.execute(query)]

    # -- digests -----------------------------------------------------------

    def save_digest(self, record: DigestRecord) -> None:
        """Record a digest once; a second save of the same day keeps the first."""
        with self._begin() as conn:
            exists = conn.execute(sa.select(digests.c.day).where(digests.c.day == record.day)).first()
            if exists is None:
                conn.execute(sa.insert(digests).values(**record.__dict__))

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

    # -- subscribers -------------------------------------------------------

    def add_subscriber(self, subscriber: Subscriber) -> bool:
        """Add or update a subscriber; True when the address is new."""
        values = {
            "sections": json.dumps(list(subscriber.sections)),
            "confirmed": subscriber.confirmed,
        }
        with self._begin() as conn:
            exists = conn.execute(
                sa.select(subscribers.c.email).where(subscribers.c.email == subscriber.email)
            ).first()
            if exists:
                conn.execute(
                    sa.update(subscribers).where(subscribers.c.email == subscriber.email).values(**values)
                )
            else:
                conn.execute(
                    sa.insert(subscribers).values(
                        email=subscriber.email, created=subscriber.created, **values
                    )
                )
        return exists is None

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
            return [
                Subscriber(row.email, tuple(json.loads(row.sections)), row.confirmed, row.created)
                for row in conn.execute(query)
            ]

    # -- deliveries --------------------------------------------------------

    def plan_deliveries(self, day: date, emails: Sequence[str]) -> list[Delivery]:
        """Add a pending row per new recipient; return the rows still to send (pending or failed)."""
        with self._begin() as conn:
            known = set(conn.execute(sa.select(deliveries.c.email).where(deliveries.c.day == day)).scalars())
            for email in emails:
                if email not in known:
                    conn.execute(
                        sa.insert(deliveries).values(day=day, email=email, status="pending", attempts=0)
                    )
            rows = conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.day == day, deliveries.c.status.in_(("pending", "failed")))
                .order_by(deliveries.c.email)
            )
            return [Delivery(**row._asdict()) for row in rows]

    def deliveries(self, day: date) -> list[Delivery]:
        """Every delivery row of one digest."""
        query = sa.select(deliveries).where(deliveries.c.day == day).order_by(deliveries.c.email)
        with self._begin() as conn:
            return [Delivery(**row._asdict()) for row in conn.execute(query)]

    def mark_delivery(
        self, day: date, email: str, status: str, at: datetime, error: str | None = None
    ) -> None:
        """Record one attempt: ``sent`` (with the time), ``failed`` or ``refused`` (with the error)."""
        values: dict[str, Any] = {
            "status": status,
            "attempts": deliveries.c.attempts + 1,
            "last_error": error,
        }
        if status == "sent":
            values["sent_at"] = at
        with self._begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.day == day, deliveries.c.email == email)
                .values(**values)
            )

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
            return StoreStatus(
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
            )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
