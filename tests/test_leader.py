"""Leader election: one PostgreSQL advisory lock decides which ``digest serve`` runs the jobs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import digest_time_long_past
from loopback import free_port, wait_for
from smtp_sink import SmtpSink
from test_pipeline import ROOT

from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.publish.digests import digest_window
from digest.service.health import JobRun, ServiceState, save_state
from digest.service.jobs import due_day
from digest.service.leader import LOCK_CLASS, AdvisoryLeader, SoleLeader, leadership, schema_key
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.store.urls import libpq_url

FAST = 0.2  # seconds between checks in the in-process tests
READERS = ("a@example.org", "b@example.org", "c@example.org")


@pytest.fixture
def leaders(pg_url: str) -> Iterator[list[AdvisoryLeader]]:
    """Make leaders on one schema with ``leaders.append``; all are closed after the test."""
    made: list[AdvisoryLeader] = []
    yield made
    for leader in made:
        leader.close()


def lock_sessions(url: str) -> list[int]:
    """Backend pids holding our advisory lock for the database and schema of ``url``: pg_locks is the
    whole server's, where other deployments (and other test runs) hold theirs."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_CLASS, schema_key(str(schema[0]))),
        ).fetchall()
    return [row[0] for row in rows]


def test_sqlite_always_leads_and_postgresql_elects() -> None:
    assert isinstance(leadership("sqlite:////tmp/x.sqlite3"), SoleLeader)
    assert leadership("sqlite:////tmp/x.sqlite3").held
    assert isinstance(leadership("postgresql+psycopg://u@h/db"), AdvisoryLeader)
    assert libpq_url("postgresql+psycopg://u@h/db?x=1") == "postgresql://u@h/db?x=1"


def test_one_leader_and_the_standby_takes_over_when_it_closes(
    pg_url: str, leaders: list[AdvisoryLeader]
) -> None:
    gains: list[str] = []
    first, second = AdvisoryLeader(pg_url, FAST), AdvisoryLeader(pg_url, FAST)
    leaders += [first, second]
    first.start(lambda: gains.append("first"))
    second.start(lambda: gains.append("second"))
    assert first.held and not second.held
    time.sleep(3 * FAST)
    assert first.held and not second.held and gains == []  # the standby keeps trying, and losing
    first.close()
    assert not first.held
    wait_for(lambda: second.held, timeout=5)
    # A gain after start is announced (the service schedules its take-over then); the first one is not.
    assert gains == ["second"]


def test_a_leader_whose_session_dies_steps_down_and_another_takes_over(
    pg_url: str, leaders: list[AdvisoryLeader]
) -> None:
    first, second = AdvisoryLeader(pg_url, FAST), AdvisoryLeader(pg_url, FAST)
    leaders += [first, second]
    first.start(lambda: None)
    second.start(lambda: None)
    (pid,) = lock_sessions(pg_url)
    with psycopg.connect(libpq_url(pg_url), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: not first.held and second.held, timeout=5)
    time.sleep(3 * FAST)
    assert not first.held and second.held  # the old leader reconnected, but as a standby
    assert len(lock_sessions(pg_url)) == 1


def test_deployments_in_other_schemas_elect_their_own_leaders(
    pg_url: str, pg_base: str, leaders: list[AdvisoryLeader]
) -> None:
    here = AdvisoryLeader(pg_url, FAST)
    public = AdvisoryLeader(pg_base, FAST)  # search_path defaults to public
    leaders += [here, public]
    here.start(lambda: None)
    public.start(lambda: None)
    assert here.held and public.held


def test_an_unreachable_database_means_standby_not_a_crash(leaders: list[AdvisoryLeader]) -> None:
    nowhere = AdvisoryLeader("postgresql://postgres@127.0.0.1:1/test", FAST)
    leaders.append(nowhere)
    nowhere.start(lambda: None)
    time.sleep(2 * FAST)
    assert not nowhere.held


# --- two ``digest serve`` processes on one database -----------------------------------------------

PAGE = "● 要闻\n\n# {title}\n\n正文。\n"


