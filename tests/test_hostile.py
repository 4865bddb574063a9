"""Hostile input and requests, end to end: markup in a page file stays text in the site, the feeds and
the email; no email header can be injected from any field; the HTTP endpoints, fuzzed with hypothesis
against a real uvicorn on loopback, never fail, never leak a file from outside the output folder, and
never send an email to a forged address.

The narrower checks live beside their modules: traversal and symlinks (tests/test_server.py), CSRF,
rate limits, tokens and the default secret (tests/test_subscriptions.py), escaping per renderer
(tests/test_site.py, tests/test_feeds.py, tests/test_mail.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from atomcheck import ATOM, check_atom, make_entry
from conftest import folders_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from test_server import serving

from digest.config import Config
from digest.config_checks import load_config
from digest.errors import ConfigError, PermanentDeliveryError
from digest.ingest.pipeline import ingest
from digest.mail.compose import DigestEmailMaker
from digest.mail.transports import OutboxMailer
from digest.publish.build import publish_store
from digest.publish.digests import build_digest
from digest.service.jobs import run_digest
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, subscription_routes

NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, after the 07:00 digest
SEEN = NOW - timedelta(hours=3)
SECRET_TEXT = b"TOP SECRET outside the output folder"
HOSTILE_TITLE = '<script>alert(1)</script>标题 & "引号" <b>粗</b>'
HOSTILE_PAGE = (
    "● 要闻<script>alert('s')</script>\n\n"
    f"# {HOSTILE_TITLE}\n\n"
    "本报讯 <img src=x onerror=alert(2)>正文 ]]> <!-- 注释 --> </textarea><svg onload=alert(3)>"
    '<a href="javascript:alert(4)">链接</a>。第二句。\n'
)


def _inert(document: Any, where: str) -> None:
    """No script, no event handler, no javascript: URL anywhere in an HTML tree."""
    assert not document.xpath("//script"), where
    for element in document.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (where, name)
            assert not value.strip().lower().startswith("javascript:"), (where, value)


@dataclass(frozen=True)
class Published:
    config: Config
    outbox: Path
    secret: Path


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """The hostile page ingested, published and mailed; a secret file beside the output folder and a
    symlink to it inside."""
    root = tmp_path_factory.mktemp("hostile")
    config, outbox = _publish_and_mail(root, HOSTILE_PAGE)
    secret = root / "secret.txt"
    secret.write_bytes(SECRET_TEXT)
    (config.paths.output / "leak.html").symlink_to(secret)
    yield Published(config, outbox, secret)


def _publish_and_mail(root: Path, page: str) -> tuple[Config, Path]:
    """``page`` ingested, published, and mailed to one subscriber; the config and the outbox."""
    (root / "pages").mkdir()
    (root / "pages" / "2024-11-27_01.txt").write_text(page, encoding="utf-8")
    overrides = {"server.secret": "a-long-random-test-secret-for-hostile-pages", "server.rate_limit": 100000}
    config = folders_config(root, overrides)
    outbox = root / "outbox"
    with Store.open(config.database_url) as store:
        assert ingest(config, store, SEEN).new >= 1
        publish_store(store, config, config.paths.output)
        store.add_subscriber(Subscriber("reader@example.org", (), True, SEEN))
        assert run_digest(config, store, OutboxMailer(outbox), NOW).sent == 1
    return config, outbox


def test_markup_in_a_page_file_is_text_in_the_site_the_feeds_and_the_email(published: Published) -> None:
    output = published.config.paths.output
    pages = [p for p in output.rglob("*.html") if not p.is_symlink()]
    assert len(pages) > 3
    shown = False
    for page in pages:
        document = lxml_html.fromstring(page.read_bytes())
        _inert(document, str(page))
        shown = shown or HOSTILE_TITLE in document.text_content()
    assert shown, "the headline is shown, as text"

    feeds = list(output.rglob("*.atom"))
    for feed in feeds:
        root = check_atom(feed.read_bytes())
        for element in root.iter(f"{ATOM}content", f"{ATOM}summary", f"{ATOM}title"):
            if element.get("type") == "html" and (element.text or "").strip():
                _inert(lxml_html.fromstring(element.text), f"{feed}: {element.tag}")
    titles = [t.text for f in feeds for t in check_atom(f.read_bytes()).iter(f"{ATOM}title")]
    assert HOSTILE_TITLE in titles

    (eml,) = published.outbox.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    _inert(lxml_html.fromstring(html_part.get_content()), "email")
    assert HOSTILE_TITLE in lxml_html.fromstring(html_part.get_content()).text_content()
    assert HOSTILE_TITLE in text_part.get_content()


# The embeddings, overrides and isolates, and the implicit marks (LRM, RLM, ALM) beside them.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidi_controls_in_a_page_reach_no_reader(tmp_path: Path) -> None:
    """An override left open in a headline would turn round what follows it on the line (a listing's
    date, the email's subject): the site, the feeds and the email carry none."""
    page = (
        "● 要闻\u202e反转\u061c\n\n# 标题\u202e抗议\u2066二〇二四\u061c\n\n"
        "本报讯 正文\u202d内容\u2067。第二句\u202a\u200e。第三句\u061c\u200f。\n"
    )
    config, outbox = _publish_and_mail(tmp_path, page)
    published = [p for p in config.paths.output.rglob("*") if p.suffix in (".html", ".atom", ".json")]
    assert len(published) > 5
    texts = {str(p): p.read_text(encoding="utf-8") for p in published}
    (eml,) = outbox.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    texts["subject"] = str(message["Subject"])
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts[part.get_content_type()] = part.get_content()
    for where, text in texts.items():
        assert not set(text) & set(BIDI_CONTROLS), where
    assert any("标题抗议二〇二四" in text for text in texts.values())  # the text itself stays


# --- header injection from any field ------------------------------------------------------------

INJECTIONS = [
    "\r\nBcc: victim@example.org",
    "x\nX-Evil: 1",
    "\u2028Bcc: a@b.c",
    "=?utf-8?q?=0D=0ABcc:_x?=",
    "\x00",
]
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(INJECTIONS)
# Configured names and recipients: mostly the good one, so most examples get as far as a message.


def _mostly(good: str, bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(good), st.just(good), st.just(good), bad)


SITE_TITLE, SENDER, RECIPIENT = "摘要", "摘要 <digest@example.org>", "reader@example.org"
_SITE_TITLES = _mostly(SITE_TITLE, st.sampled_from([SITE_TITLE + i for i in INJECTIONS]))
_SENDERS = _mostly(
    SENDER, st.sampled_from([SENDER + i for i in INJECTIONS] + ["x\r\nBcc: v@b.org <a@b.org>"])
)
_RECIPIENTS = _mostly(RECIPIENT, st.sampled_from([RECIPIENT + i for i in INJECTIONS]) | _TEXT)
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Language",
    "Auto-Submitted",
    "Precedence",
}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    title=_TEXT,
    body=_TEXT,
    kicker=_TEXT,
    section=_TEXT,
    recipient=_RECIPIENTS,
    site_title=_SITE_TITLES,
    sender=_SENDERS,
)
def test_no_field_can_add_an_email_header(
    title: str, body: str, kicker: str, section: str, recipient: str, site_title: str, sender: str
) -> None:
    entry = make_entry(
        title or None, body or "正文。", kicker=kicker or None, section=section.strip() or "要闻"
    )
    digest = build_digest([entry], NOW.date(), NOW - timedelta(days=1), NOW)
    try:
        # writes=False: only the values are wanted, and no data or output folder made in the checkout.
        config = load_config(None, {"site.title": site_title, "smtp.sender": sender}, {}, writes=False)
        maker = DigestEmailMaker(digest, config=config, site_url="https://news.example/", now=NOW)
        message = maker.outgoing(
            recipient,
            unsubscribe_url="https://news.example/unsubscribe/t",
            unsubscribe_mailto="mailto:leave@news.example?subject=t",
        )
    except (ConfigError, PermanentDeliveryError):
        # Refused with a clear error, and nothing sent; never for good settings and a good address.
        assert (site_title, sender, recipient) != (SITE_TITLE, SENDER, RECIPIENT)
        event("refused")
        return
    event("composed")
    data = message.data  # the bytes that go on the wire, filled in per recipient
    parsed = message_from_bytes(data, policy=policy.default)
    assert set(parsed.keys()) <= HEADERS, parsed.keys()
    assert parsed.get_all("To") is not None and len(parsed.get_all("To") or []) == 1
    assert [a.addr_spec for a in parsed["To"].addresses] == [recipient.strip()]
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in head and b"X-Evil" not in head


