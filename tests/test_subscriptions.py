"""Subscribing by email: double opt-in, preferences, one-click unsubscribe, CSRF, rate limits, tokens.

The endpoints run under uvicorn on loopback and are driven with httpx; the
confirmation emails land in a real outbox folder and are read back.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from conftest import folders_config
from faulty_smtp import SilentSmtp
from loopback import free_port
from smtp_sink import SmtpSink
from test_server import serving

from digest.cli import main
from digest.config import Config
from digest.config_checks import load_config
from digest.errors import ConfigError, PermanentDeliveryError, TokenError
from digest.mail.compose import DigestEmailMaker, compose_confirmation_email
from digest.mail.message import Outgoing, wire
from digest.mail.roster import parse_subscriber_csv
from digest.mail.signing import signing_secret
from digest.mail.subscribers import send_notices, subscription_upkeep
from digest.mail.tokens import FORM_KEY, Purpose, sign, verify
from digest.mail.transports import OutboxMailer, make_mailer
from digest.publish.site import Site as PublishedSite
from digest.service.jobs import retry_deliveries, run_digest
from digest.store.database import Store
from digest.store.records import DeliveryState, NoticeKind, Subscriber, SubscriberStatus
from digest.types import Article, Digest, Entry, Section
from digest.web.ratelimit import RateLimiter, client_address
from digest.web.server import create_app
from digest.web.subscriptions import FORM_MAX_AGE, again, create_subscription_app, subscription_routes

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://news.example"
NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)
SECRET = "a-long-random-test-secret-for-subscriptions"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    client: httpx.Client
    store: Store
    outbox: Path
    clock: Clock
    config: Config

    def emails(self) -> list[EmailMessage]:
        """The outbox once every sign-up's email has been tried (they go out after the answer)."""
        settled(self.store)
        return outbox_emails(self.outbox)


def settled(store: Store, timeout: float = 10) -> None:
    """Wait until no subscription email queued by a sign-up is still untried: each is sent after its
    answer, so a client can read the page before the email is out."""
    deadline = time.monotonic() + timeout
    under_way = (DeliveryState.PENDING, DeliveryState.CLAIMED, DeliveryState.SENDING)
    while any(n.status in under_way for n in store.notices()):
        assert time.monotonic() < deadline, "a sign-up's email was never tried"
        time.sleep(0.02)


def outbox_emails(outbox: Path) -> list[EmailMessage]:
    """The emails written to an outbox folder, oldest first."""
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name)):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


def make_config(tmp_path: Path, **extra: object) -> Config:
    return folders_config(tmp_path, {"site.base_url": BASE, "server.secret": SECRET, **extra})


def article_in(uid: str, section: Section, position: int) -> Entry:
    """A one-sentence article of ``section`` in the issue of three hours before ``NOW``."""
    stamp = NOW - timedelta(hours=3)
    return Entry(
        uid=uid,
        tag=f"tag:test,2024:article/{uid}",
        article=Article(title=f"{section.name}的标题", body="正文一句。", section=section.name),
        section=section,
        issue_date=stamp.date(),
        published=stamp,
        updated=stamp,
        first_seen=stamp,
        source="page.txt",
        position=position,
    )


def add_sections(store: Store) -> None:
    store.upsert_entries(
        [article_in("a1", Section("要闻", "yao-wen"), 0), article_in("b1", Section("众观", "zhong-guan"), 1)]
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    config = make_config(tmp_path, **{"server.rate_limit": 1000})
    outbox = tmp_path / "outbox"
    clock = Clock()
    with Store.open(config.database_url) as store:
        add_sections(store)
        app = create_subscription_app(config, store, lambda: OutboxMailer(outbox), clock=clock)
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            yield Site(client, store, outbox, clock, config)


def path_of(url: str) -> str:
    assert url.startswith(BASE + "/"), url
    return url.removeprefix(BASE)


def key_of(store: Store, email: str) -> str:
    subscriber = store.subscriber(email)
    assert subscriber is not None and subscriber.key, email
    return subscriber.key


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


OURS = {"Origin": BASE}


# --- the whole way through ---------------------------------------------------------------------


def test_double_opt_in_then_preferences_then_one_click_unsubscribe(site: Site) -> None:
    form = site.client.get("/subscribe")
    assert form.status_code == 200 and "要闻" in form.text and 'value="zhong-guan"' in form.text
    assert form.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]

    sent = site.client.post(
        "/subscribe", data={"email": " Reader@Example.ORG ", "section": ["zhong-guan", "bogus"]}, headers=OURS
    )
    assert sent.status_code == 200 and "请查收确认邮件" in sent.text
    pending = site.store.subscriber("reader@example.org")
    assert pending is not None and not pending.confirmed and pending.sections == ("zhong-guan",)
    assert site.store.subscribers() == []  # nobody gets digests before confirming

    (email,) = site.emails()
    assert email["To"] == "reader@example.org" and email["Subject"] == "请确认订阅报纸摘要"
    assert email["Auto-Submitted"] == "auto-generated"
    text = email.get_body(("plain",))
    assert text is not None
    (confirm_url,) = re.findall(r"https://\S+", text.get_content().split("\n-- \n")[0])
    confirm = path_of(confirm_url)

    page = site.client.get(confirm)  # what a link scanner does: nothing may change
    assert page.status_code == 200 and "确认订阅" in page.text
    assert not site.store.subscriber("reader@example.org").confirmed  # type: ignore[union-attr]

    done = site.client.post(confirm, data={"form_token": form_token(page.text)})
    assert done.status_code == 303
    subscriber = site.store.subscriber("reader@example.org")
    assert subscriber is not None and subscriber.confirmed and subscriber.confirmed_at == NOW
    preferences = "/" + done.headers["location"].lstrip("./")
    assert preferences.startswith("/preferences/") and preferences.endswith("?confirmed=1")

    settings = site.client.get(preferences)
    assert settings.status_code == 200 and "订阅已确认" in settings.text
    assert re.search(r'value="zhong-guan" checked', settings.text)
    saved = site.client.post(
        preferences.split("?")[0], data={"section": "yao-wen", "form_token": form_token(settings.text)}
    )
    assert saved.status_code == 200 and "已保存" in saved.text
    assert site.store.subscriber("reader@example.org").sections == ("yao-wen",)  # type: ignore[union-attr]

    unsubscribe = preferences.split("?")[0].replace("/preferences/", "/unsubscribe/")
    offer = site.client.get(unsubscribe)
    assert offer.status_code == 200 and "退订" in offer.text
    assert site.store.subscriber("reader@example.org") is not None  # GET never unsubscribes

    # RFC 8058: the mail provider POSTs this body, multipart or urlencoded, with no cookie or Origin.
    gone = site.client.post(unsubscribe, files={"List-Unsubscribe": (None, "One-Click")})
    assert gone.status_code == 200 and "已退订" in gone.text
    left = site.store.subscriber("reader@example.org")
    assert left is not None and left.status is SubscriberStatus.UNSUBSCRIBED and left.status_at == NOW
    assert "RFC 8058" in left.reason and site.store.subscribers() == []  # kept, on the suppression list


