"""The store: one ``Store`` handle on SQLite (the default) or PostgreSQL (by URL).

``Store`` opens the database and composes the repositories, one per aggregate: articles and their
page files (``articles``), what publishing reads and records (``published``), subscribers and
their notices (``subscribers``), digests and the delivery ledger (``ledger``).  Tables live in
``schema``, the records handed out in ``records``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.store import search_index, transfer, versioning
from digest.store.articles import ArticleRepository
from digest.store.base import Repository
from digest.store.ledger import LedgerRepository, failing_copies
from digest.store.published import PublishRepository
from digest.store.records import StoreStatus
from digest.store.retraction import RetractionRepository
from digest.store.schema import (
    ARTICLES_SEQ,
    articles,
    counters,
    deliveries,
    digests,
    sources,
    subscribers,
)
from digest.store.sections import SectionRepository
from digest.store.subscribers import SubscriberRepository, failing_notices
from digest.store.urls import mask_url, normalize_url
from digest.types import DatedBy


class Store(
    LedgerRepository,
    SubscriberRepository,
    PublishRepository,
    ArticleRepository,
    RetractionRepository,
    SectionRepository,
    Repository,
):
    """A handle on the database; thread-safe (one pooled connection per operation)."""

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

    def replace_with(self, source: Store) -> None:
        """Make this database hold exactly ``source``'s rows (``digest.store.transfer``), both migrated."""
        try:
            transfer.copy_database(source._engine, self._engine)
        except SQLAlchemyError as exc:
            raise self._failure(exc) from exc

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
            yield int(conn.execute(sa.select(counters.c.value).where(ARTICLES_SEQ)).scalar_one())
        finally:
            self._pinned.conn = None

    # -- sources -----------------------------------------------------------

    # -- articles ----------------------------------------------------------

    # -- digests -----------------------------------------------------------

    # -- publishing (read side: what feeds and pages show) -----------------

    # -- publishing (write side: what the output folder was built from) ----

    # -- subscribers -------------------------------------------------------

    # -- deliveries --------------------------------------------------------

    # -- send leases -------------------------------------------------------

    # -- retention ---------------------------------------------------------

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
                notices=tuple(self._notice_counts(conn).items()),
                failing_notices=failing_notices(conn),
                failing_copies=failing_copies(conn),
            )

    def article_count(self) -> int:
        """How many articles the store holds, withdrawn ones included (as ``status().articles``)."""
        with self._begin() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar_one())

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Subscribers, ledger rows and subscription emails by status, for the metrics gauges (every
        status that has rows)."""
        with self._begin() as conn:
            people = conn.execute(
                sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
            ).all()
            rows = self._delivery_counts(conn)
            emails = self._notice_counts(conn)
        return {
            "subscribers": {str(status): int(n) for status, n in people},
            "deliveries": rows,
            "subscription_emails": emails,
        }


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
        path = Path(database).resolve()
        file = frozen_sqlite_uri(path) or "file:" + quote(str(path)) + "?mode=ro"
        uri = "sqlite:///" + file + "&uri=true"
        engine = sa.create_engine(uri, connect_args=args)
        sa.event.listen(engine, "connect", _sqlite_read_pragmas)
        return engine
    if not in_memory:
        assert database is not None
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        _create_private(Path(database))
    engine = sa.create_engine(target, connect_args=args)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def frozen_sqlite_uri(path: Path) -> str | None:
    """The URI that opens the SQLite file ``path`` as immutable when it sits on a read-only mount
    with no ``-wal`` beside it (closed cleanly: all of it is in the file); else ``None``.

    A WAL database opened even read-only makes its ``-shm`` file, which a read-only mount refuses
    ("unable to open database file"): ``digest status`` and ``backup``, which write nothing, failed
    on the data folder of a disk gone read-only, which they are there to rescue.  Nothing can
    change the file there, so nothing is lost by SQLite taking it as it is.
    """
    resolved = path.resolve()
    try:
        frozen = os.statvfs(resolved.parent).f_flag & os.ST_RDONLY
    except OSError:
        return None
    if not frozen or Path(f"{resolved}-wal").exists():
        return None
    return "file:" + quote(str(resolved)) + "?mode=ro&immutable=1"


def _create_private(path: Path) -> None:
    """Create the database file empty with mode 0600 when missing, before SQLite creates it.

    It holds subscribers' addresses; SQLite would create it (and its ``-wal`` and ``-shm``,
    which take the database's mode) as the umask allows, readable by every local user under
    a shell's 022.  An empty file is a new database to SQLite; any other failure (a read-only
    folder) is left for SQLite to report in its own words.
    """
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


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
