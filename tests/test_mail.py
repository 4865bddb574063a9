"""The digest email, the outbox, and SMTP delivery against a real aiosmtpd server on loopback."""

from __future__ import annotations

import dataclasses
import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from smtp_sink import SmtpSink

from digest.config import Config, SiteConfig, SmtpConfig
from digest.errors import ConfigError, DeliveryError, PermanentDeliveryError
from digest.ingest.identity import article_uid
from digest.mail.compose import DigestEmailMaker, compose_digest_email
from digest.mail.message import Outgoing, wire
from digest.mail.transports import OutboxMailer, SmtpMailer, make_mailer
from digest.paper.parse import parse_page
from digest.paper.slugs import slugify
from digest.publish.digests import build_digest
from digest.publish.layout import NO_ARTICLES
from digest.types import Article, Credit, Digest, Entry, Section

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 11, 27, 7, 0, tzinfo=SHANGHAI)
DAY = date(2024, 11, 27)
SITE = "https://news.example"
UNSUBSCRIBE = "https://news.example/unsubscribe?t=" + "k" * 60  # longer than 74 characters on purpose
MAILTO = "mailto:unsubscribe@news.example?subject=unsubscribe%20" + "k" * 20
NEWS = Section("要闻", "yao-wen")
VIEWS = Section("众观", "zhong-guan")
SEEDS = Path(__file__).parents[2] / "shared" / "seeds"


def entry(uid: str, section: Section, position: int, article: Article) -> Entry:
    stamp = datetime(2024, 11, 27, tzinfo=SHANGHAI)
    return Entry(
        uid=uid,
        tag=f"tag:test,2024:article/2024-11-27/{uid}",
        article=article,
        section=section,
        issue_date=DAY,
        published=stamp,
        updated=stamp,
        first_seen=NOW - timedelta(hours=3),
        source="page.txt",
        position=position,
    )


def make_digest(*entries: Entry) -> Digest:
    return build_digest(entries, DAY, NOW - timedelta(days=1), NOW)


DIGEST = make_digest(
    entry(
        "a1",
        NEWS,
        1,
        Article(
            title="科技支撑，“双碳”之路行稳致远",
            body="近日，重大专项开工。项目以二氧化碳为原料！\n\n第二段。",
            kicker="聚焦",
            credits=(Credit("白莲", "本报记者"), Credit("李明", "通讯员")),
        ),
    ),
    entry("a2", NEWS, 2, Article(title="<script>alert(1)</script>标题", body="正文一句。")),
    entry("b1", VIEWS, 3, Article(title="评论的标题", body="评论正文。")),
)


def compose(digest: Digest = DIGEST, **overrides: object) -> EmailMessage:
    options: dict[str, object] = {
        "config": Config(),
        "recipient": "读者 <reader@example.org>",
        "site_url": SITE,
        "unsubscribe_url": UNSUBSCRIBE,
        "unsubscribe_mailto": MAILTO,
        "now": NOW,
    }
    options.update(overrides)
    return compose_digest_email(digest, **options)  # type: ignore[arg-type]


def reparse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_header(data: bytes, name: str) -> bytes:
    """A header exactly as on the wire, continuation lines included."""
    match = re.search(rb"^" + name.encode() + rb":(.*?\r?\n)(?![ \t])", data, re.M | re.S | re.I)
    assert match, name
    return match.group(1)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


# --- composing ------------------------------------------------------------------------


def test_email_carries_every_header_and_survives_a_round_trip() -> None:
    data = compose().as_bytes()
    message = reparse(data)
    assert message["Subject"] == "报纸摘要 · 2024年11月27日 · 3 篇：科技支撑，“双碳”之路行稳致远"
    assert message["From"].addresses[0].display_name == "报纸摘要"
    assert message["From"].addresses[0].addr_spec == "digest@localhost"
    assert message["To"].addresses[0].addr_spec == "reader@example.org"
    assert message["Date"].datetime == NOW
    assert re.fullmatch(r"<[^@<>]+@localhost>", message["Message-ID"])
    assert message["List-Id"] == "报纸摘要 <daily.localhost>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>, <{MAILTO}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_list_unsubscribe_is_never_encoded_even_with_long_uris() -> None:
    for url in (UNSUBSCRIBE, "https://n.example/u?t=1", "https://news.example/u?t=" + "x" * 400):
        data = compose(unsubscribe_url=url).as_bytes()
        raw = raw_header(data, "List-Unsubscribe")
        assert b"=?" not in raw
        assert url.encode() in raw.replace(b"\n ", b" ")
        assert all(len(line) <= 998 for line in raw.splitlines())
        assert reparse(data)["List-Unsubscribe"] == f"<{url}>, <{MAILTO}>"