def _signed_up(site: Site, email: str) -> tuple[str, str]:
    """Sign ``email`` up and confirm it by its email's link: that link's path and the preferences path."""
    assert site.client.post("/subscribe", data={"email": email}, headers=OURS).status_code == 200
    text = site.emails()[-1].get_body(("plain",))
    assert text is not None
    (confirm,) = re.findall(r"https://\S+/confirm/\S+", text.get_content())
    confirm = path_of(confirm)
    done = site.client.post(confirm, data={"form_token": form_token(site.client.get(confirm).text)})
    assert done.status_code == 303
    return confirm, "/" + done.headers["location"].lstrip("./").split("?")[0]


def test_no_link_sent_before_an_unsubscribe_works_after_it(site: Site) -> None:
    """An unsubscribe is undone only by a fresh sign-up: not by the confirmation link still in its
    48 hours, nor by an old email's links (a forwarded digest) once the address has come back."""
    confirm, preferences = _signed_up(site, "reader@example.org")
    unsubscribe = preferences.replace("/preferences/", "/unsubscribe/")
    gone = site.client.post(unsubscribe, data={"form_token": form_token(site.client.get(unsubscribe).text)})
    assert gone.status_code == 200 and "已退订" in gone.text

    again_page = site.client.get(confirm)
    assert "已经失效" in again_page.text and 'name="form_token"' not in again_page.text
    site.client.post(confirm, headers=OURS)
    left = site.store.subscriber("reader@example.org")
    assert left is not None and left.status is SubscriberStatus.UNSUBSCRIBED

    site.clock.now += timedelta(minutes=11)  # past the one-confirmation-per-ten-minutes spacing
    _signed_up(site, "reader@example.org")
    old = site.client.post(preferences, data={"section": "yao-wen"}, headers=OURS)
    assert old.status_code == 200 and "没有订阅" in old.text
    site.client.post(unsubscribe, headers=OURS)
    back = site.store.subscriber("reader@example.org")
    assert back is not None and back.status is SubscriberStatus.CONFIRMED and back.sections == ()


def test_the_digest_email_one_click_link_unsubscribes(site: Site, tmp_path: Path) -> None:
    site.store.add_subscriber(Subscriber("reader@example.org", (), True, NOW))
    outbox = tmp_path / "digests"
    run_digest(site.config, site.store, OutboxMailer(outbox), NOW)
    (eml,) = outbox.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    # No bounce mailbox reads unsubscribe mails, so only the https URL is offered (RFC 8058 one-click).
    (https,) = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",))
    assert html is not None and "/preferences/" in html.get_content()
    assert site.client.get(path_of(https)).status_code == 200
    assert site.store.subscriber("reader@example.org") is not None
    assert site.client.post(path_of(https), content=b"List-Unsubscribe=One-Click").status_code == 200
    assert site.store.subscriber("reader@example.org").status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]


# --- hostile requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["a@example.org\r\nBcc: victim@example.org", "a@example.org\nX: y", "not an address", "", "a@b"],
)
def test_bad_or_injected_addresses_are_refused_and_nothing_is_sent(site: Site, address: str) -> None:
    answer = site.client.post("/subscribe", data={"email": address}, headers=OURS)
    assert answer.status_code == 422 and "看起来不对" in answer.text
    assert site.store.subscribers(confirmed_only=False) == [] and site.emails() == []


