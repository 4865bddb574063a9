"""Ingest: scan, skip seen files, decode, parse, date, upsert; one bad file never stops the rest."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from digest import workers
from digest.config import Config
from digest.ingest import read as read_module
from digest.ingest import scan as scan_module
from digest.ingest.pipeline import ingest
from digest.ingest.read import Parsed, Refused, decode_and_parse
from digest.ingest.scan import changed_files, scan
from digest.store import search_index
from digest.store.database import Store
from digest.store.segment import index_text
from digest.types import Article, Section

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE = "● 要闻\n\n# 示例标题一\n\n第一篇的正文。\n\n# 示例标题二\n\n第二篇的正文。\n"


def put(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_scan_skips_hidden_and_temporary_files(tmp_path: Path) -> None:
    for name in ("a.txt", "sub/b.TXT", ".hidden.txt", "~a.txt", "#a.txt#", ".git/x.txt", "c.txt.tmp", "d.md"):
        put(tmp_path, name, "x")
    assert [p.relative_to(tmp_path).as_posix() for p in scan(tmp_path)] == ["a.txt", "sub/b.TXT"]


def test_ingest_builds_entries_and_skips_unchanged_files(config: Config, store: Store, now: datetime) -> None:
    put(config.paths.source, "2024-11-27_02.txt", PAGE)
    report = ingest(config, store, now)
    assert (report.files, report.read, report.new, report.failed) == (1, 1, 2, 0)
    entries = store.entries()
    assert [e.article.title for e in entries] == ["示例标题一", "示例标题二"]
    first = entries[0]
    assert first.issue_date == date(2024, 11, 27)
    assert first.published == datetime(2024, 11, 27, 6, 0, tzinfo=SHANGHAI)
    assert first.first_seen == now and first.position == 2000
    assert first.tag == f"tag:digest.localhost,2024:article/2024-11-27/{first.uid}"
    assert first.source == "2024-11-27_02.txt"
    again = ingest(config, store, now + timedelta(hours=1))
    assert (again.read, again.unchanged, again.new, again.touched) == (0, 1, 0, False)


def test_a_renamed_copy_adds_nothing_and_a_correction_updates(
    config: Config, store: Store, now: datetime
) -> None:
    put(config.paths.source, "2024-11-27_01.txt", PAGE)
    ingest(config, store, now)
    put(config.paths.source, "copy/20241127-1.txt", PAGE + "\n")
    assert ingest(config, store, now + timedelta(hours=1)).new == 0
    put(config.paths.source, "2024-11-27_01.txt", PAGE.replace("第二篇的正文", "第二篇更正后的正文"))
    later = now + timedelta(hours=2)
    report = ingest(config, store, later)
    assert (report.new, report.changed) == (0, 1)
    corrected = next(e for e in store.entries() if e.article.title == "示例标题二")
    assert corrected.updated == later and corrected.first_seen == now
    assert len(store.entries()) == 2


def test_sections_whose_names_read_alike_keep_slugs_of_their_own(
    config: Config, store: Store, now: datetime
) -> None:
    """时事 and 实事 both read ``shi-shi``: the first met keeps it, the other gets ``shi-shi-2``, and
    each keeps its slug on every later read, whatever order it is met in or pinyin reads it as."""
    put(config.paths.source, "2024-11-27_01.txt", "● 时事\n\n# 标题一\n\n正文一。\n")
    ingest(config, store, now)
    second = "● 实事\n\n# 标题二\n\n正文二。\n\n● 时事\n\n# 标题三\n\n正文三。\n"
    put(config.paths.source, "2024-11-27_02.txt", second)
    ingest(config, store, now)
    filed = {entry.article.title: entry.section for entry in store.entries()}
    assert filed == {
        "标题一": Section("时事", "shi-shi"),
        "标题二": Section("实事", "shi-shi-2"),
        "标题三": Section("时事", "shi-shi"),
    }
    assert store.sections() == [Section("时事", "shi-shi"), Section("实事", "shi-shi-2")]
    assert store.filed_sections(["实事", "时事", "实事"], lambda name: "read-differently", str) == {
        "实事": Section("实事", "shi-shi-2"),
        "时事": Section("时事", "shi-shi"),
    }


def test_a_section_name_another_process_gave_first_keeps_its_slug(database_url: str) -> None:
    """Two processes storing pages at once meet the same new name: the slug stored first is the one
    both use.  (SQLite refuses a write from a transaction that read before another's commit.)"""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite refuses the second writer outright: no conflict to settle")
    with Store.open(database_url) as mine, Store.open(database_url) as other:

        def make(name: str) -> str:
            other.filed_sections([name], lambda _: "given-elsewhere", str)  # the other process is first
            return "made-here"

        given = {"时事": Section("时事", "given-elsewhere")}
        assert mine.filed_sections(["时事"], make, str) == given
        assert other.filed_sections(["时事"], make, str) == given


def test_same_headline_twice_on_a_page_gives_two_entries(config: Config, store: Store, now: datetime) -> None:
    put(config.paths.source, "2024-11-27_01.txt", "# 图片新闻\n\n甲。\n\n# 图片新闻\n\n乙。\n")
    assert ingest(config, store, now).new == 2


def test_a_bad_file_is_logged_once_recorded_and_retried_when_fixed(
    config: Config, store: Store, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    put(config.paths.source, "2024-11-27_01.txt", PAGE)
    bad = put(config.paths.source, "2024-11-27_02.txt", b"\x89PNG\x00\x00\x00\x01binary")
    with caplog.at_level(logging.DEBUG, logger="digest.ingest.pipeline"):
        report = ingest(config, store, now)
        ingest(config, store, now + timedelta(minutes=1))
    assert report.new == 2 and report.failed == 1
    assert report.errors == (
        ("2024-11-27_02.txt", "contains NUL bytes and is not UTF-16 text (a binary file?)"),
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2024-11-27_02.txt" in warnings[0]
    summaries = [r for r in caplog.records if r.getMessage().startswith("ingested ")]
    assert (
        len(summaries) == 2 and "failed=1" in summaries[0].getMessage() and "ms=" in summaries[0].getMessage()
    )
    # The second run read nothing and found nothing new: its line is DEBUG, not INFO.
    assert [r.levelno for r in summaries] == [logging.INFO, logging.DEBUG]
    assert store.status().failed_sources == (("2024-11-27_02.txt", report.errors[0][1]),)
    bad.write_text("# 修好的页面\n\n现在可以读了。\n", encoding="gb18030")
    fixed = ingest(config, store, now + timedelta(minutes=2))
    assert (fixed.read, fixed.new, fixed.failed) == (1, 1, 0)
    assert store.status().failed_sources == ()


def test_explicit_paths_outside_the_source_folder(
    config: Config, store: Store, now: datetime, tmp_path: Path
) -> None:
    outside = put(tmp_path / "elsewhere", "2024-11-29_01.txt", PAGE)
    report = ingest(config, store, now, [outside])
    assert report.new == 2
    assert store.entries()[0].source == outside.as_posix()


def test_seed_pages_ingest(config: Config, store: Store, now: datetime, seeds: Path) -> None:
    for path in seeds.glob("*.txt"):
        shutil.copy(path, config.paths.source / path.name)
        os.utime(config.paths.source / path.name, (now.timestamp(), now.timestamp()))
    report = ingest(config, store, now)
    assert (report.files, report.read, report.failed) == (5, 5, 0)
    assert report.articles > 5
    # Pages of one day may repeat a headline (a column name); each identity is stored once.
    assert report.new == len(store.entries()) == len({e.uid for e in store.entries()})
    assert {e.source for e in store.entries()} == {p.name for p in seeds.glob("*.txt")}


# Worker processes of a large ingest: module-level stand-ins for the parse function, so a worker
# process can find them by name.  They learn where to report through the environment it inherits.
def _parse_noting_the_process(name: str, data: bytes, mtime: datetime, config: Config) -> Parsed | Refused:
    Path(os.environ["DIGEST_TEST_PIDS"], str(os.getpid())).touch()
    return decode_and_parse(name, data, mtime, config)


def _parse_dying_in_a_worker(name: str, data: bytes, mtime: datetime, config: Config) -> Parsed | Refused:
    if os.getpid() != int(os.environ["DIGEST_TEST_PARENT"]):
        os._exit(1)  # as if the kernel killed it for memory
    return decode_and_parse(name, data, mtime, config)


def _pages_of_many_files(config: Config, seeds: Path) -> None:
    for index, path in enumerate(sorted(seeds.glob("*.txt")) * 4):
        shutil.copy(path, config.paths.source / f"2024-11-{index + 1:02d}_01.txt")
    put(config.paths.source, "2024-11-30_01.txt", b"\x89PNG\x00\x00\x00\x01binary")


def _stored(store: Store) -> set[tuple[str, str, Article]]:
    return {(e.uid, e.source, e.article) for e in store.entries()}


def _index(url: str) -> dict[str, tuple[str, ...]]:
    """The search index as stored: each article's documents, by uid."""
    postgres = url.startswith("postgresql")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    query = (
        "SELECT uid, headline::text, doc::text FROM search_docs"
        if postgres
        else "SELECT d.uid, t.headline, t.byline, t.body, h.headline FROM search_docs AS d "
        "JOIN search_text AS t ON t.rowid = d.id JOIN search_heads AS h ON h.rowid = d.id"
    )
    try:
        with engine.connect() as conn:
            return {uid: tuple(rest) for uid, *rest in conn.exec_driver_sql(query)}
    finally:
        engine.dispose()


def _index_rebuilt(url: str) -> dict[str, tuple[str, ...]]:
    """The search index as this process cuts it anew from the stored articles."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            live = "SELECT uid FROM articles WHERE retracted IS NULL ORDER BY issue_date, position, uid"
            search_index.refresh(conn, list(conn.exec_driver_sql(live).scalars()))
    finally:
        engine.dispose()
    return _index(url)


def test_worker_processes_parse_a_large_ingest_as_this_process_would(
    config: Config, store: Store, now: datetime, seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pages_of_many_files(config, seeds)
    with Store.open(f"sqlite:///{tmp_path / 'inline.sqlite3'}") as inline:
        expected = ingest(config, inline, now)
        wanted = _stored(inline)
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("DIGEST_TEST_PIDS", str(pids))
    monkeypatch.setattr(read_module, "decode_and_parse", _parse_noting_the_process)
    monkeypatch.setattr(read_module, "POOL_MIN_FILES", 2)
    monkeypatch.setattr(read_module, "BATCH_FILES", 8)  # several batches: one parses while one is stored
    monkeypatch.setattr(workers, "cpu_count", lambda: 2)
    monkeypatch.setattr(workers, "free_cores", lambda: 2.0)  # however busy the machine running tests is
    cut_here: list[str] = []
    monkeypatch.setattr(search_index, "index_text", lambda text: cut_here.append(text) or index_text(text))
    report = ingest(config, store, now)
    assert {int(p.name) for p in pids.iterdir()} - {os.getpid()}, "no page was parsed in a worker process"
    assert (report.read, report.new, report.failed) == (expected.read, expected.new, 1) and report.new > 20
    assert report.errors == expected.errors
    assert _stored(store) == wanted
    # The workers cut the articles' words for the search index, and the store took them as they were:
    # this process cut none, and the index is the one it would have made itself.
    assert cut_here == []
    indexed = _index(config.database_url)
    assert len(indexed) == report.new
    monkeypatch.undo()
    assert indexed == _index_rebuilt(config.database_url)


def test_a_worker_that_dies_leaves_its_pages_to_this_process(
    config: Config,
    store: Store,
    now: datetime,
    seeds: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _pages_of_many_files(config, seeds)
    monkeypatch.setenv("DIGEST_TEST_PARENT", str(os.getpid()))
    monkeypatch.setattr(read_module, "decode_and_parse", _parse_dying_in_a_worker)
    monkeypatch.setattr(read_module, "POOL_MIN_FILES", 2)
    monkeypatch.setattr(workers, "cpu_count", lambda: 2)
    monkeypatch.setattr(workers, "free_cores", lambda: 2.0)  # however busy the machine running tests is
    with caplog.at_level(logging.WARNING, logger="digest.ingest.pipeline"):
        report = ingest(config, store, now)
    assert (report.read, report.failed) == (20, 1)
    assert len({e.source for e in store.entries()}) == 20
    assert any("parser processes failed" in r.getMessage() for r in caplog.records)


def test_ingest_reads_pages_by_the_paper_s_conventions(config: Config, store: Store, now: datetime) -> None:
    """The [parser] table reaches the parser: a role only this paper prints credits its author."""
    put(config.paths.source, "2024-11-27_01.txt", "新桥通车\n\n播报员 甲乙\n\n新桥今天通车。\n")
    ingest(config, store, now)
    assert [e.article.authors for e in store.entries()] == [()]
    paper = dataclasses.replace(config, parser=dataclasses.replace(config.parser, roles=("播报员",)))
    put(config.paths.source, "2024-11-28_01.txt", "新桥通车\n\n播报员 甲乙\n\n新桥今天通车。\n")
    ingest(paper, store, now)
    by_day = {e.source: e.article.authors for e in store.entries()}
    assert by_day == {"2024-11-27_01.txt": (), "2024-11-28_01.txt": ("甲乙",)}


def test_a_deleted_copy_of_a_page_leaves_the_articles_the_original_still_holds(
    config: Config, store: Store, now: datetime, tmp_path: Path
) -> None:
    put(config.paths.source, "2024-11-27_02.txt", PAGE)
    put(config.paths.source, "2024-11-27_03.txt", "● 经济\n\n# 另一版的标题\n\n另一版的正文。\n")
    ingest(config, store, now)
    # A duplicate export, read after the original: the articles now name the copy as their file.
    copy = put(config.paths.source, "2024-11-27_02-copy.txt", PAGE)
    ingest(config, store, now + timedelta(minutes=1))
    assert {e.source for e in store.entries() if e.position // 1000 == 2} == {"2024-11-27_02-copy.txt"}
    # A corrected copy ingested from outside the folder, read last, names its absolute path.
    outside = put(
        tmp_path / "elsewhere", "2024-11-27_02.txt", PAGE.replace("第二篇的正文。", "第二篇的正文，改。")
    )
    ingest(config, store, now + timedelta(minutes=2), [outside])
    copy.unlink()
    outside.unlink()
    for minutes in (3, 10):  # missed, then gone longer than ingest.settle_seconds
        ingest(config, store, now + timedelta(minutes=minutes))
    entries = store.entries()
    assert [e.article.title for e in entries if e.retracted is None] == [
        "示例标题一",
        "示例标题二",
        "另一版的标题",
    ]
    assert {e.source for e in entries} == {"2024-11-27_02.txt", "2024-11-27_03.txt"}
    # The original text is back: the corrected copy is gone with its correction.
    assert "第二篇的正文。" in entries[1].article.body

    # The original deleted too: now its articles go, and the other page's stay.
    (config.paths.source / "2024-11-27_02.txt").unlink()
    for minutes in (11, 20):
        ingest(config, store, now + timedelta(minutes=minutes))
    assert [e.article.title for e in store.entries() if e.retracted is None] == ["另一版的标题"]


# An invented page of a Hong Kong paper, in traditional characters; and a few words of one.
BIG5_PAGE = (
    "● 本埠新聞\n\n# 海港邊的舊倉庫改成社區圖書館\n\n本報訊（記者 林曉嵐）閒置多年的三號倉庫昨日起"
    "作為社區圖書館開放，首批藏書兩萬冊，週末開放到晚上九點。附近居民說，孩子放學後終於有了安靜讀書的地方。\n"
)
BIG5_SCRAP = "本報訊 海港邊"


def test_big5_pages_are_read_and_one_too_short_to_tell_is_refused_with_the_fix_while_the_rest_go_on(
    config: Config, store: Store, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "RACY_NS", 0)  # the files just written keep their stamps
    source = config.paths.source
    put(source, "2024-11-27_01.txt", BIG5_PAGE.encode("big5hkscs"))
    scrap = put(source, "2024-11-27_02.txt", BIG5_SCRAP.encode("big5"))
    put(source, "2024-11-27_03.txt", PAGE.encode("gbk"))
    report = ingest(config, store, now)
    ((name, reason),) = report.errors
    assert name == "2024-11-27_02.txt"
    assert "iconv -f BIG5-HKSCS -t UTF-8 2024-11-27_02.txt > 2024-11-27_02.txt.utf8" in reason
    assert "ingest.encoding" in reason
    articles = {entry.article.title: entry.article for entry in store.entries()}
    assert set(articles) == {"海港邊的舊倉庫改成社區圖書館", "示例标题一", "示例标题二"}
    hong_kong = articles["海港邊的舊倉庫改成社區圖書館"]
    assert hong_kong.section == "本埠新聞" and hong_kong.body.startswith("閒置多年的三號倉庫")
    assert [(c.name, c.role) for c in hong_kong.credits] == [("林曉嵐", "記者")]

    # Under the same setting it stays refused, and is not read (nor reported) again.
    assert ingest(config, store, now + timedelta(minutes=1)).read == 0
    assert changed_files(store, source, "") == (
        [],
        {"2024-11-27_01.txt", "2024-11-27_02.txt", "2024-11-27_03.txt"},
    )

    # Named in the configuration, the encoding reads the scrap at the next scan, by `digest ingest` or
    # the service's rescan, and only the scrap: the pages read before are not read again.
    assert changed_files(store, source, "big5")[0] == [scrap]
    named = dataclasses.replace(config, ingest=dataclasses.replace(config.ingest, encoding="big5"))
    again = ingest(named, store, now + timedelta(minutes=2))
    assert (again.failed, again.read, again.new) == (0, 1, 1)
    assert changed_files(store, source, "big5")[0] == []
    assert store.status().failed_sources == ()
    assert any("海港邊" in entry.article.body for entry in store.entries())
