"""Conventions of Taiwan's and Hong Kong's papers that mainland pages do not print: the reporter and
the place in brackets before the lead (【記者王明／台北報導】), the Central News Agency's dateline with
its reporter glued in, the wires and a desk in place of a reporter, an outlet's tag (【港灣專訊】),
and 「」 quotation marks.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

from datetime import date

import pytest

from digest.paper.parse import parse_page
from digest.types import Article

TITLE = "# 河濱步道夜間照明完工\n\n"
LEAD = "沿著溪岸的三公里步道昨晚起點亮新路燈，附近居民說，終於可以放心在晚上散步了。"
MORE = "\n\n市府表示，路燈採用低耗電燈具，並會在明年春天前再延伸一公里。\n"


def only(text: str) -> Article:
    """The one article the parser reads on a page."""
    (article,) = parse_page(text, "p.txt", issue=date(2026, 3, 6)).articles
    return article


def credits(article: Article) -> list[tuple[str, str]]:
    """The article's credits as (name, role)."""
    return [(c.name, c.role) for c in article.credits]


@pytest.mark.parametrize(
    ("tag", "names"),
    [
        ("【記者鄭雅琳／宜蘭報導】", [("鄭雅琳", "記者")]),
        ("〔記者鄭雅琳／宜蘭報導〕", [("鄭雅琳", "記者")]),
        ("〔記者鄭雅琳、許文／宜蘭報導〕", [("鄭雅琳", "記者"), ("許文", "記者")]),
        ("(記者鄭雅琳／宜蘭報導）", [("鄭雅琳", "記者")]),
    ],
)
def test_a_bracketed_taiwanese_byline_credits_its_reporters_and_names_the_place(
    tag: str, names: list[tuple[str, str]]
) -> None:
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert credits(article) == names
    assert (article.dateline, article.place) == (tag, "宜蘭")
    assert article.body.startswith("沿著溪岸") and tag not in article.body


@pytest.mark.parametrize("gap", ["\n\n", "\n", "　"])
def test_an_unbracketed_taiwanese_byline_credits_its_reporter_alone_or_before_the_text(gap: str) -> None:
    article = only(f"{TITLE}記者鄭雅琳／宜蘭報導{gap}{LEAD}{MORE}")
    assert article.title == "河濱步道夜間照明完工"
    assert credits(article) == [("鄭雅琳", "記者")] and article.place == "宜蘭"
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize(
    ("tag", "names", "place"),
    [
        ("（中央社記者鄭雅琳宜蘭6日電）", [("鄭雅琳", "記者")], "宜蘭"),
        ("（中央社記者鄭雅琳、許文宜蘭6日電）", [("鄭雅琳", "記者"), ("許文", "記者")], "宜蘭"),
        ("（中央社記者許文東京6日專電）", [("許文", "記者")], "東京"),
        ("（中央社宜蘭6日電）", [], "宜蘭"),
    ],
)
def test_the_central_news_agency_dateline_gives_reporters_place_and_day(
    tag: str, names: list[tuple[str, str]], place: str
) -> None:
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert credits(article) == names
    assert (article.dateline, article.place, article.date) == (tag, place, "03-06")
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize(
    ("tag", "names", "place"),
    [
        ("（中央社記者李華華盛頓6日電）", [("李華", "記者")], "華盛頓"),
        ("（中央社記者歐陽曉東臺北6日電）", [("歐陽曉東", "記者")], "臺北"),
        ("（中央社記者鄭雅琳、李華溫哥華6日專電）", [("鄭雅琳", "記者"), ("李華", "記者")], "溫哥華"),
        ("（中央社記者許文新加坡6日專電）", [("許文", "記者")], "新加坡"),
        ("（中央社记者欧阳晓东台北6日电）", [("欧阳晓东", "记者")], "台北"),
    ],
)
def test_a_known_place_tells_where_the_reporters_name_ends_in_the_agency_dateline(
    tag: str, names: list[tuple[str, str]], place: str
) -> None:
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert credits(article) == names
    assert (article.place, article.date) == (place, "03-06")