def test_cross_site_posts_are_refused(site: Site) -> None:
    token = form_token(site.client.get("/subscribe").text)
    here = str(site.client.base_url).rstrip("/")  # the Host the request reached, not site.base_url
    attempts = [
        ({"Origin": "https://evil.example"}, {"email": "a@example.org"}),
        ({"Origin": "null"}, {"email": "a@example.org"}),
        ({}, {"email": "a@example.org"}),  # no Origin, no token
        ({"Referer": "https://evil.example/page"}, {"email": "a@example.org"}),
        (
            {},
            {"email": "a@example.org", "form_token": sign(SECRET, Purpose.FORM, FORM_KEY, NOW, "/elsewhere")},
        ),
        (
            {},
            {
                "email": "a@example.org",
                "form_token": sign("other", Purpose.FORM, FORM_KEY, NOW, "/subscribe"),
            },
        ),
        ({"Origin": "null"}, {"email": "a@example.org", "form_token": token[:-2] + "AA"}),
        # DNS rebinding: the attacker's name points at us, so its Origin matches the Host header.
        ({"Origin": here}, {"email": "a@example.org"}),
        ({"Origin": "http://rebound.example", "Host": "rebound.example"}, {"email": "a@example.org"}),
        # The form's token is anybody's (GET /subscribe): another site's page posting it is refused,
        # whether it lets the browser name it or makes it send null (its own no-referrer).
        ({"Origin": "https://evil.example"}, {"email": "a@example.org", "form_token": token}),
        ({"Origin": "null"}, {"email": "a@example.org", "form_token": token}),
        ({"Origin": "https://evil.example", "Host": ""}, {"email": "a@example.org", "form_token": token}),
    ]
    for headers, data in attempts:
        answer = site.client.post("/subscribe", data=data, headers=headers)
        assert answer.status_code == 403, (headers, data)
        assert "不是从本站提交的" in answer.text
    assert site.emails() == []
    for headers, data in [
        ({}, {"email": "a@example.org", "form_token": token}),  # no browser: nobody to ride on
        # Our page at the address it was reached at, other than site.base_url's (a LAN address).
        ({"Origin": here}, {"email": "b@example.org", "form_token": token}),
        ({"Origin": BASE}, {"email": "c@example.org", "form_token": token}),
        ({"Referer": f"{BASE}/subscribe.html"}, {"email": "d@example.org"}),
        ({"Origin": BASE.upper()}, {"email": "e@example.org"}),
        ({"Origin": BASE}, {"email": "f@example.org"}),
    ]:
        assert site.client.post("/subscribe", data=data, headers=headers).status_code == 200, headers
    assert len(site.emails()) == 6

    site.store.add_subscriber(Subscriber("g@example.org", (), True, NOW))
    manage = sign(SECRET, Purpose.MANAGE, key_of(site.store, "g@example.org"), NOW)
    forged = site.client.post(f"/unsubscribe/{manage}", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and site.store.subscriber("g@example.org") is not None


def test_a_form_token_past_its_age_does_nothing_and_gives_the_form_back(site: Site) -> None:
    opened = NOW - FORM_MAX_AGE - timedelta(minutes=1)  # our own page, left open too long
    old = sign(SECRET, Purpose.FORM, FORM_KEY, opened, "/subscribe")
    for headers in [{"Origin": "null"}, {"Origin": "https://evil.example"}, {}]:
        data = {"email": "a@example.org", "section": "yao-wen", "form_token": old}
        answer = site.client.post("/subscribe", data=data, headers=headers)
        assert answer.status_code == 422 and again("订阅") in answer.text, headers
        assert 'value="a@example.org"' in answer.text and re.search(r'value="yao-wen" checked', answer.text)
        assert form_token(answer.text) == sign(SECRET, Purpose.FORM, FORM_KEY, NOW, "/subscribe")
    assert site.emails() == [] and site.store.subscriber("a@example.org") is None


def test_bad_expired_and_misused_tokens(site: Site) -> None:
    site.client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
    confirm = sign(SECRET, Purpose.CONFIRM, key_of(site.store, "a@example.org"), NOW)
    manage = sign(SECRET, Purpose.MANAGE, key_of(site.store, "a@example.org"), NOW)
    assert site.client.get(f"/confirm/{manage}").status_code == 400  # a preferences link cannot confirm
    assert site.client.get(f"/confirm/{confirm[:-2]}xx").status_code == 400
    assert site.client.get(f"/confirm/{confirm}%0A").status_code == 400  # one spelling only
    assert site.client.get("/confirm/").status_code == 404
    assert site.client.get("/subscribe/extra").status_code == 404
    assert site.client.get(f"/unsubscribe/{confirm}").status_code == 400
    assert site.client.put("/subscribe").status_code == 405
    site.clock.now = NOW + timedelta(hours=49)
    expired = site.client.get(f"/confirm/{confirm}")
    assert expired.status_code == 410 and "过期" in expired.text
    # Links in emails people keep do not expire.
    assert site.client.get(f"/unsubscribe/{manage}").status_code == 200


def test_links_shared_with_many_tracking_parameters_still_open(site: Site) -> None:
    site.store.add_subscriber(Subscriber("a@example.org", (), False, NOW))
    confirm = sign(SECRET, Purpose.CONFIRM, key_of(site.store, "a@example.org"), NOW)
    manage = sign(SECRET, Purpose.MANAGE, key_of(site.store, "a@example.org"), NOW)
    tracking = "&".join(f"utm{n}=x" for n in range(25))
    assert site.client.get(f"/subscribe?{tracking}").status_code == 200
    assert "确认订阅" in site.client.get(f"/confirm/{confirm}?{tracking}").text
    site.store.add_subscriber(Subscriber("a@example.org", (), True, NOW))
    welcome = site.client.get(f"/preferences/{manage}?confirmed=1&{tracking}")
    assert welcome.status_code == 200 and "订阅已确认" in welcome.text


def test_the_forms_carry_the_published_sites_navigation(site: Site) -> None:
    def masthead(page: str) -> str:
        match = re.search(r'<header class="masthead">.*?</header>', page, re.DOTALL)
        assert match, page
        return match.group()

    published = PublishedSite(site.config, site.store.sections())
    form = site.client.get("/subscribe")
    assert masthead(form.text) == published.chrome("subscribe", "订阅每日摘要", []).masthead.strip()
    assert '<a href="sections/zhong-guan.html">众观</a>' in form.text
    assert '<a href="feeds/index.html">订阅</a>' in form.text  # where every page's 订阅 leads
    # One folder down, and with a section published since the last request.
    site.store.upsert_entries([article_in("c1", Section("文体", "wen-ti"), 2)])
    bad = site.client.get("/confirm/not-a-token")
    published = PublishedSite(site.config, site.store.sections())
    assert masthead(bad.text) == published.chrome("confirm/x", "链接无效", []).masthead.strip()
    assert '<a href="../sections/wen-ti.html">文体</a>' in bad.text


def test_confirmations_to_one_address_are_spaced_out(site: Site) -> None:
    for _ in range(3):
        site.client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
    assert len(site.emails()) == 1
    site.clock.now = NOW + timedelta(minutes=11)
    site.client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
    assert len(site.emails()) == 2
    site.store.add_subscriber(Subscriber("b@example.org", (), True, NOW))
    for _ in range(2):
        answer = site.client.post("/subscribe", data={"email": "b@example.org"}, headers=OURS)
        assert "请查收确认邮件" in answer.text  # the page says the same whoever the address is
    # Confirmed already: one "manage your subscription" email instead of silence, also spaced out.
    emails = site.emails()
    assert len(emails) == 3
    (manage,) = [e for e in emails if e["To"] == "b@example.org"]
    assert manage["Subject"] == "您已订阅报纸摘要"
    text = manage.get_body(("plain",))
    assert text is not None
    (preferences,) = re.findall(r"https://\S+/preferences/\S+", text.get_content())
    assert "订阅设置" in site.client.get(path_of(preferences)).text
    assert site.store.subscriber("b@example.org").confirmed  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED])
def test_the_form_never_mails_an_address_that_bounced_or_complained(
    site: Site, status: SubscriberStatus
) -> None:
    site.store.add_subscriber(Subscriber("gone@example.org", (), True, NOW))
    site.store.set_subscriber_status("gone@example.org", status, "550 5.1.1 user unknown", NOW)
    refused = site.client.post("/subscribe", data={"email": "gone@example.org"}, headers=OURS)
    fresh = site.client.post("/subscribe", data={"email": "new@example.org"}, headers=OURS)
    # The very page any address gets: the form tells nobody who is on the suppression list.
    assert refused.status_code == fresh.status_code == 200
    assert refused.text.replace("gone@", "new@") == fresh.text
    kept = site.store.subscriber("gone@example.org")
    assert kept is not None and kept.status is status
    # A confirmation queued before its address bounced is not sent by the retry job either.
    settled(site.store)  # new@'s email is out: the retry job below is the only sender
    site.store.add_subscriber(Subscriber("queued@example.org", (), False, NOW))
    site.store.queue_notice("queued@example.org", NoticeKind.CONFIRM, NOW)
    site.store.set_subscriber_status("queued@example.org", status, "550 5.1.1 user unknown", NOW)
    send_notices(site.config, site.store, OutboxMailer(site.outbox), NOW)
    # Someone who unsubscribed may sign up again: that takes their fresh consent, so they are mailed.
    site.store.add_subscriber(Subscriber("left@example.org", (), True, NOW))
    site.store.set_subscriber_status("left@example.org", SubscriberStatus.UNSUBSCRIBED, "page", NOW)
    site.client.post("/subscribe", data={"email": "left@example.org"}, headers=OURS)
    assert [email["To"] for email in site.emails()] == ["new@example.org", "left@example.org"]


