"""Shared fixtures: a fixed clock, the seed pages, SQLite and PostgreSQL stores, a ready configuration."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis
import psycopg
import pytest
import repeatable
from golden import Golden
from smtp_sink import SmtpSink

from digest.config import Config
from digest.config_checks import load_config
from digest.store.database import Store

SHARED = Path(__file__).resolve().parents[2] / "shared"
# Pages the tests write in place settle this fast (the default, 5 s, would slow every test down).
SETTLE_SECONDS = 0.5
PG_URLS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")

# The signing secret of ``mailing``: links in its emails can be checked against it.
MAIL_SECRET = "s" * 32

# 2024-11-27 09:30 in Asia/Shanghai: after that day's 07:00 digest.
NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)

# Before any test module is imported: their @settings build on the profile loaded now.
repeatable.load()


def digest_time_long_past() -> str:
    """A ``schedule.digest_time`` six hours before the real clock, for tests whose ``digest`` commands
    run on it: every run makes or finishes the digest the test seeded, whenever the test runs.  With
    the default (07:00 in Shanghai, 23:00 UTC) a run crossing it made the next day's digest instead."""
    local = datetime.now(UTC).astimezone(Config().tz) - timedelta(hours=6)
    return local.strftime("%H:%M")


def pytest_report_header() -> str:
    """The Hypothesis version and profile: the examples a run drew follow from them and the commit."""
    return f"hypothesis {hypothesis.__version__}, profile {hypothesis.settings.get_current_profile_name()!r}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from what the code produces now, instead of comparing with it",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compares produced files with ``tests/golden/`` (``--update-golden`` rewrites them)."""
    return Golden(update=bool(request.config.getoption("--update-golden")))


@pytest.fixture
def now() -> datetime:
    """The fixed clock every job test runs on."""
    return NOW


@pytest.fixture
def seeds() -> Path:
    """The five real seed pages (read-only; never copied into the project)."""
    folder = SHARED / "seeds"
    if not folder.is_dir():
        pytest.skip(f"seed pages not found at {folder} (the ../shared checkout is missing)")
    return folder


def _pg_base() -> str | None:
    for url in PG_URLS:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return url
        except psycopg.Error:
            continue
    return None


@pytest.fixture(scope="session")
def pg_base() -> str:
    """A reachable PostgreSQL URL, or the PostgreSQL tests are skipped with the reason."""
    url = _pg_base()
    if url is None and os.environ.get("REQUIRE_POSTGRESQL"):
        pytest.fail(f"PostgreSQL is not reachable at {' or '.join(PG_URLS)} and REQUIRE_POSTGRESQL is set")
    if url is None:
        pytest.skip(f"PostgreSQL is not reachable at {' or '.join(PG_URLS)} (start it to run these tests)")
    return url


@pytest.fixture
def pg_schema(pg_base: str) -> Iterator[Callable[[], str]]:
    """Makes URLs whose connections each use a fresh schema; all are dropped after the test."""
    made: list[str] = []

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return f"{pg_base}?options=-csearch_path%3D{schema}"

    yield make
    with psycopg.connect(pg_base, autocommit=True) as conn:
        for schema in made:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_url(pg_schema: Callable[[], str]) -> str:
    """A URL whose connections use a fresh schema, dropped after the test."""
    return pg_schema()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: every test that uses it runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def folders_config(root: Path, overrides: Mapping[str, object] | None = None) -> Config:
    """A valid configuration whose source (made here when missing), data and output folders are
    ``pages``, ``data`` and ``output`` under ``root``; ``overrides`` ("table.key" → value) go on top."""
    source = root / "pages"
    source.mkdir(parents=True, exist_ok=True)
    folders = {"paths.source": source, "paths.data": root / "data", "paths.output": root / "output"}
    return load_config(None, {**folders, **(overrides or {})}, {})


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    """A valid configuration with source, data and output folders under ``tmp_path``, on ``database_url``."""
    return folders_config(tmp_path, {"database.url": database_url, "ingest.settle_seconds": SETTLE_SECONDS})


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    """The store of ``config``: the same tests on a SQLite file and on PostgreSQL."""
    with Store.open(config.database_url) as opened:
        yield opened


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback (``tests/smtp_sink.py``) for the test's length."""
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mailing(config: Config, sink: SmtpSink) -> Config:
    """``config`` sending through ``sink``, its links signed with ``MAIL_SECRET``."""
    smtp = dataclasses.replace(config.smtp, host=sink.host, port=sink.port, security="none")
    return dataclasses.replace(
        config, smtp=smtp, server=dataclasses.replace(config.server, secret=MAIL_SECRET)
    )
