"""The HTML site: template contexts, links, feed autodiscovery, article parts, hostile text, styling."""

from __future__ import annotations

import posixpath
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import jinja2
import pytest
from atomcheck import CLOCK, make_config, make_entry
from jinja2 import meta

from digest.publish.build import build_plan
from digest.publish.layout import byline
from digest.publish.templates import TEMPLATES, environment, render
from digest.types import Credit, Digest, Entry

TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("*.html"))


class _Tags(HTMLParser):
    """Collects (tag, attributes) of every start tag and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _tags(html: bytes) -> _Tags:
    parser = _Tags()
    parser.feed(html.decode("utf-8"))
    parser.close()
    return parser


def _issue() -> tuple[list[Entry], Digest]:
    yesterday = date(2024, 11, 26)
    entries = [
        make_entry("昨天的旧闻", day=yesterday, section="要闻", position=0, seen=CLOCK - timedelta(days=1)),
        make_entry("经济版头条", section="经济", position=2),
        make_entry("要闻版头条", section="要闻", position=0),
        make_entry("要闻版次条", section="要闻", position=1),
        make_entry("经济版次条", section="经济", position=3),
    ]
    # A digest holds what was first seen in its window: today's four, not yesterday's.
    digest = Digest(date(2024, 11, 27), CLOCK - timedelta(hours=1), CLOCK + timedelta(minutes=1))
    return entries, digest


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_use_only_their_page_context(name: str) -> None:
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    assert meta.find_undeclared_variables(environment().parse(source)) <= {"page"}
    assert "<script" not in source.lower() and "http" not in source  # no JavaScript, no CDN


def test_strict_undefined_fails_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("index.html", object())


def _target(page: str, href: str, prefix: str) -> str:
    """The output file ``href`` on ``page`` leads to; the 404 page links from the site's ``prefix``."""
    if not href:  # an anchor on the page itself
        return page
    if page == "404.html":  # served for any path: it links from the site root
        assert href.startswith(prefix), f"{page}: {href} is not from the root"
        return posixpath.normpath(href.removeprefix(prefix))
    assert not href.startswith(("/", "http:", "https:")), f"{page}: {href} is not relative"
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href))


def test_every_page_links_feeds_and_only_to_files_that_exist() -> None:
    entries, digest = _issue()
    config = make_config()
    prefix = urlsplit(config.site.base_url).path.rstrip("/") + "/"
    plan = build_plan(entries, [digest], config)
    pages = [path for path in plan if path.endswith(".html")]
    # articles, sections, digest page and list, index, subscribe, feeds page, two issues and their list, 404
    assert len(pages) == 5 + 2 + 2 + 1 + 1 + 1 + 2 + 1 + 1
    for path in pages:
        tags = _tags(plan[path]).tags
        feeds = {
            _target(path, a["href"] or "", prefix)
            for t, a in tags
            if t == "link" and a.get("type") == "application/atom+xml"
        }
        assert "feeds/all.atom" in feeds, path
        if path.startswith(("articles/", "sections/")):
            assert feeds & {"feeds/yao-wen.atom", "feeds/jing-ji.atom"}, path
        for tag, attrs in tags:
            href = attrs.get("href") or attrs.get("src")
            if tag in {"a", "link"} and href and attrs.get("rel") != "canonical":
                href, _, anchor = href.partition("#")
                target = _target(path, href, prefix)
                assert target in plan, f"{path} links to missing {target}"
                if anchor:
                    assert f'id="{anchor}"'.encode() in plan[target], f"{path} links to missing #{anchor}"


def test_front_page_shows_the_latest_issue_in_paper_order() -> None:
    entries, digest = _issue()
    text = "".join(_tags(build_plan(entries, [digest], make_config())["index.html"]).text)
    assert "昨天的旧闻" not in text
    start = text.index("2024年11月27日")  # after the navigation, which names the sections too
    names = ("要闻", "要闻版头条", "要闻版次条", "经济", "经济版头条", "经济版次条")
    order = [text.index(name, start) for name in names]
    assert order == sorted(order)


def test_empty_site_still_renders() -> None:
    plan = build_plan([], [], make_config())
    assert "还没有发布任何文章" in plan["index.html"].decode()
    assert "还没有摘要" in plan["digests/index.html"].decode()