def test_subscribe_and_confirm_are_rate_limited_per_client(tmp_path: Path) -> None:
    config = make_config(tmp_path, **{"server.rate_limit": 3})
    with Store.open(config.database_url) as store:
        app = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"))
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            answers = [client.get("/subscribe").status_code for _ in range(4)]
            limited = client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
            # Unsubscribing is never rate-limited: mail providers POST from few addresses.
            manage = sign(SECRET, Purpose.MANAGE, "no-such-key", datetime.now(UTC))
            unsubscribe = [client.post(f"/unsubscribe/{manage}").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert unsubscribe == [200] * 5


def test_token_bucket_refills_and_keeps_clients_apart() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0], clients=2)
    assert [limiter.wait("a"), limiter.wait("a")] == [0, 0]
    assert limiter.wait("a") == pytest.approx(30)
    assert limiter.wait("b") == 0
    now[0] = 30.0
    assert limiter.wait("a") == 0
    limiter.wait("c")  # a third client: the least recently seen ("b") is forgotten
    assert limiter.wait("b") == 0 and limiter.wait("b") == 0


def test_an_ipv6_64_is_one_client_and_a_mapped_ipv4_address_is_its_ipv4_one() -> None:
    limiter = RateLimiter(per_minute=2, clock=lambda: 0.0)
    assert [limiter.wait("2001:db8:1:2::1"), limiter.wait("2001:db8:1:2:ffff::9")] == [0, 0]
    assert limiter.wait("2001:db8:1:2::abcd") > 0  # the same /64
    assert limiter.wait("2001:db8:1:3::1") == 0  # the next /64: another customer
    assert [limiter.wait("198.51.100.7"), limiter.wait("::ffff:198.51.100.7")] == [0, 0]
    assert limiter.wait("198.51.100.7") > 0
    assert limiter.wait("unknown") == 0  # not an address (a test client): itself


def test_the_mounted_paths() -> None:
    assert sorted(subscription_routes(object())) == [  # type: ignore[arg-type]
        "/confirm/",
        "/preferences/",
        "/subscribe",
        "/unsubscribe/",
    ]


# --- tokens ----------------------------------------------------------------------------------


def test_tokens_round_trip_and_refuse_every_alteration() -> None:
    token = sign(SECRET, Purpose.CONFIRM, "k3y_of-reader", NOW)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token) and len(token) < 80
    assert verify(SECRET, token, Purpose.CONFIRM, NOW + timedelta(hours=1), timedelta(hours=2)) == (
        "k3y_of-reader"
    )
    key, issued, mac = token.split(".")
    for bad, expired in [
        (f"other-key.{issued}.{mac}", False),
        (f"{key}.{int(issued, 16) + 1:x}.{mac}", False),
        (f"{key}.0{issued}.{mac}", False),  # the same time spelt another way
        (token + "x", False),
        (token + "\n", False),  # what "$" lets through: the same token spelt with a line break
        ("", False),
        ("a.b", False),
    ]:
        with pytest.raises(TokenError) as caught:
            verify(SECRET, bad, Purpose.CONFIRM, NOW, None)
        assert caught.value.expired is expired
    with pytest.raises(TokenError):
        verify("another secret", token, Purpose.CONFIRM, NOW, None)
    with pytest.raises(TokenError):
        verify(SECRET, token, Purpose.MANAGE, NOW, None)
    with pytest.raises(TokenError) as late:
        verify(SECRET, token, Purpose.CONFIRM, NOW + timedelta(hours=3), timedelta(hours=2))
    assert late.value.expired
    with pytest.raises(TokenError, match="future"):
        verify(SECRET, token, Purpose.CONFIRM, NOW - timedelta(hours=1), None)
    with pytest.raises(ValueError, match="empty secret"):
        sign("", Purpose.CONFIRM, "key", NOW)
    with pytest.raises(ValueError, match="URL-safe"):
        sign(SECRET, Purpose.CONFIRM, "key\n", NOW)
    form = sign(SECRET, Purpose.FORM, FORM_KEY, NOW, "/subscribe")
    assert verify(SECRET, form, Purpose.FORM, NOW, None, "/subscribe") == FORM_KEY
    with pytest.raises(TokenError):
        verify(SECRET, form, Purpose.FORM, NOW, None, "/preferences/x")


