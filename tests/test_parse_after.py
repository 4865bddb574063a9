"""The parser on pages that print each headline under its story, one convention at a time.

Every page here is made up for the test (fictional places and people).  Stories are parted by
wide gaps (two blank lines), as such pages part them; a headline closes the text above it.
"""

from __future__ import annotations

import pytest

from digest.paper.parse import parse_page


def test_the_gaps_around_headlines_tell_a_page_printing_them_under_their_stories() -> None:
    # The headlines share no words with the text on either side; the wide gaps under them, none
    # over them, say which story each one closes.
    page = parse_page(
        "本报讯 昨天上午，城东社区组织志愿者为独居老人打扫房间、送去米面。\n\n"
        "志愿者说，这样的活动每月都会举办一次。\n\n邻里守望暖人心\n\n\n"
        "本报讯 近日，白沙乡果农陆续开展春季修剪工作，农技员在田间指导。\n\n"
        "果农说，今年的梨花开得比往年早。\n\n枝头春意闹\n\n\n"
        "本报讯 东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n"
        "村干部说，今年全村计划种植玉米三百亩。\n\n田野好时节\n"
    )
    assert [a.title for a in page.articles] == ["邻里守望暖人心", "枝头春意闹", "田野好时节"]
    assert page.articles[0].body.startswith("昨天上午")


_LIBRARY = (
    "本报讯（记者 周远）青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
    "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n青石镇新建的图书馆对外开放\n\n\n"
)
_ORCHARD = (
    "本报讯（记者 林雨）白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
    "果农说，今年的梨花开得比往年早，修剪要赶在花期之前。\n\n白沙乡果农修剪果树\n\n\n"
)
_PLOUGH = "本报讯（记者 吴一）东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n东岭村春耕忙\n"


def test_a_section_name_at_the_top_of_the_page_heads_no_story() -> None:
    # The name has no story above it to close: it is the section of the stories under it, and
    # each headline still closes the story above it.
    page = parse_page(f"青石新闻·文教\n\n{_LIBRARY}{_ORCHARD}{_PLOUGH}")
    assert [(a.section, a.title) for a in page.articles] == [
        ("青石新闻·文教", "青石镇新建的图书馆对外开放"),
        ("青石新闻·文教", "白沙乡果农修剪果树"),
        ("青石新闻·文教", "东岭村春耕忙"),
    ]


def test_a_story_opening_under_a_headline_with_captions_or_a_cut_line_has_no_headline_there() -> None:
    # Under the headline that closed the story above, short lines open the next story: a list of
    # its photos' captions, or its first line cut off by a column break.
    page = parse_page(
        f"{_LIBRARY}"
        "东岭村的油菜花海\n白沙乡果农修剪梨树\n青石镇的古桥\n\n"
        "本报讯（记者 林雨）春天到了，各地春色宜人，游客纷纷前来踏青赏花，乡村旅游迎来旺季。\n\n"
        "各地春色宜人\n\n\n"
        "东岭村的村民们趁着晴好天\n\n气，忙着春耕，翻耕土地，准备春播。\n\n东岭村春耕忙\n"
    )
    assert [a.title for a in page.articles] == ["青石镇新建的图书馆对外开放", "各地春色宜人", "东岭村春耕忙"]
    spring, plough = page.articles[1:]
    assert [c.text for c in spring.captions] == ["东岭村的油菜花海", "白沙乡果农修剪梨树", "青石镇的古桥"]
    assert plough.body == "东岭村的村民们趁着晴好天气，忙着春耕，翻耕土地，准备春播。"


def test_labelled_fields_at_the_top_of_the_page_open_the_story_under_them() -> None:
    page = parse_page(
        "时间：3月6日上午\n地点：青石镇南路天桥\n拍摄者：本报记者 甲乙\n\n"
        "有市民反映，青石镇南路天桥下的早餐棚长期无人打理，变得灰头土脸，影响了街区面貌。\n\n街拍\n\n\n"
        f"{_PLOUGH}"
    )
    photo = page.articles[0]
    assert (photo.title, photo.authors) == ("街拍", ("甲乙",))
    assert photo.body.startswith("时间：3月6日上午\n\n地点：青石镇南路天桥\n\n有市民反映")


def test_a_short_headline_over_a_wide_gap_closes_its_story_and_crossheads_stay() -> None:
    # Set off by a single blank line after a finished paragraph, as a crosshead is; the wide gap
    # under it shows the story has ended.  A crosshead inside a story has single gaps both sides.
    page = parse_page(
        f"{_LIBRARY}"
        "昨天上午，白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "技术指导\n\n农技员在田间手把手教果农修剪枝条，讲解修剪的要领。\n\n"
        "果农说，今年的梨花开得比往年早。\n\n果农忙修剪\n\n\n"
        "东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n东岭村春耕忙\n"
    )
    assert [a.title for a in page.articles] == ["青石镇新建的图书馆对外开放", "果农忙修剪", "东岭村春耕忙"]
    assert "技术指导" in page.articles[1].body


