"""Following the site as a person would: the feeds page, a feed opened in Chromium, CORS, icons.

The example pages are published and served by our app under uvicorn; the
browser is Debian's Chromium driven by Playwright (see test_browser.py).

What Chromium 156 does with a feed: it shows ``application/atom+xml`` as
plain text (raw XML, tags and all), so a request whose ``Accept`` prefers
HTML gets the same bytes as ``application/xml``, which it renders with the
document's ``xml-stylesheet``.  It still runs XSLT, but covers such a page
with a red banner announcing XSLT's removal, which is why the stylesheet is CSS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from test_browser import ARTIFACTS, _published, browser  # noqa: F401 (browser is a fixture)
from test_server import serving
from test_successor import _static

from digest.web.server import create_app

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
# What Chromium sends when it opens a page, and what feedparser (rss2email) sends.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FEEDPARSER_ACCEPT = (
    "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = _published(tmp_path_factory.mktemp("follow"))
    with serving(create_app(config.paths.output)) as base:
        yield base


def test_feeds_answer_any_origin_and_atom_is_xml_only_for_browsers(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        for path in ("/feeds/all.atom", "/feeds/all.json", "/feeds/yao-wen.json", "/feeds.opml"):
            answer = http.get(path, headers={"origin": "https://reader.example"})
            assert answer.status_code == 200, path
            assert answer.headers.get_list("access-control-allow-origin") == ["*"], path
            again = http.get(path, headers={"if-none-match": answer.headers["etag"]})
            assert again.status_code == 304 and again.headers["access-control-allow-origin"] == "*", path
        assert "access-control-allow-origin" not in http.get("/index.html").headers
        assert http.get("/feeds/all.json").headers["content-type"] == "application/feed+json"

        kinds = {
            accept: http.get("/feeds/all.atom", headers={"accept": accept}).headers["content-type"]
            for accept in (BROWSER_ACCEPT, FEEDPARSER_ACCEPT, "*/*", "application/atom+xml")
        }
        assert kinds == {
            BROWSER_ACCEPT: "application/xml; charset=utf-8",
            FEEDPARSER_ACCEPT: "application/atom+xml; charset=utf-8",
            "*/*": "application/atom+xml; charset=utf-8",
            "application/atom+xml": "application/atom+xml; charset=utf-8",
        }
        assert (
            http.get("/feeds/all.atom", headers={"accept": ""})
            .headers["content-type"]
            .startswith("application/atom+xml")
        )
        assert http.get("/feeds/all.atom").headers["vary"] == "Accept, Accept-Encoding"

        icon = http.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        assert icon.content[:4] == b"\x00\x00\x01\x00" and b"\x89PNG" in icon.content
        touch = http.get("/apple-touch-icon.png")
        assert touch.headers["content-type"] == "image/png" and touch.content[:4] == b"\x89PNG"
        assert "订阅地址" in http.get("/feeds/").text


def test_a_reader_on_another_origin_polls_a_feed_conditionally_in_chromium(
    url: str,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A browser-based reader on its own origin (here another loopback server's) fetches a feed, then
    asks again with its ETag or date, which Chromium preflights (neither header is CORS-safelisted):
    the answers are 304s, and the ETag is readable.  The reader's page is its own (our pages'
    Content-Security-Policy lets them fetch nothing, and a reader's page is not ours)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        # The reader's own page, from a loopback server of its own (Chromium lets only a page
        # served from a loopback address reach one).
        (tmp_path / "reader.html").write_text("<!doctype html><title>reader</title>", encoding="utf-8")
        with _static(tmp_path) as reader:
            page.goto(reader.replace("127.0.0.1", "localhost") + "/reader.html")
            first, etag, again, since = page.evaluate(
                """async (feed) => {
                    const first = await fetch(feed);
                    const etag = first.headers.get("ETag");
                    const again = await fetch(feed, {headers: {"If-None-Match": etag}});
                    const modified = first.headers.get("Last-Modified");
                    const since = await fetch(feed, {headers: {"If-Modified-Since": modified}});
                    return [first.status, etag, again.status, since.status];
                }""",
                url + "/feeds/all.atom",
            )
    finally:
        context.close()
    assert (first, again, since) == (200, 304, 304) and etag.startswith('"')


def test_a_feed_opened_in_chromium_reads_as_a_chinese_page(url: str, browser: Browser) -> None:  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda message: problems.append(message.text))
        response = page.goto(url + "/feeds/all.atom")
        assert response is not None and response.status == 200
        assert page.evaluate("document.contentType") == "application/xml"
        for text in ("报纸摘要", "青松县首座社区图书馆开馆"):
            shown = page.get_by_text(text, exact=True).first
            assert shown.is_visible(), text
        # The ids, links and the escaped full text are in the document, but hidden.
        hidden = "n => [...document.getElementsByTagName(n)].every(e => getComputedStyle(e).display=='none')"
        for name in ("id", "content", "link", "updated"):
            assert page.evaluate(f"({hidden})('{name}')"), name
        assert "复制到阅读器" in page.evaluate(
            "getComputedStyle(document.documentElement, '::before').content"
        )
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        page.screenshot(path=ARTIFACTS / "feed-atom-phone.png")  # full_page hangs on an XML document
    finally:
        context.close()
    assert problems == []


def test_on_a_phone_the_follow_tab_is_in_sight_and_leads_to_every_feed(url: str, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(url + "/")
        tab = page.get_by_role("navigation").get_by_role("link", name="订阅", exact=True)
        box = tab.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        # Nothing drawn over it: the point at its middle belongs to the link.
        middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).textContent", middle) == "订阅"
        tab.click()
        assert page.url == url + "/feeds/index.html"
        assert page.get_by_role("heading", name="订阅", exact=True).is_visible()
        field = page.get_by_label("订阅地址").first
        assert field.input_value() == "http://127.0.0.1:8080/feeds/all.atom"
        assert field.is_editable() is False
        for name in ("feeds.opml", "feeds-sections.opml"):
            assert page.locator(f'a[href="../{name}"]').is_visible(), name
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width

        page.goto(url + "/sections/yao-wen.html")
        button = page.get_by_role("link", name="订阅本版")
        size = button.bounding_box()
        assert size is not None and size["height"] >= 44 and size["x"] + size["width"] <= PHONE["width"]
        button.click()
        assert page.url == url + "/feeds/yao-wen.atom"
    finally:
        context.close()


def test_the_icons_are_linked_from_the_pages(url: str, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url + "/sections/yao-wen.html")
        for selector in ('link[rel="icon"][sizes="32x32"]', 'link[rel="apple-touch-icon"]'):
            href = page.locator(selector).get_attribute("href")
            assert href is not None
            fetched = page.request.get(page.url.rsplit("/", 1)[0] + "/" + href)
            assert fetched.status == 200, href
    finally:
        context.close()


def test_published_icons_are_the_committed_ones(url: str) -> None:
    ours = Path(__file__).resolve().parents[1] / "templates" / "static" / "apple-touch-icon.png"
    assert httpx.get(url + "/apple-touch-icon.png", timeout=10).content == ours.read_bytes()