# --- fuzzing the HTTP endpoints on a real uvicorn ------------------------------------------------


@pytest.fixture(scope="module")
def live(published: Published) -> Iterator[str]:
    config = published.config
    with Store.open(config.database_url) as store:
        mails = create_subscription_app(config, store, lambda: OutboxMailer(published.outbox))
        app = create_app(
            config.paths.output, health=lambda: {"status": "ok"}, routes=subscription_routes(mails)
        )
        with serving(app) as base:
            yield base


def _raw(base: str, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    return int(reply.split(b" ", 2)[1]), reply


_SEGMENT = st.sampled_from(
    [
        "..",
        "%2e%2e",
        "%2E%2e",
        ".",
        "",
        "%2f",
        "..%2f..%2f",
        "%5c..",
        "%00",
        "%ff%fe",
        "feeds",
        "archive",
        "all.atom",
        "index.html",
        "leak.html",
        "secret.txt",
        "etc",
        "passwd",
        ".digest-publish",
        "subscribe",
        "confirm",
        "unsubscribe",
        "preferences",
        "healthz",
        "%E6%96%87",
        "~",
    ]
) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="#?"), max_size=12)
_FUZZ = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@_FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
    segments=st.lists(_SEGMENT, max_size=6),
    query=st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
    headers=st.dictionaries(
        st.sampled_from(
            ["If-None-Match", "If-Modified-Since", "Accept-Encoding", "Range", "Origin", "Referer"]
        ),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
        max_size=3,
    ),
)
def test_fuzzed_requests_never_fail_or_leak(
    live: str, method: str, segments: list[str], query: str | None, headers: dict[str, str]
) -> None:
    target = "/" + "/".join(segments) + (f"?{query}" if query is not None else "")
    status, reply = _raw(live, method, target, headers)
    assert status < 500, (target, reply[:300])
    assert SECRET_TEXT not in reply and b"root:x:" not in reply, target


@_FUZZ
@given(
    form=st.dictionaries(st.sampled_from(["email", "form_token", "sections", "section"]), _TEXT, max_size=4),
    origin=st.sampled_from([None, "https://evil.example", "null", "http://127.0.0.1"]),
    path=st.sampled_from(["/subscribe", "/confirm/x", "/unsubscribe/x.y.z", "/preferences/..%2f"]),
)
def test_fuzzed_forms_never_fail_or_mail_a_forged_address(
    live: str, published: Published, form: dict[str, str], origin: str | None, path: str
) -> None:
    headers = {"Origin": origin} if origin else {}
    answer = httpx.post(f"{live}{path}", data=form, headers=headers, timeout=10)
    assert answer.status_code < 500, (path, form, answer.text[:300])
    for eml in published.outbox.glob("*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert len(message.get_all("To") or []) == 1 and message["Bcc"] is None
