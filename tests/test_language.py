"""``site.language`` as a Taiwanese reader meets it: a site published from a Big5 page, opened in
headless Debian Chromium (which language the page says, which font draws it, which characters its
own words are in), its feed read by a feed parser, and its emails' headers and HTML.

The page is written here in traditional characters.  It prints 信息科技, which OpenCC's Taiwan
conversion would turn into 資訊科技: the site's own words are converted, the paper's never.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import feedparser
import httpx
import lxml.etree
import lxml.html
import pytest
from playwright.sync_api import Browser, Page
from test_browser import browser  # noqa: F401  (the fixture)
from test_server import serving

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.language import conversion, fixed_words, og_locale
from digest.mail.compose import DigestEmailMaker, compose_confirmation_email, compose_digest_email
from digest.mail.pages import emptied_note
from digest.publish.digests import build_digest
from digest.publish.layout import ALL_FEED, feed_path
from digest.publish.templates import environment
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Article, Digest, Entry, Section
from digest.web.hosts import HostNames
from digest.web.search import PATH as SEARCH
from digest.web.search import create_search_app
from digest.web.server import create_app

INGESTED = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
PRINTED = "港區管理處昨天宣布，新設的資訊服務中心下月啟用，提供船期查詢與信息科技諮詢。"
PAGE = f"""
● 要聞

# 港區資訊服務中心下月啟用

本報訊（記者 陳立言）{PRINTED}

中心設在舊倉庫二樓，週一至週五開放，市民可以預約參觀。
"""
# The face fontconfig draws each language's text with (Debian's fonts-noto-cjk has them all).
DRAWN_WITH = {"zh-CN": "Noto Sans CJK SC", "zh-TW": "Noto Sans CJK TC", "zh-HK": "Noto Sans CJK HK"}


def _config(tmp_path: Path, language: str) -> Config:
    pages = tmp_path / "pages"
    pages.mkdir(exist_ok=True)
    # Exported from a Taiwanese editorial system: Big5 as Windows writes it.
    (pages / "2026-03-02_01.txt").write_bytes(PAGE.encode("cp950"))
    return load_config(
        None,
        {
            "paths.source": pages,
            "paths.data": tmp_path / "data",
            "paths.output": tmp_path / "out",
            "ingest.encoding": "cp950",
            "site.title": "港都日報摘要",
            "site.language": language,
        },
        {},
    )


@pytest.fixture(params=sorted(DRAWN_WITH))
def published(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Config]]:
    """The page published and served with ``site.language`` = the parameter; yields (URL, config)."""
    config = _config(tmp_path, request.param)
    with Store.open(config.database_url) as store:
        assert ingest(config, store, INGESTED).new == 1
        run_publish(config, store)
    with serving(create_app(config.paths.output)) as url:
        yield url, config


def _drawn_with(page: Page, selector: str) -> list[str]:
    """The fonts Chromium actually drew ``selector``'s text with (DevTools: platform fonts)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [font["familyName"] for font in fonts]


def test_a_reader_sees_the_sites_language_its_fonts_and_its_words(
    published: tuple[str, Config],
    browser: Browser,  # noqa: F811
) -> None:
    url, config = published
    language = config.site.language
    page = browser.new_page(locale=language)
    page.goto(url + "/")
    assert page.evaluate("document.documentElement.lang") == language
    nav = page.locator("header nav").inner_text()
    # 訂閱 in Taiwan, 訂閲 in Hong Kong (OpenCC's s2hk follows the HK glyph standard).
    assert ("首頁" in nav and "訂" in nav) if language != "zh-CN" else ("首页" in nav and "订阅" in nav)
    page.get_by_role("link", name="港區資訊服務中心下月啟用").first.click()
    page.wait_for_load_state()
    text = page.locator("main p", has_text="港區管理處").first
    assert PRINTED in text.inner_text()  # as printed: 信息科技 stays
    family = text.evaluate("node => getComputedStyle(node).fontFamily")
    assert family.startswith(
        {"zh-CN": '"PingFang SC"', "zh-TW": '"PingFang TC"', "zh-HK": '"PingFang HK"'}[language]
    )
    assert _drawn_with(page, "main p") == [DRAWN_WITH[language]]
    share = page.locator('meta[property="og:locale"]').get_attribute("content")
    assert share == language.replace("-", "_")
    page.close()


