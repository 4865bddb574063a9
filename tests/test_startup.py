"""Start-up that serves: ``digest serve`` answers HTTP while it migrates, re-reads pages and publishes.

Start-up is held at its first step by holding the migration lock beside the SQLite database
(``digest.store.versioning``), the way a second instance migrating at the same moment would hold it.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from loopback import free_port
from test_migrations import empty_database  # noqa: F401 - a fixture
from test_service import ROOT, Serve

from digest.service.serve import DATABASE_RETRY_SECONDS
from digest.store.database import Store
from digest.web.server import RETRY_AFTER_SECONDS


@contextmanager
def held_migration(data: Path) -> Iterator[None]:
    data.mkdir(parents=True, exist_ok=True)
    with (data / "digest.sqlite3.migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _starting(service: Serve) -> None:
    health = service.http.get("/healthz")
    assert health.status_code == 503 and health.json() == {"status": "starting"}
    assert health.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert service.http.get("/healthz?details").json()["phase"] == "migrating the database"
    signup = service.http.post("/subscribe", data={"email": "reader@example.org"})
    assert signup.status_code == 503 and "正在启动" in signup.text


@pytest.mark.slow
def test_http_answers_while_start_up_runs(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    data = tmp_path / "data"
    with held_migration(data):
        service = Serve(tmp_path, pages, started=False)
        _starting(service)
        # Nothing was ever published: a page in Chinese that says so, and when to come back.
        front = service.http.get("/")
        assert front.status_code == 503 and "正在启动" in front.text and front.headers["retry-after"]
        assert front.headers["content-type"].startswith("text/html")
    service.wait_started()
    assert service.http.get("/").status_code == 200
    feed = service.feed()
    assert service.stop() == 0, service.log()

    with held_migration(data):
        again = Serve(tmp_path, pages, started=False)
        _starting(again)
        # The previous output is served as it was while start-up runs.
        assert again.http.get("/").status_code == 200
        assert again.feed() == feed
    again.wait_started()
    assert again.http.get("/healthz").json() == {"status": "ok"}
    assert again.stop() == 0, again.log()
    assert "Traceback" not in service.log() + again.log()


@pytest.mark.slow
def test_serve_refuses_a_newer_database_with_one_line_and_status_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = data / "digest.sqlite3"
    Store.open(f"sqlite:///{database}").close()
    with sqlite3.connect(database) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    code, error, stderr = _serve_refused(tmp_path, {})
    assert code == 2 and "revision 9999, newer than this digest" in error, stderr


def _serve_refused(home: Path, settings: dict[str, str]) -> tuple[int, str, str]:
    """``digest serve`` on an empty page folder under ``home`` with ``settings``, expected to stop at
    start-up with one plain error line: its exit status, that line, and all it wrote."""
    pages = home / "pages"
    pages.mkdir()
    folders = ["--source", str(pages), "--data", str(home / "data"), "--output", str(home / "out")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")} | settings
    result = subprocess.run(
        [sys.executable, "-m", "digest.cli", "serve", *folders, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.returncode, errors[0], result.stderr


@pytest.mark.slow
def test_four_serves_starting_at_once_on_an_empty_postgresql_database_all_come_up(
    empty_database: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """The issue's Bar: before the migration lock, 2 of 4 died creating the same tables at once."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_DATABASE_URL"] = empty_database
    ports = [free_port() for _ in range(4)]
    serves = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "digest.cli", "serve", "--port", str(port), "--source", str(pages)),
                *("--data", str(tmp_path / f"data{n}"), "--output", str(tmp_path / f"out{n}")),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, port in enumerate(ports)
    ]
    try:
        deadline = time.monotonic() + 180
        waiting = set(ports)
        while waiting:
            for serve, port in zip(serves, ports, strict=True):
                assert serve.poll() is None, serve.communicate()[1]
                try:
                    if port in waiting and httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        waiting.discard(port)
                except httpx.TransportError:
                    pass
            assert time.monotonic() < deadline, f"not up: {waiting}"
            time.sleep(0.2)
    finally:
        for serve in serves:
            serve.terminate()
        codes = [serve.wait(60) for serve in serves]
        logs = [serve.communicate()[1] for serve in serves]
    assert codes == [0, 0, 0, 0], logs
    assert not any("Traceback" in log or "duplicate key" in log for log in logs), logs


class Relay:
    """A TCP relay on a free loopback port to ``target``; closed (connections refused) until ``open``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socketserver.ThreadingTCPServer | None = None

    def open(self) -> None:
        target = self.target

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(target) as upstream:
                    ends = [self.request, upstream]
                    while True:
                        readable, _, _ = select.select(ends, [], [], 1.0)
                        for end in readable:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.request else self.request).sendall(data)

        socketserver.ThreadingTCPServer.daemon_threads = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.mark.slow
def test_serve_started_before_its_postgresql_server_waits_for_it_serving_the_previous_output(
    tmp_path: Path, pg_url: str
) -> None:
    """At boot the service can come up before PostgreSQL: it must not exit (taking the site down and
    leaving a restart loop to systemd) but serve what it had and start once the server answers."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    first = Serve(tmp_path, pages, settings={"DIGEST_DATABASE_URL": pg_url})
    feed = first.feed()
    assert first.stop() == 0, first.log()

    relay = Relay(("127.0.0.1", 5432))
    assert ":5432/" in pg_url
    try:
        service = Serve(
            tmp_path,
            pages,
            started=False,
            settings={"DIGEST_DATABASE_URL": pg_url.replace(":5432/", f":{relay.port}/")},
        )
        time.sleep(DATABASE_RETRY_SECONDS + 1)  # past a retry: still up, still waiting
        assert service.process.poll() is None, service.log()
        health = service.http.get("/healthz?details")
        assert health.status_code == 503 and health.json()["phase"] == "waiting for the database"
        assert service.feed() == feed
        waiting = [line for line in service.lines if "waiting for the database" in line]
        assert len(waiting) == 1 and "Connection refused" in waiting[0], service.log()  # said once

        relay.open()
        service.wait_started()
        assert service.http.get("/healthz").json() == {"status": "ok"}
        assert service.stop() == 0, service.log()
    finally:
        relay.close()
    assert "Traceback" not in first.log() + service.log()


@pytest.mark.slow
def test_serve_on_a_postgresql_server_that_answers_with_an_error_stops_with_the_reason(
    tmp_path: Path, pg_base: str
) -> None:
    """Waiting is for a server that does not answer yet; one that answers "no such database" (or a
    wrong password) will not mend by itself, and a service waiting forever would hide it."""
    url = pg_base.rsplit("/", 1)[0] + "/no_such_database_here"
    code, error, stderr = _serve_refused(tmp_path, {"DIGEST_DATABASE_URL": url})
    assert code == 1 and 'database "no_such_database_here" does not exist' in error, stderr
    assert "waiting for the database" not in stderr
