"""Atom feeds: validity, entry fields, hubs, hostile text, RFC 5005 history, OPML, the seed pages."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import feedparser
from atomcheck import ATOM, CLOCK, FH, check_atom, make_config, make_entry, parse

from digest.config import Config, DigestConfig
from digest.paper.parse import parse_page
from digest.publish.atom import render_document, with_atom
from digest.publish.build import build_plan
from digest.publish.digests import build_digest
from digest.publish.feeds import ARCHIVE_PAGE_SIZE
from digest.publish.items import FeedDocument, History, all_spec, story_item
from digest.publish.jsonfeed import render_json, with_json
from digest.publish.layout import NO_ARTICLES, present
from digest.types import Credit, Digest, Entry

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
BASE = "http://example.test/paper/"


def _feeds(plan: dict[str, bytes]) -> dict[str, bytes]:
    """The Atom documents of a build (their JSON Feed twins are checked in test_feed_formats.py)."""
    return {path: data for path, data in plan.items() if path.endswith(".atom")}


def _entry_ids(root: object) -> list[str]:
    return [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]  # type: ignore[attr-defined]


def _links(root: object) -> dict[str, str]:
    return {ln.get("rel"): ln.get("href") for ln in root.findall(f"{ATOM}link")}  # type: ignore[attr-defined]


def _story_entries(n: int, sections: tuple[str, ...] = ("要闻", "经济"), start: int = 0) -> list[Entry]:
    """``n`` articles, each read on its own (its own change sequence) from a daily issue of its own,
    the issue of the 1000th being 2024-11-27."""
    return [
        dataclasses.replace(
            make_entry(
                f"第{i}条新闻标题",
                f"这是第{i}条新闻的第一句话。第二句话补充细节。",
                section=sections[i % len(sections)],
                day=date(2024, 11, 27) - timedelta(days=999 - i),
                position=i,
                seen=CLOCK + timedelta(minutes=i - start),
            ),
            feed_seq=i + 1,
        )
        for i in range(start, start + n)
    ]


def test_every_document_is_valid_atom_with_feed_metadata() -> None:
    entries = _story_entries(6)
    # The window holds the articles: an empty day has no entry (digest.empty_days = "skip").
    digest = Digest(
        date(2024, 11, 27),
        CLOCK - timedelta(days=1),
        CLOCK + timedelta(hours=1),
        ((entries[0].section, (entries[0],)),),
    )
    feeds = _feeds(build_plan(entries, [digest], make_config()))
    assert set(feeds) == {"feeds/all.atom", "feeds/yao-wen.atom", "feeds/jing-ji.atom", "feeds/digests.atom"}
    for path, data in feeds.items():
        root = check_atom(data)
        assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"
        assert root.findtext(f"{ATOM}title").startswith("晨光日报摘要")
        assert root.findtext(f"{ATOM}subtitle")
        assert root.findtext(f"{ATOM}icon") == BASE + "static/icon.svg"
        assert root.findtext(f"{ATOM}author/{ATOM}name") == "编辑部"
        links = _links(root)
        assert links["self"] == BASE + path
        assert links["alternate"].startswith(BASE) and links["alternate"].endswith(".html")
        dates = [e.findtext(f"{ATOM}updated") for e in root.findall(f"{ATOM}entry")]
        assert root.findtext(f"{ATOM}updated") == max(dates)


def test_entry_fields_follow_the_article() -> None:
    entry = make_entry(
        "草原上的新粮仓",
        "今年秋粮喜获丰收。合作社引进了新品种，亩产提高了一成。\n\n村民们说，日子越过越有奔头。",
        section="经济",
        kicker="乡村振兴",
        subtitle="一个合作社的十年",
        credits=(Credit("林小雨", "本报记者"), Credit("周川", "通讯员")),
        place="赤峰",
        date="11-26",
    )
    root = parse(build_plan([entry], [], make_config())["feeds/all.atom"])
    (element,) = root.findall(f"{ATOM}entry")
    assert element.findtext(f"{ATOM}id") == entry.tag
    assert element.findtext(f"{ATOM}title") == "草原上的新粮仓"
    assert element.findtext(f"{ATOM}published") == "2024-11-27T00:00:00+08:00"
    assert element.findtext(f"{ATOM}updated") == "2024-11-27T09:30:00+08:00"
    assert [a.findtext(f"{ATOM}name") for a in element.findall(f"{ATOM}author")] == ["林小雨", "周川"]
    assert [c.get("term") for c in element.findall(f"{ATOM}category")] == ["经济", "乡村振兴", "赤峰"]
    (link,) = element.findall(f"{ATOM}link")
    assert (link.get("rel"), link.get("type")) == ("alternate", "text/html")
    assert link.get("href") == f"{BASE}articles/2024-11-27/{entry.uid}.html"
    content = element.find(f"{ATOM}content")
    assert content.get("type") == "html"
    for piece in (
        "乡村振兴",
        "一个合作社的十年",
        "本报记者 林小雨　通讯员 周川",
        "赤峰 11月26日",
        "<p>村民们说",
    ):
        assert piece in content.text
    summary = "今年秋粮喜获丰收。合作社引进了新品种，亩产提高了一成。" + "村民们说，日子越过越有奔头。"
    assert element.findtext(f"{ATOM}summary") == summary


def test_summary_is_whole_sentences_and_title_falls_back_to_the_first_clause() -> None:
    long_first = "这是一句很长的话" + "，内容不断延伸" * 20 + "。"
    body = long_first + "第二句不该出现。"
    entry = make_entry(None, body)
    element = parse(build_plan([entry], [], make_config())["feeds/all.atom"]).find(f"{ATOM}entry")
    assert element.findtext(f"{ATOM}summary") == long_first  # longer than the limit, yet whole
    assert element.findtext(f"{ATOM}title") == "这是一句很长的话"  # the short title (digest.paper.titles)


def test_entries_without_authors_carry_the_feed_author() -> None:
    root = parse(build_plan([make_entry("无署名的短讯")], [], make_config())["feeds/all.atom"])
    assert root.findtext(f"{ATOM}entry/{ATOM}author/{ATOM}name") == "编辑部"


def test_without_an_author_set_feeds_are_signed_with_the_sites_title() -> None:
    # The default was an English "Newspaper Digest", shown as the sender of every r2e mail of a
    # Chinese site; an empty author made an Atom <name/>, which RFC 4287 forbids.
    for author in ("", "  "):
        base = make_config()
        config = dataclasses.replace(base, site=dataclasses.replace(base.site, author=author))
        plan = build_plan([make_entry("无署名的短讯")], [], config)
        root = parse(plan["feeds/all.atom"])
        assert root.findtext(f"{ATOM}author/{ATOM}name") == "晨光日报摘要"
        assert root.findtext(f"{ATOM}entry/{ATOM}author/{ATOM}name") == "晨光日报摘要"
        assert json.loads(plan["feeds/all.json"])["authors"] == [{"name": "晨光日报摘要"}]


def test_hubs_are_announced_in_subscription_documents_only() -> None:
    config = make_config(size=2, hubs=("http://hub.test/a", "http://hub.test/b"))
    feeds = _feeds(build_plan(_story_entries(4, ("要闻",)), [], config))
    for path, data in feeds.items():
        hubs = [ln.get("href") for ln in parse(data).findall(f"{ATOM}link") if ln.get("rel") == "hub"]
        assert hubs == ([] if "/archive/" in path else ["http://hub.test/a", "http://hub.test/b"])


def test_hostile_text_keeps_feeds_well_formed() -> None:
    nasty = "<script>alert('x')</script> & ]]> \x00\x07\x1b \ufffe\uffff \ud800 结束"
    entry = make_entry(
        f"标题{nasty}",
        f"正文{nasty}。",
        section=f"版块{nasty}",
        kicker=nasty,
        credits=(Credit(f"记者{nasty}", nasty),),
        notes=(nasty,),
        jumps=(nasty,),
        place=nasty,
        uid="0" * 20,  # identity.article_uid cannot hash a lone surrogate (reported)
    )
    digest = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK, ((entry.section, (entry,)),))
    feeds = _feeds(build_plan([entry], [digest], make_config()))
    assert len(feeds) == 3
    for data in feeds.values():
        check_atom(data)
    parsed = feedparser.parse(feeds["feeds/all.atom"])
    title = parsed.entries[0].title
    assert "<script>alert('x')</script> & ]]>" in title
    assert not any(ch in title for ch in "\x00\x07\x1b\ufffe\uffff")


def test_history_walk_finds_every_article_exactly_once() -> None:
    total = 2 * ARCHIVE_PAGE_SIZE + 30
    entries = _story_entries(total, ("要闻",))
    feeds = _feeds(build_plan(entries, [], make_config(size=10)))
    # Two full pages; the 30 left are all in the subscription document: no page still filling.
    assert {p for p in feeds if p.startswith("feeds/archive/all/")} == {
        "feeds/archive/all/1.atom",
        "feeds/archive/all/2.atom",
    }

    seen: list[str] = []
    url: str | None = BASE + "feeds/all.atom"
    while url:
        path = url.removeprefix(BASE)
        root = check_atom(feeds[path])
        seen.extend(_entry_ids(root))
        is_archive = root.find(f"{FH}archive") is not None
        assert is_archive == ("/archive/" in path)
        if is_archive:
            assert _links(root)["current"] == BASE + "feeds/all.atom"
        url = _links(root).get("prev-archive")
    assert sorted(seen) == sorted(e.tag for e in entries)
    assert len(seen) == len(set(seen))
    assert seen[0] == entries[-1].tag and seen[-1] == entries[0].tag  # newest first, back to the first

    first, second = (_links(parse(feeds[f"feeds/archive/all/{n}.atom"])) for n in (1, 2))
    assert "prev-archive" not in first and first["next-archive"] == BASE + "feeds/archive/all/2.atom"
    assert second["prev-archive"] == BASE + "feeds/archive/all/1.atom"
    # The newest full page names the subscription document (RFC 5005 §4), never a page still filling:
    # a link that resolves now and later, so this page's bytes never change.
    assert second["next-archive"] == BASE + "feeds/all.atom"
    assert b"<generator>digest</generator>" in feeds["feeds/archive/all/1.atom"]  # no version in it


def test_full_archive_pages_never_change_as_entries_arrive() -> None:
    config = make_config(size=10)
    entries = _story_entries(ARCHIVE_PAGE_SIZE + 25, ("要闻",))
    before = _feeds(build_plan(entries, [], config))
    more = entries + _story_entries(7, ("要闻",), start=len(entries))
    after = _feeds(build_plan(more, [], config))
    assert after["feeds/archive/all/1.atom"] == before["feeds/archive/all/1.atom"]
    assert after["feeds/all.atom"] != before["feeds/all.atom"]
    assert "feeds/archive/all/2.atom" not in after and "feeds/archive/all/open.atom" not in after
    assert len(_entry_ids(parse(after["feeds/all.atom"]))) == 32

    # Once a hundred more than the subscription document needs are there, they become page 2, for good.
    filled = more + _story_entries(ARCHIVE_PAGE_SIZE - 22 + 3, ("要闻",), start=len(more))
    last = _feeds(build_plan(filled, [], config))
    # The publish from the store never draws page 1 again (test_publish); drawn from scratch it holds the
    # same entries, and its next-archive, the subscription document while it was the newest, is page 2.
    assert _entry_ids(parse(last["feeds/archive/all/1.atom"])) == _entry_ids(
        parse(before["feeds/archive/all/1.atom"])
    )
    assert _links(parse(before["feeds/archive/all/1.atom"]))["next-archive"] == BASE + "feeds/all.atom"
    assert (
        _links(parse(last["feeds/archive/all/1.atom"]))["next-archive"] == BASE + "feeds/archive/all/2.atom"
    )
    assert len(_entry_ids(parse(last["feeds/archive/all/2.atom"]))) == ARCHIVE_PAGE_SIZE
    assert len(_entry_ids(parse(last["feeds/all.atom"]))) == 13


def test_the_subscription_document_holds_the_whole_newest_issue_in_paper_order() -> None:
    older = _story_entries(120, ("要闻",))
    issue = [
        dataclasses.replace(
            make_entry(
                f"今天第{page}版第{n}篇", section="要闻", day=date(2024, 11, 27), position=page * 1000 + n
            ),
            feed_seq=500,
        )
        for page in range(1, 11)
        for n in range(9)
    ]
    # A page file whose number neither its name nor its header gave (page 0), read in the same change:
    # its articles follow the numbered pages, as on the issue page and in the digest.
    unknown = [
        dataclasses.replace(
            make_entry(f"不知哪版第{n}篇", section="要闻", day=date(2024, 11, 27), position=n), feed_seq=500
        )
        for n in range(2)
    ]
    feeds = _feeds(build_plan(older + unknown + issue, [], make_config(size=50)))
    titles = [e.findtext(f"{ATOM}title") for e in parse(feeds["feeds/all.atom"]).findall(f"{ATOM}entry")]
    numbered = [f"今天第{page}版第{n}篇" for page in range(1, 11) for n in range(9)]
    assert titles[:92] == [*numbered, "不知哪版第0篇", "不知哪版第1篇"]
    # The 120 older ones fill one page; the other 20 wait in the subscription document.
    assert (
        len(titles) == 112 and "feeds/archive/all/1.atom" in feeds and "feeds/archive/all/2.atom" not in feeds
    )


def test_build_is_deterministic_and_an_empty_store_still_gives_valid_feeds() -> None:
    entries = _story_entries(5)
    assert build_plan(entries, [], make_config()) == build_plan(list(reversed(entries)), [], make_config())
    feeds = _feeds(build_plan([], [], make_config()))
    assert set(feeds) == {"feeds/all.atom", "feeds/digests.atom"}
    for data in feeds.values():
        assert check_atom(data).findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"


def test_digest_feed_lists_each_day_once_with_links_to_articles() -> None:
    entries = _story_entries(3, ("经济", "要闻"), start=997)
    groups = ((entries[0].section, (entries[0], entries[2])), (entries[1].section, (entries[1],)))
    first = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK, groups[:1])
    remade = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK + timedelta(hours=1), groups)
    root = check_atom(build_plan(entries, [first, remade], make_config())["feeds/digests.atom"])
    (element,) = root.findall(f"{ATOM}entry")
    assert element.findtext(f"{ATOM}id") == "tag:digest.test,2024:digest/2024-11-27"
    assert "（3篇）" in element.findtext(f"{ATOM}title")
    content = element.findtext(f"{ATOM}content")
    assert content.index("要闻") < content.index("经济")
    assert f'href="{BASE}articles/2024-11-27/{entries[2].uid}.html"' in content


def test_a_digest_entry_is_filed_under_its_sections_own_names() -> None:
    # A page of the day before arriving late: the digest heads its group 要闻（11月26日）, but a
    # reader's tag (r2e's X-RSS-TAGS, a reader's category filter) is the section, not one per day.
    late = make_entry("迟到的一版", section="要闻", day=date(2024, 11, 26), seen=CLOCK - timedelta(hours=3))
    today = [
        make_entry("今天的要闻", section="要闻", position=1, seen=CLOCK - timedelta(hours=2)),
        make_entry("今天的经济", section="经济", position=2, seen=CLOCK - timedelta(hours=2)),
    ]
    digest = build_digest([late, *today], date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK)
    assert "要闻（11月26日）" in [section.name for section, _ in digest.groups]
    plan = build_plan([late, *today], [digest], make_config())
    (entry,) = feedparser.parse(plan["feeds/digests.atom"]).entries
    assert [tag.term for tag in entry.tags] == ["要闻", "经济"]
    assert "要闻（11月26日）" in entry.content[0].value  # the group's heading still says which issue
    (item,) = json.loads(plan["feeds/digests.json"])["items"]
    assert item["tags"] == ["要闻", "经济"]


def test_a_section_named_like_a_site_feed_gets_its_own_file() -> None:
    entries = [make_entry("综合新闻", section="All"), make_entry("要闻一则", section="要闻", position=1)]
    feeds = _feeds(build_plan(entries, [], make_config()))
    assert len(_entry_ids(parse(feeds["feeds/all.atom"]))) == 2
    assert _entry_ids(parse(feeds["feeds/section-all.atom"])) == [entries[0].tag]


def test_two_opml_files_the_site_feeds_and_a_folder_of_sections() -> None:
    plan = build_plan(_story_entries(2), [], make_config())
    # Every article arrives once: the all-articles feed and the sections are never in one list.
    outlines = parse(plan["feeds.opml"]).findall("body/outline")
    assert [(o.get("title"), o.get("xmlUrl")) for o in outlines] == [
        ("晨光日报摘要", BASE + "feeds/all.atom"),
        ("晨光日报摘要 · 每日摘要", BASE + "feeds/digests.atom"),
    ]
    (folder,) = parse(plan["feeds-sections.opml"]).findall("body/outline")
    assert folder.get("text") == "版块" and folder.get("xmlUrl") is None
    sections = folder.findall("outline")
    assert [(o.get("title"), o.get("xmlUrl")) for o in sections] == [
        ("晨光日报摘要 · 要闻", BASE + "feeds/yao-wen.atom"),
        ("晨光日报摘要 · 经济", BASE + "feeds/jing-ji.atom"),
    ]
    assert all(o.get("htmlUrl", "").startswith(BASE) for o in [*outlines, *sections])


def test_seed_pages_reach_the_feed() -> None:
    entries: list[Entry] = []
    for number, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        page = parse_page(path.read_text(encoding="utf-8"), path.name)
        for position, article in enumerate(page.articles):
            entry = make_entry(
                article.title,
                article.body,
                section=article.section or "未分版",
                position=position,
                seen=CLOCK + timedelta(hours=number),
            )
            entries.append(Entry(**{**entry.__dict__, "article": article}))
    assert len(entries) >= 5
    data = build_plan(entries, [], make_config(size=len(entries)))["feeds/all.atom"]
    check_atom(data)
    titles = {e.title for e in feedparser.parse(data).entries}
    headlines = {" ".join(e.article.title.split()) for e in entries if e.article.title}
    assert headlines and headlines <= titles


def test_the_digest_feed_is_a_log_too_with_full_archive_pages_only() -> None:
    digests = [
        Digest(
            date(2024, 1, 1) + timedelta(days=i),
            CLOCK - timedelta(days=201 - i),
            CLOCK - timedelta(days=200 - i),
        )
        for i in range(ARCHIVE_PAGE_SIZE + 60)
    ]
    feeds = _feeds(build_plan(_story_entries(3), digests, _notice(make_config(size=50))))
    assert {p for p in feeds if p.startswith("feeds/archive/digests/")} == {"feeds/archive/digests/1.atom"}
    archived = _entry_ids(parse(feeds["feeds/archive/digests/1.atom"]))
    live = _entry_ids(parse(feeds["feeds/digests.atom"]))
    assert (len(archived), len(live)) == (ARCHIVE_PAGE_SIZE, 60)
    assert live[0].endswith("digest/2024-06-08") and archived[-1].endswith("digest/2024-01-01")


def _notice(config: Config) -> Config:
    """``config`` with digest.empty_days = "notice": a day without articles is published too."""
    return dataclasses.replace(config, digest=DigestConfig(empty_days="notice"))


def _a_day_and_an_empty_one() -> tuple[list[Entry], list[Digest]]:
    entries = _story_entries(2)
    full = Digest(date(2024, 11, 27), CLOCK - timedelta(days=1), CLOCK + timedelta(hours=1))
    empty = Digest(date(2024, 11, 28), CLOCK + timedelta(hours=1), CLOCK + timedelta(days=1))
    return entries, [full, empty]


def test_with_skip_an_empty_day_has_no_feed_entry_page_or_link() -> None:
    plan = build_plan(*_a_day_and_an_empty_one(), make_config())
    # No email went out that day: an entry saying nothing is what readers would get instead.
    assert _entry_ids(parse(plan["feeds/digests.atom"])) == ["tag:digest.test,2024:digest/2024-11-27"]
    (item,) = json.loads(plan["feeds/digests.json"])["items"]
    assert item["id"].endswith("digest/2024-11-27") and item["content_html"]
    assert "digests/2024-11-28.html" not in plan and "digests/2024-11-27.html" in plan
    for page in ("digests/index.html", "index.html"):  # the list, and the front page's latest digest
        assert b"2024-11-28.html" not in plan[page] and b"2024-11-27.html" in plan[page]


def test_with_notice_an_empty_day_says_in_its_feed_entry_what_the_email_said() -> None:
    plan = build_plan(*_a_day_and_an_empty_one(), _notice(make_config()))
    root = parse(plan["feeds/digests.atom"])
    newest = root.findall(f"{ATOM}entry")[0]
    assert newest.findtext(f"{ATOM}id") == "tag:digest.test,2024:digest/2024-11-28"
    assert newest.findtext(f"{ATOM}title").endswith("（0篇）")
    assert newest.findtext(f"{ATOM}content") == f"<p>{NO_ARTICLES}</p>"
    items = json.loads(plan["feeds/digests.json"])["items"]
    assert items[0]["content_html"] == f"<p>{NO_ARTICLES}</p>"
    assert "digests/2024-11-28.html" in plan and b"2024-11-28.html" in plan["index.html"]


HOSTILE = (
    "控制字符\x00\x01\x08\x0b\x0c\x1f\x7f\ufffe\uffff 留下的 ]]> 与 ]]]]><![CDATA[> 和 &amp; & <b>粗</b>"
    " <entry>\n  <entry>\n 😀👍🏽 CJK 汉字 𠀋𡈽 \u200b\u202e 反向 \"引号\" 'apos' < > "
)


def test_an_entry_drawn_once_is_byte_identical_to_feedgen_drawing_it_in_each_document() -> None:
    config = make_config()
    entries = [
        make_entry(
            f"{HOSTILE}第{n}篇",
            HOSTILE + "\n" + "很长的一段正文，" * (4000 * n + 1),
            position=n,
            kicker=HOSTILE,
            dateline=HOSTILE,
            notes=(HOSTILE,),
            credits=(Credit(HOSTILE, "记者"),),
        )
        for n in range(3)
    ]
    items = [story_item(present(entry, config.tz), config) for entry in entries]
    spec = all_spec(config)
    drawn = with_atom(items)
    assert all(item.atom.startswith(b"  <entry>\n") for item in drawn)
    for chosen in (drawn, drawn[1:], drawn[::-1], drawn[:1]):
        plain = [dataclasses.replace(item, atom=b"") for item in chosen]
        history = History(archive=True, prev="http://example.test/p/1", current="http://example.test/c")
        spliced = render_document(FeedDocument(spec, chosen, history, "feeds/all.atom"), config)
        assert spliced == render_document(FeedDocument(spec, plain, history, "feeds/all.atom"), config)
        check_atom(spliced)
    assert render_document(FeedDocument(spec, [], History(), "feeds/all.atom"), config)  # no entries at all
    # JSON Feed items are spliced the same way: one line each, the same JSON drawn once or not.
    for chosen in (with_json(items), items[::-1], items[:1], []):
        history = History(archive=True, prev="http://example.test/p/1", current="http://example.test/c")
        document = render_json(FeedDocument(spec, chosen, history, "feeds/all.json"), config)
        plain = [dataclasses.replace(item, json="") for item in chosen]
        assert document == render_json(FeedDocument(spec, plain, history, "feeds/all.json"), config)
        whole = json.loads(document)
        assert [item["id"] for item in whole["items"]] == [item.id for item in chosen]
        lines = document.decode().splitlines()
        assert len(lines) == 2 + len(chosen) if chosen else len(lines) == 1
        assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == whole["items"]
