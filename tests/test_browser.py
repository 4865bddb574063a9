"""The site in a real browser: headless Debian Chromium, driven by Playwright, at desktop and phone widths.

Each page kind is loaded over HTTP from our own server; the test checks the
headlines are visible inside the viewport and nothing overflows sideways,
and saves a full-page screenshot under ``test-artifacts/`` for people to look
at.  Playwright's wheel brings its own driver; the browser is the system's
``/usr/bin/chromium`` (``playwright install`` is never run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from test_server import serving

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.service.jobs import run_digest, run_publish
from digest.store.database import Store
from digest.web.search import PATH as SEARCH_PATH
from digest.web.search import create_search_app
from digest.web.server import create_app

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# The flags every headless run here uses; Playwright adds its own fresh --user-data-dir.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
# Example pages ingested at noon on 27 November (Shanghai), digest of the 28th made at 09:30.
INGESTED = datetime(2024, 11, 27, 4, 0, tzinfo=UTC)
DIGESTED = datetime(2024, 11, 28, 1, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Kind:
    """One kind of page: where it is and the texts a reader must see on it."""

    name: str
    path: str
    headlines: tuple[str, ...]


def _published(home: Path) -> Config:
    pages = home / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    config = load_config(
        None,
        {"paths.source": pages, "paths.data": home / "data", "paths.output": home / "out"},
        {},
    )
    with Store.open(config.database_url) as store:
        ingest(config, store, INGESTED)
        run_digest(config, store, OutboxMailer(home / "outbox"), DIGESTED)
        run_publish(config, store)
    return config


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Kind]]]:
    """The example pages published and served; yields the base URL and each page kind."""
    config = _published(tmp_path_factory.mktemp("site"))
    out = config.paths.output
    # By its own headline: its neighbours name it too, in their previous/next links.
    article = next(
        p for p in out.glob("articles/*/*.html") if "<h1>青松县首座社区图书馆开馆</h1>" in p.read_text()
    )
    kinds = [
        Kind("front", "/", ("2024年11月28日", "青松县举行首届冬季长跑赛", "示例剧团新排话剧首演")),
        Kind("section", "/sections/yao-wen.html", ("要闻", "青松县首座社区图书馆开馆")),
        Kind("article", "/" + article.relative_to(out).as_posix(), ("青松县首座社区图书馆开馆",)),
        Kind("digest", "/digests/2024-11-28.html", ("2024年11月28日摘要", "青松县首座社区图书馆开馆")),
        Kind("archive", "/digests/", ("每日摘要", "2024年11月28日")),
        Kind("subscribe", "/subscribe.html", ("订阅每日摘要", "电子邮箱")),
        Kind("feeds", "/feeds/", ("用阅读器订阅", "全部文章", "要闻", "用邮件订阅")),
    ]
    with serving(create_app(out)) as url:
        yield url, kinds


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk (.ci/run does)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_kind_reads_well_at_desktop_and_phone_width(
    site: tuple[str, list[Kind]], browser: Browser, width: str
) -> None:
    url, kinds = site
    wide, high = WIDTHS[width]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": wide, "height": high}, java_script_enabled=True, locale="zh-CN"
    )
    problems: list[str] = []
    try:
        for kind in kinds:
            page = context.new_page()
            page.on("console", lambda message: problems.append(f"console: {message.text}"))
            response = page.goto(url + kind.path)
            assert response is not None and response.status == 200, kind
            for text in kind.headlines:
                heading = page.get_by_text(text, exact=True).first
                assert heading.is_visible(), f"{kind.name} at {width}: {text!r} is not visible"
                box = heading.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= wide + 0.5, (
                    f"{kind.name} at {width}: {text!r} sticks out of the viewport: {box}"
                )
            overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert overflow[0] <= overflow[1], f"{kind.name} at {width} scrolls sideways: {overflow}"
            page.screenshot(path=ARTIFACTS / f"{kind.name}-{width}.png", full_page=True)
            page.close()
    finally:
        context.close()
    assert problems == []


@pytest.mark.slow
def test_pages_need_no_javascript_and_no_other_host(site: tuple[str, list[Kind]], browser: Browser) -> None:
    url, kinds = site
    context = browser.new_context(java_script_enabled=False)
    hosts: set[str] = set()
    try:
        page = context.new_page()
        page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
        for kind in kinds:
            page.goto(url + kind.path)
            for text in kind.headlines:
                assert page.get_by_text(text, exact=True).first.is_visible(), (kind.name, text)
            assert page.locator("script").count() == 0, f"{kind.name} has a script"
    finally:
        context.close()
    assert hosts == {url.split("/")[2]}, "a page loaded something from another host"


@pytest.mark.slow
def test_another_site_cannot_frame_a_page(
    site: tuple[str, list[Kind]], browser: Browser, tmp_path: Path
) -> None:
    """A hostile page framing ours (to overlay its buttons: clickjacking) gets Chromium's error page."""
    url, kinds = site
    # The other site is another origin on loopback (Chromium keeps a public page off loopback anyway).
    (tmp_path / "index.html").write_text(
        "".join(f'<iframe src="{url}{kind.path}"></iframe>' for kind in kinds), encoding="utf-8"
    )
    context = browser.new_context()
    try:
        with serving(create_app(tmp_path)) as hostile:
            page = context.new_page()
            page.goto(hostile.replace("127.0.0.1", "localhost") + "/")
            page.wait_for_load_state("load")
            children = page.main_frame.child_frames
            assert len(children) == len(kinds)
            for frame, kind in zip(children, kinds, strict=True):
                shown = frame.evaluate("document.body ? document.body.innerText : ''")
                assert kind.headlines[0] not in shown, f"{kind.name} was drawn inside another site's page"
    finally:
        context.close()


@pytest.fixture(scope="module")
def searchable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The example pages published and served with ``/search``, as ``digest serve`` does; yields the
    base URL and the path of an article page."""
    config = _published(tmp_path_factory.mktemp("search"))
    out = config.paths.output
    # Its own page, by its <h1>: a neighbour's page names it too, in its next/previous links.
    own = ">青松县首座社区图书馆开馆</h1>"
    article = next(p for p in out.glob("articles/*/*.html") if own in p.read_text())
    with Store.open(config.database_url) as store:
        app = create_app(out, routes={SEARCH_PATH: create_search_app(config, store)})
        with serving(app) as url:
            yield url, "/" + article.relative_to(out).as_posix()


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_a_reader_searches_from_the_box_on_an_article_page_without_javascript(
    searchable: tuple[str, str], browser: Browser, width: str
) -> None:
    url, article = searchable
    wide, high = WIDTHS[width]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": wide, "height": high}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(url + article)
        box = page.get_by_role("searchbox", name="搜索文章")
        assert box.is_visible()
        box.fill("图书馆")
        with page.expect_navigation():
            box.press("Enter")
        assert page.url.startswith(url + "/search?q=")
        result = page.get_by_role("link", name="青松县首座社区图书馆开馆")
        assert result.is_visible()
        assert page.locator("h2 mark").first.inner_text() == "图书馆"
        assert page.get_by_role("searchbox", name="搜索词").input_value() == "图书馆"
        overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert overflow[0] <= overflow[1], f"search results at {width} scroll sideways: {overflow}"
        page.screenshot(path=ARTIFACTS / f"search-{width}.png", full_page=True)
        with page.expect_navigation():
            result.click()
        assert page.url == url + article
    finally:
        context.close()