def test_chinese_subject_is_folded_into_short_encoded_words() -> None:
    config = Config(site=SiteConfig(title="内蒙古日报今日要闻摘要" * 4))
    data = compose(config=config).as_bytes()
    raw = raw_header(data, "Subject")
    assert raw.strip().startswith(b"=?utf-8?")
    assert all(len(line) <= 78 for line in (b"Subject:" + raw).splitlines())
    assert reparse(data)["Subject"].startswith("内蒙古日报今日要闻摘要" * 4)


def test_both_parts_hold_sections_in_order_with_items_and_links() -> None:
    text, html = parts(compose())
    for body in (text, html):
        # The section index comes first, then the sections in paper order.
        assert body.index("要闻") < body.index("众观") < body.index("科技支撑") < body.rindex("众观")
        assert body.index("科技支撑") < body.rindex("评论的标题")  # the preheader previews it too
        assert "聚焦" in body and "白莲" in body and "李明" in body
        assert "近日，重大专项开工。项目以二氧化碳为原料！" in body
        assert f"{SITE}/articles/2024-11-27/a1.html" in body
        assert f"{SITE}/digests/2024-11-27.html" in body
        assert "2024年11月27日 星期三" in body and "共 3 篇" in body
        assert UNSUBSCRIBE in body.replace("&amp;", "&")
    assert "<" not in text.replace("<script>alert(1)</script>标题", "")  # plain text is not HTML


def test_html_is_inlined_escaped_and_narrow_friendly() -> None:
    _, html = parts(compose())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in html
    assert re.search(r'<table[^>]*class="sheet"[^>]*style="[^"]*max-width: 600px', html)
    assert re.search(r'<h3 class="headline" style="[^"]*font-size: 19px', html)
    assert "PingFang SC" in html and "Microsoft YaHei" in html
    # Only the @media rules remain in a <style> block: everything else is inlined.
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(styles) == 1 and styles[0].strip().startswith("@media")


def test_sections_narrow_the_email_to_a_subscribers_choice() -> None:
    message = compose(sections=frozenset({"zhong-guan"}))
    text, _ = parts(message)
    assert "评论的标题" in text and "科技支撑" not in text
    assert message["Subject"].endswith("1 篇：评论的标题")


def test_an_empty_digest_still_makes_a_readable_notice() -> None:
    text, html = parts(compose(make_digest()))
    assert NO_ARTICLES in text and NO_ARTICLES in html  # as its feed entry says (digest_item)


def test_every_article_of_a_real_seed_page_reaches_the_email() -> None:
    seed = sorted(SEEDS.glob("*.txt"))[0]
    page = parse_page(seed.read_text(encoding="utf-8"), seed.name)
    entries = [
        entry(
            article_uid(DAY, article),
            Section(article.section or "本版", slugify(article.section or "本版")),
            n,
            article,
        )
        for n, article in enumerate(page.articles)
    ]
    text, html = parts(compose(make_digest(*entries)))
    assert page.articles
    for item in entries:
        assert f"{SITE}/articles/2024-11-27/{item.uid}.html" in text
        assert f"{SITE}/articles/2024-11-27/{item.uid}.html" in html


# --- header injection and bad input ------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    [
        "reader@example.org\r\nBcc: victim@example.org",
        "reader@example.org\nX: y",
        "a\rb@example.org",
        "not an address",
        "",
        "a@example.org, b@example.org",
        "名字\u2028 <a@example.org>",
    ],
)
def test_a_bad_recipient_is_refused_for_good(recipient: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="recipient"):
        compose(recipient=recipient)


