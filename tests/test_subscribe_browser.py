"""A reader's whole subscription journey in headless Debian Chromium, pressing the real buttons.

Subscribe form → confirmation email in the outbox → open its link → confirm →
preferences → change sections → save → unsubscribe from the page → subscribe
again; then the RFC 8058 one-click POST a mail provider sends.  At desktop and
phone size.  The pages send ``Referrer-Policy: strict-origin``, so Chromium
posts every form with the site's ``Origin``, which, with the signed form token,
carries it; and another site's page that copied the token, posting from a
visitor's Chromium, is refused.
The emails link to ``site.base_url``; the test opens them on the server it runs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from test_browser import ARTIFACTS, ROOT, browser  # noqa: F401  (the fixture)
from test_server import serving
from test_subscriptions import Clock, outbox_emails, settled

from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.store.records import SubscriberStatus
from digest.web.http import ASGIApp, Receive, Scope, Send, lifespan, respond
from digest.web.server import create_app
from digest.web.subscriptions import FORM_MAX_AGE, again, create_subscription_app, subscription_routes

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
INGESTED = datetime(2024, 11, 27, 4, 0, tzinfo=UTC)
READER = "reader@example.org"


@dataclass
class Service:
    url: str
    store: Store
    outbox: Path
    clock: Clock

    def emails(self) -> list[EmailMessage]:
        """The outbox once every sign-up's email has been tried (they go out after the page)."""
        settled(self.store)
        return outbox_emails(self.outbox)

    def link(self, message: EmailMessage) -> str:
        """The confirmation link of ``message``, on the server the browser talks to."""
        text = message.get_body(("plain",))
        assert text is not None
        (url,) = re.findall(r"http://127\.0\.0\.1:8080(/confirm/\S+)", text.get_content())
        return self.url + url


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The example pages published and the whole site served (links in emails name ``site.base_url``)."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    config = load_config(
        None,
        {"paths.source": pages, "paths.data": tmp_path / "data", "paths.output": tmp_path / "out"},
        {},
    )
    outbox = tmp_path / "outbox"
    clock = Clock(datetime.now(UTC))
    with Store.open(config.database_url) as store:
        ingest(config, store, INGESTED)
        run_publish(config, store)
        endpoints = create_subscription_app(config, store, lambda: OutboxMailer(outbox), clock=clock)
        with serving(create_app(config.paths.output, routes=subscription_routes(endpoints))) as url:
            yield Service(url, store, outbox, clock)


