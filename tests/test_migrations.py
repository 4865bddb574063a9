"""The schema under version control: older databases upgrade and keep their rows, newer ones are refused,
read-only commands write nothing, several instances starting at once on an empty database all come up."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from digest.cli import main
from digest.errors import SchemaError, StoreError
from digest.paper.slugs import slugify
from digest.paper.variants import simplified
from digest.service.datalock import data_lock
from digest.service.leader import AdvisoryLeader
from digest.store import search_index
from digest.store import versioning as schema
from digest.store.database import Store, database_file
from digest.store.schema import metadata
from digest.store.urls import normalize_url
from digest.types import Section

ROOT = Path(__file__).resolve().parent.parent
# Release 0.1.0's DDL, as its ``metadata.create_all`` emitted it (``git show 26954e5:digest/store.py``;
# ``{ts}`` is DATETIME on SQLite, TIMESTAMP on PostgreSQL), and rows such a database held.
V010_TABLES = """
CREATE TABLE sources (path TEXT NOT NULL PRIMARY KEY, content_hash VARCHAR(64) NOT NULL,
    size INTEGER NOT NULL, mtime {ts} NOT NULL, last_error TEXT, seen_at {ts} NOT NULL);
CREATE TABLE articles (uid VARCHAR(40) NOT NULL PRIMARY KEY, tag TEXT NOT NULL UNIQUE,
    issue_date DATE NOT NULL, section_name TEXT NOT NULL, section_slug TEXT NOT NULL,
    position INTEGER NOT NULL, title TEXT, kicker TEXT, subtitle TEXT, credits TEXT NOT NULL,
    date VARCHAR(5), place TEXT, kind VARCHAR(20) NOT NULL, body TEXT NOT NULL, notes TEXT NOT NULL,
    jumps TEXT NOT NULL, content_hash VARCHAR(64) NOT NULL, source TEXT NOT NULL,
    published {ts} NOT NULL, updated {ts} NOT NULL, first_seen {ts} NOT NULL, seq BIGINT);
CREATE INDEX articles_feed_order ON articles (first_seen, issue_date, position, uid);
CREATE INDEX articles_section_feed_order ON articles
    (section_slug, first_seen, issue_date, position, uid);
