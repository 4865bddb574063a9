"""The digest email's HTML part in a real browser: headless Debian Chromium, as narrow and wide mail clients.

The email is made by the digest job from the example pages, read back from
the outbox like a mail client would, and loaded with every network request
refused (an email must not need one).  Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route
from test_browser import ARTIFACTS, browser  # noqa: F401 (the system-Chromium fixture, shared)

from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.service.jobs import run_digest
from digest.store.database import Store
from digest.store.records import Subscriber

ROOT = Path(__file__).resolve().parents[1]
INGESTED = datetime(2024, 11, 27, 4, 0, tzinfo=UTC)
DIGESTED = datetime(2024, 11, 28, 1, 30, tzinfo=UTC)
# Gmail's app is about 360 CSS pixels wide on a phone; desktop clients give the email ~800.
WIDTHS = {"phone": 360, "desktop": 800}


@pytest.fixture(scope="module")
def email(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """The HTML part of the example digest email, and the headlines it must show."""
    home = tmp_path_factory.mktemp("email")
    shutil.copytree(ROOT / "examples" / "pages", home / "pages")
    config = load_config(
        None,
        {"paths.source": home / "pages", "paths.data": home / "data", "paths.output": home / "out"},
        {},
    )
    with Store.open(config.database_url) as store:
        ingest(config, store, INGESTED)
        store.add_subscriber(Subscriber("reader@example.org", (), True, INGESTED))
        result = run_digest(config, store, OutboxMailer(home / "outbox"), DIGESTED)
    assert result.sent == 1
    (eml,) = (home / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    html = message.get_body(("html",))
    assert html is not None
    headlines = [e.article.title for _, entries in result.digest.groups for e in entries if e.article.title]
    assert len(headlines) >= 3
    return html.get_content(), headlines


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_shows_every_headline_without_sideways_scrolling(
    email: tuple[str, list[str]],
    browser: Browser,  # noqa: F811 (the fixture imported above)
    width: str,
) -> None:
    html, headlines = email
    requests: list[str] = []

    def refuse(route: Route) -> None:
        requests.append(route.request.url)
        route.abort()

    page = browser.new_page(viewport={"width": WIDTHS[width], "height": 900}, java_script_enabled=False)
    try:
        page.route("**/*", refuse)
        page.set_content(html, wait_until="load")
        for headline in headlines:
            link = page.get_by_role("link", name=headline, exact=True)
            assert link.is_visible(), headline
            box = link.bounding_box()
            assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= WIDTHS[width] + 1
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of sideways scrolling at {WIDTHS[width]}px"
        # Inlined styles reached the elements: the headline colour is the template's, not the browser's blue.
        colour = page.get_by_role("link", name=headlines[0], exact=True).evaluate(
            "e => getComputedStyle(e).color"
        )
        assert colour == "rgb(29, 29, 31)"
        assert page.get_by_text("退订").first.is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"email-{width}.png", full_page=True)
    finally:
        page.close()
    assert requests == []
