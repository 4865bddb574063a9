"""The database schema under version control: Alembic migrations in ``digest/store/migrations``, run
in-process.

``upgrade`` brings a database to the newest revision this code knows, under a
lock (a PostgreSQL advisory lock, or a lock file beside a SQLite database), so
several instances starting at once migrate it once.  ``read_version`` only
looks.  A database from before the schema was versioned (release 0.1.0, or a
later build that patched tables on open) has tables but no ``alembic_version``:
its columns say which revision it is, and it is stamped there before upgrading.
A database whose revision this code does not know was upgraded by a newer
version and is refused (``SchemaError``): nothing here writes to it.

Alembic itself (a fifth of a command's start-up) is imported only when there is
work for it: a database already at the newest revision is recognised by one
query, against the revisions named by the migration files, and an empty one is
given today's schema at once from the models (``_create``) and stamped there.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from digest import __version__
from digest.errors import SchemaError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
# The revision of release 0.1.0's schema, where an unversioned database with tables starts.
BASELINE = "0001"
# The tables every database made by 0.1.0 or later has.
BASELINE_TABLES = frozenset(
    {
        "sources",
        "articles",
        "counters",
        "digests",
        "publish_state",
        "published_digests",
        "published_entries",
        "subscribers",
        "deliveries",
    }
)
# Two-part advisory lock key for migrating: "DGMG", and the schema (as ``leader.schema_key``).
LOCK_CLASS = 0x44474D47


@dataclass(frozen=True)
class SchemaVersion:
    """Where a database stands: its revision (None: no tables yet) and this code's newest."""

    current: str | None
    head: str
    versioned: bool  # False: no alembic_version table (empty, or made before versioning)

    @property
    def behind(self) -> bool:
        """Whether ``upgrade`` has work to do."""
        return self.current != self.head or not self.versioned

    def describe(self) -> str:
        """One line for ``digest migrate --check`` and ``digest status``."""
        if self.current is None:
            return f"database schema: empty; `digest migrate` creates revision {self.head}"
        if not self.behind:
            return f"database schema: revision {self.current}, current"
        found = self.current if self.versioned else f"{self.current} (unversioned, recognised)"
        return f"database schema: revision {found}; `digest migrate` upgrades it to {self.head}"


