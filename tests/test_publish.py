"""Writing the output folder: only changed bytes, atomic renames, pruning, and failures that lose nothing."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from atomcheck import ATOM, CLOCK, check_atom, make_config, make_entry, parse
from test_server import serving

from digest import workerpool, workers
from digest.config import Config, DigestConfig
from digest.errors import PublishError
from digest.publish import build as publish_module
from digest.publish import drawing, kept, staging
from digest.publish.build import PublishReport, build_plan, publish, publish_store
from digest.publish.staging import Committed, Stager
from digest.store.database import Store
from digest.store.records import DigestRecord
from digest.types import Digest, Entry
from digest.web.server import create_app

BASE = "http://example.test/paper/"


def _twins(*paths: str) -> set[str]:
    """Feed documents ``paths`` (Atom) and their JSON Feed twins, drawn with them."""
    return {*paths, *(path.removesuffix(".atom") + ".json" for path in paths)}


FEEDS = tuple(
    sorted(_twins("feeds/all.atom", "feeds/yao-wen.atom", "feeds/jing-ji.atom", "feeds/digests.atom"))
)


def _entries() -> list[Entry]:
    return [
        make_entry("头版要闻", section="要闻", position=0),
        make_entry("经济新闻", section="经济", position=1, seen=CLOCK + timedelta(minutes=1)),
        make_entry("要闻次条", section="要闻", position=2, seen=CLOCK + timedelta(minutes=2)),
    ]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_first_publish_writes_everything_and_reports_every_feed(tmp_path: Path) -> None:
    out = tmp_path / "output"
    report = publish(_entries(), [], make_config(), out)
    on_disk = set(_snapshot(out))
    assert set(report.written) == on_disk and report.written_count == len(on_disk) and report.unchanged == 0
    assert {"index.html", "subscribe.html", "feeds.opml", "static/style.css", *FEEDS} <= on_disk
    assert sorted(report.changed_feeds) == sorted(BASE + path for path in FEEDS)
    assert not [p for p in on_disk if p.endswith(".tmp")]
    assert oct((out / "feeds/all.atom").stat().st_mode & 0o777) == "0o644"
    check_atom((out / "feeds/all.atom").read_bytes())


def test_noop_republish_writes_nothing_and_keeps_mtimes(tmp_path: Path) -> None:
    out = tmp_path / "output"
    first = publish(_entries(), [], make_config(), out)
    before = _snapshot(out)
    report = publish(_entries(), [], make_config(), out)
    assert report == PublishReport(written=(), unchanged=len(first.written), changed_feeds=())
    assert _snapshot(out) == before


def test_content_change_rewrites_only_what_shows_that_article(tmp_path: Path) -> None:
    out = tmp_path / "output"
    entries = _entries()
    publish(entries, [], make_config(), out)
    old_feed = parse((out / "feeds/all.atom").read_bytes())

    target = entries[1]
    fixed = replace(
        target,
        article=replace(target.article, body="更正后的正文。第二句。"),
        updated=CLOCK + timedelta(hours=3),
    )
    report = publish([entries[0], fixed, entries[2]], [], make_config(), out)

    assert set(report.written) == {
        f"articles/2024-11-27/{target.uid}.html",
        "index.html",  # the front page shows summaries of the latest issue
        *_twins("feeds/all.atom", "feeds/jing-ji.atom"),
    }
    assert sorted(report.changed_feeds) == sorted(
        BASE + p for p in _twins("feeds/all.atom", "feeds/jing-ji.atom")
    )
    new_feed = parse((out / "feeds/all.atom").read_bytes())
    assert new_feed.findtext(f"{ATOM}updated") == "2024-11-27T12:30:00+08:00"
    for old, new in zip(old_feed.findall(f"{ATOM}entry"), new_feed.findall(f"{ATOM}entry"), strict=True):
        changed = old.findtext(f"{ATOM}id") == target.tag
        assert new.findtext(f"{ATOM}id") == old.findtext(f"{ATOM}id")
        assert (new.findtext(f"{ATOM}updated") != old.findtext(f"{ATOM}updated")) == changed
        assert (new.findtext(f"{ATOM}content") != old.findtext(f"{ATOM}content")) == changed


def test_removed_articles_are_pruned_but_foreign_files_stay(tmp_path: Path) -> None:
    out = tmp_path / "output"
    entries = _entries()
    older = make_entry("前天的新闻", section="经济", day=CLOCK.date() - timedelta(days=2))
    publish([*entries, older], [], make_config(), out)
    (out / "robots.txt").write_text("User-agent: *\n")
    (out / "uploads").mkdir()
    (out / "uploads" / "logo.png").write_bytes(b"png")
    (out / "articles" / ".index.html.123.tmp").write_bytes(b"left over by a crash")

    publish(entries, [], make_config(), out)
    assert not (out / "articles" / older.issue_date.isoformat()).exists()
    assert not (out / "articles" / ".index.html.123.tmp").exists()
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert (out / "uploads" / "logo.png").read_bytes() == b"png"
    assert (out / f"articles/2024-11-27/{entries[0].uid}.html").is_file()


def test_failed_rename_raises_publish_error_and_keeps_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output"
    entries = _entries()
    publish(entries, [], make_config(), out)
    before = _snapshot(out)

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    changed = [*entries, make_entry("新来的稿件", section="要闻", seen=CLOCK + timedelta(hours=1))]
    with pytest.raises(PublishError) as caught:
        publish(changed, [], make_config(), out)
    message = str(caught.value)
    assert str(out) in message and "Permission denied" in message and "paths.output" in message
    assert _snapshot(out) == before  # no half-written file, no temp file left behind


@pytest.mark.parametrize(
    ("blocker", "make"),
    [
        ("articles/2024-11-28", lambda p: p.write_bytes(b"a file where a folder must go")),
        ("feeds/all.atom", lambda p: (p.unlink(), p.mkdir())),  # a folder where a file must go
    ],
)
def test_something_in_the_way_fails_before_any_file_is_replaced(
    tmp_path: Path, blocker: str, make: Callable[[Path], object]
) -> None:
    out = tmp_path / "output"
    entries = _entries()
    publish(entries, [], make_config(), out)
    make(out / blocker)
    newcomer = make_entry("新来的稿件", section="要闻", seen=CLOCK + timedelta(hours=1))
    newcomer = replace(newcomer, issue_date=CLOCK.date() + timedelta(days=1))
    before = _snapshot(out)
    with pytest.raises(PublishError, match=re.escape(str(out))):
        publish([*entries, newcomer], [], make_config(), out)
    assert _snapshot(out) == before


def test_output_path_that_is_a_file_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.write_text("not a folder")
    with pytest.raises(PublishError, match=re.escape("paths.output")):
        publish(_entries(), [], make_config(), out)
    assert out.read_text() == "not a folder"


def test_paths_outside_the_output_folder_are_refused(tmp_path: Path) -> None:
    evil = replace(make_entry("越界"), uid="../../../escaped")
    with pytest.raises(PublishError, match="outside the output folder"):
        publish([evil], [], make_config(), tmp_path / "output")
    assert not list(tmp_path.rglob("escaped*"))


# -- incremental publishing from the store --------------------------------------------------------


def _article(i: int, section: str = "要闻", day: int = 0, body: str = "") -> Entry:
    return make_entry(
        f"第{i}篇稿件",
        body or f"第{i}篇稿件的第一句话。第二句话。",
        section=section,
        position=i,
        day=CLOCK.date() + timedelta(days=day),
        seen=CLOCK + timedelta(days=day, minutes=i),
    )


# The newest full archive page links next-archive to the subscription document, for good (its bytes are
# frozen); drawn from scratch once the next page is full too, it links that page.  So the two builds are
# compared without that one link; test_publish_links checks every link on disk resolves.
_NEXT_ARCHIVE = re.compile(rb'\n *<link rel="next-archive"[^>]*/>')


def _on_disk(folder: Path) -> dict[str, bytes]:
    return {
        p: _NEXT_ARCHIVE.sub(b"", data) for p, (data, _) in _snapshot(folder).items() if not p.startswith(".")
    }


def _expected(store: Store, config: Config) -> dict[str, bytes]:
    """The whole output as the in-memory full build makes it from the same data (see ``_NEXT_ARCHIVE``)."""
    digests = [Digest(r.day, r.since, r.until) for r in store.digests()]
    return {
        p: _NEXT_ARCHIVE.sub(b"", data) for p, data in build_plan(store.entries(), digests, config).items()
    }


def _issues(first: int, days: int, per_day: int = 10) -> list[list[Entry]]:
    """Daily issues of ``per_day`` articles each (sections alternating), one list per day."""
    return [
        [_article(first + d * per_day + n, ("要闻", "经济")[n % 2], day=d - days) for n in range(per_day)]
        for d in range(days)
    ]


def test_a_service_publishing_page_after_page_draws_only_the_new_entries(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(size=5)
    out = tmp_path / "output"
    # What this process kept from other tests' publishes (the same entries, by value) is not ours.
    monkeypatch.setattr(kept, "ITEMS", kept.Kept(kept.KEPT_DRAWN))
    for issue in _issues(0, 12):
        store.upsert_entries(issue)
    publish_store(store, config, out)
    store.upsert_entries([_article(500, "要闻", day=1), _article(501, "经济", day=1)])
    publish_store(store, config, out)  # both feeds and every section drawn once since the start
    drawn: list[str] = []
    draw = kept.story_item
    monkeypatch.setattr(
        kept, "story_item", lambda story, config: (drawn.append(story.uid), draw(story, config))[1]
    )
    later = [_article(502, "要闻", day=1), _article(503, "经济", day=1)]
    store.upsert_entries(later)
    assert not publish_store(store, config, out).full
    # Every other entry of the subscription documents was kept from the publishes before.
    assert sorted(drawn) == sorted(e.uid for e in later)
    assert _on_disk(out) == _expected(store, config)
    # A correction is a new entry to draw, and its new text is what the feeds hold.
    corrected = replace(later[0], article=replace(later[0].article, body="更正后的正文。"))
    store.upsert_entries([corrected], CLOCK + timedelta(hours=2))
    drawn.clear()
    assert not publish_store(store, config, out).full
    assert drawn == [corrected.uid]
    assert _on_disk(out) == _expected(store, config)
    assert "更正后的正文" in (out / "feeds" / "all.atom").read_text(encoding="utf-8")


def test_incremental_publish_matches_a_full_build_and_touches_only_what_changed(
    store: Store, tmp_path: Path
) -> None:
    config = make_config(size=5)
    out = tmp_path / "output"
    for issue in _issues(0, 23):  # read a day at a time, as a paper arrives
        store.upsert_entries(issue)
    first = publish_store(store, config, out)
    assert first.full and _on_disk(out) == _expected(store, config)
    # 230 in "all": pages 1 and 2 are full and frozen, the other 30 are in the subscription document.
    pages = {p for p in first.written if p.startswith("feeds/archive/")}
    assert pages == _twins(
        "feeds/archive/all/1.atom",
        "feeds/archive/all/2.atom",
        "feeds/archive/yao-wen/1.atom",
        "feeds/archive/jing-ji/1.atom",
    )

    before = _snapshot(out)
    newcomer = _article(1000, "要闻", day=1)
    store.upsert_entries([newcomer])
    report = publish_store(store, config, out)
    assert not report.full and _on_disk(out) == _expected(store, config)
    assert set(report.written) == {
        f"articles/{newcomer.issue_date}/{newcomer.uid}.html",
        "index.html",
        "sections/yao-wen.html",
        *_twins("feeds/all.atom", "feeds/yao-wen.atom"),
        # A new issue: its page, the issue list, and the issue before it, which now has a next one.
        "issues/2024-11-28/index.html",
        "issues/index.html",
        "issues/2024-11-26/index.html",
    }
    assert sorted(report.changed_feeds) == sorted(
        BASE + p for p in _twins("feeds/all.atom", "feeds/yao-wen.atom")
    )

    # One more article in that issue: its neighbour's page links to it; no other issue changes.
    neighbour = _article(1001, "经济", day=1)
    store.upsert_entries([neighbour])
    report = publish_store(store, config, out)
    assert not report.full and _on_disk(out) == _expected(store, config)
    assert set(report.written) == {
        f"articles/{neighbour.issue_date}/{neighbour.uid}.html",
        f"articles/{newcomer.issue_date}/{newcomer.uid}.html",  # 下一篇 is new
        "index.html",
        "sections/jing-ji.html",
        *_twins("feeds/all.atom", "feeds/jing-ji.atom"),
        "issues/2024-11-28/index.html",
        "issues/index.html",  # the issue's count
    }

    # Enough new issues to fill a page: it becomes page 3 of "all"; pages 1 and 2 stay as they were.
    for issue in _issues(2000, 8):
        store.upsert_entries([replace(e, issue_date=e.issue_date + timedelta(days=10)) for e in issue])
    report = publish_store(store, config, out)
    assert not report.full and _on_disk(out) == _expected(store, config)
    assert {"feeds/archive/all/3.atom", "feeds/archive/all/3.json"} <= set(report.written)
    full_pages = [p for p in before if re.fullmatch(r"feeds/archive/[a-z-]+/\d+\.(atom|json)", p)]
    assert full_pages and all(_snapshot(out)[p] == before[p] for p in full_pages)  # never rewritten

    # A digest: its page, the digest list and the digest feed; no article page.
    since = CLOCK - timedelta(days=30)
    until = CLOCK + timedelta(hours=1)
    count = len(store.entries_first_seen(since, until))
    store.save_digest(DigestRecord(CLOCK.date(), since, until, until, count))
    report = publish_store(store, config, out)
    assert not report.full and _on_disk(out) == _expected(store, config)
    assert set(report.written) == {
        "digests/2024-11-27.html",
        "digests/index.html",
        *_twins("feeds/digests.atom"),
        "index.html",  # the front page leads to the latest digest
    }
    assert publish_store(store, config, out) == PublishReport((), 0, (), (), False)

    # A corrected article deep in the archive: its page, and its new version at the head of the
    # subscription documents (RFC 5005 §4.1); the full archive page that holds the old one stays.
    frozen = {p: data for p, (data, _) in _snapshot(out).items() if p.startswith("feeds/archive/")}
    old = _article(3, "经济", day=-23)
    fixed = replace(
        old, article=replace(old.article, body="更正后的正文。"), updated=CLOCK + timedelta(days=2)
    )
    store.upsert_entries([fixed], CLOCK + timedelta(days=2))
    report = publish_store(store, config, out)
    assert not report.full
    assert set(report.written) == {
        f"articles/{old.issue_date}/{old.uid}.html",
        *_twins("feeds/all.atom", "feeds/jing-ji.atom"),
    }
    for feed in ("all", "jing-ji"):
        head = parse((out / f"feeds/{feed}.atom").read_bytes()).find(f"{ATOM}entry")
        assert head.findtext(f"{ATOM}id") == old.tag and "更正后的正文" in head.findtext(f"{ATOM}content")
    assert {p: data for p, (data, _) in _snapshot(out).items() if p.startswith("feeds/archive/")} == frozen
    # A full rebuild (an upgrade, a new template) leaves the frozen pages and draws the rest the same.
    shown = _on_disk(out)
    assert publish_store(store, config, out, full=True).full and _on_disk(out) == shown
    for path in out.rglob("*.atom"):
        check_atom(path.read_bytes())


def test_a_clock_stepped_back_neither_buries_new_articles_nor_touches_a_frozen_page(
    store: Store, tmp_path: Path
) -> None:
    # Feeds follow the store's change sequence, not first_seen: a host clock corrected backwards (or a
    # database moved from a host whose clock ran ahead) must not put new articles behind old ones.
    config = make_config(size=5)
    out = tmp_path / "output"
    for issue in _issues(0, 23):
        store.upsert_entries(issue)
        publish_store(store, config, out)
    frozen = {p: data for p, (data, _) in _snapshot(out).items() if p.startswith("feeds/archive/")}
    assert "feeds/archive/all/2.atom" in frozen
    newest_seen = max(e.first_seen for e in store.entries())

    # The next issue is read by a clock a day behind the newest stamp the store holds.
    behind = newest_seen - timedelta(days=1)
    arrivals = [
        replace(e, first_seen=behind + timedelta(minutes=n), updated=behind + timedelta(minutes=n))
        for n, e in enumerate(_issues(5000, 1)[0])
    ]
    store.upsert_entries(arrivals, behind)
    report = publish_store(store, config, out)

    assert not report.full and _on_disk(out) == _expected(store, config)
    for feed, section in (("all", None), ("yao-wen", "要闻"), ("jing-ji", "经济")):
        live = parse((out / f"feeds/{feed}.atom").read_bytes())
        ids = [entry.findtext(f"{ATOM}id") for entry in live.iter(f"{ATOM}entry")]
        wanted = [e.tag for e in arrivals if section is None or e.section.name == section]
        assert set(wanted) <= set(ids[: len(wanted)]), feed  # at the head of the subscription document
    assert {p: data for p, (data, _) in _snapshot(out).items() if p.startswith("feeds/archive/")} == frozen


def test_full_archive_pages_are_cached_forever_and_the_subscription_document_briefly(tmp_path: Path) -> None:
    out = tmp_path / "output"
    entries = [e for issue in _issues(0, 13) for e in issue]
    publish(entries, [], make_config(size=10), out)
    with serving(create_app(out)) as url, httpx.Client(base_url=url, timeout=10) as client:
        full = client.get("/feeds/archive/all/1.atom")
        assert full.status_code == 200 and "immutable" in full.headers["cache-control"]
        live = client.get("/feeds/all.atom")
        assert live.status_code == 200 and live.headers["cache-control"] == "public, max-age=300"
        assert client.get("/feeds/archive/all/open.atom").status_code == 404


def test_what_forces_a_full_rebuild(store: Store, tmp_path: Path) -> None:
    config = make_config()
    out = tmp_path / "output"
    store.upsert_entries([_article(i) for i in range(3)])
    assert publish_store(store, config, out).full
    assert not publish_store(store, config, out).full

    assert publish_store(store, config, out, full=True).full  # digest publish --full
    retitled = replace(config, site=replace(config.site, title="另一个标题"))
    assert publish_store(store, retitled, out).full  # settings every page shows
    store.upsert_entries([_article(10, "体育")])
    assert publish_store(store, retitled, out).full  # a new section is in every page's navigation
    shutil.rmtree(out)
    report = publish_store(store, retitled, out)  # a wiped output folder
    assert report.full and _on_disk(out) == _expected(store, retitled)


def test_an_article_moved_to_another_issue_leaves_no_stale_page_behind(store: Store, tmp_path: Path) -> None:
    # A page file dropped again with its dateline corrected keeps its articles' ids but moves them
    # to another issue: the old issue's page must stop listing them and their old page must go.
    config = make_config()
    out = tmp_path / "output"
    articles = [_article(i, day=-1) for i in range(3)] + [_article(i, day=0) for i in range(3, 5)]
    store.upsert_entries(articles)
    publish_store(store, config, out)
    old_page = f"articles/{articles[0].issue_date}/{articles[0].uid}.html"
    assert (out / old_page).is_file()
    moved = replace(articles[0], issue_date=CLOCK.date(), updated=CLOCK + timedelta(hours=1))
    store.upsert_entries([moved], CLOCK + timedelta(hours=1))
    publish_store(store, config, out)
    assert not (out / old_page).exists()
    assert _on_disk(out) == _expected(store, config)


def test_a_failed_publish_is_redone_in_full(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config()
    out = tmp_path / "output"
    store.upsert_entries([_article(i) for i in range(3)])
    publish_store(store, config, out)
    store.upsert_entries([_article(5)])
    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError(28, "No space left")))
        with pytest.raises(PublishError, match="No space left"):
            publish_store(store, config, out)
    report = publish_store(store, config, out)
    assert not report.full and _on_disk(out) == _expected(store, config)  # the change was not lost

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError(28, "No space left")))
        with pytest.raises(PublishError):
            publish_store(store, config, out, full=True)
    assert publish_store(store, config, out).full  # a half-done full rebuild is never trusted


def test_a_writer_committing_mid_publish_is_published_next_time_and_nothing_shifts(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance's ingest commits while a publish reads: the publish renders the state it
    began with (one snapshot), and the next publish renders the newcomer, every page in its place."""
    config = make_config(size=5)
    out = tmp_path / "output"
    store.upsert_entries([_article(i) for i in range(120)])
    publish_store(store, config, out)
    store.upsert_entries([_article(500, day=1)])
    late = _article(501, day=1)
    reads = {"feed_stream": 0}
    stream = Store.feed_stream

    def writer_strikes(self: Store, *args: object, **kwargs: object) -> Iterator[Entry]:
        reads["feed_stream"] += 1
        if reads["feed_stream"] == 1:
            with Store.open(store.url) as other:  # its own connections, like a second process
                other.upsert_entries([late])
        return stream(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "feed_stream", writer_strikes)
    first = publish_store(store, config, out)
    monkeypatch.undo()
    assert not first.full and reads["feed_stream"] > 1
    assert f"articles/{late.issue_date}/{late.uid}.html" not in first.written
    all_feed = (out / "feeds/all.atom").read_bytes()
    assert late.tag.encode() not in all_feed and _article(500, day=1).tag.encode() in all_feed

    second = publish_store(store, config, out)
    assert not second.full and f"articles/{late.issue_date}/{late.uid}.html" in second.written
    assert _on_disk(out) == _expected(store, config)
    for path in out.rglob("*.atom"):
        check_atom(path.read_bytes())