def test_line_breaks_in_configured_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"smtp\.sender"):
        compose(config=Config(smtp=SmtpConfig(sender="摘要\r\nBcc: x@example.org <d@example.org>")))
    with pytest.raises(ConfigError, match=r"smtp\.sender"):
        compose(config=Config(smtp=SmtpConfig(sender="nobody")))
    with pytest.raises(ConfigError, match=r"site\.title"):
        compose(config=Config(site=SiteConfig(title="摘要\nBcc: x@example.org")))


@pytest.mark.parametrize(
    ("url", "mailto"),
    [
        (UNSUBSCRIBE + "\r\nBcc: x@example.org", MAILTO),
        (UNSUBSCRIBE, MAILTO + "\n"),
        ("ftp://x", MAILTO),
        (UNSUBSCRIBE, "https://not-mailto"),
        (UNSUBSCRIBE + ">, <https://evil", MAILTO),
        ("https://x/退订", MAILTO),
        ("https://x/" + "a" * 990, MAILTO),
    ],
)
def test_unsafe_unsubscribe_uris_are_rejected(url: str, mailto: str) -> None:
    with pytest.raises(ValueError, match="unsubscribe URI"):
        compose(unsubscribe_url=url, unsubscribe_mailto=mailto)


def test_line_breaks_in_article_text_stay_in_the_body() -> None:
    hostile = Article(title="标题\r\nBcc: victim@example.org", body="正文\r\nX-Evil: 1。", kicker="\r\nX: y")
    data = compose(make_digest(entry("h", NEWS, 1, hostile))).as_bytes()
    message = reparse(data)
    assert message["Bcc"] is None and message["X-Evil"] is None and message["X"] is None
    assert "victim@example.org" in parts(message)[0]


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compose(now=datetime(2024, 11, 27, 7, 0))


# --- outbox -------------------------------------------------------------------------------------


def test_outbox_writes_whole_eml_files_that_parse_back(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path / "outbox")
    first, second = compose(), compose(recipient="other+tag@example.org")
    outbox.send(first)
    outbox.send(second)
    outbox.send(first)  # the same message lands in the same file
    outbox.close()
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files if f.name.startswith(".")] == []
    assert len(files) == 2
    names = sorted(f.name for f in files)
    assert re.fullmatch(r"20241126T230000Z-other\+tag@example\.org-[0-9a-f]{10}\.eml", names[0])
    assert re.fullmatch(r"20241126T230000Z-reader@example\.org-[0-9a-f]{10}\.eml", names[1])
    back = reparse((tmp_path / "outbox" / names[1]).read_bytes())
    assert back["Message-ID"] == first["Message-ID"]
    assert parts(back) == parts(first)


def test_outbox_that_cannot_be_written_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DeliveryError, match="outbox is a writable folder"):
        OutboxMailer(blocker).send(compose())
    assert blocker.read_text() == "a file where the folder should be"


def test_make_mailer_picks_the_outbox_until_smtp_is_configured(tmp_path: Path) -> None:
    outbox = make_mailer(Config(), tmp_path)
    assert isinstance(outbox, OutboxMailer)
    outbox.send(compose())
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    smtp = make_mailer(Config(smtp=SmtpConfig(host="127.0.0.1", port=1)), tmp_path)
    assert isinstance(smtp, SmtpMailer)
    smtp.close()
    with pytest.raises(ConfigError, match=r"smtp\.security"):
        make_mailer(Config(smtp=SmtpConfig(host="127.0.0.1", security="ssl")), tmp_path)


# --- SMTP ---------------------------------------------------------------------------------------


@pytest.fixture
def mailer(sink: SmtpSink) -> Iterator[SmtpMailer]:
    smtp = SmtpMailer(SmtpConfig(host=sink.host, port=sink.port, security="none"), timeout=5)
    yield smtp
    smtp.close()