class Instance:
    """One ``digest serve`` with its own data folder (its lock and log) and port, sharing the rest."""

    def __init__(self, tmp_path: Path, name: str, environ: dict[str, str]) -> None:
        self.port = free_port()
        self.log = tmp_path / f"{name}.log"
        argv = [sys.executable, "-m", "digest.cli", "serve", "--data", str(tmp_path / name)]
        argv += ["--source", str(tmp_path / "pages"), "--output", str(tmp_path / "output")]
        argv += ["--port", str(self.port), "--log-level", "info"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(argv, cwd=tmp_path, env=environ, stderr=log)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

    def up(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def feed(self) -> str:
        return self.http.get("/feeds/all.atom").text

    def logged(self, logger: str) -> bool:
        return f" {logger}: " in self.log.read_text()

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.mark.slow
def test_two_serves_share_one_database_and_the_standby_takes_over_after_sigkill(
    tmp_path: Path, pg_url: str
) -> None:
    shutil.copytree(ROOT / "examples" / "pages", tmp_path / "pages")
    # The digest the first leader sends, and the one the second finds sent, is the one seeded here.
    digest_time = digest_time_long_past()
    overrides = {
        "paths.source": tmp_path / "pages",
        "paths.data": tmp_path / "seed",
        "paths.output": tmp_path / "output",
        "database.url": pg_url,
        "schedule.digest_time": digest_time,
    }
    config = load_config(None, overrides, {})
    now = datetime.now(UTC)
    # Pages read an hour before the digest now due, by three readers: the first leader sends it.
    _, until = digest_window(due_day(config, now), config.digest_clock, config.tz, None)
    with Store.open(pg_url) as store:
        seeded = ingest(config, store, until - timedelta(hours=1)).new
        for reader in READERS:
            store.add_subscriber(Subscriber(reader, (), True, now))
    assert seeded > 0

    with SmtpSink() as sink:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        environ |= {"DIGEST_DATABASE_URL": pg_url, "DIGEST_SMTP_HOST": sink.host}
        environ |= {"DIGEST_SMTP_PORT": str(sink.port), "DIGEST_SMTP_SECURITY": "none"}
        environ |= {"DIGEST_SCHEDULE_DIGEST_TIME": digest_time}
        # The example issues are of 2024 and the clock is real: every issue is mailed, however old.
        environ |= {"DIGEST_DIGEST_BACKFILL_DAYS": "36500"}
        first = Instance(tmp_path, "first", environ)
        second: Instance | None = None
        try:
            wait_for(first.up)
            wait_for(lambda: len(sink.messages) == len(READERS))  # the missed digest, on start-up
            second = Instance(tmp_path, "second", environ)
            wait_for(second.up)
            assert "standby: another instance leads" in second.log.read_text()
            # Both serve the shared output folder.
            assert (
                first.http.get("/feeds/all.atom").headers["etag"]
                == (second.http.get("/feeds/all.atom").headers["etag"])
            )

            (tmp_path / "pages" / "2024-11-29_01.txt").write_text(PAGE.format(title="领头实例收录的稿件"))
            wait_for(lambda: "领头实例收录的稿件" in second.feed())
            assert not second.logged("digest.ingest.pipeline") and not second.logged("digest.publish.build")

            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
            killed = time.monotonic()
            # Dropped while nobody leads: the new leader's take-over rescan must find it.
            (tmp_path / "pages" / "2024-11-30_01.txt").write_text(PAGE.format(title="交接期间送来的稿件"))
            wait_for(lambda: "交接期间送来的稿件" in second.feed(), timeout=30)
            assert time.monotonic() - killed < 30
            assert "leader: this instance now runs" in second.log.read_text()
            assert second.logged("digest.ingest.pipeline")

            with Store.open(pg_url) as store:
                titles = {entry.article.title for entry in store.entries()}
                assert {"领头实例收录的稿件", "交接期间送来的稿件"} <= titles
                assert store.status().articles == seeded + 2
            # The new leader's catch-up found the digest made and delivered: nobody gets it twice.
            received = Counter(r for message in sink.messages for r in message.recipients)
            assert received == Counter(READERS)

            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(timeout=30) == 0, second.log.read_text()
            assert "Traceback" not in second.log.read_text() + first.log.read_text()
        finally:
            first.stop()
            if second is not None:
                second.stop()


def _status(tmp_path: Path, name: str, environ: dict[str, str], *options: str) -> str:
    """``digest status`` run beside the instance ``name`` (its data folder), as an operator would."""
    argv = [sys.executable, "-m", "digest.cli", "status", "--data", str(tmp_path / name), *options]
    argv += ["--source", str(tmp_path / "pages"), "--output", str(tmp_path / "output")]
    done = subprocess.run(argv, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _two_instances_setting(tmp_path: Path, pg_url: str) -> dict[str, str]:
    """The example pages in ``tmp_path/pages``, and the environment of instances sharing ``pg_url``."""
    shutil.copytree(ROOT / "examples" / "pages", tmp_path / "pages")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return environ | {"DIGEST_DATABASE_URL": pg_url, "DIGEST_INGEST_SETTLE_SECONDS": "0.5"}


@pytest.mark.slow
def test_status_beside_a_standby_says_it_runs_as_one(tmp_path: Path, pg_url: str) -> None:
    """A standby saved no state until it led, so its machine's ``digest status`` said the service
    "has never run with this data folder" while it served, and ``/healthz?details`` had no role."""
    environ = _two_instances_setting(tmp_path, pg_url)
    first = Instance(tmp_path, "first", environ)
    second: Instance | None = None
    try:
        wait_for(first.up)
        second = Instance(tmp_path, "second", environ)
        wait_for(second.up)
        # Saved at start with no role (``leading`` null) until start-up tried for the lead.
        wait_for(lambda: json.loads(_status(tmp_path, "second", environ, "--json"))["leading"] is False)
        text = _status(tmp_path, "second", environ)
        assert f"service: running (pid {second.process.pid})" in text and "role: standby" in text, text
        assert json.loads(_status(tmp_path, "second", environ, "--json"))["leading"] is False
        assert "role:" not in _status(tmp_path, "first", environ)
        assert second.http.get("/healthz?details").json()["leading"] is False
        assert first.http.get("/healthz?details").json()["leading"] is True

        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        wait_for(lambda: second.http.get("/healthz?details").json()["leading"], timeout=30)
        wait_for(lambda: json.loads(_status(tmp_path, "second", environ, "--json"))["leading"], timeout=30)
        assert "role:" not in _status(tmp_path, "second", environ)
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.slow
def test_a_standby_keeps_the_runs_it_made_when_it_led_but_none_of_their_failures(
    tmp_path: Path, pg_url: str
) -> None:
    """``first`` led before its restart (its health.json, as the service saves it): its ingest ended
    well, its prune failed.  Restarted as a standby, it shows that ingest, as after any restart;
    but it runs no job, so the prune failure would never be replaced and would keep it degraded for
    as long as it stands by, and again once it leads until its nightly prune: it is dropped."""
    environ = _two_instances_setting(tmp_path, pg_url)
    ended = datetime.now(UTC) - timedelta(hours=2)
    ingested = JobRun(ended, 30, {"files": 3, "read": 3, "failed": 0, "new": 7, "changed": 0})
    refused = JobRun(ended, 5, {}, "cannot remove dry-runs/2024-01-01 (Read-only file system)")
    runs = {"ingest": ingested, "prune": refused}
    (tmp_path / "first").mkdir()
    save_state(tmp_path / "first", ServiceState(4242, ended - timedelta(days=1), runs, 0, ()))
    second = Instance(tmp_path, "second", environ)
    first: Instance | None = None
    try:
        wait_for(second.up)
        first = Instance(tmp_path, "first", environ)
        wait_for(first.up)
        # Saved at start with its pid and no role yet; saved as a standby once start-up tried to lead.
        wait_for(lambda: json.loads(_status(tmp_path, "first", environ, "--json"))["leading"] is False)
        health = json.loads(_status(tmp_path, "first", environ, "--json"))
        assert health["pid"] == first.process.pid and health["status"] == "ok", health
        assert health["last_ingest"]["at"] == ended.isoformat() and health["last_prune"] is None, health
        assert health["last_ingest"]["carried"] is True, health
        assert first.http.get("/healthz").json() == {"status": "ok"}

        second.process.send_signal(signal.SIGKILL)
        second.process.wait()
        wait_for(lambda: first.http.get("/healthz?details").json()["leading"], timeout=30)
        assert first.http.get("/healthz?details").json()["errors"] == []
    finally:
        second.stop()
        if first is not None:
            first.stop()
