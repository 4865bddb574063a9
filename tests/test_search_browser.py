"""Searching as a reader does, in headless Debian Chromium: type in the masthead box, press 搜索.

The site is published from a page written here (full-width digits and letters, as many papers
print them; one-character words and strings straddling two words) and served with ``/search``
mounted, as ``digest serve`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from test_browser import browser  # noqa: F401  (the fixture)
from test_server import serving

from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.web.search import PATH, create_search_app
from digest.web.server import create_app

INGESTED = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
PAGE = """
● 教育

# 柳溪小学用ＡＩ批改作文

本报讯（记者 林小河）柳溪小学从２０２６年春季学期起用ＡＩ批改作文，老师再逐篇复核。

校长说，ＡＩ只指出错字和病句，评语仍由老师来写。

● 民生

# 社区服务站开门

本报讯（记者 甲乙）城南社区服务站昨天开门，从呼和浩特市搬来的老人也能在家门口办就医保障和报销手续。

服务站设在社区活动中心一楼，工作日全天开放，周末上午也有人值班。站里配了三名工作人员，
还开通了咨询电话，行动不便的老人可以预约上门服务，材料不全的可以先登记、后补交。

站长说，外地来的老人和本地居民一样，都能在这里办理医保报销。
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The page above published and served with the search route; yields the base URL."""
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "2026-03-02_01.txt").write_text(PAGE, encoding="utf-8")
    config = load_config(
        None,
        {"paths.source": pages, "paths.data": tmp_path / "data", "paths.output": tmp_path / "out"},
        {},
    )
    with Store.open(config.database_url) as store:
        assert ingest(config, store, INGESTED).new == 2
        run_publish(config, store)
        app = create_app(config.paths.output, routes={PATH: create_search_app(config, store)})
        with serving(app) as url:
            yield url


def _search(page: Page, query: str) -> None:
    page.get_by_role("searchbox").first.fill(query)
    page.get_by_role("button", name="搜索").first.click()
    page.wait_for_load_state()


@pytest.mark.parametrize("query", ["ＡＩ", "ai", "２０２６", "2026"])
def test_a_word_printed_full_width_is_marked_whichever_width_the_reader_types(
    site: str,
    browser: Browser,  # noqa: F811
    query: str,
) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(site + "/")
    _search(page, query)
    assert page.locator(".count-line").inner_text().startswith("找到 1 篇")
    printed = "ＡＩ" if query.lower() == "ai" or query == "ＡＩ" else "２０２６"
    marks = page.locator("ol.results mark").all_inner_texts()
    assert marks and set(marks) == {printed}
    if printed == "ＡＩ":  # in the headline too, and the snippet still reads as printed
        assert page.locator("ol.results h2 mark").all_inner_texts() == ["ＡＩ"]
    assert page.locator(".snippet").inner_text().startswith("柳溪小学从２０２６年春季学期起")
    page.close()


def test_only_whole_words_are_marked_and_the_snippet_opens_at_one(
    site: str,
    browser: Browser,  # noqa: F811
) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(site + "/")
    # 医保 stands across 就医保障 near the top; the word itself comes at the end.
    _search(page, "医保")
    assert page.locator(".count-line").inner_text().startswith("找到 1 篇")
    assert page.locator("ol.results mark").all_inner_texts() == ["医保"]
    assert "办理医保报销" in page.locator(".snippet").inner_text()
    # 和 is a word in both articles, and a character inside 呼和浩特市, where it is no word.
    _search(page, "和")
    assert page.locator(".count-line").inner_text().startswith("找到 2 篇")
    assert set(page.locator("ol.results mark").all_inner_texts()) == {"和"}
    snippets = page.locator(".snippet").evaluate_all("nodes => nodes.map(n => n.innerHTML)")
    assert any("就医保障<mark>和</mark>报销" in html for html in snippets)
    assert any("错字<mark>和</mark>病句" in html for html in snippets)
    assert not any("呼<mark>" in html for html in snippets)
    page.close()
