"""Searching as a reader does, in headless Debian Chromium: type in the masthead box, press 搜索.

The site is published from a page written here (full-width digits and letters, as many papers
print them) and served with ``/search`` mounted, as ``digest serve`` does.
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
        assert ingest(config, store, INGESTED).new == 1
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