CREATE INDEX articles_section_paper_order ON articles (section_slug, issue_date, position, uid);
CREATE INDEX ix_articles_first_seen ON articles (first_seen);
CREATE INDEX ix_articles_issue_date ON articles (issue_date);
CREATE INDEX ix_articles_seq ON articles (seq);
CREATE TABLE counters (name VARCHAR(40) NOT NULL PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE digests (day DATE NOT NULL PRIMARY KEY, since {ts} NOT NULL, until {ts} NOT NULL,
    made_at {ts} NOT NULL, count INTEGER NOT NULL);
CREATE TABLE publish_state (name VARCHAR(40) NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE published_digests (day DATE NOT NULL PRIMARY KEY, until {ts} NOT NULL);
CREATE TABLE published_entries (uid VARCHAR(40) NOT NULL PRIMARY KEY, content_hash VARCHAR(64) NOT NULL,
    section_slug TEXT NOT NULL);
CREATE TABLE subscribers (email TEXT NOT NULL PRIMARY KEY, sections TEXT NOT NULL, confirmed BOOLEAN NOT NULL,
    created {ts} NOT NULL, confirm_sent_at {ts}, confirmed_at {ts});
CREATE TABLE deliveries (day DATE NOT NULL, email TEXT NOT NULL,
    status VARCHAR(10) NOT NULL, attempts INTEGER NOT NULL, last_error TEXT, sent_at {ts},
    next_attempt_at {ts}, PRIMARY KEY (day, email),
    FOREIGN KEY(day) REFERENCES digests (day) ON DELETE CASCADE);
CREATE INDEX deliveries_status ON deliveries (status, next_attempt_at);
"""
V010_ROWS = """
INSERT INTO counters VALUES ('articles', 2);
INSERT INTO sources VALUES
    ('2024-01-02/01.txt', 'h1', 10, '2024-01-02 01:00:00', NULL, '2024-01-02 01:00:00');
INSERT INTO articles VALUES ('a1', 'tag:x,2024:a1', '2024-01-02', '要闻', 'yaowen', 1, '标题一', NULL, NULL,
    '[]', NULL, NULL, 'news', '正文一', '[]', '[]', 'c1', '2024-01-02/01.txt',
    '2024-01-02 01:00:00', '2024-01-02 01:00:00', '2024-01-02 01:00:00', 1);
INSERT INTO articles VALUES ('a2', 'tag:x,2024:a2', '2024-01-02', '要闻', 'yaowen', 2, '标题二', NULL, NULL,
    '[]', NULL, NULL, 'news', '正文二', '[]', '[]', 'c2', '2024-01-02/01.txt',
    '2024-01-02 01:00:00', '2024-01-02 01:00:00', '2024-01-02 01:00:00', 2);
INSERT INTO digests VALUES
    ('2024-01-02', '2024-01-01 00:00:00', '2024-01-02 00:00:00', '2024-01-02 00:00:00', 2);
INSERT INTO subscribers VALUES ('reader@example.org', '[]', TRUE, '2024-01-01 00:00:00', NULL,
    '2024-01-01 00:00:00');
INSERT INTO subscribers VALUES ('new@example.org', '[]', FALSE, '2024-01-01 00:00:00', NULL, NULL);
INSERT INTO deliveries VALUES
    ('2024-01-02', 'reader@example.org', 'sent', 1, NULL, '2024-01-02 00:00:00', NULL);
"""
COUNTED = ("sources", "articles", "digests", "subscribers", "deliveries")


@pytest.fixture
def url(database_url: str) -> str:
    """An empty database on each engine (conftest's ``database_url``), its folder made."""
    folder = database_file(database_url)
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
    return database_url


def _execute(url: str, script: str) -> None:
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        timestamp = "DATETIME" if conn.dialect.name == "sqlite" else "TIMESTAMP"
        for statement in script.replace("{ts}", timestamp).split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        counts = {
            name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one() for name in COUNTED
        }
    engine.dispose()
    return counts


def _diff(url: str) -> list[object]:
    """What autogenerate would still change: empty when the migrations made exactly the models."""
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        options = {"compare_type": True, "include_object": schema.modelled}
        diff = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    engine.dispose()
    return list(diff)


def _to(url: str, revision: str) -> None:
    """Run the migrations up to ``revision`` only, as a database left at that step."""
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        command.upgrade(schema._alembic(conn), revision)
    engine.dispose()


def test_a_010_database_upgrades_and_keeps_its_rows(url: str) -> None:
    _execute(url, V010_TABLES + V010_ROWS)
    before = _counts(url)
    with Store.open(url) as store:
        assert store.schema is not None and store.schema.current == schema.head_revision()
        assert [entry.uid for entry in store.entries()] == ["a1", "a2"]
        people = {person.email: person for person in store.subscribers(confirmed_only=False)}
        assert people["reader@example.org"].state.value == "confirmed"
        assert people["new@example.org"].state.value == "pending"
        assert all(person.key for person in people.values())
        assert [row.status for row in store.deliveries(date(2024, 1, 2))] == ["sent"]
        # 0.1.0 made slugs without hyphens: a new page's 要闻 joins the section it has, at its URLs.
        assert store.filed_sections(["要闻"], slugify, simplified) == {"要闻": Section("要闻", "yaowen")}
    assert (
        _counts(url)
        == before
        == {"sources": 1, "articles": 2, "digests": 1, "subscribers": 2, "deliveries": 1}
    )
    assert _diff(url) == []


def test_an_unversioned_database_of_a_later_build_is_recognised(url: str) -> None:
    """A build between 0.1.0 and versioning made today's tables itself: stamped current, not migrated."""
    search = importlib.import_module("digest.store.migrations.versions.0003_captions_search")
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        metadata.create_all(conn)
        for statement in search.POSTGRESQL if conn.dialect.name == "postgresql" else search.SQLITE:
            conn.exec_driver_sql(statement)  # the search index, which that build made on open too
    engine.dispose()
    with Store.open(url, migrate=False) as store:
        before, after = store.migrate()
    assert (before.current, before.versioned, after) == (
        schema.head_revision(),
        False,
        schema.head_revision(),
    )
    assert _diff(url) == []


def test_an_unversioned_database_without_the_search_index_is_migrated_to_it(url: str) -> None:
    """A build from before search matches the models but lacks the index: upgraded, not stamped."""
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        metadata.create_all(conn)
    engine.dispose()
    with Store.open(url, migrate=False) as store:
        before, after = store.migrate()
        assert store.search(["草原"], 10, 0)[0] == 0  # the index exists and answers
    assert (before.current, after) == (schema.BASELINE, schema.head_revision())


@pytest.mark.parametrize("revision", schema.revisions())
def test_a_database_at_each_step_upgrades(url: str, revision: str) -> None:
    _to(url, revision)
    with Store.open(url) as store:
        assert store.schema is not None and store.schema.current == schema.head_revision()
        assert store.status().articles == 0
    assert _diff(url) == []


def test_revision_0008_tells_the_subscribers_of_a_section_emptied_before_it(url: str) -> None:
    """``section_notices`` starts empty: whoever chose a section no article is filed under any more
    is told at the next digest run, once."""
    _to(url, "0007")
    _execute(
        url,
        "INSERT INTO sections (name, slug) VALUES ('城市生活', 'cheng-shi-sheng-huo');"
        "INSERT INTO subscribers (email, sections, confirmed, created, key, status) VALUES"
        " ('reader@example.org', '[\"cheng-shi-sheng-huo\"]', TRUE, '2024-01-01 00:00:00',"
        " 'k1', 'confirmed');",
    )
    with Store.open(url) as store:
        city = Section("城市生活", "cheng-shi-sheng-huo")
        assert store.emptied_to_tell() == {"reader@example.org": (city,)}
        store.record_told("reader@example.org", [city.slug], datetime(2024, 1, 2, tzinfo=UTC))
        assert store.emptied_to_tell() == {}
    assert _diff(url) == []


def test_revision_0009_lets_a_notice_waiting_from_before_it_be_claimed_once(url: str) -> None:
    """A subscription email queued by the older version is claimed by one sender after the upgrade."""
    _to(url, "0008")
    _execute(
        url,
        "INSERT INTO notices (email, kind, status, attempts, created) VALUES"
        " ('reader@example.org', 'confirm', 'failed', 1, '2024-01-01 00:00:00');",
    )
    with Store.open(url) as store:
        (notice,) = store.due_notices(datetime(2024, 1, 2, tzinfo=UTC))
        assert (notice.claim, notice.claimed_at) == (None, None)
        at = datetime(2024, 1, 2, tzinfo=UTC)
        assert store.claim_notice(notice, "one", at) and not store.claim_notice(notice, "two", at)
        (claimed,) = store.notices()
        assert (claimed.status, claimed.claim, claimed.claimed_at) == ("claimed", "one", at)
    assert _diff(url) == []


def test_revision_0010_has_a_file_refused_for_its_encoding_before_it_read_again_once(url: str) -> None:
    """The setting a refusal from before it was made under is not known: a refusal for the encoding is
    taken for one made under another setting, so the next scan reads it again; any other stays."""
    _to(url, "0009")
    _execute(
        url,
        "INSERT INTO sources (path, content_hash, size, mtime, last_error, seen_at, parser_version, stamp)"
        " VALUES ('big5.txt', 'a', 1, '2024-01-01 00:00:00', 'may be Big5 text, or name its encoding in"
        " ingest.encoding', '2024-01-01 00:00:00', 'v', 's1'), ('empty.txt', 'b', 1, '2024-01-01 00:00:00',"
        " 'empty file', '2024-01-01 00:00:00', 'v', 's2');",
    )
    with Store.open(url) as store:
        assert store.source_stamps("v", "") == {"empty.txt": "s2"}
        assert store.source_stamps("v", "big5") == {"empty.txt": "s2"}
    assert _diff(url) == []


def test_the_models_and_the_migrations_agree(url: str) -> None:
    Store.open(url).close()
    assert _diff(url) == []


@pytest.fixture
def twin_url(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second empty database on the engine of ``url``."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'twin.sqlite3'}"
    make: Callable[[], str] = request.getfixturevalue("pg_schema")
    return make()


def _shape(url: str) -> dict[str, object]:
    """Everything a database's schema says, as reflected (column order aside: a migration adds a
    column at the end), with the rows of the tables a new database starts with rows in."""
    engine = sa.create_engine(normalize_url(url))
    shape: dict[str, object] = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in inspector.get_table_names():
            columns = inspector.get_columns(table)
            shape[table] = {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in columns
                ),
                "primary key": inspector.get_pk_constraint(table),
                "foreign keys": sorted(repr(sorted(fk.items())) for fk in inspector.get_foreign_keys(table)),
                "indexes": sorted(repr(sorted(ix.items())) for ix in inspector.get_indexes(table)),
                "unique": sorted(repr(sorted(u.items())) for u in inspector.get_unique_constraints(table)),
                "checks": sorted(repr(sorted(c.items())) for c in inspector.get_check_constraints(table)),
            }
        if conn.dialect.name == "sqlite":
            # FTS5 tables and their shadow tables: reflection sees columns, their DDL says the rest.
            ddl = "SELECT name, sql FROM sqlite_master WHERE name LIKE 'search%' ORDER BY name"
            shape["search DDL"] = [tuple(row) for row in conn.exec_driver_sql(ddl)]
        for table in ("counters", "alembic_version"):
            rows = conn.execute(sa.text(f"SELECT * FROM {table}"))
            shape[f"{table} rows"] = sorted(tuple(row) for row in rows)
    engine.dispose()
    return shape


def test_an_empty_database_gets_what_running_every_migration_makes(url: str, twin_url: str) -> None:
    """A new database is made from the models at once, without Alembic: the same schema, rows and
    revision as the migrations run from nothing, so every later upgrade starts from the same place."""
    Store.open(url).close()
    _to(twin_url, "head")
    made, migrated = _shape(url), _shape(twin_url)
    assert made == migrated
    assert {"articles", "search_docs", "alembic_version"} <= made.keys()
    assert made["alembic_version rows"] == [(schema.head_revision(),)]
    assert made["counters rows"] == [("articles", 0)]
    # Alembic reads the revision it would have written itself.
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == schema.head_revision()
    engine.dispose()


def test_a_new_database_failing_halfway_is_left_empty(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure (a full disk, or a kill) between the models' tables and the rest leaves no half-made
    schema, which a later start would refuse as tables no release made: the next start makes it all."""

    def full_disk(conn: sa.Connection) -> None:
        raise sa.exc.OperationalError("CREATE VIRTUAL TABLE", {}, Exception("database or disk is full"))

    monkeypatch.setattr(search_index, "create", full_disk)
    with pytest.raises(StoreError, match="disk is full"):
        Store.open(url)
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()
    monkeypatch.undo()
    Store.open(url).close()
    assert _diff(url) == []


def test_a_new_database_killed_halfway_is_left_empty(url: str) -> None:
    probe = (
        "import os, signal, sys; from digest.store import search_index; "
        "search_index.create = lambda conn: os.kill(os.getpid(), signal.SIGKILL); "
        "from digest.store.database import Store; Store.open(sys.argv[1])"
    )
    killed = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, timeout=60, cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    engine = sa.create_engine(normalize_url(url))
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()
    Store.open(url).close()
    assert _diff(url) == []


def test_an_upgrade_killed_halfway_leaves_the_database_as_it_was(url: str, twin_url: str) -> None:
    """Killed at its second statement (the first changed the schema), the upgrade from 0003 leaves no
    trace: the database is as one left at 0003, and the next start upgrades it."""
    _to(url, "0003")
    _to(twin_url, "0003")
    probe = (
        "import itertools, os, signal, sys; from alembic.ddl import impl; "
        "run, calls = impl.DefaultImpl._exec, itertools.count(1); "
        "impl.DefaultImpl._exec = lambda self, *a, **k: "
        "os.kill(os.getpid(), signal.SIGKILL) if next(calls) == 2 else run(self, *a, **k); "
        "from digest.store.database import Store; Store.open(sys.argv[1])"
    )
    killed = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, timeout=60, cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _shape(url) == _shape(twin_url)
    Store.open(url).close()
    assert _diff(url) == []


def test_a_newer_database_is_refused_with_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(url).close()
    _execute(url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match="revision 9999, newer than this digest"):
        Store.open(url)
    with pytest.raises(SchemaError):
        Store.open(url, readonly=True)
    assert main(["migrate", "--data", str(tmp_path), "--config", _config(tmp_path, url)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "9999" in err and schema.head_revision() in err


def _config(tmp_path: Path, url: str) -> str:
    path = tmp_path / "config.toml"
    (tmp_path / "pages").mkdir(exist_ok=True)
    path.write_text(
        f'[paths]\nsource = "{tmp_path / "pages"}"\ndata = "{tmp_path}"\noutput = "{tmp_path / "out"}"\n'
        f'[database]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return str(path)


def test_migrate_says_from_and_to(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, url)
    assert main(["migrate", "--check", "--config", config]) == 1
    assert "empty" in capsys.readouterr().out
    _execute(url, V010_TABLES + V010_ROWS)
    assert main(["migrate", "--check", "--config", config]) == 1
    assert "0001 (unversioned, recognised)" in capsys.readouterr().out
    assert main(["migrate", "--config", config]) == 0
    assert f"0001 → {schema.head_revision()}" in capsys.readouterr().out
    assert main(["migrate", "--check", "--config", config]) == 0
    assert "current" in capsys.readouterr().out
    assert main(["migrate", "--config", config]) == 0
    assert "already" in capsys.readouterr().out


def test_migrate_waits_for_the_older_serve_to_stop(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's upgrade let `digest migrate` run beside a `digest serve` of the older version:
    the tables changed under it, and on PostgreSQL it (or an older standby taking the lead) went on
    running jobs, and sending without the new version's safeguards, against a schema it did not know."""
    _execute(url, V010_TABLES + V010_ROWS)
    config = _config(tmp_path, url)
    with contextlib.ExitStack() as running:
        if url.startswith("sqlite"):
            running.enter_context(data_lock(tmp_path))  # what a serve on this data folder holds
        else:
            leader = running.enter_context(AdvisoryLeader(url))  # a serve leading on the database
            leader.start(lambda: None)
            assert leader.held
        assert main(["migrate", "--config", config]) == 2
        err = capsys.readouterr().err
        assert "before upgrading the database schema" in err and err.count("\n") == 1, err
        assert main(["migrate", "--check", "--config", config]) == 1  # nothing was upgraded
    assert main(["migrate", "--config", config]) == 0
    assert f"0001 → {schema.head_revision()}" in capsys.readouterr().out


def _fingerprint(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_status_and_check_never_write_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.sqlite3'}"
    _execute(url, V010_TABLES + V010_ROWS)
    database = tmp_path / "digest.sqlite3"
    before = _fingerprint(database)
    config = _config(tmp_path, url)
    # An old database: status says to migrate, check only warns; neither upgrades it.
    assert main(["status", "--config", config]) == 2
    assert main(["check", "--config", config]) == 0
    assert main(["migrate", "--check", "--config", config]) == 1
    assert _fingerprint(database) == before
    # Nor does migrate --check make a mistyped data folder.
    assert main(["migrate", "--check", "--config", config, "--data", str(tmp_path / "typo")]) == 1
    assert not (tmp_path / "typo").exists()
    main(["migrate", "--config", config])
    before = _fingerprint(database)
    assert main(["status", "--config", config]) == 0
    assert main(["check", "--config", config]) == 0
    assert _fingerprint(database) == before


def _catalog(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT c.relname, c.relkind, a.attname, a.atttypid FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
        " WHERE n.nspname = current_schema() ORDER BY 1, 3"
    ).fetchall()


def test_status_and_check_never_write_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    _execute(pg_url, V010_TABLES + V010_ROWS)
    config = _config(tmp_path, pg_url)
    with psycopg.connect(pg_url) as conn:
        before = _catalog(conn)
        assert main(["status", "--config", config]) == 2
        assert main(["check", "--config", config]) == 0
        assert _catalog(conn) == before
    assert "alembic_version" not in {str(row[0]) for row in before}


def test_a_search_path_naming_no_schema_says_how_to_make_it(
    pg_base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment sharing a database in its own schema (docs/scaling.md) before the schema is made:
    check and migrate --check called the database fine and empty, then migrate, serve, backup and
    restore failed with PostgreSQL's "no schema has been selected to create in"."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    config = _config(tmp_path, f"{pg_base}?options=-csearch_path%3D{name}")
    fix = f"CREATE SCHEMA {name} AUTHORIZATION "
    assert main(["check", "--config", config]) == 2
    assert fix in capsys.readouterr().err
    for argv in (["migrate", "--check"], ["migrate"], ["backup", str(tmp_path / "x.bak")]):
        assert main([*argv, "--config", config]) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fix in err and "search_path" in err, (argv, err)
    with psycopg.connect(pg_base) as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", (name,)).fetchone() == (None,)


@pytest.fixture
def empty_database(pg_base: str) -> Iterator[str]:
    """A PostgreSQL database of its own, created for the test and dropped after it."""
    name = f"digest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_four_instances_starting_at_once_all_come_up(empty_database: str, tmp_path: Path) -> None:
    """Before the migration lock, 2 of 4 died on a duplicate key in pg_type while creating tables."""
    config = _config(tmp_path, empty_database)
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "digest.cli", "migrate", "--config", config],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for _ in range(4)
    ]
    results = [(start.wait(timeout=120), *start.communicate()) for start in starts]
    assert [code for code, _out, _err in results] == [0, 0, 0, 0], results
    outputs = sorted(out.strip() for _code, out, _err in results)
    head = schema.head_revision()
    assert outputs == [*[f"database schema: already at {head}"] * 3, f"database schema: empty → {head}"]
    assert _diff(empty_database) == []


def test_tables_no_release_made_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.sqlite3'}"
    _execute(url, "CREATE TABLE subscribers (email TEXT PRIMARY KEY, sections TEXT NOT NULL)")
    with pytest.raises(SchemaError, match="not made by a digest release"):
        Store.open(url)


def test_the_revisions_read_from_file_names_are_alembics_chain() -> None:
    # A current database is recognised without importing Alembic, from the migration files' names.
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(schema.MIGRATIONS))
    chain = [script.revision for script in scripts.walk_revisions()][::-1]
    assert list(schema.revisions()) == chain
    assert schema.head_revision() == scripts.get_current_head()


def test_a_current_database_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    Store.open(url).close()
    probe = (
        "import sys; from digest.store.database import Store; Store.open(sys.argv[1]).close(); "
        "print(any(name == 'alembic' or name.startswith('alembic.') for name in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