def test_no_single_character_edit_of_a_token_verifies() -> None:
    """Canonical encoding: every token has one spelling (no padding bits, no leading zeros to vary)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
    for purpose, key in [(Purpose.CONFIRM, "Abc123_-xyz0"), (Purpose.MANAGE, "q"), (Purpose.FORM, FORM_KEY)]:
        token = sign(SECRET, purpose, key, NOW)
        edits = {token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in alphabet}
        edits |= {token[:i] + c + token[i:] for i in range(len(token) + 1) for c in "0A="}
        edits |= {token[:i] + token[i + 1 :] for i in range(len(token))}
        edits.discard(token)
        accepted = []
        for edited in edits:
            try:
                verify(SECRET, edited, purpose, NOW, None)
            except TokenError:
                continue
            accepted.append(edited)
        assert accepted == [], (token, accepted)


def test_a_token_carries_no_address(site: Site) -> None:
    site.client.post("/subscribe", data={"email": "private.reader@example.org"}, headers=OURS)
    (email,) = site.emails()
    text = email.get_body(("plain",))
    assert text is not None
    (url,) = re.findall(r"https://\S+/confirm/\S+", text.get_content())
    token = url.rsplit("/", 1)[1]
    for piece in token.split("."):
        decoded = base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4))
        assert b"private" not in decoded and b"example" not in decoded
    assert "private" not in url and "example.org" not in url.removeprefix(BASE)


@pytest.mark.parametrize("guessable", ["change-me", "", "short-but-not-empty", "secret"])
def test_links_forged_with_a_guessable_secret_are_refused_by_a_default_install(
    tmp_path: Path, guessable: str
) -> None:
    (tmp_path / "pages").mkdir()
    options = {"paths.source": tmp_path / "pages", "paths.data": tmp_path / "data", "site.base_url": BASE}
    config = load_config(None, {**options, "paths.output": tmp_path / "output"}, {})  # no secret set
    made = tmp_path / "data" / "server.secret"
    with Store.open(config.database_url) as store:
        store.add_subscriber(Subscriber("victim@example.org", (), False, NOW))
        key = key_of(store, "victim@example.org")
        app = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"), clock=Clock())
        assert made.stat().st_mode & 0o777 == 0o600 and len(made.read_text().strip()) >= 40
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            for secret in {guessable or "x", "change-me"}:
                forged = sign(secret, Purpose.CONFIRM, key, NOW)
                assert client.get(f"/confirm/{forged}").status_code == 400
                page = client.post(f"/confirm/{forged}", headers=OURS)
                assert page.status_code == 400
        assert not store.subscriber("victim@example.org").confirmed  # type: ignore[union-attr]
    # A configured secret that short, or that well known, stops the service with the fix.
    with pytest.raises(ConfigError) as caught:
        load_config(None, {**options, "server.secret": guessable}, {})
    assert caught.value.key == "server.secret" and "openssl rand" in str(caught.value)


def test_every_command_signs_with_the_one_generated_secret(tmp_path: Path) -> None:
    """Another process (a CLI command with no environment) reads the secret the first one generated."""
    config = make_config(tmp_path)
    generated = dataclasses.replace(config, server=dataclasses.replace(config.server, secret=None))
    first = signing_secret(generated)
    assert signing_secret(generated) == first
    elsewhere = dataclasses.replace(
        generated, paths=dataclasses.replace(generated.paths, data=tmp_path / "b")
    )
    assert signing_secret(elsewhere) != first
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from digest.config_checks import load_config\n"
        "from digest.mail.signing import signing_secret\n"
        "home = Path(sys.argv[1])\n"
        "paths = {f'paths.{name}': home / name for name in ('data', 'output', 'source')}\n"
        "paths['paths.source'] = home / 'pages'\n"
        "print(signing_secret(load_config(None, paths, {})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == first


# --- the command line -------------------------------------------------------------------------


def test_csv_import_reads_headers_sections_and_reports_bad_lines() -> None:
    rows, problems = parse_subscriber_csv(
        "name,email,sections\n"
        "甲,A@Example.org,yao-wen;zhong-guan\n"
        "\n"
        "乙,not-an-address,\n"
        "丙,c@example.org,Bad_Slug\n"
        "丁,d@example.org\n"
    )
    assert [(r.line, r.email, r.sections) for r in rows] == [
        (2, "a@example.org", ("yao-wen", "zhong-guan")),
        (6, "d@example.org", None),  # no sections cell: an address already known keeps its own
    ]
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 5"]
    plain, _ = parse_subscriber_csv("e@example.org\nf@example.org,ti-yu\ng@example.org,\n")
    assert [(r.email, r.sections) for r in plain] == [
        ("e@example.org", None),
        ("f@example.org", ("ti-yu",)),
        ("g@example.org", ()),  # an empty cell: every section, as an export writes it
    ]


def _cli_options(config: Config) -> list[str]:
    return [
        *("--source", str(config.paths.source)),
        *("--data", str(config.paths.data)),
        *("--output", str(config.paths.output)),
    ]


def _cli_store(tmp_path: Path, *subscribers: Subscriber) -> tuple[Config, list[str]]:
    """A configuration whose database knows the test sections and ``subscribers``, and the command
    line options that name its folders."""
    config = make_config(tmp_path)
    with Store.open(config.database_url) as store:
        add_sections(store)
        store.add_subscribers(list(subscribers))
    return config, _cli_options(config)


def test_cli_import_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, options = _cli_store(tmp_path)
    listing = tmp_path / "list.csv"
    listing.write_text("email,sections\na@example.org,yao-wen\nb@example.org\nbroken\n", encoding="utf-8")
    assert main(["subscribers", "import", str(listing), *options]) == 2  # confirmed or pending? it must say
    assert "--status confirmed" in capsys.readouterr().err
    assert main(["subscribers", "import", str(listing), "--status", "confirmed", *options]) == 1
    out, err = capsys.readouterr()
    assert "imported 2 subscribers" in out and "2 new" in out and "line 4" in err
    assert main(["subscribers", "import", str(listing), "--status", "pending", *options]) == 1
    assert "0 new, 2 updated" in capsys.readouterr().out
    assert main(["subscribers", "list", *options]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "a@example.org\tpending\tyao-wen",
        "b@example.org\tpending\tall sections",
    ]
    assert main(["subscribers", "import", str(tmp_path / "missing.csv"), *options]) == 2
    assert main(["subscribers", "remove", "A@example.org", *options]) == 0
    assert main(["subscribers", "add", "a@example.org", *options]) == 2  # on the suppression list now
    assert "--resubscribe" in capsys.readouterr().err
    assert main(["subscribers", "add", "a@example.org", "--resubscribe", *options]) == 0
    assert main(["subscribers", "add", "c@example.org", "--section", "no-such-slug", *options]) == 2
    err = capsys.readouterr().err
    assert "no section no-such-slug" in err and "yao-wen" in err
    with Store.open(config.database_url) as store:
        assert store.subscriber("c@example.org") is None
        assert store.subscriber("a@example.org").status is SubscriberStatus.CONFIRMED  # type: ignore[union-attr]


def test_adding_or_importing_a_known_address_keeps_its_sections_and_consent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, options = _cli_store(
        tmp_path,
        Subscriber("r2@example.com", ("zhong-guan",), True, NOW, confirmed_at=NOW, source="web", bounces=2),
    )
    consent = "consent of 2024-11-27 01:30 UTC (web)"

    assert main(["subscribers", "add", "r2@example.com", *options]) == 0
    assert (
        capsys.readouterr().out == f"updated r2@example.com; kept sections zhong-guan, {consent}, 2 bounces\n"
    )
    with Store.open(config.database_url) as store:
        known = store.subscriber("r2@example.com")
    assert known is not None
    assert (known.sections, known.confirmed_at, known.source, known.bounces) == (
        ("zhong-guan",),
        NOW,
        "web",
        2,
    )

    # --section changes the sections, and only them.
    assert main(["subscribers", "add", "r2@example.com", "--section", "yao-wen", *options]) == 0
    assert capsys.readouterr().out == f"updated r2@example.com; kept {consent}, 2 bounces\n"

    listing = tmp_path / "list.csv"
    listing.write_text("email\nr2@example.com\nnew@example.com\n", encoding="utf-8")
    assert main(["subscribers", "import", str(listing), "--status", "confirmed", *options]) == 0
    out = capsys.readouterr().out
    assert "1 new, 1 updated" in out
    assert "kept for addresses already known, as the file did not give them: " in out
    assert "bounce count (1), consent record (1), sections (1)" in out
    with Store.open(config.database_url) as store:
        kept, new = store.subscriber("r2@example.com"), store.subscriber("new@example.com")
    assert kept is not None and new is not None
    assert (kept.sections, kept.confirmed_at, kept.source, kept.bounces) == (("yao-wen",), NOW, "web", 2)
    assert (new.sections, new.source) == ((), "import")


def test_the_suppression_list_survives_export_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, options = _cli_store(
        tmp_path,
        Subscriber("left@example.org", ("yao-wen",), True, NOW, confirmed_at=NOW, source="web"),
        Subscriber("stays@example.org", (), True, NOW, confirmed_at=NOW, source="web"),
        Subscriber("new@example.org", ("zhong-guan",), False, NOW, source="web"),
        Subscriber("bounced@example.org", (), True, NOW, confirmed_at=NOW, source="import"),
    )
    with Store.open(config.database_url) as store:
        store.set_subscriber_status(
            "left@example.org", SubscriberStatus.UNSUBSCRIBED, "unsubscribe page", NOW
        )
        store.set_subscriber_status(
            "bounced@example.org", SubscriberStatus.BOUNCED, "550 5.1.1 user unknown", NOW
        )
    exported = tmp_path / "all.csv"
    assert main(["subscribers", "export", str(exported), *options]) == 0
    text = exported.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "email,status,sections,consented_at,source,reason,status_at"
    assert "left@example.org,unsubscribed,yao-wen," in text and "550 5.1.1" in text

    # A restore into a fresh data folder, and a re-import into the same one, both change nothing.
    (tmp_path / "restore").mkdir()
    fresh = make_config(tmp_path / "restore")
    assert main(["subscribers", "import", str(exported), *_cli_options(fresh)]) == 0
    assert main(["subscribers", "import", str(exported), *options]) == 0
    capsys.readouterr()
    for target in (config, fresh):
        assert main(["subscribers", "export", *_cli_options(target)]) == 0
        assert capsys.readouterr().out == text

    # An old list that still has them as plain rows does not bring them back...
    old = tmp_path / "old.csv"
    old.write_text("left@example.org\nbounced@example.org\nstays@example.org\n", encoding="utf-8")
    assert main(["subscribers", "import", str(old), "--status", "confirmed", *options]) == 0
    out = capsys.readouterr().out
    assert "2 kept on the suppression list" in out and "import never re-subscribes" in out
    with Store.open(config.database_url) as store:
        assert [s.email for s in store.subscribers()] == ["stays@example.org"]
        # ...unless the operator says the person asked to come back.
        assert (
            main(["subscribers", "import", str(old), "--status", "confirmed", "--resubscribe", *options]) == 0
        )
        back = store.subscriber("left@example.org")
        assert back is not None and back.confirmed and back.source == "import --resubscribe"


def test_serve_with_a_guessable_secret_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "digest.cli", "serve", "--host", "0.0.0.0", "--port", "1"),
            *("--source", str(tmp_path / "pages"), "--data", str(tmp_path / "data")),
            *("--output", str(tmp_path / "output")),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DIGEST_SERVER_SECRET": "change-me"},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "server.secret" in done.stderr
    assert "DIGEST_SERVER_SECRET" in done.stderr


def test_mounted_beside_the_published_site(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    (config.paths.output / "subscribe.html").write_text("<p>static form</p>", encoding="utf-8")
    with Store.open(config.database_url) as store:
        endpoints = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"))
        app = create_app(config.paths.output, routes=subscription_routes(endpoints))
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            static = client.get("/subscribe.html")
            dynamic = client.get("/subscribe")
            posted = client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
        settled(store)  # the confirmation is written after the answer, on a thread of its own
    assert static.text == "<p>static form</p>" and 'name="form_token"' in dynamic.text
    assert posted.status_code == 200 and len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_the_site_and_the_forms_answer_through_one_response_layer(tmp_path: Path) -> None:
    """nosniff once and an exact length on every answer of both apps; HEAD is GET without the body."""
    config = make_config(tmp_path)
    (config.paths.output / "index.html").write_text("<p>home</p>", encoding="utf-8")
    with Store.open(config.database_url) as store:
        outbox = tmp_path / "outbox"
        forms = create_subscription_app(config, store, lambda: OutboxMailer(outbox), clock=Clock())
        app = create_app(config.paths.output, routes=subscription_routes(forms))
        plain = {"Accept-Encoding": "identity"}  # so the length compares with the bytes on the wire
        with serving(app) as base, httpx.Client(base_url=base, timeout=10, headers=plain) as client:
            answers = [
                client.get("/index.html"),
                client.get("/missing.html"),
                client.post("/index.html"),
                client.get("/subscribe"),
                client.get("/confirm/"),
                client.put("/subscribe"),
                client.post("/subscribe", content=b"email=" + b"a" * 16 * 1024, headers=OURS),
            ]
            form, head = client.get("/subscribe"), client.head("/subscribe")
    assert [a.status_code for a in answers] == [200, 404, 405, 200, 404, 405, 413]
    for answer in answers:
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"], answer.url
        assert answer.headers["content-length"] == str(len(answer.content)), answer.url
    assert head.status_code == 200 and head.content == b""
    assert dict(head.headers) == dict(form.headers) | {"date": head.headers["date"]}


# --- encoded words and headers after serialising (CVE-2024-6923) -----------------------------------

PROBE = "email==?utf-8?q?=0D=0AReply-To=3A_x=40evil.example?=@example.org"
HOSTILE = [
    PROBE,
    PROBE.lower(),
    "a=?b@example.org",
    "=?utf-8?b?QWxpY2U=?=@example.org",
    "x" * 20 + "==?utf-8?q?=0D=0ABcc=3A_v=40evil.example?=@" + "d" * 40 + ".example.org",
]


def _headers_back(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("address", HOSTILE)
def test_encoded_words_are_refused_at_the_form_the_cli_and_import(
    site: Site, tmp_path: Path, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = site.client.post("/subscribe", data={"email": address}, headers=OURS)
    assert answer.status_code == 422 and site.emails() == []
    options = ["--source", str(site.config.paths.source), "--data", str(tmp_path / "cli-data")]
    assert main(["subscribers", "add", address, *options]) == 2
    assert "=?" in capsys.readouterr().err
    rows, problems = parse_subscriber_csv(f"email\n{address}\nok@example.org\n")
    assert [r.email for r in rows] == ["ok@example.org"] and problems[0].startswith("line 2")


@pytest.mark.parametrize("address", [*HOSTILE, "plain@example.org", "a+tag@sub.example.org"])
def test_real_messages_to_hostile_addresses_serialise_with_only_our_headers(site: Site, address: str) -> None:
    """Bypassing the form: whatever reaches composition, the bytes on the wire carry our headers only."""
    stamp = NOW - timedelta(hours=3)
    entry = Entry(
        uid="a1",
        tag="tag:test,2024:article/a1",
        article=Article(title="标题", body="正文一句。", section="要闻"),
        section=Section("要闻", "yao-wen"),
        issue_date=stamp.date(),
        published=stamp,
        updated=stamp,
        first_seen=stamp,
        source="page.txt",
        position=0,
    )
    digest = Digest(NOW.date(), NOW - timedelta(days=1), NOW, ((entry.section, (entry,)),))
    maker = DigestEmailMaker(digest, config=site.config, site_url=BASE + "/", now=NOW)

    def digest_to(to: str) -> Outgoing:
        links = {
            "unsubscribe_url": f"{BASE}/unsubscribe/k.1.x",
            "preferences_url": f"{BASE}/preferences/k.1.x",
        }
        return maker.outgoing(to, unsubscribe_mailto="", **links)

    def confirmation_to(to: str) -> Outgoing:
        confirm = f"{BASE}/confirm/k.1.x"
        return wire(
            compose_confirmation_email(
                config=site.config, recipient=to, confirm_url=confirm, hours=48, site_url=BASE + "/", now=NOW
            )
        )

    def names(data: bytes) -> list[str]:
        return sorted(name.lower() for name in _headers_back(data))

    built = 0
    for make in (digest_to, confirmation_to):
        plain = make("plain@example.org")
        try:
            outgoing = make(address)
        except PermanentDeliveryError:
            assert "=?" in address  # refused at composition as well, not only at the form
            continue
        for data, reference in ((outgoing.data, plain.data), (outgoing.seven_bit(), plain.seven_bit())):
            back = _headers_back(data)
            assert names(data) == names(reference)  # the very headers a plain address gets, each once
            assert back.get_all("To") == [address] and back["Reply-To"] is None and back["Bcc"] is None
            built += 1
    assert built == (0 if "=?" in address else 4)


def test_a_header_added_by_serialising_is_caught_on_the_wire(site: Site) -> None:
    """The check after serialising stands alone: a line break that slipped into a header value is refused."""
    message = compose_confirmation_email(
        config=site.config,
        recipient="a@example.org",
        confirm_url=f"{BASE}/confirm/k.1.x",
        hours=48,
        site_url=BASE + "/",
        now=NOW,
    )
    assert wire(message).recipient == "a@example.org"
    message.replace_header("Subject", "hello")
    message["Reply-To"] = "x@evil.example"
    with pytest.raises(PermanentDeliveryError, match="headers"):
        wire(message)


def test_ten_sign_ups_at_once_send_one_confirmation(tmp_path: Path, database_url: str) -> None:
    """Ten concurrent POST /subscribe of one address (a double click, a script): one email, both databases."""
    config = make_config(tmp_path, **{"server.rate_limit": 1000, "database.url": database_url})
    outbox = tmp_path / "outbox"
    with Store.open(config.database_url) as store:
        app = create_subscription_app(config, store, lambda: OutboxMailer(outbox), clock=Clock())
        with serving(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            token = form_token(client.get("/subscribe").text)
            barrier = threading.Barrier(10)

            def sign_up(_: int) -> int:
                barrier.wait()
                data = {"email": "Reader@Example.org", "form_token": token}
                return client.post("/subscribe", data=data).status_code

            with ThreadPoolExecutor(10) as pool:
                answers = list(pool.map(sign_up, range(10)))
        assert answers == [200] * 10
        settled(store)  # the confirmation is written after the answer, on a thread of its own
        assert len(list(outbox.glob("*.eml"))) == 1
        assert len(store.subscribers(confirmed_only=False)) == 1


# --- whose X-Forwarded-For counts ---------------------------------------------------------------


def test_client_address_trusts_only_the_configured_proxies() -> None:
    proxies = ("127.0.0.1", "10.0.0.0/8")
    assert client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"  # not a proxy: ignored
    assert client_address("127.0.0.1", "1.2.3.4", ()) == "127.0.0.1"  # default: nobody is trusted
    assert client_address("127.0.0.1", "198.51.100.7", proxies) == "198.51.100.7"
    # nginx appending to what the client wrote: the client's own entries are left of the real one.
    assert client_address("127.0.0.1", "6.6.6.6, 5.5.5.5, 198.51.100.7", proxies) == "198.51.100.7"
    assert client_address("127.0.0.1", "198.51.100.7, 10.1.2.3", proxies) == "198.51.100.7"
    assert client_address("127.0.0.1", None, proxies) == "127.0.0.1"


@contextmanager
def digest_serve(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """``digest serve`` as a process on a free loopback port with ``env`` (``DIGEST_*`` settings),
    its folders under ``tmp_path``; its base URL once ``/healthz`` says it is up.  Stopped with
    SIGTERM after, which it must obey within 30 s, exiting 0."""
    (tmp_path / "pages").mkdir(exist_ok=True)
    port = free_port()
    service = subprocess.Popen(
        [
            *(sys.executable, "-m", "digest.cli", "serve", "--port", str(port)),
            *("--source", str(tmp_path / "pages"), "--data", str(tmp_path / "data")),
            *("--output", str(tmp_path / "output")),
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=10).status_code == 200:  # 503 while it starts
                    break
            except httpx.TransportError:
                pass
            assert service.poll() is None and time.monotonic() < deadline, "digest serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        service.terminate()
        code = service.wait(timeout=30)
    assert code == 0


@pytest.mark.parametrize(
    ("trusted", "forwarded"),
    [
        (None, "198.51.100.{n}"),
        ("127.0.0.1", "198.51.100.{n}, 203.0.113.5"),
        # One IPv6 customer: every home and phone gets a /64 (often more), so an address a request.
        ("127.0.0.1", "2001:db8:1:2::{n}"),
    ],
)
def test_a_varied_forwarded_for_cannot_dodge_the_rate_limit_of_digest_serve(
    tmp_path: Path, trusted: str | None, forwarded: str
) -> None:
    """The real service, as nginx reaches it on loopback: 12 POSTs with 12 made-up X-Forwarded-For."""
    env = {"DIGEST_SERVER_RATE_LIMIT": "10"}
    if trusted:
        env["DIGEST_SERVER_TRUSTED_PROXIES"] = trusted
    with digest_serve(tmp_path, env) as base, httpx.Client(base_url=base, timeout=10) as client:
        answers = [
            client.post(
                "/subscribe",
                data={"email": f"r{n}@example.org"},
                headers={
                    # serve --port moves the default base_url to the port it listens on.
                    "Origin": base,
                    "X-Forwarded-For": forwarded.format(n=n),
                },
            ).status_code
            for n in range(12)
        ]
    # Nobody trusted: the header is ignored (uvicorn's default trusted it from 127.0.0.1). Trusted:
    # only the entry the proxy appended counts. Either way one client, one bucket of 10.
    assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]


# --- sign-ups never lost; unconfirmed ones expire -------------------------------------------------


def test_a_sign_up_while_smtp_is_down_is_sent_by_the_retry_job(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        config = make_config(
            tmp_path, **{"smtp.host": sink.host, "smtp.port": sink.port, "smtp.security": "none"}
        )
        sink.refuse("*", 421, times=1)  # the server is busy for the first attempt
        clock = Clock()
        with Store.open(config.database_url) as store:
            app = create_subscription_app(
                config, store, lambda: make_mailer(config, config.paths.data), clock=clock
            )
            with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
                answer = client.post("/subscribe", data={"email": "a@example.org"}, headers=OURS)
            assert answer.status_code == 200 and "请查收确认邮件" in answer.text  # no 503, nothing lost
            settled(store)  # the email's one attempt is made after the answer, on a thread of its own
            assert sink.messages == []
            (waiting,) = store.due_notices(NOW + timedelta(hours=1))
            assert waiting.status == "failed" and "421" in (waiting.last_error or "")
            assert store.due_notices(NOW) == []  # it waits digest.retry_seconds first
            mailer = make_mailer(config, config.paths.data)
            try:
                retry_deliveries(config, store, mailer, NOW + timedelta(minutes=2))
            finally:
                mailer.close()
            assert store.due_notices(NOW + timedelta(days=1)) == []
    (sent,) = sink.messages
    assert sent.recipients == ("a@example.org",) and sent.message()["Subject"] == "请确认订阅报纸摘要"


def test_the_answer_does_not_wait_for_the_smtp_server(tmp_path: Path) -> None:
    """The page comes before the email, so its time tells nothing about the address.

    Before, the email went out before the page: with a server taking 2 s per message, a new address
    answered in 2 s and one that gets no email (bounced, asked for minutes ago) at once.
    """
    with SmtpSink(delay=2.0) as sink:
        config = make_config(
            tmp_path, **{"smtp.host": sink.host, "smtp.port": sink.port, "smtp.security": "none"}
        )
        with Store.open(config.database_url) as store:
            store.add_subscriber(Subscriber("gone@example.org", (), True, NOW))
            store.set_subscriber_status("gone@example.org", SubscriberStatus.BOUNCED, "550 5.1.1", NOW)
            app = create_subscription_app(config, store, lambda: make_mailer(config, config.paths.data))
            with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
                seconds = {}
                for address in ("new@example.org", "gone@example.org"):
                    started = time.monotonic()
                    answer = client.post("/subscribe", data={"email": address}, headers=OURS)
                    seconds[address] = time.monotonic() - started
                    assert answer.status_code == 200 and "请查收确认邮件" in answer.text
                assert seconds["new@example.org"] < 1.0, seconds  # well before the server's 2 s
                # The answer came while the SMTP server still held the email: not marked sent yet.  It
                # may wait still or be under way, as far as the email's own thread got meanwhile.
                (notice,) = store.notices()  # none for the address that bounced
                assert notice.email == "new@example.org"
                assert notice.status in (DeliveryState.PENDING, DeliveryState.CLAIMED, DeliveryState.SENDING)
                settled(store)
            assert store.due_notices(NOW + timedelta(days=1)) == []  # sent, not waiting for a retry
    (sent,) = sink.messages
    assert sent.recipients == ("new@example.org",) and sent.message()["Subject"] == "请确认订阅报纸摘要"


def test_a_mail_server_that_never_answers_holds_up_no_page_search_or_form(tmp_path: Path) -> None:
    """Sign-ups while the relay takes connections and never answers, more than asyncio's default
    executor has threads: before, each sign-up's email held one of the threads requests read the
    store and files on for the 30 s SMTP timeout, so the next page, search or form hung.  Now they
    wait on threads of their own, each giving up after a few seconds, and stay queued."""
    signups = min(32, (os.cpu_count() or 1) + 4) + 2
    with SilentSmtp() as relay:
        env = {
            "DIGEST_SMTP_HOST": relay.host,
            "DIGEST_SMTP_PORT": str(relay.port),
            "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SERVER_RATE_LIMIT": str(signups * 2),
        }
        with digest_serve(tmp_path, env) as base, httpx.Client(base_url=base, timeout=5) as client:
            # The first search loads the word dictionary (0.4-0.8 s measured on a busy 2-core machine,
            # against under 0.1 s after): done here, untimed, what the bound measures is the wait for a
            # thread, not a one-off load that a busier machine can stretch past it.
            assert client.get("/search?q=公园").status_code == 200
            seconds: dict[str, float] = {}
            for n in range(signups):
                started = time.monotonic()
                answer = client.post(
                    "/subscribe", data={"email": f"r{n}@example.org"}, headers={"Origin": base}
                )
                seconds[f"sign-up {n}"] = time.monotonic() - started
                assert answer.status_code == 200 and "请查收确认邮件" in answer.text
            deadline = time.monotonic() + 10
            while relay.connections < 2:  # the sign-ups' emails are waiting on the silent relay
                assert time.monotonic() < deadline, "no sign-up email was tried"
                time.sleep(0.05)
            for path in ("/", "/healthz", "/search?q=公园", "/subscribe"):
                started = time.monotonic()
                assert client.get(path).status_code == 200, path
                seconds[path] = time.monotonic() - started
        assert max(seconds.values()) < 2.0, seconds
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}") as store:
        waiting = store.notices()
    # Nothing lost: every confirmation waits for the retry job (the ones tried, after their error).
    assert len(waiting) == signups
    assert {n.status for n in waiting} <= {DeliveryState.PENDING, DeliveryState.FAILED}


def test_unconfirmed_sign_ups_expire_and_are_removed(site: Site) -> None:
    site.client.post("/subscribe", data={"email": "late@example.org"}, headers=OURS)
    site.store.add_subscriber(Subscriber("imported@example.org", (), False, NOW, source="import"))
    site.store.add_subscriber(Subscriber("left@example.org", (), True, NOW))
    site.store.set_subscriber_status("left@example.org", SubscriberStatus.UNSUBSCRIBED, "page", NOW)
    (confirmation,) = site.emails()
    text = confirmation.get_body(("plain",))
    assert text is not None
    (link,) = re.findall(r"https://\S+/confirm/\S+", text.get_content())
    mailer = OutboxMailer(site.outbox)
    subscription_upkeep(site.config, site.store, mailer, NOW + timedelta(hours=47))
    assert site.store.subscriber("late@example.org") is not None
    subscription_upkeep(site.config, site.store, mailer, NOW + timedelta(hours=48, minutes=1))
    assert site.store.subscriber("late@example.org") is None  # gone, and its link with it
    assert site.store.subscriber("imported@example.org") is not None  # not a web sign-up
    assert site.store.subscriber("left@example.org") is not None  # the suppression list stays
    site.clock.now = NOW + timedelta(hours=1)
    assert site.client.get(path_of(link)).status_code == 200
    assert "失效" in site.client.get(path_of(link)).text
