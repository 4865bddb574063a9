"""A messy export folder under a running service: files the walkthrough of an operator's folder met
that the bad-file corpus (tests/badfiles.py) does not hold, each named plainly, none in the way of the
pages beside it, and ``digest status`` clearing once the operator fixed it."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from loopback import wait_for
from test_service import Serve, page

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.ingest.read import MAX_PAGE_BYTES
from digest.ingest.watch import Settler, Watcher
from digest.store.database import Store

# 要闻 in GBK: what a Chinese file name becomes on a share mounted without UTF-8, or out of a Windows zip.
GBK_NAME = "2024-11-29_要闻.txt".encode("gb18030")


@pytest.mark.slow
def test_a_page_file_whose_name_is_not_utf8_is_named_and_the_pages_dropped_after_it_are_read(
    tmp_path: Path,
) -> None:
    """Before, such a name stopped ingest: the database cannot hold it, so the rescan failed with a
    traceback every minute and the watcher thread died, and no page dropped after it was read."""
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "2024-11-28_01.txt").write_text(page("示例渡口恢复通航"), encoding="utf-8")
    served = Serve(tmp_path, pages, settings={"DIGEST_SCHEDULE_SCAN_INTERVAL": "2"})
    try:
        with open(os.fsencode(pages) + b"/" + GBK_NAME, "wb") as handle:
            handle.write(page("文件名不是统一码的页面").encode("utf-8"))
        wait_for(lambda: "its name is not UTF-8" in served.log(), 10, "the file to be named")
        (pages / "2024-11-29_02.txt").write_text(page("示例果园迎来丰收"), encoding="utf-8")
        wait_for(lambda: "示例果园迎来丰收" in served.feed(), 10, "the page dropped after it in the feed")

        status = served.run("status")
        (line,) = [line for line in status.stdout.splitlines() if "not UTF-8" in line]
        assert "2024-11-29_" in line and "as GBK it reads 2024-11-29_要闻.txt" in line and "rename" in line
        details = json.loads(served.run("status", "--json").stdout)
        assert details["unreadable_files"] == 1

        os.rename(os.fsencode(pages) + b"/" + GBK_NAME, pages / "2024-11-29_要闻.txt")
        wait_for(lambda: "文件名不是统一码的页面" in served.feed(), 10, "the renamed page in the feed")
        wait_for(
            lambda: json.loads(served.run("status", "--json").stdout)["unreadable_files"] == 0,
            20,
            "the file to leave the unreadable ones",
        )
    finally:
        assert served.stop() == 0, served.log()
    assert "Traceback" not in served.log(), served.log()
    assert "watching" not in served.log() and "is not UTF-8 (Unable to decode path" in served.log()


class Handed:
    """What a watcher handed on; the first hand-over fails when ``fail_once``, as a bug in a job would."""

    def __init__(self, fail_once: bool = False) -> None:
        self.settled: list[str] = []
        self.rescans = 0
        self._fail = fail_once
        self._lock = threading.Lock()

    def on_settled(self, paths: Sequence[Path]) -> None:
        with self._lock:
            if self._fail:
                self._fail = False
                raise RuntimeError("a bug in the ingest job")
            self.settled.extend(p.name for p in paths)

    def on_rescan(self) -> None:
        with self._lock:
            self.rescans += 1


def _watch(source: Path, handed: Handed) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    watcher = Watcher(source, stop, handed.on_settled, handed.on_rescan, Settler(quiet=0.3))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread, stop


def test_a_symbolic_link_loop_dropped_in_is_handed_on_to_be_named(tmp_path: Path) -> None:
    """Before, the watcher dropped it as gone (``exists`` follows the link), so the operator heard of it
    only at the next rescan, a minute later."""
    source = tmp_path / "pages"
    source.mkdir()
    handed = Handed()
    thread, stop = _watch(source, handed)
    try:
        wait_for(lambda: handed.rescans == 1, 5, "the watch to be in place")
        os.symlink("2024-11-29_02.txt", source / "2024-11-29_02.txt")
        wait_for(lambda: "2024-11-29_02.txt" in handed.settled, 5, "the link loop")
    finally:
        stop.set()
        thread.join(5)


def test_a_job_that_fails_leaves_the_watcher_watching(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, an exception other than ``DigestError`` in the job a watcher ran ended its thread: pages
    then waited for the rescan for the rest of the process's life, and nothing said why."""
    source = tmp_path / "pages"
    source.mkdir()
    handed = Handed(fail_once=True)
    caplog.set_level(logging.WARNING, logger="digest.ingest.watch")
    thread, stop = _watch(source, handed)
    try:
        wait_for(lambda: handed.rescans == 1, 5, "the watch to be in place")
        (source / "2024-11-29_01.txt").write_text(page("甲"), encoding="utf-8")
        wait_for(lambda: "a job the watcher ran failed" in caplog.text, 5, "the failure to be logged")
        wait_for(lambda: handed.rescans == 2, 20, "a new watch, the folder read again")
        (source / "2024-11-29_02.txt").write_text(page("乙"), encoding="utf-8")
        wait_for(lambda: "2024-11-29_02.txt" in handed.settled, 20, "a page dropped after the failure")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(5)


