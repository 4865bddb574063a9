"""A section a re-read empties (SQLite and PostgreSQL, the real server and subscription forms).

A page file names its section in its folio (``第9版：城市生活``); corrected to ``城市``, read again,
its articles move to ``城市``.  The old section's feeds and page keep answering at their URLs, for the
readers subscribed and the bookmarks, but nothing lists it any more: not the navigation of any page,
the feeds page, the sign-up pages, the OPML files or the subscription forms.  An incremental publish
and a full one agree, and a section whose articles come back is listed again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from test_browser import browser  # noqa: F401 (a fixture)
from test_server import serving

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.publish.build import publish_store
from digest.publish.layout import OPML, OPML_SECTIONS, feed_path, section_path
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Section
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, subscription_routes

PAGE_NAME = "2024-11-28_09.txt"
FOLIO = "西川晚报　2024年11月28日　星期四　第9版："
BODY = (
    "\n\n社区食堂开门迎客\n\n"
    "　　本报讯（记者 吴二）位于桃源路的首家社区食堂昨日开门迎客，一荤两素的套餐售价十二元，"
    "六十岁以上老人凭卡享受八折优惠。\n\n"
    "夜间公交新增三条线路\n\n"
    "　　本报讯（记者 林一）市公交集团本月起新增三条夜间公交线路，分别连接火车站、大学城和高新区。\n"
)
LATER = (
    "西川晚报　2024年11月29日　星期五　第9版：城市\n\n老街改造完工\n\n"
    "　　本报讯（记者 吴二）历时八个月的老街改造工程日前完工，沿街两百多户居民告别了雨天积水。\n"
)


@pytest.fixture
def site(config: Config, store: Store, tmp_path: Path) -> Iterator[str]:
    """``digest serve``'s site and subscription forms over ``config``'s output folder."""
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, secret="s" * 32))
    forms = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"))
    with serving(create_app(config.paths.output, routes=subscription_routes(forms))) as base:
        yield base


def _read(config: Config, store: Store, name: str, now: datetime) -> Section:
    """Read the page with the section ``name`` in its folio and publish; returns its section."""
    (config.paths.source / PAGE_NAME).write_text(FOLIO + name + BODY, encoding="utf-8")
    ingest(config, store, now)
    run_publish(config, store)
    (section,) = {e.section for e in store.entries()}
    assert section.name == name
    return section


def _listing(section: Section) -> tuple[str, ...]:
    """How a page that lists ``section`` names it: a link to its page or to one of its feeds."""
    return section_path(section), feed_path(section.slug), feed_path(section.slug, ".json")


def _listed_by(output: Path, section: Section, own: Section | None = None) -> list[str]:
    """The published pages and OPML files that list ``section`` (leaving out ``own``'s page)."""
    skip = {section_path(own)} if own is not None else set()
    found = []
    for path in sorted(output.rglob("*")):
        name = path.relative_to(output).as_posix()
        if path.suffix in (".html", ".opml") and name not in skip:
            text = path.read_text(encoding="utf-8")
            if any(href in text for href in _listing(section)):
                found.append(name)
    return found


def test_a_section_emptied_by_a_corrected_page_keeps_answering_but_is_listed_nowhere(
    config: Config, store: Store, site: str, now: datetime
) -> None:
    output = config.paths.output
    old = _read(config, store, "城市生活", now)
    assert "index.html" in _listed_by(output, old) and OPML_SECTIONS in _listed_by(output, old)
    new = _read(config, store, "城市", now + timedelta(hours=1))

    # Still answering where readers and bookmarks know it, with no article for now.
    for path in _listing(old):
        answer = httpx.get(f"{site}/{path}", timeout=10)
        assert answer.status_code == 200, path
    assert "本版块眼下没有文章" in httpx.get(f"{site}/{section_path(old)}", timeout=10).text
    # But listed nowhere: no page's navigation, the feeds page, the sign-up page, the OPML files...
    assert _listed_by(output, old, own=old) == []
    assert {"index.html", "feeds/index.html", "subscribe.html", OPML_SECTIONS} <= set(_listed_by(output, new))
    assert old.name not in (output / "index.html").read_text(encoding="utf-8")
    # ... nor the subscription form's choice of sections.
    form = httpx.get(f"{site}/subscribe", timeout=10).text
    assert f'value="{new.slug}"' in form and f'value="{old.slug}"' not in form and old.name not in form
    assert old.name not in (output / OPML).read_text(encoding="utf-8")

    # An incremental publish (a new article of 城市) and a full rebuild agree, byte for byte.
    (config.paths.source / "2024-11-29_09.txt").write_text(LATER, encoding="utf-8")
    ingest(config, store, now + timedelta(hours=2))
    assert not run_publish(config, store).full
    rebuilt = publish_store(store, config, output, full=True)
    assert rebuilt.full and (rebuilt.written_count, rebuilt.removed) == (0, ())
    assert _listed_by(output, old, own=old) == []
    assert httpx.get(f"{site}/{feed_path(old.slug)}", timeout=10).status_code == 200

    # Its articles back, it is listed again (and 城市 keeps only the later page's article).
    (config.paths.source / PAGE_NAME).write_text(FOLIO + old.name + BODY, encoding="utf-8")
    ingest(config, store, now + timedelta(hours=3))
    run_publish(config, store)
    assert "index.html" in _listed_by(output, old) and OPML_SECTIONS in _listed_by(output, old)
    form = httpx.get(f"{site}/subscribe", timeout=10).text
    assert f'value="{old.slug}"' in form and f'value="{new.slug}"' in form
    rebuilt = publish_store(store, config, output, full=True)
    assert (rebuilt.written_count, rebuilt.removed) == (0, ())


def test_a_reader_with_a_bookmark_of_an_emptied_section_sees_why_and_can_still_follow_it(
    config: Config,
    store: Store,
    site: str,
    now: datetime,
    browser: Browser,  # noqa: F811
) -> None:
    old = _read(config, store, "城市生活", now)
    _read(config, store, "城市", now + timedelta(hours=1))
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        answer = page.goto(f"{site}/{section_path(old)}")
        assert answer is not None and answer.status == 200
        assert page.get_by_text("本版块眼下没有文章").is_visible()
        # Its follow button still leads to a feed that answers, with no entry for now.
        with page.expect_navigation():
            page.get_by_role("link", name="订阅本版").click()
        assert page.url == f"{site}/{feed_path(old.slug)}"
        assert page.evaluate("document.documentElement.localName") == "feed"
        assert page.evaluate("document.getElementsByTagName('entry').length") == 0
    finally:
        context.close()