def test_what_changed_is_a_range_of_the_change_sequence(store: Store) -> None:
    store.upsert_entries([_article(i) for i in range(3)])
    with store.snapshot() as before:
        pass
    assert store.unpublished(before) == []
    store.upsert_entries([_article(1)])  # the same text: no change, no row in the range
    assert store.unpublished(before) == []
    old = _article(2)
    store.upsert_entries([replace(old, article=replace(old.article, body="改过的正文。")), _article(7)])
    with store.snapshot() as after:
        assert after > before
        changed = store.unpublished(before)
        assert [(e.uid, slug) for e, slug in changed] == [(old.uid, None), (_article(7).uid, None)]
        assert len(store.unpublished(before, limit=1)) == 1
    assert store.unpublished(after) == []


def test_a_path_put_twice_keeps_the_last_bytes_and_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "output"
    (out / "feeds").mkdir(parents=True)
    (out / "feeds/a.atom").write_bytes(b"old")
    with Stager(out) as stager:
        stager.put("feeds/a.atom", b"new")
        stager.put("feeds/a.atom", b"old")  # back to what is on disk: the staged file goes
        stager.put("pages/b.html", b"one")
        stager.put("pages/b.html", b"two")
        committed, _ = stager.commit()
    assert committed == Committed(1, ("pages/b.html",), ()) and stager.unchanged == 1
    assert (out / "feeds/a.atom").read_bytes() == b"old" and (out / "pages/b.html").read_bytes() == b"two"
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_a_large_publish_counts_what_it_wrote_and_names_the_first_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full rebuild of a large archive writes a file per article: the report must not hold them all."""
    monkeypatch.setattr(staging, "REPORTED_PATHS", 3)
    out = tmp_path / "output"
    report = publish(_entries(), [], make_config(), out)
    on_disk = set(_snapshot(out))
    assert report.written_count == len(on_disk) > 3
    assert len(report.written) == 3 and set(report.written) < on_disk
    assert sorted(report.changed_feeds) == sorted(BASE + path for path in FEEDS)  # every feed, still


def _drawing_on_every_core(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make a small build draw in worker processes (two, whatever this machine has); returns the
    pools made, to show they were."""
    made: list[object] = []
    make_pool = workers.pool

    def recorded(*args: object, **kwargs: object) -> object:
        made.append(make_pool(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(workers, "cpu_count", lambda: 2)
    monkeypatch.setattr(workers, "free_cores", lambda: 2.0)  # however busy the machine running tests is
    monkeypatch.setattr(workers, "pool", recorded)
    monkeypatch.setattr(publish_module, "POOL_MIN_ARTICLES", 10)
    monkeypatch.setattr(drawing, "ARTICLE_BATCH", 7)  # batches end mid-feed-page
    monkeypatch.setattr(drawing, "ISSUES_IN_FLIGHT", 2)
    return made


def test_a_full_build_drawn_in_worker_processes_is_the_same_build(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(size=5)
    store.upsert_entries([_article(i, ("要闻", "经济", "文化")[i % 3]) for i in range(230)])
    since, until = CLOCK - timedelta(days=1), CLOCK + timedelta(hours=1)
    store.save_digest(DigestRecord(CLOCK.date(), since, until, until, 60))
    made = _drawing_on_every_core(monkeypatch)
    put_here: list[str] = []
    put = Stager.put
    monkeypatch.setattr(
        Stager, "put", lambda self, path, data: (put_here.append(path), put(self, path, data))
    )
    report = publish_store(store, config, tmp_path / "output", full=True)
    assert len(made) == 1 and made[0] is not None
    assert report.full and _on_disk(tmp_path / "output") == _expected(store, config)
    # The workers staged the article pages themselves: none of their bytes came back to be put here.
    assert put_here and not [path for path in put_here if path.startswith("articles/")]


def _daily_digests(store: Store, days: int) -> list[DigestRecord]:
    """``days`` digests of one day each, the newest ending an hour after ``CLOCK``; saved."""
    records = []
    for back in range(days - 1, -1, -1):
        until = CLOCK + timedelta(hours=1) - timedelta(days=back)
        since = until - timedelta(days=1)
        record = DigestRecord(until.date(), since, until, until, len(store.entries_first_seen(since, until)))
        store.save_digest(record)
        records.append(record)
    return records


def test_an_empty_day_is_published_only_with_notice_but_a_frozen_archive_keeps_its_pages(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "output"
    skip = make_config(size=5)
    notice = replace(skip, digest=DigestConfig(empty_days="notice"))
    store.upsert_entries(_entries())
    records = _daily_digests(store, 106)  # only the newest has articles
    assert [r.count for r in records] == [0] * 105 + [3]
    # With notice, every day is published; the oldest 100 fill the feed's first archive page.
    assert publish_store(store, notice, out).full
    frozen = {p: (out / p).read_bytes() for p in _twins("feeds/archive/digests/1.atom")}
    assert all((out / f"digests/{r.day}.html").is_file() for r in records)

    # Switched to skip: a full publish, since what is shown changes.
    assert publish_store(store, skip, out).full
    assert {p: (out / p).read_bytes() for p in frozen} == frozen
    archived, later = records[:100], records[100:]
    # The frozen page links its digests' pages: they stay.  The empty days after it are gone.
    assert all((out / f"digests/{r.day}.html").is_file() for r in archived)
    assert [r.day for r in later if (out / f"digests/{r.day}.html").is_file()] == [later[-1].day]
    live = [
        e.findtext(f"{ATOM}id") for e in parse((out / "feeds/digests.atom").read_bytes()).iter(f"{ATOM}entry")
    ]
    assert live == [f"tag:digest.test,2024:digest/{later[-1].day}"]

    # A new empty day: nothing to draw, and it counts as published.
    until = records[-1].until + timedelta(days=1)
    store.save_digest(DigestRecord(until.date(), records[-1].until, until, until, 0))
    report = publish_store(store, skip, out)
    assert not report.full and report.written == ()
    assert store.unpublished_digests() == []


def _draw_dying_in_a_worker(entries: list[Entry]) -> object:
    if os.getpid() != int(os.environ["DIGEST_TEST_PARENT"]):
        os._exit(1)  # as if the kernel killed it for memory
    raise AssertionError("only workers draw through this")


def test_a_render_worker_that_dies_leaves_the_build_to_this_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(size=5)
    store.upsert_entries([_article(i, ("要闻", "经济")[i % 2]) for i in range(120)])
    _drawing_on_every_core(monkeypatch)
    monkeypatch.setenv("DIGEST_TEST_PARENT", str(os.getpid()))
    monkeypatch.setattr(drawing, "_articles_in_worker", _draw_dying_in_a_worker)
    with caplog.at_level(logging.WARNING, logger="digest.publish.build"):
        report = publish_store(store, config, tmp_path / "output", full=True)
    assert any("render processes failed" in r.getMessage() for r in caplog.records)
    assert report.full and _on_disk(tmp_path / "output") == _expected(store, config)
    assert not [p for p in (tmp_path / "output").rglob("*.tmp")]


_stage_and_draw = drawing._articles_in_worker


def _workers_drawing_with(
    draw: Callable[[list[Entry]], object], store: Store, monkeypatch: pytest.MonkeyPatch
) -> Config:
    """A store of 120 articles in two sections whose full build's workers draw through ``draw``."""
    store.upsert_entries([_article(i, ("要闻", "经济")[i % 2]) for i in range(120)])
    _drawing_on_every_core(monkeypatch)
    monkeypatch.setattr(drawing, "_articles_in_worker", draw)
    return make_config(size=5)


def _stage_then_die_in_a_worker(entries: list[Entry]) -> object:
    _stage_and_draw(entries)  # its pages are staged, and this process never hears of them
    os._exit(1)


def test_pages_a_dying_worker_staged_are_deleted_and_the_build_finished_here(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _workers_drawing_with(_stage_then_die_in_a_worker, store, monkeypatch)
    report = publish_store(store, config, tmp_path / "output", full=True)
    assert report.full and _on_disk(tmp_path / "output") == _expected(store, config)
    assert not list((tmp_path / "output").rglob("*.tmp"))


def _stage_then_fail_in_a_worker(entries: list[Entry]) -> object:
    _stage_and_draw(entries)
    raise RuntimeError("a bug in drawing, after the pages were staged")


def test_a_failed_build_deletes_the_pages_its_workers_staged(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _workers_drawing_with(_stage_then_fail_in_a_worker, store, monkeypatch)
    with pytest.raises(RuntimeError, match="after the pages were staged"):
        publish_store(store, config, tmp_path / "output", full=True)
    # Staged by the workers, never reported here: found by the publish's suffix all the same.
    assert not list((tmp_path / "output").rglob("*.tmp"))


def test_a_process_running_threads_draws_with_workers_from_a_fork_server(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``digest serve`` runs threads (web server, scheduler): its workers must not be forks of it."""
    config = make_config(size=5)
    store.upsert_entries([_article(i, ("要闻", "经济")[i % 2]) for i in range(60)])
    made = _drawing_on_every_core(monkeypatch)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert workerpool.start_method(["digest.publish.build"]).get_start_method() == "forkserver"
        report = publish_store(store, config, tmp_path / "output", full=True)
    finally:
        stop.set()
        other.join()
    assert made and made[0] is not None
    assert report.full and _on_disk(tmp_path / "output") == _expected(store, config)
    assert workerpool.start_method(["digest.publish.build"]).get_start_method() == "fork"


def test_the_staging_ledger_keeps_the_last_word_on_a_path_within_and_across_its_batches() -> None:
    """The ledger writes its rows a batch at a time: a path put twice before a batch is written
    holds what it was put with last, as one written a row at a time would."""
    ledger = staging._Ledger()
    try:
        for n in range(staging._Ledger.BATCH + 10):  # one batch written, the rest pending
            ledger.add(f"pages/{n}.html", staged=True, new=True)
        ledger.add("pages/3.html", staged=False)  # written already: replaced by a pending row
        ledger.add("pages/300.html", staged=True, new=True)
        ledger.add("pages/300.html", staged=False)  # both pending: the later one stands
        ledger.add("feeds/all.atom", staged=True, new=False)
        ledger.add("feeds/all.atom", staged=True, new=True)
        assert not ledger.is_staged("pages/3.html") and not ledger.is_staged("pages/300.html")
        asked = ["pages/3.html", "pages/nowhere.html", "pages/300.html", *(f"x/{n}" for n in range(300))]
        assert ledger.missing(asked) == asked[1:2] + asked[3:]  # put, staged or not, is not missing
        listed = list(ledger.staged())
        assert len(listed) == staging._Ledger.BATCH + 10 - 1 + 1
        assert listed[-1] == "feeds/all.atom"  # a new subscription document, after every page
    finally:
        ledger.close()