def test_a_line_a_column_break_cut_off_inside_a_story_is_no_headline() -> None:
    # It repeats the words of its story's lead, as that story's headline would; but the story's
    # text goes on under it after a single blank line, where a headline would close the story.
    page = parse_page(
        f"{_LIBRARY}"
        "本报讯（记者 林雨）白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果农说，今年的梨花开得比往年早。\n\n白沙乡的果农们陆续开展春季\n\n"
        "修剪，农技员在田间指导。\n\n白沙乡果农修剪果树\n\n\n"
        f"{_PLOUGH}"
    )
    assert [a.title for a in page.articles] == [
        "青石镇新建的图书馆对外开放",
        "白沙乡果农修剪果树",
        "东岭村春耕忙",
    ]
    assert page.articles[1].body.endswith("白沙乡的果农们陆续开展春季修剪，农技员在田间指导。")


def test_a_column_tag_over_a_headline_closing_a_story_is_that_storys_own() -> None:
    # A section would stand under the headline, over the stories it names: the tag names this
    # story's column, and the story under it goes on without one.
    page = parse_page(
        f"{_LIBRARY}"
        "梁 正\n\n随着私家车越来越多，停车难的问题日益突出，一些人私设地锁占用公共车位。\n\n"
        "治理私设地锁，必须常态化，不能留死角。\n\n街谈\n莫让车位被地锁占去\n\n\n"
        f"{_PLOUGH}"
    )
    article = page.articles[1]
    assert (article.section, article.kicker, article.title) == ("街谈", None, "莫让车位被地锁占去")
    assert article.authors == ("梁正",)
    assert page.articles[2].section is None


@pytest.mark.parametrize(
    ("opening", "above", "below"),
    [
        # A byline or a credit line at the top of a story's text: that story's.
        ("城市快报记者 甲乙 通讯员 丙丁\n\n东岭村的村民们趁着晴好天气，忙着翻耕土地。", (), ("甲乙", "丙丁")),
        ("甲乙/文 丙丁/摄\n\n东岭村的村民们趁着晴好天气，忙着翻耕土地。", (), ("甲乙", "丙丁")),
        # Over a story whose dateline names its own writer: the signature of the story above.
        ("□本报记者 甲乙\n\n本报讯（记者 吴一）东岭村的村民们忙着翻耕土地。", ("甲乙",), ("吴一",)),
    ],
)
def test_a_credit_between_two_stories_signs_the_one_under_it_unless_that_signs_itself(
    opening: str, above: tuple[str, ...], below: tuple[str, ...]
) -> None:
    page = parse_page(
        "青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n青石镇新建的图书馆对外开放\n\n\n"
        f"{opening}\n\n东岭村春耕忙\n"
    )
    assert [(a.title, a.authors) for a in page.articles] == [
        ("青石镇新建的图书馆对外开放", above),
        ("东岭村春耕忙", below),
    ]


def test_a_byline_printed_a_role_to_a_line_under_finished_text_signs_it() -> None:
    page = parse_page(
        "本报讯 青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册。\n\n"
        "馆长说，今后还将定期举办读书分享会。\n\n记者 甲乙 丙丁\n通讯员 戊己\n\n"
        "青石镇新建的图书馆对外开放\n\n\n"
        f"{_PLOUGH}"
    )
    library, plough = page.articles
    assert (library.title, library.authors) == ("青石镇新建的图书馆对外开放", ("甲乙", "丙丁", "戊己"))
    assert (plough.title, plough.authors) == ("东岭村春耕忙", ("吴一",))


def test_a_wide_gap_under_the_folio_is_no_gap_between_stories() -> None:
    # The stories are parted by single blank lines, as their paragraphs are; the one wide gap is
    # the header's, under the folio: it parts no stories, so a headline between two paragraphs
    # (sharing words with the lead above it) still closes its story.
    page = parse_page(
        "\n青石日报　2021年3月5日　星期五　第3版：城乡\n\n\n城乡城乡\n\n"
        "本报讯 青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n青石镇新建的图书馆对外开放\n\n"
        "近日，白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果农说，今年的梨花开得比往年早，修剪要赶在花期之前。\n\n记者 林雨\n\n白沙乡果农修剪果树\n\n"
        "东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n"
        "村干部说，今年全村计划种植玉米三百亩。\n\n东岭村春耕忙\n"
    )
    assert [(a.title, a.authors, a.body[:4]) for a in page.articles] == [
        ("青石镇新建的图书馆对外开放", (), "青石镇新"),
        ("白沙乡果农修剪果树", ("林雨",), "近日，白"),
        ("东岭村春耕忙", (), "东岭村的"),
    ]