def test_article_page_shows_every_part() -> None:
    entry = make_entry(
        "雪后的城市",
        "清晨，环卫工人已经上路。\n\n主干道在八点前全部通行。",
        section="社会",
        kicker="民生关注",
        subtitle="扫雪一夜间",
        credits=(Credit("韩梅", "本报记者"), Credit("陈光", "摄")),
        place="包头",
        date="11-27",
        notes=("编辑有话说：出行请注意安全。",),
        jumps=("下转第3版",),
    )
    html = build_plan([entry], [], make_config())[f"articles/2024-11-27/{entry.uid}.html"].decode()
    for piece in (
        "<h1>雪后的城市</h1>",
        '<p class="kicker">民生关注</p>',
        '<p class="subtitle"><strong>扫雪一夜间</strong></p>',
        "本报记者 韩梅　陈光 摄",
        "包头 11月27日",
        '<time datetime="2024-11-27T00:00:00+08:00">2024年11月27日</time>',
        "<p>清晨，环卫工人已经上路。</p>",
        "<p>主干道在八点前全部通行。</p>",
        "编辑有话说：出行请注意安全。",
        "下转第3版",
        'href="../../sections/she-hui.html">社会</a>',
    ):
        assert piece in html, piece


@pytest.mark.parametrize(
    ("credits", "line"),
    [
        ((("甲乙", "本报记者"), ("丙丁", "本报记者"), ("戊己", "通讯员")), "本报记者 甲乙 丙丁　通讯员 戊己"),
        ((("甲乙", "本报记者 摄"), ("丙丁", "通讯员 摄影报道")), "本报记者 甲乙 摄　通讯员 丙丁 摄影报道"),
        ((("甲乙", "文/图 本报记者"),), "文/图 本报记者 甲乙"),  # a mark printed before the names
        # One reporter named by the dateline and by the photos' credits: once, in both roles.
        (
            (("甲乙", "记者"), ("甲乙", "城东晚报记者 摄"), ("甲乙", "城东晚报记者 摄")),
            "城东晚报记者 甲乙 摄",
        ),
        ((("甲乙", ""), ("甲乙", "摄")), "甲乙 摄"),
        ((("甲乙", "摄"), ("丙丁", "记者"), ("甲乙", "记者")), "记者 甲乙 摄　记者 丙丁"),
        # Roles that do not fit together stay apart.
        ((("甲乙", "记者"), ("甲乙", "通讯员")), "记者 甲乙　通讯员 甲乙"),
    ],
)
def test_a_byline_names_each_person_once_with_marks_after_the_names(
    credits: tuple[tuple[str, str], ...], line: str
) -> None:
    assert byline(tuple(Credit(name, role) for name, role in credits)) == line


def test_digest_pages_group_by_section_with_summaries() -> None:
    entries, digest = _issue()
    plan = build_plan(entries, [digest], make_config())
    html = plan["digests/2024-11-27.html"].decode()
    assert "共 4 篇新文章" in html
    assert html.index("要闻版头条") < html.index("要闻版次条") < html.index("经济版头条")
    assert html.count("今天天气晴朗。公园里的桂花开了，游人很多。") == 4
    assert f'href="../articles/2024-11-27/{entries[1].uid}.html"' in html
    assert 'href="../digests/2024-11-27.html"' in plan["digests/index.html"].decode()


def test_subscribe_form_posts_relative_and_lists_every_feed() -> None:
    entries, _ = _issue()
    tags = _tags(build_plan(entries, [], make_config())["subscribe.html"]).tags
    forms = [a for t, a in tags if t == "form"]
    assert forms == [
        {"class": "site-search", "role": "search", "action": "search", "method": "get"},  # every masthead's
        {"class": "subscribe", "method": "post", "action": "subscribe"},
    ]
    assert ("input", "email") in [(t, a.get("name")) for t, a in tags]
    hrefs = {a.get("href") for t, a in tags if t == "a"}
    assert {"feeds/all.atom", "feeds/yao-wen.atom", "feeds/jing-ji.atom", "feeds/digests.atom"} <= hrefs


def test_hostile_text_is_inert_on_every_page() -> None:
    nasty = "<script>alert(1)</script><img src=x onerror=alert(2)> & ]]> \x00\x1b\ufffe"
    entry = make_entry(
        f"标题{nasty}", f"正文{nasty}。", section=f"版{nasty}", kicker=nasty, notes=(nasty,), place=nasty
    )
    digest = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK, ((entry.section, (entry,)),))
    plan = build_plan([entry], [digest], make_config(base_url='http://example.test/"><script>x</script>'))
    for path, data in plan.items():
        if path.endswith(".html"):
            text = data.decode("utf-8")
            assert "<script" not in text and "<img" not in text, path
            assert not any(ch in text for ch in "\x00\x1b\ufffe"), path
            assert not any(tag in {"script", "img"} for tag, _ in _tags(data).tags), path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in plan[f"articles/2024-11-27/{entry.uid}.html"].decode()


def test_stylesheet_sets_chinese_typography_without_remote_resources() -> None:
    css = build_plan([], [], make_config())["static/style.css"].decode()
    assert '"PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC"' in css
    assert "line-height: 1.8" in css and "max-width: 36em" in css and "@media" in css
    assert "url(" not in css and "@import" not in css
