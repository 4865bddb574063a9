"""Bad files in the source folder: each reported once with its name and reason, skipped, retried when it
changes, and never in the way of the good pages beside it.  The corpus is generated (tests/badfiles.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from badfiles import CORPUS, good_page, make_corpus

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.ingest.scan import scan
from digest.store.database import Store

ROOT = Path(__file__).resolve().parents[1]
REFUSED = {bad.name: bad for bad in CORPUS if bad.reason is not None}
READ = {bad.name: bad for bad in CORPUS if bad.reason is None}
GOOD = ("2024-11-27_20.txt", "2024-11-27_21.txt")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    return messages


def titles(store: Store) -> set[str]:
    return {entry.article.title or "" for entry in store.entries()}


@pytest.mark.slow
def test_each_bad_file_is_reported_once_skipped_and_retried_when_it_changes(
    config: Config, store: Store, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    source = config.paths.source
    make_corpus(source)
    for name in GOOD:
        (source / name).write_text(good_page(f"好页面{name[-6:-4]}"), encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="digest.ingest.pipeline")

    first = ingest(config, store, now)
    reported = dict(first.errors)
    assert set(reported) == set(REFUSED)
    for name, bad in REFUSED.items():
        assert bad.reason is not None and bad.reason in reported[name], (bad.what, reported[name])
    logged = warnings(caplog)
    assert len(logged) == len(REFUSED)
    for name in REFUSED:
        (line,) = [message for message in logged if name in message]
        assert reported[name] in line
    # Everything else went on: the good pages and the supported encodings were read.
    assert {"好页面20", "好页面21", "国标编码的页面", "没有字节序标记的页面"} <= titles(store)
    assert dict(store.status().failed_sources) == reported

    again = ingest(config, store, now + timedelta(minutes=1))
    assert (again.failed, again.read, again.new) == (0, 0, 0)
    assert warnings(caplog) == []  # reported once, not at every rescan
    assert dict(store.status().failed_sources) == reported  # still listed for the operator

    for name, bad in REFUSED.items():
        bad.fix(source / name)
    fixed = ingest(config, store, now + timedelta(minutes=2))
    assert (fixed.failed, fixed.read) == (0, len(REFUSED))
    assert {f"修好的{Path(name).stem}" for name in REFUSED} <= titles(store)
    assert store.status().failed_sources == ()
    assert warnings(caplog) == []


def test_a_file_deleted_between_the_listing_and_the_read_is_reported_and_the_rest_go_on(
    config: Config, store: Store, now: datetime
) -> None:
    source = config.paths.source
    for name in ("2024-11-27_01.txt", "2024-11-27_02.txt"):
        (source / name).write_text(good_page(f"页面{name[-5]}"), encoding="utf-8")
    listed = scan(source)
    listed[0].unlink()  # gone after the watcher or the rescan listed it
    report = ingest(config, store, now, listed)
    assert report.errors == (
        ("2024-11-27_01.txt", "vanished before it could be read (deleted, or a broken symbolic link)"),
    )
    assert titles(store) == {"页面2"}
    # Nothing to retry: a gone file leaves no record behind.
    assert store.status().failed_sources == ()


def _without_root_powers() -> list[str]:
    """A command prefix under which even root obeys file permissions (no CAP_DAC_*), or nothing."""
    if os.geteuid() != 0:
        return []
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]


def _ingest_cli(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.run(
        [
            *_without_root_powers(),
            sys.executable,
            "-m",
            "digest.cli",
            "ingest",
            "--source",
            str(folder / "pages"),
            "--data",
            str(folder / "data"),
            "--output",
            str(folder / "output"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_a_file_without_read_permission_is_reported_once_and_read_once_allowed(tmp_path: Path) -> None:
    # Tests run as root, and chmod 000 does not stop root: the command runs without the
    # capabilities that let root read anything (setpriv, util-linux), so the kernel refuses for real.
    pages = tmp_path / "pages"
    pages.mkdir()
    locked = pages / "2024-11-27_01.txt"
    locked.write_text(good_page("上锁的页面"), encoding="utf-8")
    (pages / "2024-11-27_02.txt").write_text(good_page("开放的页面"), encoding="utf-8")
    locked.chmod(0)

    first = _ingest_cli(tmp_path)
    assert first.returncode == 1, first.stderr
    assert "2024-11-27_01.txt: cannot be read: permission denied" in first.stderr
    assert "2 files: 1 read, 0 unchanged, 1 failed" in first.stdout

    second = _ingest_cli(tmp_path)
    assert second.returncode == 0 and "permission denied" not in second.stderr, second.stderr

    locked.chmod(0o644)  # the fix moves the change time: retried
    third = _ingest_cli(tmp_path)
    assert third.returncode == 0, third.stderr
    assert "1 read" in third.stdout and "1 new" in third.stdout


def test_an_unreadable_file_deleted_is_forgotten_and_logged_as_never_read(
    config: Config, store: Store, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's fix for a binary file in the folder is to delete it: it then leaves the list of
    unreadable files, and the log says it held nothing; before, it said its articles "live on in another
    file", which sent the operator looking for a copy that never existed."""
    source = config.paths.source
    for name in GOOD:
        (source / name).write_text(good_page(f"好页面{name[-6:-4]}"), encoding="utf-8")
    (source / "2024-11-27_22.txt").write_bytes(b"")
    assert ingest(config, store, now).failed == 1
    (source / "2024-11-27_22.txt").unlink()
    caplog.set_level(logging.INFO, logger="digest.ingest.pipeline")
    for minutes in (1, 2):  # the first scan notes it missing, one past ingest.settle_seconds forgets it
        ingest(config, store, now + timedelta(minutes=minutes))
    assert store.status().failed_sources == ()
    (line,) = [r.getMessage() for r in caplog.records if "2024-11-27_22.txt is gone" in r.getMessage()]
    assert "could not be read" in line and "another file" not in line, line