def test_the_feed_says_the_sites_language(published: tuple[str, Config]) -> None:
    url, config = published
    data = httpx.get(url + "/" + feed_path(ALL_FEED)).content
    assert feedparser.parse(data).feed.language == config.site.language
    root = lxml.etree.fromstring(data)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == config.site.language
    entry = root.find("{http://www.w3.org/2005/Atom}entry")
    assert entry is not None
    assert "信息科技" in "".join(entry.itertext())


def _digest() -> Digest:
    now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    article = Article(title="港區資訊服務中心下月啟用", body=PRINTED)
    entry = Entry(
        uid="a1",
        tag="tag:test,2026:article/2026-03-02/a1",
        article=article,
        section=Section("要聞", "yao-wen"),
        issue_date=date(2026, 3, 2),
        published=now,
        updated=now,
        first_seen=now - timedelta(hours=3),
        source="page.txt",
        position=1,
    )
    return build_digest([entry], date(2026, 3, 2), now - timedelta(days=1), now)


def _parts(message: EmailMessage) -> tuple[str, str]:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html = (part.get_content() for part in parsed.walk() if part.get_content_maintype() == "text")
    return text, html


def _confirmation(config: Config, now: datetime) -> EmailMessage:
    """The confirmation email of a sign-up to the site ``config`` describes."""
    return compose_confirmation_email(
        config=config,
        recipient="new@example.org",
        confirm_url="https://news.example/confirm/k",
        hours=48,
        site_url="https://news.example/",
        now=now,
    )


@pytest.mark.parametrize("language", ["zh-TW", "zh-HK"])
def test_the_emails_say_the_sites_language(
    tmp_path: Path,
    language: str,
    browser: Browser,  # noqa: F811
) -> None:
    config = _config(tmp_path, language)
    now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    digest = compose_digest_email(
        _digest(),
        config=config,
        recipient="reader@example.org",
        site_url="https://news.example/",
        unsubscribe_url="https://news.example/u/k",
        unsubscribe_mailto="mailto:u@news.example",
        now=now,
    )
    confirm = _confirmation(config, now)
    assert str(confirm["Subject"]).startswith(("請確認訂閱", "請確認訂閲"))
    for message in (digest, confirm):
        assert message["Content-Language"] == language
        text, html = _parts(message)
        assert lxml.html.fromstring(html).get("lang") == language
        assert "PingFang SC" not in html and ("PingFang TC" in html or "PingFang HK" in html)
        assert "订" not in text and "訂" in text  # 订阅/退订 in traditional characters
    # The bytes a subscriber is sent (drawn once, without the email package) say it too.
    maker = DigestEmailMaker(_digest(), config=config, site_url="https://news.example/", now=now)
    sent = maker.outgoing(
        "reader@example.org", unsubscribe_url="https://x.example/u", unsubscribe_mailto="mailto:u@x.example"
    )
    head = sent.data.split(b"\r\n\r\n", 1)[0]
    assert f"\r\nContent-Language: {language}\r\n".encode() in head + b"\r\n"
    text, html = _parts(digest)
    assert "信息科技" in text and "信息科技" in html  # the article as printed
    page = browser.new_page()
    page.set_content(html)
    assert page.evaluate("document.documentElement.lang") == language
    page.close()


def test_the_default_emails_say_their_language_too() -> None:
    """zh-CN (the default) is declared like any other tag: mail clients and screen readers read the
    header, and the plain-text part has no ``lang`` of its own.  Before, only other tags had it."""
    config = Config()
    now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    message = _confirmation(config, now)
    assert message["Content-Language"] == "zh-CN"
    assert 'lang="zh-CN"' in _parts(message)[1]
    maker = DigestEmailMaker(_digest(), config=config, site_url="https://news.example/", now=now)
    sent = maker.outgoing(
        "reader@example.org", unsubscribe_url="https://x.example/u", unsubscribe_mailto="mailto:u@x.example"
    )
    for data in (sent.data, sent.seven_bit()):
        head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
        assert head.count(b"\r\nContent-Language: zh-CN\r\n") == 1