_CUT_LINES = ["────────────────", "================", "* * * * * * * *", "＊＊＊＊＊＊＊＊", "※※※※※※"]


@pytest.mark.parametrize("rule", _CUT_LINES)
@pytest.mark.parametrize("under", ["\n", "\n\n"])
def test_a_cut_line_under_a_headline_closing_its_story_parts_the_stories(rule: str, under: str) -> None:
    # Headlines under their stories, a rule across the column under each: the rule parts two
    # stories as a wide gap does, and is neither a headline nor text.
    stories = [
        ("城南古桥修缮工程日前完工，这座建于清代的石拱桥将\n于下月重新向游人开放。", "古桥修缮完工"),
        ("青石湖环湖绿道修缮工程日前全面完工，新铺设的透水\n步道总长十二公里。", "环湖绿道全面完工"),
        ("白沙乡的蓝莓陆续成熟，果农们正忙着采摘装箱，发往\n各地。", "白沙乡蓝莓上市"),
    ]
    page = parse_page("\n\n".join(f"{text}\n\n{title}{under}{rule}" for text, title in stories) + "\n")
    assert [a.title for a in page.articles] == [title for _, title in stories]
    assert [a.body[:6] for a in page.articles] == ["城南古桥修缮", "青石湖环湖绿", "白沙乡的蓝莓"]
    assert page.dropped == (rule, rule, rule)


def test_an_editors_credit_closing_a_story_under_its_headline_lets_the_page_read_headline_last() -> None:
    # Single blank lines throughout; the first headline, under a text its editor's credit closes, is
    # the one sharing words with its lead. Read as that text's rest, the crosshead below decided
    # the page (its words are the paragraph's under it) and every headline opened the next story.
    page = parse_page(
        "本报讯（记者 周远）青石镇新建的图书馆昨天对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。（青石融媒体中心编辑）\n\n"
        "青石镇新建图书馆对外开放\n\n"
        "白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果园智能滴灌\n\n"
        "今天的果园里，新装的智能滴灌管道沿着果树铺开，果农用手机就能给果园浇水。\n\n"
        "果农说，今年的梨花开得比往年早。 记者 林雨\n\n"
        "春风吹绿千亩山岗\n\n"
        "东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n"
        "村干部说，今年全村计划种植玉米三百亩。\n\n"
        "一年之计在于春\n\n"
        "责任编辑：吴一\n"
    )
    assert [a.title for a in page.articles] == [
        "青石镇新建图书馆对外开放",
        "春风吹绿千亩山岗",
        "一年之计在于春",
    ]
    assert page.articles[0].body.endswith("常来看看。（青石融媒体中心编辑）")
    assert "果园智能滴灌" in page.articles[1].body  # the crosshead splits no story


def test_a_crosshead_over_a_paragraphs_first_line_a_column_break_cut_splits_no_story() -> None:
    # Single blank lines throughout, a paragraph to a line: the crosshead and the cut line under it,
    # each alone, are no column's name over a headline closing the story above.
    page = parse_page(
        "本报讯（记者 周远）青石镇新建的图书馆昨天对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n"
        "青石镇新建图书馆对外开放\n\n"
        "本报讯（记者 林雨）白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果农说，今年的梨花开得比往年早，修剪要赶在花期之前。\n\n"
        "果园用上智能滴灌\n\n"
        "走进果园，新装的智能滴灌管道沿着\n\n"
        "果树一排排铺开，果农用手机就能给果园浇水，省时又省力。\n\n"
        "白沙乡果农忙修剪果树\n\n"
        "本报讯（记者 吴一）东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n"
        "东岭村村民忙春耕\n"
    )
    assert [a.title for a in page.articles] == [
        "青石镇新建图书馆对外开放",
        "白沙乡果农忙修剪果树",
        "东岭村村民忙春耕",
    ]
    assert page.articles[1].body.endswith(
        "果园用上智能滴灌\n\n走进果园，新装的智能滴灌管道沿着果树一排排铺开，果农用手机就能给果园浇水，省时又省力。"
    )


def test_a_short_headline_repeating_its_lead_over_the_next_storys_cut_line_still_closes_its_story() -> None:
    page = parse_page(
        "本报讯（记者 周远）青石镇新建的图书馆昨天对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n"
        "青石镇新建图书馆对外开放\n\n"
        "本报讯（记者 林雨）白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果农说，今年的梨花开得比往年早，修剪要赶在花期之前。\n\n"
        "白沙乡果农忙修剪\n\n"
        "东岭村的村民们趁着晴好的\n\n"
        "天气，忙着翻耕土地，准备春播。\n\n"
        "东岭村村民忙春耕\n"
    )
    titles = [a.title or "" for a in page.articles]
    assert len(titles) == 3 and titles[1].startswith("白沙乡果农忙修剪")
    assert page.articles[1].body.endswith("修剪要赶在花期之前。")
