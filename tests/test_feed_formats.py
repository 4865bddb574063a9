"""The feeds as people meet them: JSON Feed twins of every Atom document, the stylesheet a browser
draws an Atom document with, HTML summaries, the feeds page and the icons."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from io import BytesIO
from posixpath import dirname, normpath
from urllib.parse import urlsplit

import feedparser
from atomcheck import ATOM, CLOCK, check_atom, make_config, make_entry, parse
from icons import FAVICON_SIZES, STATIC, TOUCH_SIZE, draw
from jsonfeedcheck import check_json_feed
from PIL import Image, ImageChops
from test_feeds import _story_entries

from digest.publish.build import build_plan
from digest.publish.feeds import ARCHIVE_PAGE_SIZE
from digest.types import Credit, Digest, Entry

BASE = "http://example.test/paper/"


def _entries(n: int) -> list[Entry]:
    """``n`` articles as test_feeds makes them, each with a byline, a kicker and markup-like text."""
    return [
        dataclasses.replace(
            entry,
            article=dataclasses.replace(
                entry.article,
                body=f"第{i}条的第一句。第二句 & <b>不是标签</b>。",
                credits=(Credit(f"记者{i}", "本报记者"),),
                kicker="乡村振兴",
            ),
        )
        for i, entry in enumerate(_story_entries(n))
    ]


def _plan(n: int = 6, size: int = 50, hubs: tuple[str, ...] = ()) -> dict[str, bytes]:
    entries = _entries(n)
    digest = Digest(
        date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK, ((entries[0].section, (entries[0],)),)
    )
    return build_plan(entries, [digest], make_config(size=size, hubs=hubs))


def test_every_atom_document_has_a_json_feed_twin_with_the_same_entries() -> None:
    plan = _plan(2 * ARCHIVE_PAGE_SIZE + 10, size=10)
    atoms = sorted(p for p in plan if p.startswith("feeds/") and p.endswith(".atom"))
    assert "feeds/archive/all/2.atom" in atoms
    assert sorted(p for p in plan if p.startswith("feeds/") and p.endswith(".json")) == [
        p.removesuffix(".atom") + ".json" for p in atoms
    ]
    for path in atoms:
        root = check_atom(plan[path])
        feed = check_json_feed(plan[path.removesuffix(".atom") + ".json"])
        assert feed["feed_url"] == BASE + path.removesuffix(".atom") + ".json"
        assert feed["title"] == root.findtext(f"{ATOM}title")
        assert feed["language"] == "zh-CN"
        entries = root.findall(f"{ATOM}entry")
        assert len(feed["items"]) == len(entries)
        for item, entry in zip(feed["items"], entries, strict=True):
            assert item["id"] == entry.findtext(f"{ATOM}id")
            assert item["title"] == entry.findtext(f"{ATOM}title")
            assert item["content_html"] == entry.findtext(f"{ATOM}content")
            assert item["date_published"] == entry.findtext(f"{ATOM}published")
            assert item["date_modified"] == entry.findtext(f"{ATOM}updated")
            assert item["url"] == entry.find(f"{ATOM}link").get("href")
            assert [a["name"] for a in item["authors"]] == [
                a.findtext(f"{ATOM}name") for a in entry.findall(f"{ATOM}author")
            ]
            assert item["tags"] == [c.get("term") for c in entry.findall(f"{ATOM}category")]


def test_json_feed_pages_back_through_the_archive_with_next_url() -> None:
    plan = _plan(2 * ARCHIVE_PAGE_SIZE + 10, size=10)
    seen: list[str] = []
    url: str | None = BASE + "feeds/all.json"
    while url:
        feed = check_json_feed(plan[url.removeprefix(BASE)])
        seen.extend(item["id"] for item in feed["items"])
        url = feed.get("next_url")
    atom_ids = [e.findtext(f"{ATOM}id") for e in parse(plan["feeds/all.atom"]).findall(f"{ATOM}entry")]
    for number in (2, 1):
        page = parse(plan[f"feeds/archive/all/{number}.atom"])
        atom_ids += [e.findtext(f"{ATOM}id") for e in page.findall(f"{ATOM}entry")]
    assert seen == atom_ids and len(seen) == 2 * ARCHIVE_PAGE_SIZE + 10  # same ids, same order
    assert "next_url" not in check_json_feed(plan["feeds/archive/all/1.json"])


def test_json_feed_announces_hubs_in_subscription_documents_only() -> None:
    plan = _plan(ARCHIVE_PAGE_SIZE + 20, size=10, hubs=("http://hub.test/a",))
    assert check_json_feed(plan["feeds/all.json"])["hubs"] == [{"type": "WebSub", "url": "http://hub.test/a"}]
    assert "hubs" not in check_json_feed(plan["feeds/archive/all/1.json"])


def test_a_browser_is_pointed_at_a_stylesheet_that_is_there() -> None:
    plan = _plan(ARCHIVE_PAGE_SIZE + 20, size=10)
    atoms = [p for p in plan if p.endswith(".atom")]
    assert "feeds/archive/all/1.atom" in atoms
    for path in atoms:
        head = plan[path].split(b"\n", 2)
        assert head[0].startswith(b"<?xml version=")
        match = re.fullmatch(rb'<\?xml-stylesheet type="text/css" href="([^"]+)"\?>', head[1])
        assert match, head[1]
        assert normpath(f"{dirname(path)}/{match[1].decode()}") == "static/feed.css"
        check_atom(plan[path])  # the instruction keeps it valid for the schema and feedparser
    assert b"@namespace url(http://www.w3.org/2005/Atom)" in plan["static/feed.css"]


def test_the_summary_is_html_so_readers_choose_the_full_content() -> None:
    (element,) = parse(build_plan(_entries(1), [], make_config())["feeds/all.atom"]).findall(f"{ATOM}entry")
    summary = element.find(f"{ATOM}summary")
    assert summary.get("type") == "html"
    assert summary.text == "第0条的第一句。第二句 &amp; &lt;b&gt;不是标签&lt;/b&gt;。"  # text, escaped once
    parsed = feedparser.parse(build_plan(_entries(1), [], make_config())["feeds/all.atom"]).entries[0]
    # rss2email (and others) pick text/plain first when there is one: there must be none.
    assert parsed.summary_detail.type == "text/html" and parsed.content[0].type == "text/html"
    assert parsed.summary == "第0条的第一句。第二句 &amp; &lt;b&gt;不是标签&lt;/b&gt;。"


def test_the_feeds_page_offers_every_feed_to_copy_and_both_opml_files() -> None:
    plan = _plan(4)
    page = plan["feeds/index.html"].decode()
    fields = dict(re.findall(r'<input id="([^"]+)" type="text" readonly value="([^"]+)"', page))
    assert fields == {
        "feed-all": BASE + "feeds/all.atom",
        "feed-digests": BASE + "feeds/digests.atom",
        "feed-yao-wen": BASE + "feeds/yao-wen.atom",
        "feed-jing-ji": BASE + "feeds/jing-ji.atom",
    }
    for field in fields:
        assert f'<label class="address" for="{field}">' in page
    for link in (
        "../feeds.opml",
        "../feeds-sections.opml",
        "../subscribe.html",
        "../feeds/yao-wen.atom",
        "../feeds/yao-wen.json",
    ):
        assert f'href="{link}"' in page
    assert "<script" not in page
    assert '<a href="../feeds/index.html" aria-current="page">订阅</a>' in page


def test_every_page_links_the_icons_and_the_json_feeds() -> None:
    plan = _plan(4)
    section = plan["sections/yao-wen.html"].decode()
    assert '<a class="button follow" href="../feeds/yao-wen.atom">订阅本版</a>' in section
    for path, data in plan.items():
        if not path.endswith(".html"):
            continue
        html = data.decode()
        # 404.html is served at any depth: it links from the site's own path, not relatively.
        root = urlsplit(BASE).path.rstrip("/") + "/" if path == "404.html" else "../" * path.count("/")
        assert f'<link rel="icon" href="{root}favicon.ico" sizes="32x32">' in html, path
        assert f'<link rel="apple-touch-icon" href="{root}apple-touch-icon.png">' in html, path
        assert f'type="application/feed+json" title="晨光日报摘要" href="{root}feeds/all.json"' in html, path
    assert plan["favicon.ico"] == (STATIC / "favicon.ico").read_bytes()


def _same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None


def test_the_committed_icons_are_the_drawings() -> None:
    touch = Image.open(STATIC / "apple-touch-icon.png")
    assert (touch.format, touch.size) == ("PNG", (TOUCH_SIZE, TOUCH_SIZE))
    assert _same_pixels(touch, draw(TOUCH_SIZE, rounded=False))
    data = (STATIC / "favicon.ico").read_bytes()
    ico = Image.open(BytesIO(data))
    assert ico.format == "ICO" and ico.info["sizes"] == {(s, s) for s in FAVICON_SIZES}
    assert data.count(b"\x89PNG") == len(FAVICON_SIZES)  # PNG inside the ICO
    for size in FAVICON_SIZES:
        ico.size = (size, size)
        assert _same_pixels(ico, draw(size)), size


def test_json_feeds_are_utf8_chinese_not_escapes() -> None:
    data = _plan(2)["feeds/all.json"]
    assert "第1条新闻标题".encode() in data
    assert json.loads(data)["items"][0]["title"] == "第1条新闻标题"


def test_hostile_text_keeps_json_feeds_valid() -> None:
    nasty = "<script>alert('x')</script> & \" \\ \x00\x07\x1b \ufffe\uffff \ud800 \u2028 结束"
    entry = make_entry(f"标题{nasty}", f"正文{nasty}。", section=f"版块{nasty}", kicker=nasty, uid="0" * 20)
    digest = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK, ((entry.section, (entry,)),))
    plan = build_plan([entry], [digest], make_config())
    for path in (p for p in plan if p.endswith(".json")):
        feed = check_json_feed(plan[path])
        for item in feed["items"]:
            assert not any(ch in item["title"] for ch in "\x00\x07\x1b\ufffe\uffff\ud800")
    assert "<script>alert('x')</script>" in check_json_feed(plan["feeds/all.json"])["items"][0]["title"]
