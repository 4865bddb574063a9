"""Environment faults: the output folder read-only or full, the database locked or gone.

The output folder is a real size-limited tmpfs mounted for the test (tests run as root); a read-only
folder is that tmpfs remounted ``ro``, a full one is that tmpfs filled up.  Where mounting is not
allowed, the same errors (EROFS, ENOSPC) are raised at the write boundary instead, and the test says
so in its output.  Either way the service's own start-up and job code runs (``service.Runner``) and a
real uvicorn serves the folder while it is broken.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from badfiles import good_page
from loopback import wait_for
from test_server import serving
from test_service import Serve

from digest.config import Config
from digest.config_checks import load_config
from digest.mail.transports import OutboxMailer
from digest.service.metrics import Metrics
from digest.service.retention import DRY_RUN
from digest.service.runner import Runner
from digest.store.database import Store
from digest.web.server import create_app

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A 4 MB tmpfs for the output folder (mounted: True), or a plain folder where mounting is refused."""
    yield from _tmpfs(tmp_path / "output")


@pytest.fixture
def data_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """The same for the data folder (database, health.json)."""
    yield from _tmpfs(tmp_path / "data")


def _tmpfs(where: Path) -> Iterator[tuple[Path, bool]]:
    where.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        print("cannot mount a tmpfs here: injecting EROFS/ENOSPC at the write boundary instead")
    try:
        yield where, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=True)