def test_a_page_just_over_the_size_limit_says_by_how_much(
    config: Config, store: Store, now: datetime
) -> None:
    """Before, a file of 5,000,036 bytes was "5.0 MB, more than a page can be (5 MB)"."""
    path = config.paths.source / "2024-11-29_01.txt"
    path.write_bytes(b"\xe5\xad\x97" * (MAX_PAGE_BYTES // 3) + b"\n" * 38)
    (_, reason), *_ = ingest(config, store, now).errors
    assert reason == "is 5,000,036 bytes, more than a page can be (5 MB); split it"


def test_a_page_in_a_folder_whose_name_is_not_utf8_says_it_is_the_folder(
    config: Config, store: Store, now: datetime
) -> None:
    folder = os.fsencode(config.paths.source) + b"/" + "版面".encode("gb18030")
    os.mkdir(folder)
    with open(folder + b"/2024-11-29_01.txt", "wb") as handle:
        handle.write(page("文件夹名不是统一码").encode("utf-8"))
    ((name, reason),) = ingest(config, store, now).errors
    assert name == "\\xb0\\xe6\\xc3\\xe6/2024-11-29_01.txt"
    assert reason.startswith("its folder's name is not UTF-8 (as GBK it reads 版面/2024-11-29_01.txt")
    assert store.status().failed_sources == ((name, reason),)


def test_a_symbolic_link_whose_target_is_gone_says_so(config: Config, store: Store, now: datetime) -> None:
    """Before, it was "vanished before it could be read", though the link stays where it was."""
    os.symlink("/nowhere/2024-11-29_01.txt", config.paths.source / "2024-11-29_01.txt")
    ((_, reason),) = ingest(config, store, now).errors
    assert (
        reason
        == "is a symbolic link to /nowhere/2024-11-29_01.txt, which is not there; mend or remove the link"
    )


# Two pages of one issue, no page number in their names or text: each has a story of its own and a
# box of a recurring column, the boxes alike but for a few words.
FRONT = (
    "● 要闻\n\n# 示例大桥今天合龙\n\n本报11月29日讯（记者 方小晴）横跨示例河的大桥今天合龙，明年通车。\n\n"
    "● 便民\n\n# 今日菜价\n\n白菜每斤一元二角，萝卜每斤八角，土豆每斤一元五角，鸡蛋每斤四元。\n"
)
INSIDE = (
    "● 教育\n\n# 示例中学新校区启用\n\n"
    "本报11月29日讯（记者 陈知远）示例中学新校区今天启用，可容纳两千名学生。\n\n"
    "● 便民\n\n# 今日菜价\n\n白菜每斤一元一角，萝卜每斤九角，土豆每斤一元五角，鸡蛋每斤四元二角。\n"
)


def test_alike_stories_of_two_page_files_both_stay_published(
    config: Config, store: Store, now: datetime
) -> None:
    """Before, the page read second took the other page's box over, as a re-read of that page would:
    the first box was off the site while its file was still there, and each re-read of the issue
    swapped which box was on."""
    source = config.paths.source
    (source / "frontpage.txt").write_text(FRONT, encoding="utf-8")
    ingest(config, store, now)
    (source / "inside.txt").write_text(INSIDE, encoding="utf-8")
    assert ingest(config, store, now).new == 2

    def live() -> set[tuple[str, str]]:
        return {(e.article.body[:8], e.source) for e in store.entries() if e.retracted is None}

    four = live()
    assert {body for body, _ in four} >= {"白菜每斤一元二角", "白菜每斤一元一角"} and len(four) == 4
    assert ingest(config, store, now, reparse=True).changed == 0
    assert live() == four
    # A copy of a page is the same page: it adds nothing, and takes that page's articles over.
    (source / "inside (copy).txt").write_text(INSIDE, encoding="utf-8")
    assert ingest(config, store, now).new == 0
    assert {body for body, _ in live()} == {body for body, _ in four}


def test_a_story_one_copy_of_a_page_drops_stays_while_the_other_copy_holds_it(
    config: Config, store: Store, now: datetime
) -> None:
    """Two files alike in every story are one page twice: each story is stored once, under the copy read
    last.  Before, that copy edited to drop a story withdrew it (a tombstone in the feeds), though the
    other file, still in the folder, printed it; it is withdrawn once no file holds it."""
    source = config.paths.source
    (source / "frontpage.txt").write_text(FRONT, encoding="utf-8")
    ingest(config, store, now)
    copy = source / "frontpage (copy).txt"
    copy.write_text(FRONT.replace("明年通车", "明年五月通车"), encoding="utf-8")
    report = ingest(config, store, now)
    assert (report.new, report.changed) == (0, 1)

    def live() -> dict[str, str]:
        return {e.article.title or "": e.source for e in store.entries() if e.retracted is None}

    assert live() == {"示例大桥今天合龙": copy.name, "今日菜价": copy.name}
    copy.write_text(FRONT.replace("明年通车", "明年五月通车").split("● 便民")[0], encoding="utf-8")
    assert ingest(config, store, now).retracted == 0
    assert live() == {"示例大桥今天合龙": copy.name, "今日菜价": "frontpage.txt"}

    (source / "frontpage.txt").unlink()
    ingest(config, store, now)
    assert ingest(config, store, now + timedelta(seconds=1)).retracted == 1  # gone for good: no file holds it
    assert live() == {"示例大桥今天合龙": copy.name}