def test_messages_arrive_whole_over_one_connection(sink: SmtpSink, mailer: SmtpMailer) -> None:
    mailer.send(compose())
    mailer.send(compose(recipient="second@example.org"))
    assert [m.recipients for m in sink.messages] == [("reader@example.org",), ("second@example.org",)]
    assert sink.messages[0].sender == "digest@localhost"
    assert sink.messages[0].peer == sink.messages[1].peer  # reused, not reconnected
    assert sink.pipelined == [False, False]  # one command at a time: the server did not offer PIPELINING
    received = sink.messages[0].message()
    for name in (
        "Subject",
        "From",
        "To",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ):
        assert received[name], name
    assert received["Subject"] == "报纸摘要 · 2024年11月27日 · 3 篇：科技支撑，“双碳”之路行稳致远"
    assert b"=?" not in raw_header(sink.messages[0].data, "List-Unsubscribe")
    assert parts(received)[0].startswith("报纸摘要")


def test_a_421_is_temporary_and_the_next_send_recovers(sink: SmtpSink, mailer: SmtpMailer) -> None:
    sink.refuse("*", 421, times=1)
    with pytest.raises(DeliveryError, match=rf"{sink.host}:{sink.port}.*421.*will retry") as caught:
        mailer.send(compose())
    assert not isinstance(caught.value, PermanentDeliveryError)
    mailer.send(compose())
    assert len(sink.messages) == 1


def test_a_550_refuses_one_address_for_good_and_the_next_still_goes(
    sink: SmtpSink, mailer: SmtpMailer
) -> None:
    sink.refuse("gone@example.org", 550)
    mailer.send(compose(recipient="first@example.org"))
    with pytest.raises(PermanentDeliveryError, match=r"refused gone@example\.org: 550"):
        mailer.send(compose(recipient="gone@example.org"))
    mailer.send(compose(recipient="next@example.org"))
    assert [m.recipients[0] for m in sink.messages] == ["first@example.org", "next@example.org"]
    assert sink.messages[0].peer == sink.messages[1].peer


def test_a_server_with_pipelining_gets_the_envelope_in_one_write_and_every_reply_is_read(
    sink: SmtpSink, mailer: SmtpMailer
) -> None:
    sink.pipelining = True
    sink.refuse("gone@example.org", 550)
    mailer.send(compose(recipient="first@example.org"))
    with pytest.raises(PermanentDeliveryError, match=r"refused gone@example\.org: 550"):
        mailer.send(compose(recipient="gone@example.org"))
    mailer.send(compose(recipient="next@example.org"))  # on the same connection: no reply left over
    sink.refuse("*", 421, times=1)
    with pytest.raises(DeliveryError, match="421"):
        mailer.send(compose(recipient="later@example.org"))
    mailer.send(compose(recipient="last@example.org"))
    assert [m.recipients[0] for m in sink.messages] == [
        "first@example.org",
        "next@example.org",
        "last@example.org",
    ]
    assert sink.messages[0].peer == sink.messages[1].peer != sink.messages[2].peer
    assert sink.pipelined == [True] * 5


@pytest.mark.parametrize(("code", "permanent"), [(554, True), (451, False)])
def test_refusals_at_data_follow_the_reply_class(
    sink: SmtpSink, mailer: SmtpMailer, code: int, permanent: bool
) -> None:
    sink.refuse("*", code, stage="data", times=1)
    with pytest.raises(DeliveryError, match=f"rejected the message to reader@example.org: {code}") as caught:
        mailer.send(compose())
    assert isinstance(caught.value, PermanentDeliveryError) is permanent
    mailer.send(compose())
    assert len(sink.messages) == 1


def test_a_dropped_connection_is_reopened(sink: SmtpSink, mailer: SmtpMailer) -> None:
    mailer.send(compose())
    sink.stop()  # the server goes away and comes back: our open connection is dead
    sink.start()
    mailer.send(compose())
    assert len(sink.messages) == 2
    assert sink.messages[0].peer != sink.messages[1].peer


def test_an_unreachable_server_names_host_port_and_the_fix(sink: SmtpSink) -> None:
    port = sink.port
    sink.stop()
    smtp = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, security="none"), timeout=5)
    with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{port}.*check smtp\.host and smtp\.port"):
        smtp.send(compose())
    smtp.close()


def test_a_message_must_have_exactly_one_recipient(mailer: SmtpMailer) -> None:
    message = compose()
    message.replace_header("To", "a@example.org, b@example.org")
    with pytest.raises(ValueError, match="exactly one recipient"):
        mailer.send(message)


