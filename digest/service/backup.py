"""Backups that restore: ``digest backup FILE`` and ``digest restore FILE``.

SQLite: the online backup API copies one consistent snapshot while the
service keeps reading and writing; the copy is made standalone (rollback
journal, no ``-wal`` beside it), written under a temporary name and renamed,
so a half-written backup never carries the final name.  The target is never
the live database or one of its ``-wal``/``-shm``/``-journal`` files: the rename
would leave a running ``serve`` writing into a deleted file.

Restoring a SQLite file is where "stop the service, put the file back" goes
wrong: the old database's ``-wal`` file would be replayed over the restored
one (a 7-article backup came back with 408 articles).  ``restore`` therefore
refuses while ``digest serve`` holds the data folder, checks the backup is a
whole digest database, keeps the database it replaces beside it as
``<name>.before-restore-<UTC time>`` (itself a backup-API copy, so nothing in
its WAL is lost), deletes the replaced file's ``-wal`` and ``-shm``, and only
then renames the restored copy into place.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean
--single-transaction``; a restore is refused while a ``digest serve`` leads
on that database (its advisory lock is held, see ``digest.service.leader``).
Both keep to the schema the URL's connections use (``current_schema()``):
deployments may share one database, each in its own schema (docs/scaling.md),
and a whole-database dump restored with ``--clean`` rolled the others back to
the time of the backup.  So the dump holds only this schema, and a restore
replaces only this schema's objects, also from a whole-database dump.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa

from digest.errors import AlreadyRunningError, BackupError, ConfigError, StoreError
from digest.service.leader import leader_running
from digest.store.schema import metadata
from digest.store.urls import libpq_url, mask_url, normalize_url
from digest.store.versioning import missing_schema

_COUNTED = ("articles", "sources", "digests", "subscribers", "deliveries")
_WAL_FILES = ("-wal", "-shm", "-journal")
_SQLITE_MAGIC = b"SQLite format 3\x00"  # the first bytes of every SQLite database file


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore wrote, with the row counts of the database it holds."""

    path: Path
    size: int
    counts: Mapping[str, int]
    kept: Path | None = None  # the database a restore replaced, kept beside it

    def describe(self) -> str:
        """One line: the file, its size and its rows."""
        rows = ", ".join(f"{count} {table}" for table, count in self.counts.items())
        return f"{self.path} ({self.size:,} bytes): {rows}"


def backup(url: str, target: Path) -> BackupReport:
    """Copy the database at ``url`` into the file ``target`` (replaced whole, or left as it was)."""
    target = target.absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give the backup a file name, e.g. {target / 'digest.bak'}")
    database = _sqlite_path(url)
    if database is not None:
        _refuse_live_target(target, database)
    with _staged(target) as temp:
        if database is not None:
            _sqlite_copy(_existing_sqlite(url), temp)
        else:
            schema = _pg_schema(url, holding_tables=True)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--schema={_pattern(schema)}",
                    f"--file={temp}",
                    libpq_url(url),
                ],
                url,
            )
    return _report(url if _sqlite_path(url) is None else f"sqlite:///{target}", target)


