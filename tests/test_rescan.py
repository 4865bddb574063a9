"""Cheap rescans: an unchanged page file is known by its stat and never opened; a changed one is read.

What is opened is seen through Python's audit hook (``sys.addaudithook``): every
``open`` of the interpreter, ``builtins.open`` and ``os.open`` alike, raises an
``open`` event with the path, so the test counts real opens of the page files.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.config import Config
from digest.ingest import pipeline as ingest_module
from digest.ingest import scan as scan_module
from digest.ingest.scan import RACY_NS, file_stamp
from digest.mail.transports import OutboxMailer
from digest.publish.layout import gone_path
from digest.service.metrics import Metrics
from digest.service.runner import Runner
from digest.store.database import Store

PAGE = "● 要闻\n\n# {title}\n\n示例正文，第{n}版。\n"
PAGES = 30


class Opens:
    """The page files opened while ``watching``; one audit hook per test session (hooks stay)."""

    folder: str | None = None
    seen: list[str] = []  # noqa: RUF012 (one shared record, on purpose)

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and cls.folder is not None and isinstance(args[0], str | bytes | Path):
            path = os.fsdecode(args[0])
            if path.startswith(cls.folder):
                cls.seen.append(path)


sys.addaudithook(Opens.hook)


@pytest.fixture
def opens(config: Config) -> Iterator[list[str]]:
    Opens.folder, Opens.seen = str(config.paths.source), []
    yield Opens.seen
    Opens.folder = None


@pytest.fixture
def runner(config: Config, store: Store, monkeypatch: pytest.MonkeyPatch) -> Runner:
    # Files written by the test are "racily clean" for RACY_NS; a shorter window keeps the test short.
    monkeypatch.setattr(scan_module, "RACY_NS", 300_000_000)
    config.paths.data.mkdir(parents=True, exist_ok=True)
    now = datetime(2024, 11, 29, 1, 0, tzinfo=UTC)
    return Runner(config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: now)


def _write_pages(folder: Path) -> list[Path]:
    paths = []
    for n in range(1, PAGES + 1):
        path = folder / f"2024-11-29_{n:02d}.txt"
        path.write_text(PAGE.format(title=f"第{n:02d}版的标题", n=n), encoding="utf-8")
        paths.append(path)
    return paths


def _digest_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("digest") and r.levelno >= level]


def test_a_rescan_of_unchanged_files_opens_none_and_logs_nothing_at_info(
    runner: Runner, config: Config, store: Store, opens: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    paths = _write_pages(config.paths.source)
    time.sleep(config.ingest.settle_seconds + 0.1)  # settled, and out of the racy window
    runner.rescan()
    assert store.status().articles == PAGES
    assert len(set(opens)) == PAGES  # the first scan reads every file

    opens.clear()
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            runner.rescan()
    assert opens == []
    assert _digest_records(caplog, logging.INFO) == []

    # Same size and bytes, a new mtime: read again (and found unchanged, so nothing is parsed).
    info = paths[4].stat()
    os.utime(paths[4], ns=(info.st_atime_ns, info.st_mtime_ns - 10_000_000_000))  # not in the future
    # Another page with the same size but new bytes, its mtime set back: its ctime still moved.
    info = paths[7].stat()
    paths[7].write_text(PAGE.format(title="第99版的标题", n=8), encoding="utf-8")
    os.utime(paths[7], ns=(info.st_atime_ns, info.st_mtime_ns))
    assert paths[7].stat().st_size == info.st_size and paths[7].stat().st_mtime_ns == info.st_mtime_ns
    # A third replaced by a rename (a new inode), bytes and times otherwise alike.
    copy = config.paths.source / ".copy.part"
    copy.write_bytes(paths[11].read_bytes())
    os.utime(copy, ns=(paths[11].stat().st_atime_ns, paths[11].stat().st_mtime_ns))
    copy.replace(paths[11])
    time.sleep(config.ingest.settle_seconds + 0.1)
    opens.clear()
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        runner.rescan()
    assert sorted(set(opens)) == [str(paths[4]), str(paths[7]), str(paths[11])]
    titles = {entry.article.title for entry in store.entries()}
    assert "第99版的标题" in titles and "第08版的标题" not in titles
    assert any(line.startswith("ingested files=3 read=1 unchanged=2") for line in _digest_records(caplog, 20))

    # Their new stamps are kept: the next rescan opens nothing again.
    time.sleep(0.4)  # out of the (shortened) racy window of the files just read
    runner.rescan()
    opens.clear()
    runner.rescan()
    assert opens == []


def test_ingest_of_an_unchanged_folder_opens_no_file_but_reparse_reads_all(
    config: Config, store: Store, opens: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "RACY_NS", 0)
    _write_pages(config.paths.source)
    now = datetime(2024, 11, 29, 1, 0, tzinfo=UTC)
    first = ingest_module.ingest(config, store, now)
    assert first.read == PAGES
    opens.clear()
    again = ingest_module.ingest(config, store, now)
    assert (again.files, again.read, again.unchanged) == (PAGES, 0, PAGES) and opens == []
    everything = ingest_module.ingest(config, store, now, reparse=True)
    assert everything.read == PAGES and len(set(opens)) == PAGES


def test_a_stamp_is_not_trusted_within_the_racy_window(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x")
    info = path.stat()
    changed = max(info.st_mtime_ns, info.st_ctime_ns)
    assert file_stamp(info, changed + 1) is None
    assert file_stamp(info, changed + RACY_NS + 1) == file_stamp(info)
    stamp = file_stamp(info)
    assert stamp is not None and stamp.startswith(f"{info.st_ino}:{info.st_size}:")


def test_the_listing_matches_what_rglob_found(tmp_path: Path) -> None:
    """The scandir listing keeps the old one's order (by path parts) and what it leaves out."""
    for name in (
        "a/x.txt",
        "a-b/x.txt",
        "a.b/y.TXT",
        "b/.hidden/z.txt",
        "b/~z.txt",
        "c.txt/inner.txt",
        "d.md",
    ):
        path = tmp_path / "pages" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "far.txt").write_text("x")
    (tmp_path / "pages" / "link").symlink_to(tmp_path / "elsewhere")  # not followed, as by rglob
    folder = tmp_path / "pages"
    expected = sorted(
        path
        for path in folder.rglob("*")
        if scan_module.is_page_file(path)
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    assert scan_module.scan(folder) == expected
    assert [p.relative_to(folder).as_posix() for p in expected] == [
        "a/x.txt",
        "a-b/x.txt",
        "a.b/y.TXT",
        "c.txt",
        "c.txt/inner.txt",
    ]


def test_the_service_retracts_the_articles_of_a_page_file_gone_for_good(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "RACY_NS", 300_000_000)
    config.paths.data.mkdir(parents=True, exist_ok=True)
    now = [datetime(2024, 11, 29, 1, 0, tzinfo=UTC)]
    outbox = OutboxMailer(config.paths.data / "outbox")
    runner = Runner(config, store, outbox, Metrics(), clock=lambda: now[0])
    paths = _write_pages(config.paths.source)
    time.sleep(config.ingest.settle_seconds + 0.1)
    runner.rescan()
    assert store.status().articles == PAGES

    paths[2].unlink()
    runner.rescan()  # missed once: an editor's save may be replacing it
    assert store.status().retracted == 0
    now[0] += timedelta(seconds=config.ingest.settle_seconds + 1)
    runner.rescan()  # still gone once settled: its article is withdrawn, and published so
    gone = [entry for entry in store.entries() if entry.retracted is not None]
    assert [entry.article.title for entry in gone] == ["第03版的标题"]
    assert (config.paths.output / gone_path(gone[0])).exists()

    # A file that vanishes for a moment and comes back keeps its articles.
    held = paths[5].read_bytes()
    paths[5].unlink()
    runner.rescan()
    paths[5].write_bytes(held)
    now[0] += timedelta(seconds=config.ingest.settle_seconds + 1)
    runner.rescan()
    assert store.status().retracted == 1


def test_a_rescan_that_retracts_reports_it_as_an_ingest_and_logs_its_count_once(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a rescan that only retracted a deleted page's article left ``last ingest`` (health,
    ``digest status``) at the run before; and one that read a changed page too logged
    ``ingested ... retracted=0`` just before ``retracted 1 of its articles``."""
    monkeypatch.setattr(scan_module, "RACY_NS", 300_000_000)
    config.paths.data.mkdir(parents=True, exist_ok=True)
    now = [datetime(2024, 11, 29, 1, 0, tzinfo=UTC)]
    runner = Runner(
        config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: now[0]
    )
    settle = timedelta(seconds=config.ingest.settle_seconds + 1)
    paths = _write_pages(config.paths.source)
    time.sleep(config.ingest.settle_seconds + 0.1)
    runner.rescan()
    time.sleep(0.4)  # out of the (shortened) racy window: the next rescans read no page again
    runner.rescan()

    paths[2].unlink()
    runner.rescan()  # missed once: not yet gone for good
    now[0] += settle
    with caplog.at_level(logging.INFO, logger="digest"):
        runner.rescan()
    last = runner.health()["last_ingest"]
    assert isinstance(last, dict) and last["at"] == now[0].isoformat()
    assert (last["files"], last["read"], last["new"], last["retracted"]) == (0, 0, 0, 1)
    said = [line for line in _digest_records(caplog, logging.INFO) if "retracted" in line]
    assert said[0] == f"page file {paths[2].name} is gone: retracted 1 of its articles"
    assert said[1].startswith(
        "ingested files=0 read=0 unchanged=0 failed=0 articles=0 new=0 changed=0 retracted=1"
    )

    # A changed page and a deleted one in one rescan: its one summary line counts both.
    paths[5].unlink()
    runner.rescan()
    paths[4].write_text(PAGE.format(title="改过的标题", n=5), encoding="utf-8")
    time.sleep(config.ingest.settle_seconds + 0.1)
    now[0] += settle
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="digest"):
        runner.rescan()
    said = [line for line in _digest_records(caplog, logging.INFO) if "retracted" in line]
    assert said[0] == f"page file {paths[5].name} is gone: retracted 1 of its articles"
    assert said[1].startswith(
        "ingested files=1 read=1 unchanged=0 failed=0 articles=1 new=0 changed=1 retracted=1"
    )
    assert len(said) == 2
    last = runner.health()["last_ingest"]
    assert isinstance(last, dict) and (last["read"], last["changed"], last["retracted"]) == (1, 1, 1)


def test_a_page_file_moved_to_another_folder_is_not_logged_as_retracted(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the log said "page file sub/… is gone: its articles are retracted" for a moved file
    whose articles all kept their ids, and gave no count for a file really deleted."""
    monkeypatch.setattr(scan_module, "RACY_NS", 300_000_000)
    config.paths.data.mkdir(parents=True, exist_ok=True)
    now = [datetime(2024, 11, 29, 1, 0, tzinfo=UTC)]
    outbox = OutboxMailer(config.paths.data / "outbox")
    runner = Runner(config, store, outbox, Metrics(), clock=lambda: now[0])
    inbox, filed = config.paths.source / "sub", config.paths.source / "filed"
    inbox.mkdir()
    filed.mkdir()
    paths = _write_pages(inbox)
    time.sleep(config.ingest.settle_seconds + 0.1)
    runner.rescan()
    ids = {entry.uid for entry in store.entries()}

    paths[2].rename(filed / paths[2].name)  # the operator files one page away
    paths[3].rename(inbox / f"paper-{paths[3].name}")  # and renames another in place
    paths[4].unlink()  # and deletes a third
    time.sleep(config.ingest.settle_seconds + 0.1)
    with caplog.at_level(logging.INFO, logger="digest.ingest.pipeline"):
        runner.rescan()
        now[0] += timedelta(seconds=config.ingest.settle_seconds + 1)
        runner.rescan()
    gone = sorted(line for line in _digest_records(caplog, logging.INFO) if line.startswith("page file"))
    kept = "nothing retracted: its articles live on in another file"
    assert gone == [
        f"page file sub/{paths[2].name} is gone; {kept}",
        f"page file sub/{paths[3].name} is gone; {kept}",
        f"page file sub/{paths[4].name} is gone: retracted 1 of its articles",
    ]
    assert {entry.uid for entry in store.entries()} == ids
    assert [entry.article.title for entry in store.entries() if entry.retracted] == ["第05版的标题"]