def test_login_with_the_right_and_the_wrong_password() -> None:
    with SmtpSink(credentials=("digest", "s3cret")) as sink:
        config = SmtpConfig(
            host=sink.host, port=sink.port, security="none", username="digest", password="s3cret"
        )
        good = SmtpMailer(config, timeout=5)
        good.send(compose())
        good.close()
        assert sink.messages[0].authenticated_as == "digest"
        bad = SmtpMailer(dataclasses.replace(config, password="wrong"), timeout=5)
        with pytest.raises(DeliveryError, match=r"refused the login of 'digest'.*smtp\.password"):
            bad.send(compose())
        bad.close()
    assert len(sink.messages) == 1


def test_starttls_against_a_server_without_it_points_at_smtp_security(sink: SmtpSink) -> None:
    smtp = SmtpMailer(SmtpConfig(host=sink.host, port=sink.port, security="starttls"), timeout=5)
    with pytest.raises(DeliveryError, match=r"check smtp\.security"):
        smtp.send(compose())
    smtp.close()
    assert sink.messages == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_modes_deliver_encrypted(certificate: tuple[Path, Path], security: str) -> None:
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    with SmtpSink(tls=server_context, implicit_tls=security == "tls") as sink:
        config = SmtpConfig(host=sink.host, port=sink.port, security=security)
        smtp = SmtpMailer(config, timeout=5, ssl_context=client_context)
        smtp.send(compose())
        smtp.close()
        assert len(sink.messages) == 1
        assert sink.messages[0].tls
        # Without trusting the certificate, the connection is refused with a pointer at the cause.
        untrusting = SmtpMailer(config, timeout=5)
        with pytest.raises(DeliveryError, match=r"TLS with 127\.0\.0\.1:\d+ failed.*certificate"):
            untrusting.send(compose())
        untrusting.close()


def test_bodies_are_8bit_unless_a_line_is_too_long_for_it() -> None:
    short = compose()
    assert [p["Content-Transfer-Encoding"] for p in short.iter_parts()] == ["8bit", "8bit"]
    long_title = Article(title="很长的标题" * 120, body="正文。")
    long = compose(make_digest(entry("l", NEWS, 1, long_title)))
    assert "base64" in [p["Content-Transfer-Encoding"] for p in long.iter_parts()]
    assert all(len(line) <= 998 for line in long.as_bytes().splitlines())
    text, html = parts(reparse(long.as_bytes()))
    assert "很长的标题" * 120 in html and "很长的标题" * 7 in text  # the text part is wrapped at 72 columns


def test_a_long_summary_line_without_slots_stays_8bit() -> None:
    # 250 characters are 750 octets: under 998, but not with room for an address and a URL beside them.
    lead = Article(title="长句", body="河边" * 124 + "。")
    message = compose(make_digest(entry("l", NEWS, 1, lead)))
    assert [p["Content-Transfer-Encoding"] for p in message.iter_parts()] == ["8bit", "8bit"]
    assert all(len(line) <= 998 for line in message.as_bytes().splitlines())


# --- the wire bytes, serialised once per section choice ---------------------------------------------


def comparable(data: bytes) -> bytes:
    """``data`` without what differs by chance: the Message-ID and the MIME boundary."""
    boundary = reparse(data).get_boundary()
    assert boundary
    return re.sub(rb"(?m)^Message-ID: <[^>]+>\r\n", b"", data).replace(boundary.encode(), b"BOUNDARY")


def maker(digest: Digest = DIGEST, config: Config | None = None) -> DigestEmailMaker:
    return DigestEmailMaker(digest, config=config or Config(), site_url=SITE, now=NOW)