def restore(url: str, source: Path, data: Path, now: datetime) -> BackupReport:
    """Replace the database at ``url`` with the backup ``source`` (see the module docstring)."""
    source = source.absolute()
    if not source.is_file():
        raise BackupError(f"backup {source} does not exist or is not a file")
    refuse_while_serving(url, data, "restoring")
    database = _sqlite_path(url)
    if database is None:
        if _is_sqlite_file(source):
            _sqlite_into_postgresql(source, url)
            return _report(url, source)
        schema = _pg_schema(url)
        _check_pg_backup(source, schema, url)
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction", f"--schema={schema}"]
        _run(["pg_restore", *options, f"--dbname={libpq_url(url)}", str(source)], url)
        return _report(url, source)
    _check_sqlite_backup(source)
    kept = None
    if database.exists():
        kept = database.with_name(f"{database.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
        _sqlite_copy(database, kept)
    with _staged(database) as temp:
        shutil.copyfile(source, temp)
        for suffix in _WAL_FILES:  # a stale WAL would be replayed over the restored file
            database.with_name(database.name + suffix).unlink(missing_ok=True)
    report = _report(url, database)
    return BackupReport(report.path, report.size, report.counts, kept)


def _sqlite_path(url: str) -> Path | None:
    target = sa.make_url(normalize_url(url))
    if target.get_backend_name() != "sqlite":
        return None
    if not target.database or target.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(target.database).absolute()


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _sqlite_into_postgresql(source: Path, url: str) -> None:
    """Move a SQLite backup's rows into the PostgreSQL database at ``url``, replacing its own.

    The backup is first brought to this version's schema in a temporary copy (it may
    come from an older release; the file itself is left as it was), as is the target.
    """
    from digest.store.database import Store  # the store pulls in the whole schema; only this path needs it

    _check_sqlite_backup(source)
    with tempfile.TemporaryDirectory(prefix="digest-restore-") as folder:
        copy = Path(folder) / "backup.sqlite3"
        _sqlite_copy(source, copy)
        try:
            with Store.open(f"sqlite:///{copy}") as old, Store.open(url) as new:
                new.replace_with(old)
        except StoreError as exc:
            raise BackupError(f"cannot move {source} into the database: {exc}") from exc


def _refuse_live_target(target: Path, database: Path) -> None:
    """A ``ConfigError`` when ``target`` is the live ``database`` or one of its companion files.

    Renaming a backup over the live file would leave a running ``serve`` writing
    into the unlinked old file, so everything written after the backup is lost;
    over a ``-wal`` or ``-shm`` it would corrupt the database.  Paths are compared
    resolved (symlinks, ``..``), and as files when both exist (hard links).
    """
    resolved = target.resolve()
    for suffix in ("", *_WAL_FILES):
        live = database.with_name(database.name + suffix)
        same = resolved == live.resolve()
        if not same and target.exists() and live.exists():
            same = os.path.samefile(target, live)
        if same:
            what = "the live database" if not suffix else f"the live database's {suffix[1:]} file"
            where = "" if target == live else f" {live}"  # a symlink or ``..``: name the file it reaches
            raise ConfigError("backup FILE", f"{target} is {what}{where}", "back up to another file")


def _existing_sqlite(url: str) -> Path:
    path = _sqlite_path(url)
    assert path is not None
    if not path.is_file():
        raise BackupError(f"there is no database at {path} yet; nothing to back up")
    return path


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent, standalone copy of ``source`` (its WAL included) at ``target``, a new file that
    only its owner may read (it holds every subscriber's address)."""
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot create {target}: {exc.strerror or exc}") from exc
    try:
        from digest.store.database import frozen_sqlite_uri  # the store module is heavy; only this needs it

        frozen = frozen_sqlite_uri(source)
        reading = sqlite3.connect(frozen, uri=True) if frozen else sqlite3.connect(source, timeout=30)
        with closing(reading) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {source} to {target}: {exc}") from exc


def _check_sqlite_backup(path: Path) -> None:
    """A readable SQLite file holding digest's tables, or a ``BackupError`` saying what it is not."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise BackupError(
            f"{path} is not a SQLite database ({exc}); give a file made by digest backup"
        ) from exc
    if check != "ok":
        raise BackupError(f"{path} is damaged ({check}); restore an older backup")
    if "articles" not in tables:
        raise BackupError(f"{path} holds no digest database (no articles table); check the file name")


def refuse_while_serving(url: str, data: Path, doing: str) -> None:
    """``AlreadyRunningError`` (exit 2, as for a second serve) while a ``digest serve`` uses ``data``
    or, on PostgreSQL, leads on the database of ``url``: the database must not change under it.
    ``doing``: what waits for it to stop, e.g. "restoring"."""
    from digest.service.datalock import lock_holder  # the serve module is heavy; only these need it

    holder = lock_holder(data)
    if holder is not None:
        raise AlreadyRunningError(
            f"digest serve (pid {holder or 'unknown'}) is using {data}; stop it before {doing}, "
            "then start it again"
        )
    if _sqlite_path(url) is not None:
        return
    try:
        running = leader_running(url)
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    if running:
        raise AlreadyRunningError(
            f"a digest serve is running on this database; stop every instance before {doing}"
        )


def _unreachable(url: str, exc: psycopg.Error) -> BackupError:
    """One line: libpq's first (``Connection refused``), not its hint on a second, tab-indented one."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BackupError(f"database {mask_url(url)}: {mask_url(reason)}; check database.url")


def _pg_schema(url: str, holding_tables: bool = False) -> str:
    """The schema the connections of ``url`` create and read tables in (its ``search_path``);
    ``holding_tables``: a ``BackupError`` unless digest's tables are in it (nothing to back up)."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT current_schema(),"
                " to_regclass(quote_ident(current_schema()) || '.articles') IS NOT NULL,"
                " current_setting('search_path'), current_user, current_database()"
            ).fetchone()
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    schema, holding, search_path, user, database = row if row is not None else (None, False, "", "", "")
    if schema is None:
        raise BackupError(missing_schema(str(search_path), str(user), str(database)))
    if holding_tables and not holding:
        # A new deployment's tables are made by `digest migrate` or the first `serve`; pg_dump would
        # write an empty archive, and counting its rows would fail on the missing tables.
        raise BackupError(
            f"database {mask_url(url)} has no digest tables in schema {schema} yet; nothing to back up"
        )
    return str(schema)


def _pattern(schema: str) -> str:
    """``schema`` as a pg_dump pattern matching that one name exactly (quoted: no wildcards, case kept)."""
    return '"' + schema.replace('"', '""') + '"'


def _check_pg_backup(path: Path, schema: str, url: str) -> None:
    """A pg_dump archive holding digest's tables in ``schema``, or a ``BackupError`` saying what it is not."""
    listed = _tool(["pg_restore", "--list", str(path)])
    if listed.returncode != 0:
        raise BackupError(
            f"{path} is not a PostgreSQL backup ({listed.stderr.strip()}); give a file made by digest backup"
        )
    # A table's line in the list: "<id>; <class> <oid> TABLE <schema> <name> <owner>".
    tables = {
        (fields[4], fields[5])
        for fields in (line.split() for line in listed.stdout.splitlines() if not line.startswith(";"))
        if len(fields) > 5 and fields[3] == "TABLE"
    }
    if (schema, "articles") not in tables:
        found = sorted({where for where, name in tables if name == "articles"})
        elsewhere = f"; it holds one in schema {', '.join(found)}" if found else ""
        raise BackupError(
            f"{path} holds no digest database in schema {schema}, the one {mask_url(url)} uses{elsewhere}; "
            "restore with database.url set to that schema's search_path"
        )


@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target`` that becomes ``target`` when the block succeeds."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    temp = Path(name)
    try:
        temp.unlink()  # the writers below create the file themselves
        yield temp
        # pg_dump's file too holds every subscriber's address: the owner's alone, whatever the umask.
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)


def _tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL client tool, its output captured."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed; install the PostgreSQL client tools") from None


def _run(argv: list[str], url: str) -> None:
    done = _tool(argv)
    if done.returncode != 0:
        problem = mask_url(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message")
        raise BackupError(f"{argv[0]} failed for {mask_url(url)}: {problem}")


def _report(url: str, path: Path) -> BackupReport:
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            counts = {
                name: int(
                    conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[name])).scalar_one()
                )
                for name in _COUNTED
            }
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"cannot read {mask_url(url)} after writing it: {exc}") from exc
    finally:
        engine.dispose()
    return BackupReport(path, path.stat().st_size, counts)