@pytest.mark.parametrize("tag", ["（綜合外電報導）", "【綜合外電報導】", "〔國際新聞中心／綜合報導〕"])
def test_the_wires_or_a_desk_before_the_lead_are_its_dateline_and_credit_no_one(tag: str) -> None:
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert (article.dateline, article.credits) == (tag, ())
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize("agency", ["法新社", "路透社", "美聯社"])
@pytest.mark.parametrize("bracketed", [True, False])
def test_a_foreign_agency_dateline_names_its_place(agency: str, bracketed: bool) -> None:
    tag = f"（{agency}巴黎6日電）" if bracketed else f"{agency}巴黎6日電　"
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert (article.dateline, article.place, article.date) == (tag.strip(), "巴黎", "03-06")
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize(
    ("tag", "names"),
    [("【河港專訊】", []), ("【本報訊】", []), ("【本報記者許文報道】", [("許文", "本報記者")])],
)
def test_a_hong_kong_outlet_tag_opens_the_lead(tag: str, names: list[tuple[str, str]]) -> None:
    article = only(f"{TITLE}{tag}{LEAD}{MORE}")
    assert (article.dateline, credits(article)) == (tag, names)
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize(("opening", "closing"), [("“", "”"), ("「", "」"), ("『", "』")])
def test_a_quotation_alone_between_two_stories_is_the_second_ones_headline(
    opening: str, closing: str
) -> None:
    second = "老街的糕餅店傳到第三代，店主每天清晨四點起床蒸年糕，街坊一早就來排隊。"
    text = f"河濱步道夜間照明完工\n\n{LEAD}{MORE}\n{opening}年糕要用心蒸{closing}\n\n{second}{MORE}"
    titles = [article.title for article in parse_page(text, "p.txt").articles]
    assert titles == ["河濱步道夜間照明完工", f"{opening}年糕要用心蒸{closing}"]


def test_a_photo_credited_to_an_agency_signs_the_story_beside_its_writer() -> None:
    article = only(f"{TITLE}文／鄭雅琳　圖／中央社\n\n{LEAD}{MORE}")
    assert article.title == "河濱步道夜間照明完工"
    assert [c.name for c in article.credits] == ["鄭雅琳", "中央社"]
    assert article.body.startswith("沿著溪岸")


def test_a_translator_filing_from_the_wires_is_credited() -> None:
    article = only(f"{TITLE}〔編譯許文／綜合報導〕{LEAD}{MORE}")
    assert (article.dateline, credits(article)) == ("〔編譯許文／綜合報導〕", [("許文", "編譯")])
    assert article.body.startswith("沿著溪岸")
    # a source note naming no one is still no credit
    closed = only(f"{TITLE}{LEAD}（綜合編譯）{MORE}")
    assert closed.credits == () and "（綜合編譯）" in closed.body


@pytest.mark.parametrize(
    ("after", "names"),
    [("記者許文報道：", [("許文", "記者")]), ("記者許文、周遠報道：", [("許文", "記者"), ("周遠", "記者")])],
)
def test_a_credit_after_an_outlet_tag_is_read_as_after_a_dateline(
    after: str, names: list[tuple[str, str]]
) -> None:
    article = only(f"{TITLE}【河港專訊】{after}{LEAD}{MORE}")
    assert (article.dateline, credits(article)) == (f"【河港專訊】{after}", names)
    assert article.body.startswith("沿著溪岸")


@pytest.mark.parametrize("source", ["（綜合外電報導）", "（新華社電）", "（據新華社）"])
def test_a_bracketed_source_alone_after_a_story_closes_it_never_the_next_headline(source: str) -> None:
    second = "老街糕餅店傳到第三代\n\n老街的糕餅店傳到第三代，店主每天清晨四點起床蒸年糕，街坊一早來排隊。\n"
    page = parse_page(f"河濱步道夜間照明完工\n\n{LEAD}{MORE}\n{source}\n\n{second}", "p.txt")
    assert [a.title for a in page.articles] == ["河濱步道夜間照明完工", "老街糕餅店傳到第三代"]
    first, after = page.articles
    assert first.body.endswith(f"一公里。\n\n{source}") and first.credits == ()
    assert after.body.startswith("老街的糕餅店")
