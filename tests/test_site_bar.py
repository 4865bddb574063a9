"""The bar for the site (issue 16): every page type in Debian's Chromium, at desktop and phone width.

Chromium is started as every browser test here starts it (``test_browser.browser``:
Playwright's headless mode with ``--no-sandbox --disable-gpu
--disable-background-networking``; skipped locally when it is missing,
failed under ``REQUIRE_BROWSER=1``).  The real ``digest serve`` publishes
and serves the seed pages (``../shared/seeds``, copied to a temporary folder,
never into the project); Playwright opens each
page type at 1366×900 and 390×844 and checks that nothing scrolls sideways
and that axe-core (npm, pinned in ``.ci/npm``; its ``axe.min.js`` is injected
into the page) finds no serious or critical violation.  A full-page
screenshot of each is kept under ``test-artifacts/bar/`` (CI keeps
``test-artifacts/``).  Then a reader clicks through: front page → issue →
article → next article → issue list → a calendar day.

Add a page type by appending a ``PageType`` to ``PAGE_TYPES``: a name, how to
find its URL in the published folder, and the status it answers with.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from loopback import wait_for
from playwright.sync_api import Browser, Page
from test_browser import browser  # noqa: F401 (the fixture: Debian's Chromium, skipped when missing)
from test_service import Serve

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
AXE = ROOT / ".ci" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "bar"
VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}
FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class PageType:
    """One kind of page: its name, its URL path found from the published folder, its status."""

    name: str
    locate: Callable[[Path], str]
    status: int = 200


def _newest_issue(out: Path) -> str:
    return max(p.parent.name for p in out.glob("issues/*/index.html"))


def _first_article(out: Path) -> str:
    issue = (out / "issues" / _newest_issue(out) / "index.html").read_text(encoding="utf-8")
    start = issue.index('href="../../articles/') + len('href="../../')
    return "/" + issue[start : issue.index('"', start)]


def _fullest_article(out: Path) -> str:
    """The article page showing the most parts of the shared text markup (``publish/markup.py``)."""
    parts = ('class="kicker"', 'class="subtitle"', 'class="note"', 'class="jumps"', 'class="captions"')

    def shown(page: Path) -> int:
        text = page.read_text(encoding="utf-8")
        return sum(part in text for part in parts)

    fullest = max(sorted(out.glob("articles/*/*.html")), key=shown)
    return "/" + fullest.relative_to(out).as_posix()


def _one(pattern: str) -> Callable[[Path], str]:
    def locate(out: Path) -> str:
        return "/" + min(p.relative_to(out).as_posix() for p in out.glob(pattern) if p.name != "index.html")

    return locate


PAGE_TYPES: list[PageType] = [
    PageType("front", lambda out: "/"),
    PageType("issue", lambda out: f"/issues/{_newest_issue(out)}/"),
    PageType("issue-list", lambda out: "/issues/"),
    PageType("section", _one("sections/*.html")),
    PageType("article", _first_article),
    PageType("article-in-full", _fullest_article),
    PageType("digest", _one("digests/*.html")),
    PageType("digest-list", lambda out: "/digests/"),
    PageType("subscribe", lambda out: "/subscribe"),
    PageType("subscribe-page", lambda out: "/subscribe.html"),
    PageType("not-found", lambda out: "/no/such/page", 404),
    PageType("feeds", lambda out: "/feeds/"),
    PageType("search", lambda out: "/search?q=%E8%8D%89%E5%8E%9F"),  # 草原: results, paged, marked
]


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core's script, installed by ``.ci/run`` (``npm ci`` in ``.ci/npm``)."""
    if not AXE.is_file():
        reason = f"{AXE} is missing: (cd .ci/npm && npm ci)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``digest serve`` on a copy of the seed pages, with a digest made and published."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed pages not found at {SEEDS} (the ../shared checkout is missing)")
    home = tmp_path_factory.mktemp("bar")
    pages = home / "pages"
    shutil.copytree(SEEDS, pages)
    # The pages arrive after the window of the digest due now: an empty day, whose page (one of the
    # page types) is published only with digest.empty_days = "notice".
    service = Serve(home, pages, settings={"DIGEST_DIGEST_EMPTY_DAYS": "notice"})
    try:
        made = service.run("send-digest")
        assert made.returncode == 0, made.stderr
        published = service.run("publish")
        assert published.returncode == 0, published.stderr
        out = home / "out"
        wait_for(lambda: list(out.glob("digests/*-*.html")) and (out / "issues/index.html").is_file(), 30)
        yield service
    finally:
        assert service.stop() == 0, service.log()


