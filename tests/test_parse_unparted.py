"""Pages printed without blank lines: stories, headlines and crossheads run together.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

from digest.paper.conventions import MAINLAND
from digest.paper.lines import _logical_lines
from digest.paper.parse import parse_page

_FIRST = (
    "本报讯（记者 林雨）青石湖环湖绿道修缮工程日前全面完工，新铺设的透水步道总长十二公里，"
    "沿途增设了二十处休息座椅和八处直饮水点。",
    "据了解，这次修缮历时五个月，施工方在雨季专门调整了工序，保证了步道的平整度和排水效果，市民反映良好。",
    "区园林部门负责人表示，接下来还将在绿道沿线补种乡土树种，让环湖绿道四季有景、处处可游，成为市民休闲的好去处。",
)
_SECOND = (
    "昨天上午，记者在白沙乡的蓝莓种植基地看到，一排排大棚整齐排列，果农们正忙着采摘成熟的蓝莓，装箱发往各地。",
    "基地负责人林雨晴介绍，今年的蓝莓比往年早熟半个月，每亩产量也提高了两成，销路一直不愁，不少客商上门订货。",
)
_THIRD = (
    "短短三天时间，青石镇文化站的流动书车跑遍了镇上的十二个村子，送去了两千多册图书和一批少儿读物。",
    "文化站的工作人员说，很多老人和孩子早早就在村口等候，书车一到，大家就围上来挑书，场面十分热闹。",
)


# The page's first story, so that the page is as long as one printed without blank lines is.
_OPENING = (
    "古桥修缮完工",
    "本报讯（记者 周远）城南古桥修缮工程日前完工，这座建于清代的石拱桥将于下月重新向游人开放。",
    "修缮期间，施工人员按照原有工艺补砌了桥面石板，更换了松动的栏杆，并对桥墩进行了加固处理。",
    "文物部门的专家介绍，这次修缮坚持修旧如旧，尽量保留了古桥原有的构件，只替换了损坏严重的部分。",
    "附近的居民说，古桥是大家从小走到大的桥，看到它重新变得结实漂亮，心里特别高兴，盼着早日开放。",
    "据悉，古桥开放后将实行限流措施，每天接待游人不超过三千人次，节假日还将安排志愿者现场引导。",
    "环湖绿道全面完工",
)


def _page(*parts: str) -> str:
    return "\n".join((*_OPENING, *parts)) + "\n"


def test_a_quoted_headline_ending_in_an_exclamation_opens_a_story() -> None:
    page = parse_page(_page(*_FIRST, "“这才是大家的书房！”", *_THIRD))
    assert [a.title for a in page.articles] == ["古桥修缮完工", "环湖绿道全面完工", "“这才是大家的书房！”"]
    assert page.articles[2].body.startswith("短短三天时间")


def test_a_tagged_headline_with_a_comma_opens_a_story() -> None:
    page = parse_page(
        _page(*_FIRST, "视频|提前一小时等候，白沙乡果农只为抢鲜采摘今年第一批成熟的蓝莓", *_SECOND)
    )
    assert len(page.articles) == 3
    assert page.articles[2].title == "视频|提前一小时等候，白沙乡果农只为抢鲜采摘今年第一批成熟的蓝莓"


def test_a_short_quoted_headline_over_a_lead_naming_its_day_opens_a_story() -> None:
    page = parse_page(_page(*_FIRST, "蓝莓“抢鲜”上市", *_SECOND))
    assert [a.title for a in page.articles] == ["古桥修缮完工", "环湖绿道全面完工", "蓝莓“抢鲜”上市"]
    assert page.articles[2].body.startswith("昨天上午")


def test_a_crosshead_without_quotes_stays_in_its_story() -> None:
    page = parse_page(_page(*_FIRST[:2], "沿线补种树木", "今天的绿道上，" + _FIRST[2]))
    assert len(page.articles) == 2
    assert "沿线补种树木" in page.articles[1].body


def _column(*paragraphs: str, width: int = 15) -> list[str]:
    return [p[k : k + width] for p in paragraphs for k in range(0, len(p), width)]


def test_a_headline_of_two_phrases_filling_the_column_is_no_wrap() -> None:
    # A column of 15 characters; the headline under its kicker fills it by chance.
    lines = [
        *_column(*_OPENING[:6], *_FIRST[1:], *_THIRD),
        "白沙乡：",
        "白沙乡蓝莓提前上市 果农喜获丰收",
        *_column(*_SECOND),
    ]
    page = parse_page("\n".join(lines) + "\n")
    titles = [a.title or "" for a in page.articles]
    assert len(titles) == 2
    assert titles[1].endswith("白沙乡蓝莓提前上市 果农喜获丰收")
    assert page.articles[1].body.startswith("昨天上午")


def test_a_narrower_column_further_down_keeps_its_wraps() -> None:
    # The first stories wrap at 15 characters, a box further down at 11: its full lines are wraps,
    # each paragraph one line once read.
    box = ("本报讯（记者 林雨）" + _SECOND[0][5:], _SECOND[1])
    lines = [*_column(*_OPENING[:6], *_FIRST[1:], *_THIRD), "白沙乡蓝莓提前上市", *_column(*box, width=11)]
    read = _logical_lines("\n".join(lines) + "\n", MAINLAND)[0]
    assert all(paragraph in read for paragraph in box)
    page = parse_page("\n".join(lines) + "\n")
    assert [a.title for a in page.articles] == ["古桥修缮完工", "白沙乡蓝莓提前上市"]


def test_a_crosshead_where_a_paragraph_prints_to_a_line_is_a_paragraph_of_its_own() -> None:
    # No blank lines, so no column break shows: a short phrase after a finished paragraph was set
    # apart, not cut off the paragraph under it.
    text = "\n".join((*_OPENING[:4], "流动书车进村", *_OPENING[4:6], *_THIRD, _OPENING[6], *_FIRST)) + "\n"
    page = parse_page(text)
    assert [a.title for a in page.articles] == ["古桥修缮完工", "环湖绿道全面完工"]
    assert "\n\n流动书车进村\n\n附近的居民说" in page.articles[0].body


def test_an_editors_note_over_a_photo_story_stays_its_text_where_a_story_follows() -> None:
    # The last caption closes with its photographer's credit: the quoted headline under it opens
    # the next story, so the photo story's text is the note and its captions.
    text = "\n".join(
        (
            *_OPENING[:6],
            "山乡秋收忙",
            "编者按 金秋时节，青石镇的山乡处处是丰收的景象，稻谷、蓝莓、红薯陆续成熟，一起来看看。",
            "白沙村的稻谷即将成熟。 记者 林小河 摄",
            "东岭村村民忙着采挖红薯。记者 周远 摄",
            "“这才是大家的书房！”",
            *_THIRD,
        )
    )
    page = parse_page(text + "\n")
    assert [a.title for a in page.articles] == ["古桥修缮完工", "山乡秋收忙", "“这才是大家的书房！”"]
    assert page.articles[1].body.startswith("编者按 金秋时节")
    assert page.articles[2].body.startswith("短短三天时间")


# A titled photo story credited to its photographer over its text.
_STREET = (
    "街头一景",
    "拍摄者：本报记者 林小河",
    "城东菜市场门口的遮阳棚年久失修，棚顶破了几个大洞，一下雨就漏水，过往的市民只能绕道而行。",
    "“希望有关部门早日把棚子修好，方便大家买菜。”一位摊主说。",
)
_BRIDGE = (
    "新桥通车",
    "本报讯（记者 丙丁）新桥今天正式通车，市民纷纷前来参观，大家都说新桥很漂亮，通行更方便了。",
)


def test_untitled_photos_under_a_titled_photo_story_credited_to_others_are_stories_of_their_own() -> None:
    page = parse_page(
        _page(
            *_FIRST,
            *_STREET,
            "近日，白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。图为果农在果园里修剪果树。",
            "本报记者 周远 摄",
            "春分过后，青石镇处处花开，各村忙着迎接赏花的游客。图为东岭村的油菜花海。本报记者 甲乙 摄",
            *_BRIDGE,
        )
    )
    assert [(a.title, a.authors, a.body[:4]) for a in page.articles[2:]] == [
        ("街头一景", ("林小河",), "城东菜市"),
        (None, ("周远",), "近日，白"),
        (None, ("甲乙",), "春分过后"),
        ("新桥通车", ("丙丁",), "新桥今天"),
    ]


def test_another_picture_by_the_photo_storys_own_photographer_stays_in_it() -> None:
    more = "午后雨停，摊主们合力把积水扫出了棚外，又在破洞下放了几只水桶。"
    page = parse_page(_page(*_FIRST, *_STREET, more, "本报记者 林小河 摄", *_BRIDGE))
    assert [a.title for a in page.articles[2:]] == ["街头一景", "新桥通车"]
    assert page.articles[2].authors == ("林小河",)


def test_a_kicker_headline_and_question_subtitle_under_finished_text_open_a_story() -> None:
    stack = ("蓝莓红了？杨梅红了？", "白沙乡蓝莓基地迎来丰收", "今年为何早熟半个月？")
    page = parse_page(_page(*_FIRST, *stack, *_SECOND))
    assert len(page.articles) == 3
    article = page.articles[2]
    assert (article.title, article.subtitle) == (f"{stack[0]} {stack[1]}", stack[2])
    assert article.body.startswith("昨天上午")


# Wrapped in a column of 19 characters, the story above cut mid-sentence by a column break.
_CUT_ABOVE = (
    "古桥修缮完工\n本报讯（记者 周远）城南古桥修缮工程日前完\n工，这座建于清代的石拱桥将于下月重新向\n"
    "游人开放。修缮期间，施工人员按照原有工\n艺补砌了桥面石板，更换了松动的栏杆，并\n"
    "对桥墩进行了加固处理。文物部门的专家介\n绍，这次修缮坚持修旧如旧，尽量保留了古\n"
)
_BLUEBERRIES = (
    "本报讯（记者 林雨）昨天上午，记者在白沙\n乡的蓝莓种植基地看到，一排排大棚整齐排\n"
    "列，果农们正忙着采摘成熟的蓝莓，装箱发\n往各地。\n"
)


def test_a_headline_over_a_dateline_under_a_paragraph_a_column_break_cut_opens_a_story() -> None:
    page = parse_page(_CUT_ABOVE + "蓝莓抢鲜上市\n" + _BLUEBERRIES)
    assert [a.title for a in page.articles] == ["古桥修缮完工", "蓝莓抢鲜上市"]
    assert page.articles[0].body.endswith("尽量保留了古")


def test_a_closing_credit_the_wrap_cut_over_a_dateline_is_no_headline() -> None:
    page = parse_page(
        _CUT_ABOVE.replace("保留了古\n", "保留了古桥原貌。”王\n") + "星海 耿志清\n" + _BLUEBERRIES
    )
    assert [a.title for a in page.articles] == ["古桥修缮完工", None]
    assert page.articles[0].authors == ("周远", "王星海", "耿志清")


def _unindented(*paragraphs: str, width: int = 17) -> list[str]:
    """Paragraphs wrapped in a column ``width`` characters wide, each first line short of it by the
    indent the export dropped."""
    lines: list[str] = []
    for p in paragraphs:
        first = width - 2
        lines.append(p[:first])
        lines.extend(p[k : k + width] for k in range(first, len(p), width))
    return lines


def test_a_paragraphs_first_line_short_by_the_dropped_indent_goes_on_under_headlines_printed_last() -> None:
    # Headlines under their stories, no blank lines; every paragraph's first line stops two
    # characters short of the column, as a headline may, and repeats words of the lead above, as
    # a headline closing its story does.  Its paragraph goes on under it, as prose.
    bridge = (
        "本报青石3月2日电（记者 周远）" + _OPENING[1][10:] + _OPENING[2],
        "文物部门的专家介绍这次修缮坚持修旧如旧，尽量保留了古桥原有的构件。" + _OPENING[4],
        _OPENING[5] + _THIRD[1],
    )
    greenway = (
        "本报讯（记者 林雨）" + _FIRST[0][10:] + _FIRST[1],
        "环湖绿道修缮工程完工以后区园林部门表示，还将在“绿道沿线”补种乡土树种，让绿道四季有景。",
    )
    berries = (
        "本报讯（记者 甲乙）" + _SECOND[0],
        "蓝莓种植基地负责人林雨晴介绍今年的蓝莓比往年早熟半个月，每亩产量也提高了两成，不少客商上门订货。",
        "据了解，基地的蓝莓主要销往省内各大超市，也有不少通过网络直播卖到了外省，很受欢迎，基地打算明年再扩建二十个大棚。",
    )
    lines = [
        *_unindented(*bridge),
        "城南古桥修缮完工",
        *_unindented(*greenway),
        "青石湖环湖绿道修缮工程全面完工",  # as short of the column as a first line
        *_unindented(*berries),
        "白沙乡蓝莓提前上市",
    ]
    assert len(lines) > 40  # as long as a page printed without blank lines
    page = parse_page("\n".join(lines) + "\n")
    assert [a.title for a in page.articles] == [
        "城南古桥修缮完工",
        "青石湖环湖绿道修缮工程全面完工",
        "白沙乡蓝莓提前上市",
    ]
    assert [a.authors for a in page.articles] == [("周远",), ("林雨",), ("甲乙",)]
    assert [len(a.body.split("\n\n")) for a in page.articles] == [3, 2, 3]


def test_a_datelines_bracketed_credit_the_wrap_cut_goes_on_into_the_next_line() -> None:
    # The dateline's line stops well short of the column inside its credit's bracket, and the
    # line under it, closing the bracket, has no mark in it: still one credit.
    lines = [
        *_unindented(*_OPENING[1:6], *_FIRST, *_THIRD, *_SECOND),
        "环湖绿道全面完工",
        "本报白沙 3月 2日电 （记者",
        "甲乙）昨天上午记者在白沙乡的蓝莓种植",
        "基地看到，果农们正忙着采摘成熟的蓝莓",
        "。",
        "白沙乡蓝莓提前上市",
    ]
    assert len(lines) > 40  # as long as a page printed without blank lines
    page = parse_page("\n".join(lines) + "\n")
    assert page.articles[-1].title == "白沙乡蓝莓提前上市"
    assert page.articles[-1].authors == ("甲乙",)
    assert page.articles[-1].body.startswith("昨天上午记者在白沙乡")
