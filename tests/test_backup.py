"""``digest backup`` and ``digest restore`` as an operator runs them, on SQLite and PostgreSQL.

The SQLite case is the one that went wrong by hand: a process that crashed
after writing leaves a ``-wal`` file whose frames would be replayed over a
database put back from a backup.  Here a writer dies that way, and the
restore must still give back exactly the backup's articles, subscribers and
ledger rows.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from conftest import SHARED
from test_cli import EXAMPLES, digest

from digest.service.datalock import data_lock
from digest.service.leader import LOCK_CLASS, schema_key
from digest.store.database import Store
from digest.store.schema import metadata
from digest.store.urls import normalize_url

# A day with nothing new still mails a short notice, so the digest leaves one ledger row per subscriber.
NOTICE = {"DIGEST_DIGEST_EMPTY_DAYS": "notice"}


def counts(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """The row counts a backup or restore prints: ``..., 7 articles, 2 subscribers, ...``."""
    assert result.returncode == 0, result.stderr
    return {table: int(n) for n, table in re.findall(r"(\d+) (\w+)", result.stdout.splitlines()[0])}


def populate(tmp_path: Path, options: list[str]) -> None:
    """Example pages ingested, two subscribers and a sent digest: rows in every table a backup must keep."""
    assert digest("ingest", *options, cwd=tmp_path).returncode == 0
    for email in ("a@example.org", "b@example.org"):
        assert digest("subscribers", "add", email, *options, cwd=tmp_path).returncode == 0
    sent = digest("send-digest", "--date", "2024-11-28", *options, cwd=tmp_path, env=NOTICE)
    assert sent.returncode == 0, sent.stderr


def crash_after_writing(database: Path) -> None:
    """A process deletes every subscriber and dies before closing: the change lives only in the -wal."""
    code = (
        "import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_autocheckpoint=0');"
        " c.execute('DELETE FROM subscribers'); c.commit(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(database)], check=True, timeout=60)
    assert database.with_name(database.name + "-wal").stat().st_size > 0


def test_sqlite_backup_then_restore_over_a_stale_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    populate(tmp_path, options)
    made = counts(digest("backup", tmp_path / "backups" / "monday.sqlite3", *options, cwd=tmp_path))
    assert made["articles"] == 7 and made["subscribers"] == 2 and made["deliveries"] == 2
    assert not (tmp_path / "backups" / "monday.sqlite3-wal").exists()  # one standalone file

    seeds = SHARED / "seeds"
    if seeds.is_dir():  # more articles after the backup, so a restore that keeps them shows
        assert digest("ingest", seeds, *options, cwd=tmp_path).returncode == 0
    database = data / "digest.sqlite3"
    crash_after_writing(database)

    restored = digest("restore", tmp_path / "backups" / "monday.sqlite3", *options, cwd=tmp_path)
    assert counts(restored) == made
    kept = Path(re.search(r"kept as (\S+)", restored.stdout).group(1))  # type: ignore[union-attr]
    assert not database.with_name("digest.sqlite3-wal").exists()
    status = digest("status", "--json", *options, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (7,)
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone() == (2,)
    # The database it replaced is kept whole, its WAL's last change included.
    with closing(sqlite3.connect(kept)) as conn:
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= 7


def test_backup_and_restore_name_the_signing_secret_the_database_does_not_hold(tmp_path: Path) -> None:
    """The links in emails already sent are signed with ``<data>/server.secret``, which no backup holds:
    restored without it, every unsubscribe link is "invalid". Both commands say to carry it across;
    before, neither did, and the README's table of what to back up left it out."""
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    populate(tmp_path, options)
    secret = data / "server.secret"
    assert secret.is_file()
    made = digest("backup", tmp_path / "monday.sqlite3", *options, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"keep {secret} with this backup" in made.stdout
    moved = ["--source", str(EXAMPLES), "--data", str(tmp_path / "new"), "--output", str(tmp_path / "out")]
    restored = digest("restore", tmp_path / "monday.sqlite3", *moved, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert f"copy the server.secret kept with the backup to {tmp_path / 'new' / 'server.secret'}" in (
        restored.stdout
    )
    chosen = {"DIGEST_SERVER_SECRET": "s" * 40}  # set in the configuration: nothing to carry across
    again = digest("backup", tmp_path / "tuesday.sqlite3", *options, cwd=tmp_path, env=chosen)
    assert again.returncode == 0 and "server.secret" not in again.stdout


def test_restore_refuses_while_serving_and_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    assert digest("ingest", *options, cwd=tmp_path).returncode == 0
    good = tmp_path / "good.sqlite3"
    assert digest("backup", good, *options, cwd=tmp_path).returncode == 0
    before = (data / "digest.sqlite3").read_bytes()

    with data_lock(data):  # what a running `digest serve` holds
        busy = digest("restore", good, *options, cwd=tmp_path)
        second = digest("serve", "--port", "0", *options, cwd=tmp_path)
    # The README's exit status for "another serve already using the data folder", as a second serve gets.
    assert busy.returncode == second.returncode == 2, (busy.stderr, second.stderr)
    assert "stop it before restoring" in busy.stderr and len(busy.stderr.strip().splitlines()) == 1

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    for bad, reason in ((notes, "is not a SQLite database"), (tmp_path / "nope", "does not exist")):
        result = digest("restore", bad, *options, cwd=tmp_path)
        assert result.returncode == 1 and reason in result.stderr and "Traceback" not in result.stderr
    assert (data / "digest.sqlite3").read_bytes() == before  # nothing replaced

    nothing = digest(
        "backup", tmp_path / "x", "--data", str(tmp_path / "empty"), "--source", EXAMPLES, cwd=tmp_path
    )
    assert nothing.returncode == 1 and "nothing to back up" in nothing.stderr


def test_backup_refuses_the_live_database_and_its_companions(tmp_path: Path) -> None:
    """A backup renamed over the live file would leave a running serve writing into a deleted one."""
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    assert digest("ingest", *options, cwd=tmp_path).returncode == 0
    database = data / "digest.sqlite3"
    (tmp_path / "link.sqlite3").symlink_to(database)
    (tmp_path / "hard.sqlite3").hardlink_to(database)
    inode = database.stat().st_ino
    for target in (
        "data/digest.sqlite3",
        "data/../data/digest.sqlite3",
        "link.sqlite3",
        "hard.sqlite3",
        "data/digest.sqlite3-wal",
        "data/digest.sqlite3-shm",
        "data/digest.sqlite3-journal",
    ):
        result = digest("backup", target, *options, cwd=tmp_path)
        assert result.returncode == 2, (target, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "is the live database" in lines[0], result.stderr
        assert target in lines[0] and "back up to another file" in lines[0]
    assert database.stat().st_ino == inode  # never replaced
    assert not database.with_name("digest.sqlite3-journal").exists()
    assert digest("status", *options, cwd=tmp_path).returncode == 0
    assert counts(digest("backup", tmp_path / "copy.sqlite3", *options, cwd=tmp_path))["articles"] == 7


@pytest.fixture
def pg_database(pg_base: str) -> Iterator[str]:
    """A whole new PostgreSQL database (pg_dump and pg_restore work on databases), dropped after."""
    name = f"t_backup_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_postgresql_backup_then_restore(tmp_path: Path, pg_database: str) -> None:
    env = {"DIGEST_DATABASE_URL": pg_database}
    options = ["--source", str(EXAMPLES), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    assert digest("ingest", *options, cwd=tmp_path, env=env).returncode == 0
    for email in ("a@example.org", "b@example.org"):
        assert digest("subscribers", "add", email, *options, cwd=tmp_path, env=env).returncode == 0
    sent = digest("send-digest", "--date", "2024-11-28", *options, cwd=tmp_path, env=env | NOTICE)
    assert sent.returncode == 0, sent.stderr
    made = counts(digest("backup", tmp_path / "pg.dump", *options, cwd=tmp_path, env=env))
    assert (made["articles"], made["subscribers"], made["deliveries"]) == (7, 2, 2)

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("DELETE FROM deliveries")
        conn.execute("DELETE FROM subscribers")
        # A serve leading on this database holds its advisory lock: restore must wait for it to stop.
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, schema_key("public")))
        busy = digest("restore", tmp_path / "pg.dump", *options, cwd=tmp_path, env=env)
        assert busy.returncode == 2 and "stop every instance" in busy.stderr
    assert counts(digest("restore", tmp_path / "pg.dump", *options, cwd=tmp_path, env=env)) == made


def test_a_postgresql_backup_before_any_table_says_there_is_nothing_to_back_up(
    tmp_path: Path, pg_url: str
) -> None:
    """Before: "cannot read … after writing it" and a multi-line SQL error, and an empty dump left."""
    env = {"DIGEST_DATABASE_URL": pg_url}
    target = tmp_path / "pg.dump"
    result = digest(
        "backup", target, "--data", str(tmp_path / "data"), "--source", EXAMPLES, cwd=tmp_path, env=env
    )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: database postgresql://") and line.endswith("yet; nothing to back up")
    assert "no digest tables in schema t_" in line
    assert not target.exists() and list(tmp_path.glob(".pg.dump.*")) == []


def test_postgresql_backup_and_restore_keep_to_their_own_schema(tmp_path: Path, pg_database: str) -> None:
    """Two deployments share one database, each in its own schema (docs/scaling.md): backing up
    and restoring one must neither copy nor roll back the other's articles and subscribers."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA paper_a")
        conn.execute("CREATE SCHEMA paper_b")
    envs = {
        name: {"DIGEST_DATABASE_URL": f"{pg_database}?options=-csearch_path%3D{name}"}
        for name in ("paper_a", "paper_b")
    }
    options = {
        name: [
            "--source",
            str(EXAMPLES),
            "--data",
            str(tmp_path / name),
            "--output",
            str(tmp_path / f"{name}-out"),
        ]
        for name in envs
    }
    for name, env in envs.items():
        assert digest("ingest", *options[name], cwd=tmp_path, env=env).returncode == 0
    a = ("paper_a", envs["paper_a"], options["paper_a"])
    assert digest("subscribers", "add", "a@example.org", *a[2], cwd=tmp_path, env=a[1]).returncode == 0
    made = counts(digest("backup", tmp_path / "a.dump", *a[2], cwd=tmp_path, env=a[1]))
    listed = subprocess.run(
        ["pg_restore", "--list", str(tmp_path / "a.dump")], capture_output=True, text=True
    )
    assert " paper_a articles " in listed.stdout and "paper_b" not in listed.stdout

    # After the backup: paper_b gains a reader, paper_a loses its own.
    b_env, b_options = envs["paper_b"], options["paper_b"]
    assert digest("subscribers", "add", "b@example.org", *b_options, cwd=tmp_path, env=b_env).returncode == 0
    assert digest("subscribers", "remove", "a@example.org", *a[2], cwd=tmp_path, env=a[1]).returncode == 0
    # A backup of the whole database, as pg_dump makes by hand, restores only paper_a too.
    whole = tmp_path / "whole.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={whole}", pg_database], check=True)

    for backup_file in (tmp_path / "a.dump", whole):
        restored = counts(digest("restore", backup_file, *a[2], cwd=tmp_path, env=a[1]))
        assert restored | {"bytes": 0} == made | {"bytes": 0}, backup_file  # the files' sizes differ
        listing = digest("subscribers", "list", *b_options, cwd=tmp_path, env=b_env)
        assert listing.stdout.split() == ["b@example.org", "confirmed", "all", "sections"], backup_file
        listing = digest("subscribers", "list", *a[2], cwd=tmp_path, env=a[1])
        assert listing.stdout.split()[0] == "a@example.org", backup_file


def rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every modelled table's rows, in key order, read through the models (so types compare)."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row) for row in conn.execute(sa.select(table).order_by(*table.primary_key))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_sqlite_backup_restores_into_postgresql(tmp_path: Path, pg_url: str) -> None:
    """Outgrowing one machine (docs/scaling.md): the SQLite database's backup restored with
    ``database.url`` on PostgreSQL brings every row, replacing what was there, and search finds it."""
    options = ["--source", str(EXAMPLES), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    populate(tmp_path, options)
    made = counts(digest("backup", tmp_path / "moving.sqlite3", *options, cwd=tmp_path))
    pg = {"DIGEST_DATABASE_URL": pg_url}
    pg_options = [
        "--source",
        str(EXAMPLES),
        "--data",
        str(tmp_path / "pg"),
        "--output",
        str(tmp_path / "pg-out"),
    ]
    # A PostgreSQL database already in use: the restore replaces its rows, as pg_restore --clean would.
    assert (
        digest("subscribers", "add", "stale@example.org", *pg_options, cwd=tmp_path, env=pg).returncode == 0
    )

    restored = digest("restore", tmp_path / "moving.sqlite3", *pg_options, cwd=tmp_path, env=pg)
    assert counts(restored) == made, restored.stderr
    assert rows(pg_url) == rows(f"sqlite:///{tmp_path / 'moving.sqlite3'}")
    with Store.open(pg_url) as store:
        total, hits = store.search(["图书馆"], 10, 0)
        assert total == 2 and all(
            "图书馆" in f"{entry.article.title}{entry.article.body}" for entry, _ in hits
        )
    # Nothing to read again: the page files are known, with their stamps.
    again = digest("ingest", *pg_options, cwd=tmp_path, env=pg)
    assert again.returncode == 0 and "0 read" in again.stdout, again.stdout


def test_backup_and_restore_with_postgresql_down_say_so_in_one_line(tmp_path: Path) -> None:
    # libpq puts a hint on a second, tab-indented line; the operator gets the reason in one.
    env = {"DIGEST_DATABASE_URL": f"postgresql://digest:s3cret@127.0.0.1:{_closed_port()}/digest"}
    kept = tmp_path / "kept.dump"
    kept.write_bytes(b"PGDMP")  # restore looks at the server before it reads the file
    for command, file in (("backup", tmp_path / "new.dump"), ("restore", kept)):
        result = digest(command, file, "--source", EXAMPLES, cwd=tmp_path, env=env)
        assert result.returncode != 0, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: database postgresql://") and "Connection refused" in line, line
        assert line.endswith("check database.url") and "s3cret" not in line
    assert not (tmp_path / "new.dump").exists() and kept.read_bytes() == b"PGDMP"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