def _axe_problems(page: Page, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.slow
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_page_type_fits_passes_axe_and_is_kept_as_a_screenshot(
    served: Serve,
    browser: Browser,  # noqa: F811
    axe: Path,
    viewport: str,
) -> None:
    wide, high = VIEWPORTS[viewport]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The pages forbid scripts by their Content-Security-Policy: only the injected axe needs it lifted.
    context = browser.new_context(viewport={"width": wide, "height": high}, locale="zh-CN", bypass_csp=True)
    problems: list[str] = []
    try:
        for kind in PAGE_TYPES:
            page = context.new_page()
            path = kind.locate(served.home / "out")
            response = page.goto(served.url + path)
            assert response is not None and response.status == kind.status, (kind.name, path)
            assert response.headers["content-type"].startswith("text/html"), kind.name
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1]:
                problems.append(f"{kind.name} at {viewport} scrolls sideways: {width}")
            problems += [f"{kind.name} at {viewport}: {p}" for p in _axe_problems(page, axe)]
            page.screenshot(path=ARTIFACTS / f"{kind.name}-{viewport}.png", full_page=True)
            page.close()
    finally:
        context.close()
    assert problems == []


@pytest.mark.slow
def test_the_front_page_shows_the_latest_digest_and_subscribing_without_scrolling_on_a_phone(
    served: Serve,
    browser: Browser,  # noqa: F811
) -> None:
    wide, high = VIEWPORTS["phone"]
    context = browser.new_context(viewport={"width": wide, "height": high}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(served.url + "/")
        for name in ("最新摘要", "订阅"):
            link = page.locator(".ways a", has_text=name).first
            box = link.bounding_box()
            assert box is not None and box["y"] + box["height"] <= high, (name, box)
            assert box["height"] >= 44 and box["x"] + box["width"] <= wide, (name, box)  # a thumb's target
        # Led by page 1 when the pages are numbered; the seeds' are not, and 其他 still comes last.
        heads = page.locator("main .section-group h2").all_inner_texts()
        assert heads[0].startswith("第1版") or "其他" not in heads[:-1], heads
    finally:
        context.close()


@pytest.mark.slow
def test_a_reader_clicks_from_the_front_page_through_an_issue_to_a_calendar_day(
    served: Serve,
    browser: Browser,  # noqa: F811
) -> None:
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(served.url + "/")
        page.locator("main > h1 a").click()  # the issue's date
        assert "/issues/" in page.url and page.locator(".paper-page h2").count() >= 1
        first = page.locator(".paper-page .headlines a").first
        headline = first.inner_text()
        first.click()
        assert page.locator("article h1").inner_text() == headline
        assert (
            page.locator(".article .dateline a").first.get_attribute("href")
            == "../../issues/" + page.url.split("/")[-2] + "/index.html"
        )
        following = page.locator('.article-pager a[rel="next"]')
        expected = following.inner_text().removeprefix("下一篇").strip()
        following.click()
        assert page.locator("article h1").inner_text() == expected
        assert page.locator('.article-pager a[rel="prev"]').inner_text().endswith(headline)
        page.get_by_role("link", name="往期", exact=True).first.click()
        assert page.url.endswith("/issues/index.html") or page.url.endswith("/issues/")
        day = page.locator(".calendar td a").first
        label = day.get_attribute("aria-label")
        day.click()
        assert "/issues/" in page.url and page.locator("h1 time").count() == 1, label
    finally:
        context.close()
