"""A digest email that fits the inbox: capped, indexed, previewed, wrapped, and under Gmail's clipping size.

Gmail clips a message past about 102 KB and hides the rest, footer included;
a 150-article day is composed with the real maker and checked in bytes, in
the text part's display columns, and in headless Chromium at phone size
(the manage links must be on the first screen).
"""

from __future__ import annotations

import dataclasses
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Browser, Route
from test_browser import ARTIFACTS, browser  # noqa: F401 (the system-Chromium fixture, shared)
from test_mail import NOW, entry, make_digest

from digest.config import Config, DigestConfig
from digest.mail.compose import DigestEmailMaker
from digest.paper.columns import width, wrap, wrap_text
from digest.types import Article, Credit, Digest, Section

SITE = "https://news.example/"
UNSUBSCRIBE = "https://news.example/unsubscribe/k3yk3yk3yk3yk3yk.6746b2a0.abcdefghijklmnopqrstuv"
PREFERENCES = UNSUBSCRIBE.replace("/unsubscribe/", "/preferences/")
SECTIONS = [
    Section(name, slug)
    for name, slug in [
        ("要闻", "yao-wen"),
        ("经济", "jing-ji"),
        ("文体", "wen-ti"),
        ("评论", "ping-lun"),
        ("社会", "she-hui"),
        ("国际", "guo-ji"),
    ]
]


def big_day(articles: int = 150) -> Digest:
    """``articles`` articles of realistic length over six sections, most in the first (as on a real day)."""
    return make_digest(
        *(
            entry(
                f"u{n:03d}",
                SECTIONS[0] if n < articles // 2 else SECTIONS[1 + n % 5],
                n,
                Article(
                    title=f"第{n}篇：青松县推进社区图书馆建设，市民阅读空间持续扩展",
                    body="记者从县文化部门获悉，今年以来全县新建社区图书馆十二座，藏书总量超过三十万册。"
                    "各馆实行错时开放，方便上班族在晚间和周末借阅。\n\n第二段正文。",
                    kicker="聚焦基层" if n % 3 == 0 else "",
                    credits=(Credit("白莲", "本报记者"), Credit("李明", "通讯员")),
                ),
            )
            for n in range(articles)
        )
    )


def many_sections(count: int = 60) -> Digest:
    """A day of ``count`` sections of two short articles each (a backfill of many pages looks so)."""
    return make_digest(
        *(
            entry(
                f"s{n:03d}",
                Section(f"城乡社区第{n}版", f"cheng-xiang-{n}"),
                n,
                Article(title=f"第{n}版第{k}篇：小镇新开一家书店", body="书店开在河边。周末人很多。"),
            )
            for n in range(count)
            for k in (1, 2)
        )
    )


def compose(digest: Digest, config: Config | None = None) -> tuple[bytes, EmailMessage]:
    maker = DigestEmailMaker(digest, config=config or Config(), site_url=SITE, now=NOW)
    data = maker.outgoing(
        "reader@example.org",
        unsubscribe_url=UNSUBSCRIBE,
        unsubscribe_mailto="mailto:digest@news.example?subject=unsubscribe",
        preferences_url=PREFERENCES,
    ).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return data, message


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