@pytest.mark.parametrize(
    ("recipient", "preferences", "sections", "digest"),
    [
        ("reader@example.org", "https://news.example/p?t=1&s=2", None, DIGEST),
        ("读者 <reader@example.org>", None, frozenset({"zhong-guan"}), DIGEST),
        ("o'neil+news@example.org", "https://news.example/p?a=<b>", frozenset({"yao-wen"}), DIGEST),
        # A line too long for 8bit: base64 parts, which the email package writes per recipient.
        (
            "reader@example.org",
            None,
            None,
            make_digest(entry("l", NEWS, 1, Article(title="很长的标题" * 120, body="正文。"))),
        ),
    ],
)
def test_the_wire_bytes_are_the_email_packages_bytes(
    recipient: str, preferences: str | None, sections: frozenset[str] | None, digest: Digest
) -> None:
    emails = maker(digest)
    options: dict[str, object] = {
        "unsubscribe_url": UNSUBSCRIBE + "&x=y",
        "unsubscribe_mailto": MAILTO,
        "preferences_url": preferences,
        "sections": sections,
    }
    for _ in range(2):  # the second time from the kept template
        fast = emails.outgoing(recipient, **options)  # type: ignore[arg-type]
        slow = fast.message()
        assert comparable(fast.data) == comparable(slow.as_bytes(policy=slow.policy.clone(linesep="\r\n")))
        assert fast.data.count(b"\r\nMessage-ID: <") == 1
        assert (fast.sender, fast.date) == ("digest@localhost", NOW)
        assert fast.recipient == recipient.removeprefix("读者 <").removesuffix(">")
        assert b"digest-slot" not in fast.data
    seven = fast.seven_bit()
    assert all(byte < 128 for byte in seven)
    # The 8bit part keeps the wire's CRLF when parsed; base64 decodes to LF.
    assert parts(reparse(seven)) == parts(reparse(fast.data.replace(b"\r\n", b"\n")))


def test_each_wire_email_has_its_own_address_links_and_message_id() -> None:
    emails = maker()
    one, two = (
        emails.outgoing(
            f"{name}@example.org",
            unsubscribe_url=f"https://news.example/u?t={name}",
            unsubscribe_mailto=MAILTO,
            preferences_url=f"https://news.example/p?t={name}&amp",
        )
        for name in ("one", "two")
    )
    first, second = reparse(one.data), reparse(two.data)
    assert first["To"] == "one@example.org" and second["To"] == "two@example.org"
    assert first["Message-ID"] != second["Message-ID"]
    assert first["List-Unsubscribe"] == f"<https://news.example/u?t=one>, <{MAILTO}>"
    text, html = parts(first)
    assert "https://news.example/p?t=one&amp" in text and "two" not in text
    assert "https://news.example/p?t=one&amp;amp" in html and "two@" not in html


@pytest.mark.parametrize("recipient", ["reader@example.org\r\nBcc: victim@example.org", "a@b.org, c@d.org"])
def test_the_wire_path_refuses_what_the_email_package_path_refuses(recipient: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="recipient"):
        maker().outgoing(recipient, unsubscribe_url=UNSUBSCRIBE, unsubscribe_mailto=MAILTO)
    with pytest.raises(ValueError, match="unsubscribe URI"):
        maker().outgoing(
            "a@example.org", unsubscribe_url=UNSUBSCRIBE + "\r\nBcc: x", unsubscribe_mailto=MAILTO
        )


def test_list_unsubscribe_on_the_wire_is_never_encoded() -> None:
    url = "https://news.example/u?t=" + "x" * 400
    data = maker().outgoing("a@example.org", unsubscribe_url=url, unsubscribe_mailto=MAILTO).data
    raw = raw_header(data, "List-Unsubscribe")
    assert b"=?" not in raw and raw.endswith(b"\r\n")
    assert reparse(data)["List-Unsubscribe"] == f"<{url}>, <{MAILTO}>"


def test_wire_of_an_email_package_message_needs_one_recipient_and_a_date() -> None:
    message = compose()
    email = wire(message)
    assert isinstance(email, Outgoing) and wire(email) is email
    assert (email.recipient, email.date) == ("reader@example.org", NOW)
    del message["Date"]
    with pytest.raises(ValueError, match="Date"):
        wire(message)
    del message["To"]
    with pytest.raises(ValueError, match="exactly one recipient"):
        wire(message)


def test_a_server_without_8bitmime_gets_a_7bit_message(sink: SmtpSink, mailer: SmtpMailer) -> None:
    sink.eight_bit = False
    mailer.send(compose())
    data = sink.messages[0].data
    assert all(byte < 128 for byte in data)
    assert "科技支撑" in parts(reparse(data))[0]
