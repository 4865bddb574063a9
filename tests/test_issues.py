"""Issues: paper order page by page, each article's neighbours, the calendar, and their pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

from atomcheck import CLOCK, make_config, make_entry

from digest.publish.build import build_plan
from digest.publish.issues import months, neighbours, paper_pages, places
from digest.publish.layout import line
from digest.publish.site import SECTION_PAGE_SIZE
from digest.types import Entry, Head

DAY = date(2024, 11, 27)


def _paper() -> list[Entry]:
    """One issue as ingest stores it: page × 1000 + place; an unknown page (0) of 其他 and of 速递."""
    return [
        make_entry("其他版的稿", section="其他", position=0),
        make_entry("第二版头条", section="经济", position=2000),
        make_entry("速递一", section="速递", position=1),
        make_entry("头版头条", section="要闻", position=1000),
        make_entry("第二版次条", section="经济", position=2001),
        make_entry("头版次条", section="要闻", position=1001),
    ]


def test_an_issue_reads_page_by_page_numbered_pages_first_and_the_catch_all_last() -> None:
    pages = paper_pages([line(Head.of(e)) for e in _paper()])
    assert [p.label for p in pages] == ["第1版 要闻", "第2版 经济", "速递", "其他"]
    assert [[i.headline for i in p.items] for p in pages] == [
        ["头版头条", "头版次条"],
        ["第二版头条", "第二版次条"],
        ["速递一"],
        ["其他版的稿"],
    ]


def test_each_article_knows_its_page_and_the_articles_before_and_after_it() -> None:
    by_title = {e.article.title: e.uid for e in _paper()}
    found = places([line(Head.of(e)) for e in _paper()])
    first, second = found[by_title["头版头条"]], found[by_title["头版次条"]]
    assert (first.page, first.page_label, first.previous) == (1, "第1版 要闻", None)
    assert first.next is not None and first.next.headline == "头版次条"
    assert second.previous is not None and second.previous.headline == "头版头条"
    assert second.next is not None and second.next.headline == "第二版头条"  # across the page turn
    assert found[by_title["其他版的稿"]].next is None


def test_the_calendar_has_monday_first_weeks_and_marks_only_issue_days() -> None:
    shown = months([date(2024, 11, 27), date(2024, 12, 1), date(2024, 11, 1)])
    assert [(m.year, m.month) for m in shown] == [(2024, 12), (2024, 11)]
    november = shown[1]
    assert november.weeks[0] == ((0, False),) * 4 + ((1, True), (2, False), (3, False))  # 1 Nov: a Friday
    assert [n for week in november.weeks for n, has in week if has] == [1, 27]
    assert november.issues == (date(2024, 11, 27), date(2024, 11, 1))


def test_neighbouring_issues() -> None:
    days = [date(2024, 11, 1), date(2024, 11, 3), date(2024, 11, 7)]
    assert neighbours(days, date(2024, 11, 3)) == (date(2024, 11, 1), date(2024, 11, 7))
    assert neighbours(days, date(2024, 11, 1)) == (None, date(2024, 11, 3))
    assert neighbours(days, date(2024, 11, 5)) == (date(2024, 11, 3), date(2024, 11, 7))


def test_issue_pages_link_their_neighbours_and_articles_link_their_issue_page_and_neighbours() -> None:
    older = make_entry(
        "前一期的稿", day=DAY - timedelta(days=2), position=1000, seen=CLOCK - timedelta(days=2)
    )
    plan = build_plan([*_paper(), older], [], make_config())
    issue = plan["issues/2024-11-27/index.html"].decode()
    issue = issue[issue.index("<section") :]  # the meta description and the contents list the pages too
    assert (
        issue.index("第1版 要闻")
        < issue.index("头版头条")
        < issue.index("第2版 经济")
        < issue.index("其他版的稿")
    )
    assert '<a rel="prev" href="../../issues/2024-11-25/index.html">← 上一期 2024年11月25日</a>' in issue
    assert 'rel="next"' not in issue  # the newest issue
    assert (
        'rel="next" href="../../issues/2024-11-27/index.html"'
        in plan["issues/2024-11-25/index.html"].decode()
    )

    second = next(e for e in _paper() if e.article.title == "头版次条")
    article = plan[f"articles/2024-11-27/{second.uid}.html"].decode()
    assert '<a href="../../issues/2024-11-27/index.html#p1">第1版</a>' in article
    assert re.search(r'rel="prev" href="[^"]+"><span>上一篇</span>头版头条</a>', article)
    assert re.search(r'rel="next" href="[^"]+"><span>下一篇</span>第二版头条</a>', article)

    listing = plan["issues/index.html"].decode()
    assert 'href="../issues/2024-11-27/index.html" aria-label="27日，6 篇">27</a>' in listing
    assert "<td>26</td>" in listing  # a day without an issue is not a link


def test_the_front_page_leads_with_page_one_and_shows_the_latest_digest_and_the_ways_in() -> None:
    from digest.types import Digest

    digest = Digest(DAY, CLOCK - timedelta(hours=1), CLOCK + timedelta(minutes=1))
    html = build_plan(_paper(), [digest], make_config())["index.html"].decode()
    heads = re.findall(r"<h2><a [^>]+>([^<]+)</a></h2>", html)
    assert heads == ["第1版 要闻", "第2版 经济", "速递", "其他"]
    ways = html[html.index('class="ways"') : html.index("</ul>", html.index('class="ways"'))]
    assert "最新摘要 · 11月27日 6 篇" in ways and ">订阅</a>" in ways and ">往期</a>" in ways
    assert html.index('class="ways"') < html.index("头版头条")


def test_pages_say_what_they_are_to_a_shared_link() -> None:
    entry = make_entry("雪后的城市", "清晨，环卫工人已经上路。主干道在八点前全部通行。")
    html = build_plan([entry], [], make_config())[f"articles/2024-11-27/{entry.uid}.html"].decode()
    url = f"http://example.test/paper/articles/2024-11-27/{entry.uid}.html"
    for piece in (
        '<meta name="description" content="清晨，环卫工人已经上路。主干道在八点前全部通行。">',
        f'<link rel="canonical" href="{url}">',
        '<meta property="og:type" content="article">',
        '<meta property="og:title" content="雪后的城市 · 晨光日报摘要">',
        '<meta property="og:description" content="清晨，环卫工人已经上路。主干道在八点前全部通行。">',
        '<meta name="twitter:card" content="summary">',
        '<a class="skip" href="#main">跳到正文</a>',
        '<main id="main">',
    ):
        assert piece in html, piece
    issue = build_plan([entry], [], make_config())["issues/2024-11-27/index.html"].decode()
    assert '<link rel="canonical" href="http://example.test/paper/issues/2024-11-27/">' in issue


def test_the_404_page_is_chinese_links_from_the_site_root_and_has_a_slot_for_search() -> None:
    html = build_plan([], [], make_config())["404.html"].decode()
    assert "<h1>找不到这个页面</h1>" in html and 'rel="canonical"' not in html
    assert 'href="/paper/static/style.css"' in html and 'href="/paper/issues/index.html"' in html
    assert 'href="/paper/index.html">回到首页</a>' in html


def test_a_full_section_page_leads_to_the_back_issues() -> None:
    entries = [
        make_entry(f"第{i}篇", section="要闻", day=DAY - timedelta(days=i), seen=CLOCK - timedelta(days=i))
        for i in range(SECTION_PAGE_SIZE + 1)
    ]
    plan = build_plan(entries, [], make_config())
    section = plan["sections/yao-wen.html"].decode()
    assert '<a href="../issues/index.html">往期</a>' in section
    oldest = entries[-1]
    assert f"articles/{oldest.issue_date}/{oldest.uid}.html" not in section
    assert (
        f"../../articles/{oldest.issue_date}/{oldest.uid}.html"
        in plan[f"issues/{oldest.issue_date}/index.html"].decode()
    )