def _inject(monkeypatch: pytest.MonkeyPatch, output: Path, code: int) -> None:
    """The fallback: every write under ``output`` fails with ``code``, as the kernel would say it."""
    real_open, real_touch = Path.open, Path.touch

    def refuse(path: Path) -> None:
        if path.is_relative_to(output):
            raise OSError(code, os.strerror(code), str(path))

    def opening(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if set(mode) & set("wax+"):
            refuse(self)
        return real_open(self, mode, *args, **kwargs)

    def touching(self: Path, *args: Any, **kwargs: Any) -> None:
        refuse(self)
        real_touch(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opening)
    monkeypatch.setattr(Path, "touch", touching)


def read_only(output: Path, mounted: bool, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make the output folder read-only; returns the undo."""
    if not mounted:
        _inject(monkeypatch, output, errno.EROFS)
        return monkeypatch.undo
    subprocess.run(["mount", "-o", "remount,ro", str(output)], check=True)
    return lambda: subprocess.run(["mount", "-o", "remount,rw", str(output)], check=True) and None


def full(output: Path, mounted: bool, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Fill the output folder's disk to the last byte; returns the undo."""
    if not mounted:
        _inject(monkeypatch, output, errno.ENOSPC)
        return monkeypatch.undo
    filler = output / "filler.bin"
    with filler.open("wb", buffering=0) as handle:
        block = b"\0" * 65536
        try:
            while True:
                handle.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        for size in (4096, 512, 1):  # the last partial blocks too
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError:
                pass
    return filler.unlink


def _snapshot(output: Path) -> dict[str, bytes]:
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in output.rglob("*")
        if p.is_file() and p.name != "filler.bin"
    }


def _config(tmp_path: Path, output: Path) -> Config:
    (tmp_path / "pages").mkdir(exist_ok=True)
    overrides = {"paths.source": tmp_path / "pages", "paths.data": tmp_path / "data", "paths.output": output}
    return load_config(None, overrides, {})


def _drop(config: Config, number: int) -> Path:
    path = config.paths.source / f"2024-11-27_0{number}.txt"
    path.write_text(good_page(f"第{number}版的新闻"), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fault", [read_only, full], ids=["read-only", "full"])
def test_an_unwritable_output_folder_fails_publish_loudly_and_keeps_serving_the_last_output(
    tmp_path: Path, disk: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch, fault: Any
) -> None:
    output, mounted = disk
    config = _config(tmp_path, output)
    with Store.open(config.database_url) as store:
        runner = Runner(
            config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: NOW
        )
        runner.ingest([_drop(config, 1)])
        assert runner.health()["status"] == "ok"
        before = _snapshot(output)
        assert "第1版的新闻" in before["feeds/all.atom"].decode()

        undo = fault(output, mounted, monkeypatch)
        runner.ingest([_drop(config, 2)])
        health = runner.health()
        error = str(health["last_publish"]["error"])  # type: ignore[index]
        assert health["status"] == "degraded" and health["errors"], health
        expected = "Read-only file system" if fault is read_only else "No space left on device"
        assert expected in error and str(output) in error and "paths.output" in error, error
        undo()
        assert _snapshot(output) == before  # nothing half written, no temporary file left
        with serving(create_app(output)) as base:
            served = httpx.get(f"{base}/feeds/all.atom")
        assert served.status_code == 200 and served.content == before["feeds/all.atom"]

        # Once there is room again, the next rescan publishes what waited.
        runner.ingest([config.paths.source / "2024-11-27_02.txt"])
        assert runner.health()["status"] == "ok"
        assert "第2版的新闻" in (output / "feeds/all.atom").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_full_output_disk_is_said_once_not_at_every_rescan_and_its_end_too(
    tmp_path: Path, disk: tuple[Path, bool]
) -> None:
    """The operator's log over a full disk: one error line, not one per rescan (before: every
    ``schedule.scan_interval``, for as long as the disk stayed full), then one line when it works."""
    output, mounted = disk
    if not mounted:
        pytest.skip("needs a real disk to fill: the service runs as its own process here")
    pages = tmp_path / "pages"
    pages.mkdir()
    service = Serve(tmp_path, pages, output=output, settings={"DIGEST_SCHEDULE_SCAN_INTERVAL": "1"})
    try:
        undo = full(output, mounted, pytest.MonkeyPatch())
        (pages / "2024-11-27_01.txt").write_text(good_page("满盘时到的新闻"), encoding="utf-8")
        wait_for(lambda: "publish failed" in service.log(), 10, "the publish to fail")
        attempts: set[str] = set()

        def failed_attempts() -> int:
            last = service.http.get("/healthz?details").json()["last_publish"]
            if "error" in last:
                attempts.add(last["at"])
            return len(attempts)

        # Every rescan tries the publish again (and /healthz shows each attempt); the log says it once.
        wait_for(lambda: failed_attempts() >= 5, 20, "five publish attempts on the full disk")
        assert service.http.get("/healthz").json() == {"status": "degraded"}
        undo()
        wait_for(lambda: "满盘时到的新闻" in service.feed(), 10, "the page published once there is room")
    finally:
        code = service.stop()
    log = service.log()
    assert code == 0, log
    assert log.count("publish failed: ") == 1, log
    assert "No space left on device" in log and str(output) in log
    assert re.search(r"INFO digest.service.runner: publish works again after \d+ failed attempts", log), log


@pytest.mark.slow
def test_a_full_data_disk_says_free_space_once_and_every_page_is_stored_once_there_is_room(
    tmp_path: Path, data_disk: tuple[Path, bool]
) -> None:
    data, mounted = data_disk
    if not mounted:
        pytest.skip("needs a real disk to fill: the service runs as its own process here")
    pages = tmp_path / "pages"
    pages.mkdir()
    service = Serve(tmp_path, pages, settings={"DIGEST_SCHEDULE_SCAN_INTERVAL": "1"})
    try:
        undo = full(data, mounted, pytest.MonkeyPatch())
        for number in range(1, 4):
            (pages / f"2024-11-27_0{number}.txt").write_text(
                good_page(f"满盘时到的第{number}版"), encoding="utf-8"
            )
        wait_for(lambda: "ingest failed" in service.log(), 10, "the ingest to fail")
        time.sleep(4)  # rescans every second, each trying again
        undo()
        titles = [f"满盘时到的第{number}版" for number in range(1, 4)]
        wait_for(lambda: all(title in service.feed() for title in titles), 10, "the pages once there is room")
    finally:
        code = service.stop()
    log = service.log()
    assert code == 0, log
    assert log.count("ingest failed: ") == 1 and log.count("cannot write health.json") <= 1, log
    assert "disk is full; free space on the disk that holds it" in log, log
    assert "ingest works again after" in log, log
    with Store.open(f"sqlite:///{data}/digest.sqlite3") as store:
        assert store.status().articles == 3


def test_a_prune_that_cannot_remove_old_files_makes_health_degraded_until_one_can(
    tmp_path: Path, disk: tuple[Path, bool]
) -> None:
    # The nightly prune runs unattended: a dry-run folder it cannot remove (a read-only disk) must
    # show in /healthz and ``digest status`` rather than only in a log line nobody reads.
    where, mounted = disk
    config = _config(tmp_path, tmp_path / "output")
    config.paths.data.mkdir(parents=True, exist_ok=True)
    (config.paths.data / DRY_RUN).symlink_to(where)
    old = where / "2024-01-01"
    old.mkdir()
    (old / "a.eml").write_text("old")
    os.utime(old, (0, 0))
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    elif os.geteuid() != 0:
        where.chmod(0o555)
    else:
        pytest.skip("root without a tmpfs to remount read-only: nothing here can refuse a removal")
    with Store.open(config.database_url) as store:
        runner = Runner(
            config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: NOW
        )
        try:
            runner.prune()
            health = runner.health()
        finally:
            if mounted:
                subprocess.run(["mount", "-o", "remount,rw", str(where)], check=True)
            else:
                where.chmod(0o755)
        assert health["status"] == "degraded", health
        error = str(health["last_prune"]["error"])  # type: ignore[index]
        assert (
            str(config.paths.data / DRY_RUN / old.name) in error
            and "paths.data" in error
            and any(e.startswith("prune: ") for e in health["errors"])
        )
        runner.prune()
        health = runner.health()
        assert health["status"] == "ok" and health["last_prune"]["removed"] == 1, health  # type: ignore[index]
        assert not old.exists()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.run(
        [sys.executable, "-m", "digest.cli", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _folders(tmp_path: Path) -> list[str]:
    (tmp_path / "pages").mkdir(exist_ok=True)
    names = {"--source": "pages", "--data": "data", "--output": "out"}
    return [part for option, name in names.items() for part in (option, str(tmp_path / name))]


@pytest.mark.slow
def test_a_locked_database_is_a_clear_error_and_nothing_is_lost_or_corrupted(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    (tmp_path / "pages" / "2024-11-27_01.txt").write_text(good_page("第一版"), encoding="utf-8")
    assert _cli("ingest", *folders).returncode == 0
    (tmp_path / "pages" / "2024-11-27_02.txt").write_text(good_page("第二版"), encoding="utf-8")
    database = tmp_path / "data" / "digest.sqlite3"
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock (past the 5 s wait)
        locked = _cli("ingest", *folders)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.returncode == 1
    assert locked.stderr.strip().splitlines()[-1].startswith("error: database ")
    assert "database is locked" in locked.stderr and "Traceback" not in locked.stderr

    again = _cli("ingest", *folders)  # the page that met the lock is read now
    assert again.returncode == 0 and "1 read" in again.stdout and "1 new" in again.stdout, again.stdout
    with sqlite3.connect(database) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("SELECT count(*) FROM articles").fetchone() == (2,)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["ingest"], ["publish"], ["send-digest"], ["status"]])
def test_a_database_that_is_gone_is_one_clear_line(tmp_path: Path, command: list[str]) -> None:
    # Nothing listens on port 1: the PostgreSQL server is down or the URL is stale.
    url = "postgresql://digest:secret@127.0.0.1:1/news"
    result = _cli(*command, *_folders(tmp_path), env={"DIGEST_DATABASE_URL": url})
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert (
        line.startswith("error: database postgresql://digest:***@127.0.0.1:1/news") and "secret" not in line
    )


@pytest.mark.parametrize("command", [["check"], ["publish"]])
def test_a_read_only_output_disk_is_named_as_one_not_as_a_permission_to_fix(
    tmp_path: Path, disk: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # `digest check` judges without writing (access(2)), which says only "no": it told a read-only
    # mount as "Permission denied; fix its permissions", which no chmod fixes.
    output, mounted = disk
    if not mounted:
        pytest.skip("needs a real read-only mount: access(2) cannot be made to refuse otherwise")
    undo = read_only(output, mounted, monkeypatch)
    try:
        folders = [*_folders(tmp_path)[:4], "--output", str(output / "site")]
        result = _cli(*command, *folders)
    finally:
        undo()
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"error: paths.output: folder {output / 'site'} is not writable (Read-only file system)"
    )
    assert "; remount it read-write or point paths.output (or --output) at a writable folder" in line


def test_status_and_backup_read_a_data_folder_on_a_disk_gone_read_only(
    tmp_path: Path, data_disk: tuple[Path, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two commands that write nothing, there to rescue such a folder, failed on it: SQLite opens a
    # WAL database's -shm file even to read, and the mount refused it ("unable to open database file").
    data, mounted = data_disk
    if not mounted:
        pytest.skip("needs a real read-only mount: SQLite opens its files itself")
    folders = [*_folders(tmp_path)[:2], "--data", str(data), "--output", str(tmp_path / "out")]
    (tmp_path / "pages" / "2024-11-27_01.txt").write_text(good_page("第一版"), encoding="utf-8")
    assert _cli("ingest", *folders).returncode == 0
    undo = read_only(data, mounted, monkeypatch)
    try:
        status = _cli("status", *folders)
        backup = _cli("backup", *folders, str(tmp_path / "rescued.sqlite3"))
    finally:
        undo()
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr + status.stdout
    assert "articles: 1," in status.stdout
    assert backup.returncode == 0, backup.stderr
    assert "1 articles" in backup.stdout