class Links(HTMLParser):
    """Every ``<a href>`` with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def test_a_150_article_day_is_capped_under_100_kb_with_the_rest_on_the_web() -> None:
    data, message = compose(big_day(150))
    assert len(data) < 100_000, f"{len(data)} bytes: Gmail clips past ~102 KB"
    text, html = bodies(message)
    subject = str(message["Subject"])
    assert (
        "2024年11月27日" in subject and "150 篇" in subject and "第0篇：青松县推进社区图书馆建设" in subject
    )
    web = "https://news.example/digests/2024-11-27.html"
    for body in (text, html):
        assert "还有 110 篇" in body and web in body
        assert (
            body.count("青松县推进社区图书馆建设") <= 40 + 4
        )  # the articles, the preview, the subject's lead
        for section in SECTIONS:  # a long first section pushes no other section out
            assert section.name in body
    shown = re.findall(r'<h3 class="headline"[^>]*><a [^>]*>([^<]+)</a>', html)
    assert len(shown) == 40
    # The index at the top counts every article of each section, shown or not.
    assert "要闻</a> 75 篇" in html and "要闻 75 篇" in text


def test_a_day_of_many_sections_stays_8bit_with_every_line_within_smtps_limit() -> None:
    # The index of the sections at the top was one line: 35 sections made 2.4 KB, past the 998 octets
    # an SMTP line may hold (RFC 5322 §2.1.1), so the HTML part went out base64, a third larger.
    data, message = compose(many_sections(60))
    assert [p["Content-Transfer-Encoding"] for p in message.iter_parts()] == ["8bit", "8bit"]
    assert max(len(line) for line in data.splitlines()) <= 998
    assert len(data) < 100_000, f"{len(data)} bytes: Gmail clips past ~102 KB"
    text, html = bodies(message)
    index = re.search(r'<p class="index"[^>]*>(.*?)</p>', html, re.S)
    assert index
    # It reads as it did: in HTML a line break is a space, like the one it stands for.
    shown = " ".join(re.sub(r"<[^>]+>", "", index.group(1)).split())
    # Every section is named and counted, also the 20 that digest.max_items's 40 articles (one from
    # each of the first 40 sections) leave out: those link to their page on the site.
    assert shown == " · ".join(f"城乡社区第{n}版 2 篇" for n in range(60))
    links = re.findall(r'<a href="([^"]+)"[^>]*>城乡社区第(\d+)版</a>', index.group(1))
    assert [int(n) for _, n in links] == list(range(60))
    assert all(href.startswith("#section-") for href, _ in links[:40])
    assert all(href.startswith(SITE + "sections/") for href, _ in links[40:])
    assert "共 120 篇，60 个版面" in html and "共 120 篇，60 个版面" in text
    assert "城乡社区第59版 2 篇" in text and "【城乡社区第59版】" not in text


def test_manage_links_and_the_index_come_before_the_first_article() -> None:
    _, message = compose(big_day(150))
    text, html = bodies(message)
    first = html.index('class="headline"')
    assert html.index(PREFERENCES) < first and html.index(UNSUBSCRIBE) < first
    assert html.index('href="#section-1"') < first and 'id="section-1"' in html
    assert text.index(PREFERENCES) < text.index("■") and text.index(UNSUBSCRIBE) < text.index("■")


def test_the_preheader_previews_more_than_the_subject_and_stays_hidden() -> None:
    _, message = compose(big_day(10))
    _, html = bodies(message)
    match = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)</div>', html)
    assert match, "no preheader"
    style, preview = match.groups()
    assert "display: none" in style and preview and preview not in str(message["Subject"])
    assert preview.startswith("第1篇") and len(preview) <= 90


def test_link_texts_say_where_they_go() -> None:
    _, message = compose(big_day(45))
    parser = Links()
    parser.feed(bodies(message)[1])
    texts: dict[str, set[str]] = {}
    for href, text in parser.links:
        assert text, href
        texts.setdefault(text, set()).add(href)
    assert "阅读全文" not in texts
    # One text, one destination: no "click here" repeated for different articles.
    assert all(len(hrefs) == 1 for hrefs in texts.values()), [t for t, h in texts.items() if len(h) > 1]


def test_the_text_part_is_wrapped_at_72_display_columns() -> None:
    _, message = compose(big_day(20))
    text, _ = bodies(message)
    for line in text.splitlines():
        if width(line) > 72:
            assert re.fullmatch(r"\s*\S+", line) or "：http" in line, line  # only an unbreakable URL
    summary_lines = [line for line in text.splitlines() if "记者从县文化部门获悉" in line]
    assert summary_lines and all(width(line) <= 72 for line in summary_lines)


def test_max_items_is_configurable() -> None:
    config = dataclasses.replace(Config(), digest=DigestConfig(max_items=5))
    _, message = compose(big_day(30), config)
    text, html = bodies(message)
    assert len(re.findall(r'class="headline"', html)) == 5 and "还有 25 篇" in text
    _, small = compose(big_day(3), config)
    assert "还有" not in bodies(small)[0]


def test_display_width_and_wrapping() -> None:
    assert width("中a，") == 5 and width("é") == 1
    lines = wrap("  " + "青松县图书馆开馆，" * 12, 20)
    assert all(width(line) <= 20 for line in lines) and all(line.startswith("  ") for line in lines)
    assert not any(line.strip().startswith("，") for line in lines)
    url = "https://news.example/" + "a" * 90
    assert wrap(f"  {url}", 72) == [f"  {url}"]
    assert wrap_text("■ " + "标题" * 40, 72).splitlines()[1].startswith("  ")


# Chinese line-breaking rules (避头尾): marks that never start a line, and marks that never end one.
CLOSING = "，。、；：？！”’）》」』】…"
OPENING = "“‘（《「『【"


def test_a_line_never_starts_with_closing_punctuation_nor_ends_with_an_opening_mark() -> None:
    # The break falls between ” and 。: carrying back one unit left ”。 at the start of a line.
    lines = wrap("  " + "医" * 31 + "“钱袋子”。过去，一旦", 72)
    assert lines == ["  " + "医" * 31 + "“钱袋", "  子”。过去，一旦"]
    assert wrap("  " + "医" * 33 + "“钱袋子”。", 72)[1] == "  袋子”。"


def test_chinese_quotation_marks_count_two_columns() -> None:
    # Ambiguous width: set full width in Chinese text, like the ，。 beside them.
    assert width("“好”") == 6 and width("…—·") == 6 and width("é") == 1
    assert all(width(line) <= 20 for line in wrap("“" * 15, 20)[:-1] + wrap("说“好”。" * 6, 20))


@given(
    st.text(alphabet="医药费“”‘’（）《》「」，。、：？！… ab", min_size=1, max_size=120),
    st.integers(min_value=8, max_value=40),
)
def test_wrapping_keeps_the_line_breaking_rules_and_every_character(text: str, columns: int) -> None:
    lines = wrap("  " + text.strip(), columns)
    bodies = [line.removeprefix("  ") for line in lines]
    for body in bodies[1:]:
        assert body and body[0] not in CLOSING, lines
    for body in bodies[:-1]:
        assert body and body[-1] not in OPENING, lines
    # Only the spaces at a break are dropped.
    assert "".join(bodies).replace(" ", "") == text.replace(" ", "")


@pytest.mark.slow
def test_the_manage_links_are_on_the_first_phone_screen(browser: Browser) -> None:  # noqa: F811
    _, message = compose(big_day(150))
    html = bodies(message)[1]
    requests: list[str] = []

    def refuse(route: Route) -> None:
        requests.append(route.request.url)
        route.abort()

    page = browser.new_page(viewport={"width": 360, "height": 640}, java_script_enabled=False)
    try:
        page.route("**/*", refuse)
        page.set_content(html, wait_until="load")
        for name in ("选择版面", "退订这份摘要"):
            link = page.get_by_role("link", name=name, exact=True).first
            box = link.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 640, (name, box)
        preheader = page.locator(".preheader")
        assert preheader.is_hidden()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "email-150-articles-phone.png")
    finally:
        page.close()
    assert requests == []