def test_the_misdirected_page_says_the_sites_language(tmp_path: Path) -> None:
    """The 421 page a visitor by an unknown name gets is the site's too; before, always zh-CN."""
    hosts = HostNames(frozenset({"news.example"}))
    app = create_app(tmp_path, hosts=hosts, language="zh-TW")
    with serving(app) as url:
        answer = httpx.get(url + "/", headers={"Host": "nas.lan:8080"})
    assert answer.status_code == 421
    assert '<html lang="zh-TW">' in answer.text and "主機名" in answer.text and "主机名" not in answer.text
    assert 'allowed_hosts = ["nas.lan"]' in answer.text  # the setting to copy, as the visitor sent it


def test_the_starting_page_says_the_sites_language(tmp_path: Path) -> None:
    app = create_app(tmp_path, starting=lambda: True, language="zh-TW")
    with serving(app) as url:
        answer = httpx.get(url + "/")
    assert answer.status_code == 503
    assert '<html lang="zh-TW">' in answer.text and "正在啟動" in answer.text


@pytest.mark.parametrize(
    ("tag", "config", "locale"),
    [
        ("zh-CN", None, "zh_CN"),
        ("zh-TW", "s2twp.json", "zh_TW"),
        ("zh-Hant-TW", "s2twp.json", "zh_TW"),
        ("zh-HK", "s2hk.json", "zh_HK"),
        ("zh-MO", "s2hk.json", "zh_MO"),
        ("zh-Hant", "s2t.json", "zh"),
        ("zh-Hans-HK", None, "zh_HK"),  # the script decides over the region
        ("en", None, "en"),
        # Subtags after a singleton (an extension, private use) are no region, however short.
        ("zh-Hant-u-nu-hanidec", "s2t.json", "zh"),
        ("zh-Hant-x-hk", "s2t.json", "zh"),
    ],
)
def test_which_tags_write_the_fixed_words_in_traditional_characters(
    tag: str, config: str | None, locale: str
) -> None:
    assert conversion(tag) == config
    assert og_locale(tag) == locale
    assert (
        fixed_words("订阅软件", tag)
        == {
            None: "订阅软件",
            "s2twp.json": "訂閱軟體",
            "s2hk.json": "訂閲軟件",
            "s2t.json": "訂閱軟件",
        }[config]
    )


def test_no_word_of_the_site_itself_is_left_in_simplified_characters(tmp_path: Path) -> None:
    """Every published file of a zh-TW site reads the same once converted to traditional characters,
    but for the article, which is as printed (信息科技: OpenCC would make it 資訊科技)."""
    import opencc

    to_traditional = opencc.OpenCC("s2t.json")
    config = _config(tmp_path, "zh-TW")
    with Store.open(config.database_url) as store:
        ingest(config, store, INGESTED)
        run_publish(config, store)
    left = [
        f"{path.name}: {line.strip()[:60]}"
        for path in sorted(config.paths.output.rglob("*"))
        if path.suffix in (".html", ".atom", ".json", ".css", ".opml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if to_traditional.convert(line) != line and "信息科技" not in line
    ]
    assert left == []


def test_search_speaks_the_sites_language_and_shows_the_query_as_typed(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
) -> None:
    config = _config(tmp_path, "zh-TW")
    with Store.open(config.database_url) as store:
        ingest(config, store, INGESTED)
        run_publish(config, store)
        app = create_app(config.paths.output, routes={SEARCH: create_search_app(config, store)})
        with serving(app) as url:
            page = browser.new_page(locale="zh-TW")
            page.goto(url + "/")
            page.get_by_role("searchbox").first.fill("软件")  # typed in simplified characters
            page.get_by_role("button", name="搜尋").first.click()
            page.wait_for_load_state()
            assert page.evaluate("document.documentElement.lang") == "zh-TW"
            notice = page.locator("main").inner_text()
            assert "沒有找到含“软件”的文章" in notice, notice
            page.close()


def test_fixed_words_that_reach_the_templates_as_values_are_converted_too() -> None:
    assert environment("zh-TW").filters["words"]("图片新闻") == "圖片新聞"
    assert environment().filters["words"]("图片新闻") == "图片新闻"
    note = emptied_note(["體育", "國際"], "zh-TW")
    assert note.startswith("您訂閱的“體育”、“國際”版面") and "这" not in note
