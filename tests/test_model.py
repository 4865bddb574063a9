"""The newspaper model on the seed pages, in fresh folders (SQLite and PostgreSQL): the issue's bar.

A headline fix keeps the id and moves ``updated``; a re-save on another day,
a rename and a rebuilt database change no byte of any feed; a deleted page
and an article dropped from a re-read page are retracted (tombstones in the
feeds, 410 on their pages); a retraction by hand and its undoing through the
real CLI.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from atomcheck import ATOM, check_atom
from test_server import serving

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.paper.parse import PARSER_VERSION
from digest.service.jobs import run_digest, run_publish
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.store.schema import metadata
from digest.types import DatedBy, Retraction
from digest.web.server import create_app

AT = "{http://purl.org/atompub/tombstones/1.0}"
SEED = "002_963b85495dc4bc2e.txt"  # holds 呼和浩特市赛罕区与包头市青山区联合开展…
ROOT = Path(__file__).resolve().parents[1]


def _copy_seeds(seeds: Path, config: Config) -> None:
    for page in sorted(seeds.glob("*.txt")):
        shutil.copyfile(page, config.paths.source / page.name)


def _feeds(config: Config) -> dict[str, bytes]:
    folder = config.paths.output / "feeds"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.atom"))}


def _entries(config: Config, feed: str = "all") -> dict[str, tuple[str, str, str]]:
    """id → (title, published, updated) of a subscription document."""
    root = check_atom((config.paths.output / "feeds" / f"{feed}.atom").read_bytes())
    return {
        e.findtext(f"{ATOM}id"): (
            e.findtext(f"{ATOM}title"),
            e.findtext(f"{ATOM}published"),
            e.findtext(f"{ATOM}updated"),
        )
        for e in root.findall(f"{ATOM}entry")
    }


def _entries_of(feeds: dict[str, bytes]) -> set[str]:
    root = check_atom(feeds["all.atom"])
    return {e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")}


def _tombstones(config: Config, feed: str) -> set[str]:
    root = check_atom((config.paths.output / "feeds" / f"{feed}.atom").read_bytes())
    return {mark.get("ref") for mark in root.findall(f"{AT}deleted-entry")}


def _step(config: Config, store: Store, now: datetime) -> None:
    ingest(config, store, now)
    run_publish(config, store)


@pytest.fixture
def first(config: Config, store: Store, seeds: Path, now: datetime) -> dict[str, bytes]:
    _copy_seeds(seeds, config)
    _step(config, store, now)
    return _feeds(config)


def test_a_fixed_headline_keeps_its_id_and_moves_only_its_updated(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    before = _entries(config)
    page = config.paths.source / SEED
    text = page.read_text(encoding="utf-8")
    assert text.count("联合开展") >= 1
    page.write_text(text.replace("联合开展", "联合举办", 1), encoding="utf-8")
    later = now + timedelta(days=1)
    report = ingest(config, store, later)
    assert (report.new, report.changed, report.retracted) == (0, 1, 0)
    run_publish(config, store)
    after = _entries(config)
    assert after.keys() == before.keys()
    moved = [ident for ident in after if after[ident] != before[ident]]
    assert len(moved) == 1
    title, published, updated = after[moved[0]]
    assert "联合举办" in title and published == before[moved[0]][1]
    assert updated == later.astimezone(config.tz).isoformat() and published < updated
    # Every other entry is a first version: updated is its published.
    assert all(pub == upd for ident, (_, pub, upd) in after.items() if ident != moved[0])


def test_a_resave_on_another_day_and_a_rename_change_no_byte_of_any_feed(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    page = config.paths.source / SEED
    page.write_bytes(page.read_bytes().replace(b"\n", b"\r\n"))  # saved again, CRLF only
    next_day = (now + timedelta(days=1)).timestamp()
    os.utime(page, (next_day, next_day))
    _step(config, store, now + timedelta(days=1))
    assert _feeds(config) == first
    page.rename(config.paths.source / "renamed.txt")
    _step(config, store, now + timedelta(days=2))
    _step(config, store, now + timedelta(days=3))  # the old name is gone for good now: nothing retracted
    assert _feeds(config) == first
    assert not any(e.retracted for e in store.entries())


def _examples(config: Config, store: Store, now: datetime) -> dict[str, bytes]:
    """The invented example pages, dated by their names (``2024-11-27_01.txt``), read and published."""
    for page in sorted((ROOT / "examples" / "pages").glob("*.txt")):
        shutil.copyfile(page, config.paths.source / page.name)
    _step(config, store, now)
    return _feeds(config)


def test_a_rename_that_drops_the_date_from_the_name_keeps_the_page(
    config: Config, store: Store, now: datetime
) -> None:
    """Before, ``2024-11-27_01.txt`` renamed ``yaowen.txt`` was dated again by its text's 11月27日 and
    the year of its file time, page 0: three new articles on another day, and once the old name stayed
    gone, the first three withdrawn; a feed reader showed each story twice."""
    first = _examples(config, store, now)
    page = config.paths.source / "2024-11-27_01.txt"
    a_year_on = (now + timedelta(days=400)).timestamp()  # a copy tool gave it a new file time too
    os.utime(page, (a_year_on, a_year_on))
    page.rename(config.paths.source / "yaowen.txt")
    _step(config, store, now + timedelta(days=1))
    _step(config, store, now + timedelta(days=2))  # the old name is gone for good now: nothing retracted
    assert _feeds(config) == first
    assert not any(e.retracted for e in store.entries())
    record = store.source("yaowen.txt")
    assert record is not None and (record.issue_date, record.page) == (date(2024, 11, 27), 1)


def test_a_new_file_with_the_bytes_of_two_pages_is_dated_by_its_own_evidence(
    config: Config, store: Store, now: datetime
) -> None:
    """One text saved under two days' names holds two pages: a third copy named without a date cannot
    be told to be either, so it is dated as any new file is, by its text (and file time)."""
    page = ROOT / "examples" / "pages" / "2024-11-27_01.txt"
    for name in ("2024-11-27_01.txt", "2024-11-28_05.txt", "undated.txt"):
        shutil.copyfile(page, config.paths.source / name)
        ingest(config, store, now)
    record = store.source("undated.txt")
    assert record is not None and record.page == 0 and record.dated_by != DatedBy.NAME


def test_a_rebuilt_database_gives_byte_identical_feeds(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    with store._begin() as conn:  # the database deleted: every table gone
        metadata.drop_all(conn)
        for table in ("alembic_version", "search_docs", "search_text", "search_heads"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    store.close()
    shutil.rmtree(config.paths.output)
    with Store.open(config.database_url) as rebuilt:
        _step(config, rebuilt, now + timedelta(days=30))
    assert _feeds(config) == first


def test_a_page_without_any_date_keeps_its_first_date_and_says_it_is_unsure(
    config: Config, store: Store, now: datetime
) -> None:
    page = config.paths.source / "page.txt"
    page.write_text("● 要闻\n\n# 一篇没有日期的稿件\n\n正文。\n", encoding="utf-8")
    ingest(config, store, now)
    [entry] = store.entries()
    assert entry.dated_by is DatedBy.MTIME
    page.write_text("● 要闻\n\n# 一篇没有日期的稿件\n\n正文。\n\n", encoding="utf-8")
    later = (now + timedelta(days=3)).timestamp()
    os.utime(page, (later, later))
    report = ingest(config, store, now + timedelta(days=3))
    assert (report.read, report.new) == (1, 0)
    assert [(e.uid, e.issue_date) for e in store.entries()] == [(entry.uid, entry.issue_date)]
    run_publish(config, store)
    assert "日期待核" in (config.paths.output / f"articles/{entry.issue_date}/{entry.uid}.html").read_text()


def test_a_deleted_page_is_retracted_once_it_stays_gone(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    gone = {e.tag: e for e in store.entries() if e.source == SEED}
    sections = {e.section.slug for e in gone.values()}
    saved = (config.paths.source / SEED).read_bytes()
    (config.paths.source / SEED).unlink()
    _step(config, store, now + timedelta(seconds=1))  # an editor's save: gone for a moment
    (config.paths.source / SEED).write_bytes(saved)
    _step(config, store, now + timedelta(seconds=60))
    assert _feeds(config) == first
    (config.paths.source / SEED).unlink()
    _step(config, store, now + timedelta(minutes=2))
    _step(config, store, now + timedelta(minutes=3))  # gone longer than ingest.settle_seconds
    assert _tombstones(config, "all") == set(gone)
    assert not set(_entries(config)) & set(gone)
    for slug in sections:
        mine = {tag for tag, e in gone.items() if e.section.slug == slug}
        assert mine <= _tombstones(config, slug)
    assert all(e.retracted is Retraction.FILE_GONE for e in store.entries() if e.tag in gone)
    with serving(create_app(config.paths.output)) as base:
        for entry in gone.values():
            answer = httpx.get(f"{base}/articles/{entry.issue_date}/{entry.uid}.html")
            assert answer.status_code == 410 and "此文已撤回" in answer.text
        assert httpx.get(f"{base}/articles/{entry.issue_date}/{entry.uid}.html.gone").status_code == 404


def test_an_article_gone_from_a_re_read_page_is_retracted(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    page = config.paths.source / "2024-11-27_03.txt"
    page.write_text(
        "● 要闻\n\n# 第一篇\n\n甲的正文，够长的一段话。\n\n# 第二篇\n\n乙的正文，另一段话。\n",
        encoding="utf-8",
    )
    _step(config, store, now)
    dropped = next(e for e in store.entries() if e.article.title == "第二篇")
    page.write_text("● 要闻\n\n# 第一篇\n\n甲的正文，够长的一段话。\n", encoding="utf-8")
    report = ingest(config, store, now + timedelta(hours=1))
    assert report.retracted == 1
    run_publish(config, store)
    assert dropped.tag in _tombstones(config, "all") and dropped.tag not in _entries(config)
    # Put back, it is the same article again.
    page.write_text(
        "● 要闻\n\n# 第一篇\n\n甲的正文，够长的一段话。\n\n# 第二篇\n\n乙的正文，另一段话。\n",
        encoding="utf-8",
    )
    _step(config, store, now + timedelta(hours=2))
    assert dropped.tag in _entries(config) and dropped.tag not in _tombstones(config, "all")


def _cli(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    options = ["--source", str(config.paths.source), "--data", str(config.paths.data)]
    options += ["--output", str(config.paths.output)]
    env = {**os.environ, "DIGEST_DATABASE_URL": config.database_url}
    command = [sys.executable, "-m", "digest.cli", *args, *options]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_retract_by_hand_and_restore_through_the_cli(
    config: Config, store: Store, first: dict[str, bytes], now: datetime
) -> None:
    entry = next(e for e in store.entries() if e.source == SEED)
    url = f"{config.site.base_url}/articles/{entry.issue_date}/{entry.uid}.html"
    done = _cli(config, "retract", url)
    assert done.returncode == 0 and f"retracted {entry.tag}" in done.stdout, done.stderr
    assert entry.tag in _tombstones(config, "all") and entry.tag not in _entries(config)
    # A re-read of its page (a parser upgrade) keeps a retraction by hand.
    assert "1 retracted" not in _cli(config, "ingest", "--reparse").stdout
    assert store.find_entry(entry.uid).retracted is Retraction.BY_HAND  # type: ignore[union-attr]
    restored = _cli(config, "retract", entry.tag, "--restore")
    assert restored.returncode == 0 and "restored" in restored.stdout
    # Back, and republished at the head of the feed for readers that dropped it on the tombstone.
    assert entry.tag not in _tombstones(config, "all")
    assert next(iter(_entries(config))) == entry.tag and _entries(config).keys() == _entries_of(first)
    unknown = _cli(config, "retract", "tag:nothing:article/2024-01-01/0")
    assert unknown.returncode == 1 and "no article has the id" in unknown.stderr


def test_the_seeds_on_an_empty_database_mail_only_issues_within_backfill_days(
    config: Config, store: Store, seeds: Path, now: datetime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _copy_seeds(seeds, config)
    ingest(config, store, now)
    store.add_subscriber(Subscriber("reader@example.org", (), True, now))
    day = now.astimezone(config.tz).date() + timedelta(days=1)
    recent = {e.uid for e in store.entries() if 0 <= (day - e.issue_date).days <= config.digest.backfill_days}
    old = [e for e in store.entries() if e.uid not in recent]
    assert recent and old
    with caplog.at_level(logging.INFO, logger="digest.service.jobs"):
        result = run_digest(config, store, OutboxMailer(tmp_path / "outbox"), now + timedelta(days=1), day)
    mailed = {e.uid for _, items in result.digest.groups for e in items}
    assert mailed == recent and result.delivery.sent == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    kept = [r.getMessage() for r in caplog.records if "back issues" in r.getMessage()]
    issues = len({e.issue_date for e in old})
    assert len(kept) == 1 and f"kept {issues} back issues ({len(old)} articles" in kept[0] and issues >= 2
    # The back issues are still on the site and in the feeds.
    run_publish(config, store)
    assert len(_entries(config)) == len(store.entries())


def _issue_pages(config: Config, day: str, pages: int, per_page: int) -> list[str]:
    """Page files ``<day>_NN.txt`` of ``per_page`` articles each; returns the headlines in paper order."""
    titles = []
    for page in range(1, pages + 1):
        parts = ["● 要闻"]
        for n in range(per_page):
            title = f"第{page}版第{n + 1}篇报道"
            titles.append(title)
            parts.append(
                f"# {title}\n\n本报讯 这是{day}第{page}版的第{n + 1}篇稿件，内容各不相同：{page * 100 + n}。"
            )
        (config.paths.source / f"{day}_{page:02d}.txt").write_text(
            "\n\n".join(parts) + "\n", encoding="utf-8"
        )
    return titles


def test_a_whole_issue_bigger_than_feeds_size_is_in_the_subscription_document_page_1_first(
    config: Config, store: Store, now: datetime
) -> None:
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, size=50))
    _issue_pages(config, "2024-11-25", 8, 9)
    _issue_pages(config, "2024-11-26", 8, 9)
    ingest(config, store, now - timedelta(days=1))
    run_publish(config, store)
    titles = _issue_pages(config, "2024-11-27", 10, 9)
    _step(config, store, now)
    root = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    shown = [
        (e.findtext(f"{ATOM}title"), e.findtext(f"{ATOM}published")) for e in root.findall(f"{ATOM}entry")
    ]
    newest = [title for title, published in shown if published.startswith("2024-11-27")]
    assert newest == titles and len(titles) == 90  # whole, in paper order, page 1 first
    assert [title for title, _ in shown[:90]] == titles
    # 144 older articles: one full archive page of 100, the rest with the new issue.
    archive = config.paths.output / "feeds" / "archive" / "all"
    # one full archive page, in each format
    assert sorted(p.name for p in archive.iterdir()) == ["1.atom", "1.json"]
    assert len(shown) == 90 + 44


def test_a_parser_upgrade_re_reads_stored_pages_keeping_ids_first_seen_and_retractions(
    config: Config,
    store: Store,
    first: dict[str, bytes],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = {e.uid: e for e in store.entries()}
    withdrawn = next(iter(before))
    store.retract([withdrawn], Retraction.BY_HAND, now)
    assert ingest(config, store, now + timedelta(hours=1)).read == 0  # nothing new: nothing read
    monkeypatch.setattr("digest.ingest.pipeline.PARSER_VERSION", "next")
    monkeypatch.setattr("digest.ingest.read.PARSER_VERSION", "next")  # both modules compare it
    with caplog.at_level(logging.INFO, logger="digest.ingest.pipeline"):
        report = ingest(config, store, now + timedelta(hours=2))
    assert report.read == len(list(config.paths.source.glob("*.txt"))) and report.new == 0
    # The operator is told why every page is read again, before it is (a long start-up).
    said = [r.getMessage() for r in caplog.records if "parser upgraded" in r.getMessage()]
    assert said == [
        f"parser upgraded to version next: reading again, once, the {report.read} stored page files "
        f"an older version read (version {PARSER_VERSION}: {report.read}); articles keep their ids "
        "and first-seen times, and only those whose text changes are republished"
    ]
    caplog.clear()
    after = {e.uid: e for e in store.entries()}
    assert after.keys() == before.keys()
    assert all(after[uid].first_seen == before[uid].first_seen for uid in after)
    assert after[withdrawn].retracted is Retraction.BY_HAND
    with caplog.at_level(logging.INFO, logger="digest.ingest.pipeline"):
        assert ingest(config, store, now + timedelta(hours=3)).read == 0  # read once per version
    assert not [r for r in caplog.records if "parser upgraded" in r.getMessage()]
    assert {r.parser_version for r in store.sources(list(store.source_paths())).values()} == {"next"}


def _upgrade_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if "parser upgraded" in r.getMessage()]
    caplog.clear()
    return lines


def _upgrade(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr("digest.ingest.pipeline.PARSER_VERSION", version)
    monkeypatch.setattr("digest.ingest.read.PARSER_VERSION", version)  # both modules compare it


def test_the_upgrade_line_counts_the_pages_the_run_reads_again_and_is_said_once(
    config: Config,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="digest.ingest.pipeline")
    pages = [config.paths.source / f"2024-11-27_0{n}.txt" for n in (1, 2, 3)]
    for n, page in enumerate(pages, 1):
        page.write_text(f"● 要闻\n\n# 第{n}篇\n\n第{n}篇的正文，够长的一段话。\n", encoding="utf-8")
    ingest(config, store, now)
    pages[2].unlink()  # deleted (or its share unmounted): never read again
    _upgrade(monkeypatch, "next")
    assert ingest(config, store, now + timedelta(hours=1)).read == 2
    assert _upgrade_lines(caplog) == [
        "parser upgraded to version next: reading again, once, the 2 stored page files an older "
        f"version read (version {PARSER_VERSION}: 2); articles keep their ids and first-seen times, "
        "and only those whose text changes are republished"
    ]
    assert ingest(config, store, now + timedelta(hours=2)).read == 0
    assert _upgrade_lines(caplog) == []  # the deleted page's row counts for nothing

    # ``digest serve`` reads the files that changed: the line counts those it reads, not every page.
    _upgrade(monkeypatch, "after")
    said = "reading again, once, the 1 stored page files an older version read (version next: 1)"
    assert ingest(config, store, now + timedelta(hours=3), [pages[0]]).read == 1
    assert [said in line for line in _upgrade_lines(caplog)] == [True]
    assert ingest(config, store, now + timedelta(hours=4), [pages[0]]).read == 0
    assert _upgrade_lines(caplog) == []
    assert ingest(config, store, now + timedelta(hours=5)).read == 1  # the other page, once
    assert [said in line for line in _upgrade_lines(caplog)] == [True]
    assert ingest(config, store, now + timedelta(hours=6)).read == 0
    assert _upgrade_lines(caplog) == []


def test_status_names_pages_dated_by_their_file_time(config: Config, store: Store, now: datetime) -> None:
    (config.paths.source / "undated.txt").write_text("● 要闻\n\n# 无日期\n\n正文。\n", encoding="utf-8")
    # Month and day from its dateline, the year from the file time: "dated by the file time" was half true.
    (config.paths.source / "no-year.txt").write_text(
        "● 要闻\n\n# 无年份\n\n本报3月2日讯 正文。\n", encoding="utf-8"
    )
    ingest(config, store, now)
    status = _cli(config, "status")
    assert status.returncode == 0, status.stderr
    assert "undated.txt" in status.stdout and "no-year.txt" in status.stdout and "日期待核" in status.stdout
    assert "pages whose date, or its year, is their file time's (日期待核): 2" in status.stdout
    assert "a date in the file name" in status.stdout


def test_a_source_folder_emptied_at_once_retracts_nothing(
    config: Config, store: Store, first: dict[str, bytes], now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    for page in config.paths.source.glob("*.txt"):
        page.unlink()  # an unmounted share, or the folder swapped for an empty one
    with caplog.at_level(logging.WARNING, logger="digest.ingest.pipeline"):
        _step(config, store, now + timedelta(minutes=1))
        _step(config, store, now + timedelta(minutes=10))
    assert not any(e.retracted for e in store.entries())
    assert _feeds(config) == first
    assert any("gone at once: not retracting" in r.getMessage() for r in caplog.records)