def _press(page: Page, name: str) -> None:
    """Click the button called ``name`` and wait for the page the form leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def _fits(page: Page, wide: int, what: str) -> None:
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], f"{what} scrolls sideways: {overflow}"
    for button in page.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= wide + 0.5, what


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_the_whole_journey_by_pressing_buttons(service: Service, browser: Browser, size: str) -> None:  # noqa: F811
    wide, high = SIZES[size]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": wide, "height": high}, locale="zh-CN")
    origins: list[str | None] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: origins.append(r.headers.get("origin")) if r.method == "POST" else None)
        referers: list[str] = []
        page.on("request", lambda r: referers.append(r.headers.get("referer", "")))

        page.goto(service.url + "/subscribe")
        page.get_by_label("电子邮箱").fill(READER)
        page.get_by_label("要闻").check()
        _fits(page, wide, f"subscribe form at {size}")
        _press(page, "订阅")
        assert page.get_by_role("heading", name="请查收确认邮件").is_visible()
        pending = service.store.subscriber(READER)
        assert pending is not None and not pending.confirmed and pending.sections == ("yao-wen",)

        (confirmation,) = service.emails()
        page.goto(service.link(confirmation))
        assert not service.store.subscriber(READER).confirmed  # type: ignore[union-attr]  # GET: nothing
        _press(page, "确认订阅")
        assert page.get_by_text("订阅已确认").is_visible()
        assert service.store.subscriber(READER).confirmed  # type: ignore[union-attr]
        page.screenshot(path=ARTIFACTS / f"subscription-preferences-{size}.png", full_page=True)
        _fits(page, wide, f"preferences at {size}")

        page.get_by_label("要闻").uncheck()
        page.get_by_label("经济").check()
        _press(page, "保存")
        assert page.get_by_text("已保存。").is_visible()
        assert service.store.subscriber(READER).sections == ("jing-ji",)  # type: ignore[union-attr]
        preferences = page.url

        # The 退订 link of every email: a page with a question and a button.
        page.goto(preferences.split("?")[0].replace("/preferences/", "/unsubscribe/"))
        _fits(page, wide, f"unsubscribe page at {size}")
        _press(page, "退订")
        assert page.get_by_role("heading", name="已退订").is_visible()
        left = service.store.subscriber(READER)
        assert left is not None and left.status is SubscriberStatus.UNSUBSCRIBED
        assert service.store.subscribers() == []

        service.clock.now += timedelta(minutes=11)  # past the one-email-per-ten-minutes promise
        page.get_by_role("link", name="重新订阅").click()
        page.get_by_label("电子邮箱").fill(READER)
        _press(page, "订阅")
        again = service.emails()
        assert len(again) == 2
        page.goto(service.link(again[-1]))
        _press(page, "确认订阅")
        assert service.store.subscriber(READER).status is SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
        page.screenshot(path=ARTIFACTS / f"subscription-confirmed-again-{size}.png", full_page=True)
        preferences = page.url  # the links of before the unsubscribe work no more
    finally:
        context.close()
    # Referrer-Policy: strict-origin keeps the site's own Origin on every POST (no-referrer nulled it).
    assert origins and set(origins) == {service.url}
    # No link's token in any Referer, the stylesheet's from the preferences page included.
    assert referers and set(referers) <= {"", service.url + "/"}

    # RFC 8058: what a mail provider sends to the List-Unsubscribe URL, server to server.
    unsubscribe = preferences.split("?")[0].replace("/preferences/", "/unsubscribe/")
    one_click = httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click", timeout=10)
    assert one_click.status_code == 200
    assert service.store.subscriber(READER).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_form_left_open_overnight_is_shown_again_and_sent_with_one_more_press(
    service: Service,
    browser: Browser,  # noqa: F811
) -> None:
    """Each page is left open past its form's lifetime before its button is pressed, as a person
    does with a tab from the evening before: the form comes back as filled in, never a refusal."""
    overnight = FORM_MAX_AGE + timedelta(hours=1)
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(service.url + "/subscribe")
        page.get_by_label("电子邮箱").fill(READER)
        page.get_by_label("要闻").check()
        service.clock.now += overnight
        _press(page, "订阅")
        assert page.get_by_role("alert").inner_text() == again("订阅")
        assert page.get_by_label("电子邮箱").input_value() == READER
        assert page.get_by_label("要闻").is_checked()
        assert service.store.subscriber(READER) is None and service.emails() == []
        _press(page, "订阅")
        assert page.get_by_role("heading", name="请查收确认邮件").is_visible()

        (confirmation,) = service.emails()
        page.goto(service.link(confirmation))
        service.clock.now += overnight  # the link itself still works (digest.confirm_hours)
        _press(page, "确认订阅")
        assert page.get_by_role("alert").inner_text() == again("确认订阅")
        assert not service.store.subscriber(READER).confirmed  # type: ignore[union-attr]
        _press(page, "确认订阅")
        assert page.get_by_text("订阅已确认").is_visible()

        page.get_by_label("经济").check()
        service.clock.now += overnight
        _press(page, "保存")
        assert page.get_by_role("alert").inner_text() == again("保存")
        assert page.get_by_label("经济").is_checked() and page.get_by_label("要闻").is_checked()
        assert service.store.subscriber(READER).sections == ("yao-wen",)  # type: ignore[union-attr]
        _press(page, "保存")
        assert page.get_by_text("已保存。").is_visible()
        assert set(service.store.subscriber(READER).sections) == {"yao-wen", "jing-ji"}  # type: ignore[union-attr]

        service.clock.now += overnight
        _press(page, "退订每日摘要")
        assert page.get_by_role("alert").inner_text() == again("退订")
        assert service.store.subscriber(READER).status is SubscriberStatus.CONFIRMED  # type: ignore[union-attr]
        _press(page, "退订")
        assert page.get_by_role("heading", name="已退订").is_visible()
    finally:
        context.close()


def _attacker(page: bytes) -> ASGIApp:
    """Another site: ``page`` at every path."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        await respond(send, HTTPStatus.OK, [(b"content-type", b"text/html; charset=utf-8")], page)

    return app


@pytest.mark.slow
@pytest.mark.parametrize("referrer", ["", "no-referrer"])
def test_another_sites_page_cannot_post_our_form_from_a_visitors_browser(
    service: Service,
    browser: Browser,  # noqa: F811
    referrer: str,
) -> None:
    """A page elsewhere that fetched our form (its server can) posts it, token and all, from each
    visitor's Chromium, so sign-ups come from the visitors' addresses, past the rate limit.  With
    ``no-referrer`` of its own it makes Chromium send ``Origin: null``, as ours once did."""
    token = re.search(r'name="form_token" value="([^"]+)"', httpx.get(service.url + "/subscribe").text)
    assert token is not None
    meta = f'<meta name="referrer" content="{referrer}">' if referrer else ""
    form = (
        f'<!doctype html><html><head>{meta}</head><body><form method="post" action="{service.url}/subscribe">'
        f'<input name="email" value="{READER}"><input name="form_token" value="{token[1]}"></form>'
        "<script>document.forms[0].submit()</script></body></html>"
    )
    context = browser.new_context()
    try:
        with serving(_attacker(form.encode())) as elsewhere:
            page = context.new_page()
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.goto(elsewhere + "/offer.html")
            origin = posted.value.request.headers.get("origin")
            assert origin == ("null" if referrer else elsewhere)
            assert posted.value.status == 403
    finally:
        context.close()
    assert service.store.subscriber(READER) is None and service.emails() == []
