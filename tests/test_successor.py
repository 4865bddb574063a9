"""A re-read that merges an article into another leads its old URL there (SQLite and PostgreSQL).

The page is made up here, in the seed pages' conventions: three stories, then
the same page corrected so that the second story's headline is a crosshead of
the first (its text runs on in the first story) and the third story is taken
off the page.  The merged article's URL answers 301 to the article holding its
text, in ``digest serve``, in Chromium, and as a page any static server serves;
the article whose text is gone still answers 410 with the withdrawal notice.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from atomcheck import ATOM, check_atom
from playwright.sync_api import Browser
from test_browser import browser  # noqa: F401  (the fixture: Chromium under Playwright)
from test_model import _cli
from test_server import serving

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.store.segment import words
from digest.types import Entry, Retraction
from digest.web.server import create_app

AT = "{http://purl.org/atompub/tombstones/1.0}"
PAGE_NAME = "2024-11-27_03.txt"
FIRST = "青川县十座乡村图书室同日开放"
MERGED = "图书室里办起冬日课堂"
DROPPED = "县城南环路年底通车"
PAGE = f"""● 要闻

# {FIRST}

□ 本报记者 陈晓

本报青川11月27日讯 青川县十座乡村图书室昨日同日开放，每座藏书三千余册，由县图书馆统一配送、定期轮换，\
村民凭身份证即可免费借阅。

县文化馆负责人介绍，图书室设在村委会旁，冬季每天开放到晚上八点，方便村民农闲时读书看报。

# {MERGED}

图书室开放首日，石桥村的图书室就办起了冬日课堂。县农技站的技术员带着一摞关于大棚蔬菜越冬管理的小册子，\
为二十多位村民讲解保温和防冻的要领。

村民王大伯说，以前遇到技术难题要跑到县城去问，如今在家门口就能学到，还能把书借回家慢慢看。

# {DROPPED}

本报青川11月27日讯 记者从县交通运输局获悉，全长六点八公里的县城南环路主体工程已经完工，\
正在进行路灯和标线施工，预计年底前建成通车。
"""
# The corrected page: the second headline is a crosshead inside the first story, the third story is gone.
CORRECTED = PAGE.replace(f"# {MERGED}", MERGED).split(f"# {DROPPED}")[0].rstrip() + "\n"


def _path(entry: Entry) -> str:
    return f"/articles/{entry.issue_date.isoformat()}/{entry.uid}.html"


def _by_title(store: Store) -> dict[str, Entry]:
    return {e.article.title or "": e for e in store.entries()}


@pytest.fixture
def merged(config: Config, store: Store, now: datetime) -> tuple[Entry, Entry, Entry]:
    """The page read, then read again corrected: (the successor, the merged one, the dropped one)."""
    page = config.paths.source / PAGE_NAME
    page.write_text(PAGE, encoding="utf-8")
    ingest(config, store, now)
    run_publish(config, store)
    before = _by_title(store)
    assert {FIRST, MERGED, DROPPED} <= before.keys()
    page.write_text(CORRECTED, encoding="utf-8")
    report = ingest(config, store, now + timedelta(hours=1))
    assert (report.new, report.changed, report.retracted) == (0, 1, 2)
    run_publish(config, store)
    after = {e.uid: e for e in store.entries()}
    return after[before[FIRST].uid], after[before[MERGED].uid], after[before[DROPPED].uid]


def test_a_merged_article_records_its_successor_and_a_dropped_one_none(
    merged: tuple[Entry, Entry, Entry], store: Store
) -> None:
    successor, gone, dropped = merged
    assert successor.retracted is None and "石桥村的图书室就办起了冬日课堂" in successor.article.body
    assert (gone.retracted, gone.successor) == (Retraction.DROPPED, successor.uid)
    assert (dropped.retracted, dropped.successor) == (Retraction.DROPPED, None)
    # Search lists the article that holds the text now, never the old one.
    _, found = store.search(words("大棚蔬菜越冬"), 10, 0)
    assert [e.uid for e, _ in found] == [successor.uid]


def test_the_old_url_answers_301_to_the_successor_and_a_dropped_one_410(
    merged: tuple[Entry, Entry, Entry], config: Config, store: Store
) -> None:
    successor, gone, dropped = merged
    with serving(create_app(config.paths.output)) as base:
        answer = httpx.get(base + _path(gone))
        assert answer.status_code == 301
        assert urljoin(base + _path(gone), answer.headers["location"]) == base + _path(successor)
        assert httpx.head(base + _path(gone)).status_code == 301
        landed = httpx.get(base + _path(gone), follow_redirects=True)
        assert landed.status_code == 200 and str(landed.url) == base + _path(successor)
        assert f"<h1>{FIRST}</h1>" in landed.text and "冬日课堂" in landed.text
        withdrawn = httpx.get(base + _path(dropped))
        assert withdrawn.status_code == 410 and "此文已撤回" in withdrawn.text
        # The site lists neither: the issue and section pages name only the successor.
        issue = httpx.get(f"{base}/issues/{successor.issue_date.isoformat()}/").text
        assert gone.uid not in issue and dropped.uid not in issue and successor.uid in issue
        # A full publish (a rebuilt output folder) keeps the redirect: it is stored.
        run_publish(config, store, full=True)
        assert httpx.get(base + _path(gone)).status_code == 301
        assert httpx.get(base + _path(dropped)).status_code == 410


def test_the_feeds_drop_the_merged_entry_without_calling_it_withdrawn(
    merged: tuple[Entry, Entry, Entry], config: Config
) -> None:
    successor, gone, dropped = merged
    root = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    assert ids.count(successor.tag) == 1 and gone.tag not in ids and dropped.tag not in ids
    comments = {mark.get("ref"): mark.findtext(f"{AT}comment") for mark in root.findall(f"{AT}deleted-entry")}
    assert comments[gone.tag] == f"此文已并入《{FIRST}》"
    assert comments[dropped.tag] == "此文已撤回"


@contextmanager
def _static(folder: Path) -> Iterator[str]:
    """``folder`` served by a plain static server (Python's), as nginx would serve it."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_browser_lands_on_the_successor_from_digest_serve_and_from_a_static_server(
    merged: tuple[Entry, Entry, Entry],
    config: Config,
    browser: Browser,  # noqa: F811
) -> None:
    successor, gone, _ = merged
    page_file = config.paths.output / _path(gone).lstrip("/")
    notice = page_file.read_text(encoding="utf-8")
    assert "此文已撤回" not in notice and f"《{FIRST}》" not in notice.split("<main")[0]
    assert f'href="../../articles/{successor.issue_date.isoformat()}/{successor.uid}.html"' in notice
    context = browser.new_context(locale="zh-CN")
    try:
        tab = context.new_page()
        with serving(create_app(config.paths.output)) as base:
            tab.goto(base + _path(gone))
            assert tab.url == base + _path(successor)
            assert tab.locator("h1").inner_text() == FIRST
        with _static(config.paths.output) as base:
            assert httpx.get(base + _path(gone)).status_code == 200  # no redirect there: the page leads
            tab.goto(base + _path(gone))
            tab.wait_for_url(base + _path(successor), timeout=10_000)
            assert tab.locator("h1").inner_text() == FIRST
    finally:
        context.close()