def _alembic(conn: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@cache
def revisions() -> tuple[str, ...]:
    """Every revision this code knows, oldest first: a migration file ``NNNN_what.py`` is revision
    ``NNNN``, each revising the one before (tests/test_migrations.py holds Alembic to the same)."""
    return tuple(sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")))


def head_revision() -> str:
    """The newest revision this code knows."""
    known = revisions()
    assert known, "digest/store/migrations has no revision"
    return known[-1]


def current_schema(conn: Connection) -> str:
    """The PostgreSQL schema ``conn`` makes and reads tables in: the first of its ``search_path`` that
    exists.  ``StoreError`` saying how to make it when none does, which PostgreSQL would only say
    when a table is created ("no schema has been selected to create in"), and read as empty before."""
    row = conn.execute(
        sa.text("SELECT current_schema(), current_setting('search_path'), current_user, current_database()")
    ).one()
    if row[0] is None:
        raise StoreError(missing_schema(str(row[1]), str(row[2]), str(row[3])))
    return str(row[0])


def missing_schema(search_path: str, user: str, database: str) -> str:
    """The message for a ``search_path`` naming no schema that exists, with the statement that makes it."""
    names = [name.strip() for name in search_path.split(",")]
    wanted = next((name for name in names if name and name != '"$user"'), "digest")
    owner = user if user.isidentifier() and user == user.lower() else '"' + user.replace('"', '""') + '"'
    return (
        f"database {database}: no schema of its search_path ({search_path}) exists; create it first "
        f"(in psql, as the database's owner: CREATE SCHEMA {wanted} AUTHORIZATION {owner};) "
        "or correct the search_path in database.url"
    )


def read_version(conn: Connection) -> SchemaVersion:
    """Where the database on ``conn`` stands, without writing; ``SchemaError`` when it is newer,
    ``StoreError`` when a PostgreSQL ``search_path`` names no schema that exists."""
    head = head_revision()
    if conn.dialect.name == "postgresql":
        current_schema(conn)
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" in tables:
        current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if current is not None and current not in revisions():
            raise SchemaError(
                f"the database is at schema revision {current}, newer than this digest {__version__} "
                f"knows (up to {head}): run the newer digest that upgraded it, or restore the backup "
                "taken before that upgrade (digest restore FILE)"
            )
        return SchemaVersion(current, head, versioned=True)
    ours = tables & BASELINE_TABLES
    if not ours:
        return SchemaVersion(None, head, versioned=False)
    if ours != BASELINE_TABLES:
        missing = ", ".join(sorted(BASELINE_TABLES - ours))
        raise SchemaError(
            f"the database has some of digest's tables but not {missing}: it was not made by a digest "
            "release (0.1.0 or later); point database.url at an empty database, or restore a backup"
        )
    return SchemaVersion(_recognise(conn, head), head, versioned=False)


def _recognise(conn: Connection, head: str) -> str:
    """The revision an unversioned database's tables match: the newest, or else the baseline
    (the next migration checks each column and index, so a build in between upgrades too)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from digest.store.schema import metadata

    context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": modelled})
    # The search index is not modelled: a build from before it matches the models but lacks it.
    indexed = "search_docs" in sa.inspect(conn).get_table_names()
    return head if indexed and not compare_metadata(context, metadata) else BASELINE


def upgrade(engine: Engine) -> tuple[SchemaVersion, str]:
    """Bring the database to the newest revision under the migration lock; returns where it was
    and where it is now.  ``SchemaError`` (nothing written) when it is newer than this code."""
    with _locked(engine) as conn:
        with conn.begin():
            if conn.dialect.name == "sqlite":
                # pysqlite runs DDL outside any transaction unless one is begun: a kill or a full disk
                # halfway left a schema half changed at the old revision, which the next start
                # tripped over ("table articles already exists").  Begun here, SQLite undoes it all.
                conn.exec_driver_sql("BEGIN")
            before = read_version(conn)
            if before.current is None:
                _create(conn)
            elif before.behind:
                from alembic import command

                config = _alembic(conn)
                if before.current is not None and not before.versioned:
                    command.stamp(config, before.current)
                command.upgrade(config, "head")
        return before, before.head


def _create(conn: Connection) -> None:
    """Today's schema in an empty database, stamped at the newest revision: what every migration
    run from nothing makes (tests/test_migrations.py compares the two on both engines), made at
    once from the models, as Alembic's cookbook builds a database from scratch.  Running the
    migrations and importing Alembic took 0.16-0.20 s of a first command on a new install."""
    from digest.store import search_index
    from digest.store.schema import counters, metadata

    metadata.create_all(conn)
    search_index.create(conn)
    conn.execute(sa.insert(counters).values(name="articles", value=0))  # migration 0001's row
    _ALEMBIC_VERSION.create(conn)
    conn.execute(sa.insert(_ALEMBIC_VERSION).values(version_num=head_revision()))


# Alembic's own record of a database's revision, as Alembic makes it, so that later upgrades
# (Alembic's) start from the newest revision.
_ALEMBIC_VERSION = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock until the block ends."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            schema = current_schema(conn)
            key = {"class": LOCK_CLASS, "key": zlib.crc32(schema.encode()) & 0x7FFFFFFF}
            conn.execute(sa.text("SELECT pg_advisory_lock(:class, :key)"), key)
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:class, :key)"), key)
                conn.commit()
        else:
            with _lock_file(engine):
                yield conn


@contextmanager
def _lock_file(engine: Engine) -> Iterator[None]:
    """``<database>.migrate.lock``, held with flock: SQLite's own locks do not span DDL and checks."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Whether Alembic compares ``name`` with the models: the search index (FTS5 tables and their
    shadow tables, tsvector columns) is not modelled; migration 0003 writes its DDL."""
    return not (type_ == "table" and reflected and compare_to is None and (name or "").startswith("search_"))