def test_an_article_read_again_on_its_page_is_back_at_its_url(
    merged: tuple[Entry, Entry, Entry], config: Config, store: Store, now: datetime
) -> None:
    _, gone, _ = merged
    (config.paths.source / PAGE_NAME).write_text(PAGE, encoding="utf-8")
    ingest(config, store, now + timedelta(hours=2))
    run_publish(config, store)
    back = {e.uid: e for e in store.entries()}[gone.uid]
    assert back.retracted is None and back.successor is None
    with serving(create_app(config.paths.output)) as base:
        answer = httpx.get(base + _path(gone))
        assert answer.status_code == 200 and f"<h1>{MERGED}</h1>" in answer.text


def test_retract_by_hand_of_a_merged_article_ends_its_redirect(
    merged: tuple[Entry, Entry, Entry], config: Config, store: Store
) -> None:
    """``digest retract`` of a merged article: its URL stops leading to the text, with the notice
    (410), and the command names the article that still holds the text and how to withdraw it."""
    successor, gone, _ = merged
    done = _cli(config, "retract", f"{config.site.base_url}{_path(gone)}")
    assert done.returncode == 0, done.stderr
    assert (
        f"retracted {gone.tag} ({MERGED}): a re-read had merged it into {successor.tag} ({FIRST})"
        in done.stdout
    )
    assert f"`digest retract {successor.tag}` withdraws that too" in done.stdout
    withdrawn = store.find_entry(gone.uid)
    assert withdrawn is not None and (withdrawn.retracted, withdrawn.successor) == (Retraction.BY_HAND, None)
    with serving(create_app(config.paths.output)) as base:
        answer = httpx.get(base + _path(gone))
        assert answer.status_code == 410 and "此文已撤回" in answer.text
        assert httpx.get(base + _path(successor)).status_code == 200
        # The feeds' tombstone says withdrawn now, and a re-read of the page (an upgrade) keeps it so.
        root = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
        comments = {m.get("ref"): m.findtext(f"{AT}comment") for m in root.findall(f"{AT}deleted-entry")}
        assert comments[gone.tag] == "此文已撤回"
        assert _cli(config, "ingest", "--reparse").returncode == 0
        assert httpx.get(base + _path(gone)).status_code == 410
        again = _cli(config, "retract", gone.tag)
        assert again.returncode == 0 and f"{gone.tag} ({MERGED}) was already retracted" in again.stdout
        # Withdrawing the successor is what takes the text away.
        assert _cli(config, "retract", successor.tag).returncode == 0
        assert httpx.get(base + _path(successor)).status_code == 410
