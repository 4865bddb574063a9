"""The parser on layouts that combine conventions in ways the dev pages do not.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

from digest.paper.parse import parse_page


def test_short_doubled_running_head_names_the_section() -> None:
    # A two-character page name printed twice by the page's margin (视点视点), over plain headlines.
    page = parse_page(
        "\n视点视点\n\n青石镇开通夜班公交\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n\n"
        "古桥修缮完工\n\n本报讯(记者 周远)古桥修缮工程日前完工,将于下月开放。\n"
    )
    assert [a.title for a in page.articles] == ["青石镇开通夜班公交", "古桥修缮完工"]
    assert [a.section for a in page.articles] == ["视点", "视点"]
    assert all("视点" not in a.body for a in page.articles)


def test_a_line_of_one_repeated_character_is_no_running_head() -> None:
    page = parse_page("哈哈哈哈\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n")
    assert page.articles[0].section != "哈哈"


def test_video_prompt_under_a_headline_is_neither_headline_nor_text() -> None:
    page = parse_page(
        "青石镇开通夜班公交\n\n扫码看视频\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n\n"
        "古桥修缮完工\n\n扫码观看视频\n\n本报讯(记者 周远)古桥修缮工程日前完工,将于下月开放。\n"
    )
    assert [a.title for a in page.articles] == ["青石镇开通夜班公交", "古桥修缮完工"]
    assert all("扫码" not in a.body and "扫码" not in (a.subtitle or "") for a in page.articles)


def test_a_headline_about_scanning_codes_stays_a_headline() -> None:
    page = parse_page("扫码点餐成常态\n\n本报讯(记者 甲乙)近日,青石镇的饭馆大多用上了扫码点餐。\n")
    assert page.articles[0].title == "扫码点餐成常态"


@pytest.mark.parametrize(
    ("upper", "lower"),
    [("记者 周", "小川 摄"), ("记者 周小", "川 摄"), ("通讯", "员周小川摄影报道")],
)
def test_credit_closing_the_text_cut_by_the_wrap_inside_a_word(upper: str, lower: str) -> None:
    page = parse_page(
        "新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观，大家都说\n"
        f"新桥很漂亮，通行更方便了。 {upper}\n{lower}\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工。\n"
    )
    first, second = page.articles
    assert first.authors == ("周小川",)
    assert first.body.endswith("通行更方便了。")
    assert second.title == "古桥修缮"
    assert second.section is None


def test_two_whole_credits_on_two_lines_stay_two_names() -> None:
    page = parse_page(
        "新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观，大家都说\n"
        "新桥很漂亮，通行更方便了。 记者 周小川\n林雨 摄\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工。\n"
    )
    assert sorted(page.articles[0].authors) == sorted(("周小川", "林雨"))


def test_untitled_photos_apart_by_wide_gaps_each_closed_by_its_credit() -> None:
    first = (
        "春耕时节，青石镇的农户们忙碌在田间地头，处处是人勤春早的景象。图为农户在大棚育苗。本报记者 林小河 摄"
    )
    second = (
        "近日，白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。图为果农修剪果树。本报记者 周远 摄"
    )
    page = parse_page(
        f"【视点】\n\n{first}\n\n\n{second}\n\n\n## 新桥通车\n\n本报讯(记者 甲乙)新桥今天通车。\n"
    )
    assert [(a.title, a.authors) for a in page.articles] == [
        (None, ("林小河",)),
        (None, ("周远",)),
        ("新桥通车", ("甲乙",)),
    ]


@pytest.mark.parametrize(
    ("gap", "cut"),
    [("\n", ""), ("\n\n", ""), ("\n\n", "\n\n")],  # no blank lines on the page, one between paragraphs
)
def test_untitled_photos_in_a_row_each_closed_by_its_credit_without_wide_gaps(gap: str, cut: str) -> None:
    # The second photo's text opens under the first one's credit (at the end of the caption or
    # on a line of its own); its second caption (图为…) is the same photo story's.
    page = parse_page(
        f"春分过后，青石镇处处花开，各村忙着迎接赏花\n的游客，乡间小路上车来车往，十分热闹。{gap}"
        f"图为东岭村的油菜花海，游客在花田里拍照留念，\n孩子们在田埂上追逐嬉戏。{cut}本报记者 林小河 摄"
        f"{gap}近日，白沙乡的果农陆续开展春季修剪工作，\n田间地头一派繁忙景象。图为果农在果园里修剪\n"
        f"果树。{cut}本报记者 周远 摄{gap}图为果农在果园里搬运枝条。本报记者 周远 摄{gap}## 新桥通车{gap}"
        "本报讯（记者 甲乙）新桥今天正式通车，市民纷纷\n前来参观，大家都说新桥很漂亮，通行更方便了。\n"
    )
    assert [(a.title, a.authors, a.body[:4]) for a in page.articles] == [
        (None, ("林小河",), "春分过后"),
        (None, ("周远",), "近日，白"),
        ("新桥通车", ("甲乙",), "新桥今天"),
    ]


def test_captions_closed_by_credits_stay_with_their_photo_story() -> None:
    page = parse_page(
        "## 山乡秋色\n\n\n村民晾晒稻谷。 记者 林小河 摄\n\n\n果农采摘秋梨。 记者 周远 摄\n\n\n"
        "## 新桥通车\n\n本报讯(记者 甲乙)新桥今天通车。\n"
    )
    assert [(a.title, sorted(a.authors)) for a in page.articles] == [
        ("山乡秋色", ["周远", "林小河"]),
        ("新桥通车", ["甲乙"]),
    ]


def test_a_justified_line_with_half_width_marks_latin_and_a_decimal_loses_every_space() -> None:
    # Justification spaces every glyph of a line alike: the half-width comma, the lone letter,
    # the digits and point of a number and the percent sign are cells of the run too.
    page = parse_page(
        "青石镇办起农产品展会\n\n本报讯 去年青石镇办起了第一届农产品展会,\n"
        "展 会 吸 引 了 K 1 2 次 列 车 沿 线 2 3 . 5 % 的 客 商 , 成 交 额 创\n"
        "新高。选项有 A B C D 四种。\n"
    )
    body = page.articles[0].body
    assert "展会吸引了K12次列车沿线23.5%的客商，成交额创新高。" in body
    assert "A B C D" in body


def test_a_justified_line_is_as_wide_as_its_column_not_twice() -> None:
    # Its spaces counted, the justified line looked wider than any column: the page seemed to
    # have none, and two short lines a column break cut off mid-sentence were taken as set apart.
    page = parse_page(
        "青石镇新建图书馆开放\n\n本报讯 青石镇新建的图书馆昨天正式对外开放，\n"
        "馆内藏书三万余册，设有少儿阅览区\n"
        "和 自 习 区 ， 开 放 首 日 前 来 借 阅 图 书 的 市 民 在 门 口 排\n"
        "起了长队。馆长说，今后还将定期举办读书分享会，\n欢迎大家常来看看。\n\n"
        "一位带着孩子前来的家长告诉记者，以前借\n书要跑到县城，来回得花上大半天的\n\n"
        "时间，现在走几步路就到了，非常方便。\n"
    )
    assert page.articles[0].body.split("\n\n") == [
        "青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区和自习区，"
        "开放首日前来借阅图书的市民在门口排起了长队。馆长说，今后还将定期举办读书分享会，欢迎大家常来看看。",
        "一位带着孩子前来的家长告诉记者，以前借书要跑到县城，来回得花上大半天的时间，现在走几步路就到了，非常方便。",
    ]


@pytest.mark.parametrize("gap", ["\n\n", "\n\n\n\n"])
def test_a_tip_reward_under_a_story_is_its_note_not_the_next_headline(gap: str) -> None:
    page = parse_page(
        "新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观，大家都说新桥很漂亮，\n通行更方便了。\n\n"
        f"感谢王先生提供线索，奖励50元{gap}古桥修缮完工\n\n本报讯(记者 周远)古桥修缮工程日前完工。\n"
    )
    first, second = page.articles
    assert (first.title, first.notes) == ("新桥通车", ("感谢王先生提供线索，奖励50元",))
    assert (second.title, second.subtitle, second.kicker) == ("古桥修缮完工", None, None)


def test_bare_section_names_on_a_page_printing_headlines_under_their_stories() -> None:
    page = parse_page(
        "\n城事\n\n本报讯 青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会。\n\n青石镇图书馆开放\n\n\n"
        "乡村\n\n本报讯 白沙乡的果农陆续开展春季修剪工作，田间地头一派繁忙景象。\n\n"
        "果农说，今年的梨花开得比往年早。\n\n白沙乡果农修剪果树\n\n\n"
        "本报讯 东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n东岭村春耕忙\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("城事", "青石镇图书馆开放"),
        ("乡村", "白沙乡果农修剪果树"),
        ("乡村", "东岭村春耕忙"),
    ]


@pytest.mark.parametrize("cut", ["周远 \n林雨", "周远\n 林雨", "周远\u3000\n林雨"])
def test_a_space_at_a_wrap_inside_the_credit_parts_two_names(cut: str) -> None:
    page = parse_page(f"古桥修缮完工\n\n本报青石3月2日电 （记者 {cut}）古桥修缮工程日前完工，下月开放。\n")
    assert page.articles[0].authors == ("周远", "林雨")
    assert page.articles[0].body == "古桥修缮工程日前完工，下月开放。"


def test_labelled_fields_under_a_plain_headline_are_the_story_text() -> None:
    page = parse_page(
        "古桥修缮完工\n\n本报讯 古桥修缮工程日前完工。\n\n（甲乙）\n\n街拍\n\n"
        "时间：3月6日上午\n地点：青石镇老街\n拍摄者：本报记者 周远\n\n"
        "有市民反映，老街路口的路灯坏了多日，夜里行人出行很不方便。\n"
    )
    first, second = page.articles
    assert first.title == "古桥修缮完工"
    assert (second.title, second.section, second.authors) == ("街拍", None, ("周远",))
    assert second.body.startswith("时间：3月6日上午\n\n地点：青石镇老街\n\n有市民反映")


def test_labelled_fields_a_line_each_stay_apart_in_a_column_they_fill() -> None:
    # A narrow column: each field fills most of it, as a wrapped line would.
    page = parse_page(
        "街拍\n\n时间：3月6日上午\n地点：青石镇南路天桥\n拍摄者：本报记者 甲乙\n\n"
        "有市民反映，青石镇南路天\n桥下的早餐棚长期无人打理，\n变得灰头土脸，影响了街区\n面貌。\n"
    )
    photo = page.articles[0]
    assert (photo.title, photo.authors) == ("街拍", ("甲乙",))
    assert photo.body.startswith("时间：3月6日上午\n\n地点：青石镇南路天桥\n\n有市民反映")


def test_a_headline_offering_a_reward_for_tips_stays_a_headline() -> None:
    page = parse_page(
        "警方悬赏征集线索 最高奖励5万元\n\n"
        "本报讯(记者 甲乙)昨日,青石镇警方发布悬赏通告,征集一起盗窃案的线索。\n"
    )
    assert page.articles[0].title == "警方悬赏征集线索 最高奖励5万元"


@pytest.mark.parametrize("editor", ["本版编辑：林小河", "编辑：林小河"])
def test_the_page_editor_under_a_story_closed_by_its_credit_is_no_headline(editor: str) -> None:
    page = parse_page(
        f"新桥通车\n\n本报讯 新桥今天正式通车,市民纷纷前来参观。 本报记者\n甲乙 丙丁\n\n\n\n{editor}\n"
    )
    assert [(a.title, a.authors) for a in page.articles] == [("新桥通车", ("甲乙", "丙丁"))]
    assert "林小河" not in page.articles[0].body


_LEAD_A = "本报讯 昨天上午,青石镇召开新闻发布会,通报了今年以来全镇的治安情况。民警提醒市民外出锁好门窗。\n"
_LEAD_B = "本报讯 记者昨日从镇卫生院获悉,入秋以来就诊人数明显上升,发热门诊接诊量比上月增加三成。\n"


def test_a_headline_and_subtitle_each_naming_who_says_what_are_no_field_list() -> None:
    page = parse_page(f"青石镇治安平稳\n\n{_LEAD_A}\n卫生院：流感进入高发期\n专家：勤洗手戴口罩\n\n{_LEAD_B}")
    assert [a.title for a in page.articles][1].startswith("卫生院：流感进入高发期")
    assert "专家：勤洗手" not in page.articles[0].body


def test_a_headline_thanking_tipsters_is_no_tip_note() -> None:
    page = parse_page(f"青石镇治安平稳\n\n{_LEAD_A}\n感谢热心群众提供线索 走失老人当晚回家\n\n{_LEAD_B}")
    assert [a.title for a in page.articles] == ["青石镇治安平稳", "感谢热心群众提供线索 走失老人当晚回家"]


def test_a_year_doubled_in_a_timeline_is_no_running_head() -> None:
    page = parse_page(f"青石镇大事记\n\n{_LEAD_A}\n2020\n\n{_LEAD_B}")
    assert all(a.section is None for a in page.articles)


def test_a_space_at_a_wrap_inside_other_brackets_is_not_kept() -> None:
    page = parse_page(
        "青石镇经济平稳\n\n本报讯 全镇规模以上企业（以下简称 规上企 \n业）利润增长百分之八。 \n"
    )
    assert "规上企业" in page.articles[0].body


@pytest.mark.parametrize("prompt", ["", "扫码看视频\n\n"])
def test_a_list_of_captions_set_apart_under_a_headline_is_no_part_of_it(prompt: str) -> None:
    # Photo captions listed a line each in a block of their own under the headline (a picture
    # spread, its photographer credited): the story's captions, never a subtitle; the headline
    # stays as printed.
    page = parse_page(
        "古桥修缮完工\n\n本报讯(记者 周远)古桥修缮工程日前完工。\n\n\n"
        f"青石镇处处春色满园\n\n{prompt}东岭村的油菜花海\n白沙乡果农修剪梨树\n老街口新开的花市\n\n"
        "记者 甲乙 林雨\n\n春分过后，青石镇处处花开，各村忙着迎接赏花的游客。\n\n林雨 摄\n"
    )
    second = page.articles[1]
    assert (second.title, second.subtitle, second.kicker) == ("青石镇处处春色满园", None, None)
    assert second.authors == ("甲乙", "林雨")
    assert "春分过后" in second.body


@pytest.mark.parametrize(
    "lead", ["", "第3版 视点\n\n古桥修缮完工\n\n本报讯(记者 周远)古桥修缮工程日前完工。\n\n\n"]
)
@pytest.mark.parametrize("marked", [False, True])
def test_a_bare_section_name_over_an_untitled_photo_is_its_section(lead: str, marked: bool) -> None:
    # A page's name printed bare over a photo and its caption (closed by the photographer's
    # credit), at the top of the page or where the folio names the page so: the section, never
    # the photo's headline, nor a line of the text.
    mark = "## " if marked else ""
    page = parse_page(
        f"{lead.replace('古桥', mark + '古桥', 1)}视点\n\n春分过后，青石镇处处花开，各村忙着迎接赏花的游客。"
        f"图为东岭村的油菜花海。本报记者 甲乙 摄\n\n\n{mark}新桥通车\n\n"
        "本报讯(记者 林雨)新桥今天正式通车。\n"
    )
    titled = [(a.section, a.title, a.authors) for a in page.articles]
    assert titled[-2:] == [("视点", None, ("甲乙",)), ("视点", "新桥通车", ("林雨",))]
    assert "视点" not in page.articles[-2].body


@pytest.mark.parametrize("gap", ["\n\n", "\n\n\n"])
def test_a_roundups_label_over_an_untitled_photo_at_the_page_top_is_its_section(gap: str) -> None:
    # The label (a roundup's word, 新闻速览) over the photo, its caption closed by the credit, and
    # the next section's bare name under it: neither is glued to the caption or to the credit.
    page = parse_page(
        "青石日报　2021年3月5日　星期五　第3版：综合新闻\n\n新闻速览\n\n"
        "春分过后，青石镇处处花开，各村忙着迎接赏花的游客。图为东岭村的油菜\n"
        f"花海，游客在花田里拍照留念。本报记者 甲乙 摄{gap}区县\n\n### 新桥通车\n\n"
        "本报讯（记者 林雨）新桥今天正式通车。\n"
    )
    assert [(a.section, a.title, a.authors) for a in page.articles] == [
        ("新闻速览", None, ("甲乙",)),
        ("区县", "新桥通车", ("林雨",)),
    ]
    assert page.articles[0].body.startswith("春分过后")


@pytest.mark.parametrize(
    "text",
    [
        # a short headline over a story that is no photo
        "街头\n\n本报讯(记者 林雨)青石镇老街口新开了一家花店，市民纷纷前来选购。\n",
        # a box label inside a story, under its text
        "新桥通车\n\n本报讯(记者 林雨)新桥今天正式通车。\n\n链接\n\n新桥全长三百米，历时两年建成。\n",
    ],
)
def test_a_short_line_over_text_that_is_no_photo_is_no_section(text: str) -> None:
    assert all(a.section is None for a in parse_page(text).articles)


@pytest.mark.parametrize(
    ("head", "credit"),
    [
        ("外地游客“点赞”青石", " 王星海 耿志清"),
        ("三十余家外地商户参加青石镇花市开幕式", " （本报记者 王星海）"),
        ("外地游客“点赞”青石", "记者王星海"),  # glued to the last sentence
    ],
)
def test_a_story_signed_at_its_end_after_one_signed_at_its_top_is_another_story(
    head: str, credit: str
) -> None:
    # The story above names its reporter in its dateline; the text under the lone line closes
    # with someone else's credit: the line is that text's headline, not a crosshead of the story.
    page = parse_page(
        "古桥修缮完工\n\n本报讯（记者 周远 通讯员 林雨）古桥修缮工程日前完工，将于下月开放。\n\n"
        f"据了解，修缮工程历时半年。\n\n{head}\n\n"
        f"昨天上午，记者在青石镇花市遇到了来自外地的游客甲乙。他说这里的花又多又便宜。{credit}\n\n\n"
        "新桥通车\n\n本报讯 新桥今天正式通车。\n"
    )
    assert [(a.title, a.authors) for a in page.articles][:2] == [
        ("古桥修缮完工", ("周远", "林雨")),
        (head, ("王星海", "耿志清") if "耿" in credit else ("王星海",)),
    ]


@pytest.mark.parametrize("closing", ["丙丁 文/图", "本报记者 丙丁 摄", "（记者 周远）"])
def test_a_crosshead_in_a_story_signed_at_both_ends_stays_in_it(closing: str) -> None:
    # A photographer's or writer-photographer's credit at the end, or the dateline's own
    # reporter again, signs the same story: the short line between is its crosshead.
    page = parse_page(
        "古桥修缮完工\n\n本报讯（记者 周远）古桥修缮工程日前完工，将于下月开放。\n\n"
        "精心施工\n\n修缮工程历时半年，工人们按照原样修补了桥面。\n\n"
        f"古桥两侧的石栏也换上了从山里运来的青石。\n\n{closing}\n"
    )
    assert [a.title for a in page.articles] == ["古桥修缮完工"]
    assert "精心施工" in page.articles[0].body


# -- ordinary pages the layout rules above must leave alone (review findings) ------------------

_STORY_A = (
    "全市春季植树活动启动\n\n本报讯（记者 周远）3月12日上午，全市春季义务植树活动在城东生态公园启动。\n\n\n"
)


@pytest.mark.parametrize(
    "text",
    [
        # A row of titled photos at the top of the page: each word is its photo's title.
        "春耕忙\n\n3月18日，农民驾驶农机在田间翻耕土地，为春播做准备。本报记者 林小河 摄\n\n\n"
        "赏花去\n\n3月17日，市民在人民公园赏樱花。通讯员 王青 摄\n\n\n"
        "城东夜市开张迎客\n\n本报讯（记者 林雨）城东夜市昨晚开张，200多个摊位吸引市民前来消费。\n",
        # Mid-page, after a story: the photo's title.
        f"{_STORY_A}雪后初晴\n\n3月6日，雪后的古城墙银装素裹，分外美丽。本报记者 周远 摄\n\n\n"
        "城东夜市开张迎客\n\n本报讯（记者 林雨）城东夜市昨晚开张，200多个摊位吸引市民前来消费。\n",
        # Under the page's own section name.
        "● 图片新闻\n\n春耕忙\n\n3月18日，农民驾驶农机在田间翻耕土地。本报记者 林小河 摄\n\n\n"
        "赏花去\n\n3月17日，市民在人民公园赏樱花。通讯员 王青 摄\n",
    ],
)
def test_a_short_title_over_a_photo_is_no_section(text: str) -> None:
    page = parse_page(text)
    assert all(a.title for a in page.articles)
    assert {a.section for a in page.articles} <= {None, "图片新闻"}


@pytest.mark.parametrize(
    "closing",
    [
        "（实习生 王小川）",
        "（通讯员 赵刚）",
        "（设计：王小川）",
        "（有删节）",
        "（节选）",
        "（作者单位：市委党校）",
    ],
)
def test_a_note_or_a_helpers_credit_closing_a_story_does_not_split_it(closing: str) -> None:
    # Who helps (实习生, 通讯员, 设计), where the author works, or a note on the text: none of
    # them signs another story, so the crosshead above stays in the story.
    page = parse_page(
        "全市春季植树活动启动\n\n本报讯（记者 张明远）3月12日上午，全市春季义务植树活动启动。\n\n"
        "大家分工协作，挖坑、扶苗、培土、浇水，一派热火朝天的景象。\n\n志愿者热情高\n\n"
        "“能为城市添一抹绿，很有意义。”来自市一中的志愿者王小梅说。"
        f"据了解，今年全市计划新增造林面积3万亩。{closing}\n\n\n"
        "老旧小区改造惠及万户居民\n\n\n本报记者 李红梅\n\n今年我市将改造老旧小区46个。\n"
    )
    assert [a.title for a in page.articles] == ["全市春季植树活动启动", "老旧小区改造惠及万户居民"]
    assert "志愿者热情高" in page.articles[0].body


@pytest.mark.parametrize(
    "text",
    [
        "● 体育\n\n加油加油\n\n本报讯（记者 林雨）昨晚，市体育馆座无虚席，近万名球迷为主队呐喊助威。\n",
        f"{_STORY_A}点赞点赞\n\n本报讯（记者 林雨）市民张先生在公交车上捡到钱包，交给司机。\n",
    ],
)
def test_a_headline_of_a_word_said_twice_is_no_running_head(text: str) -> None:
    title = text.split("\n\n")[-2].strip()
    page = parse_page(text)
    assert page.articles[-1].title == title
    assert page.articles[-1].section in (None, "体育")


def test_a_poems_repeated_words_are_no_running_heads() -> None:
    page = parse_page(
        "● 副刊\n\n春夜\n\n窗外的雨\n下呀下呀\n打湿了谁的梦\n远方远方\n有我的故乡\n\n□ 李红梅\n"
    )
    assert len(page.articles) == 1
    assert "下呀下呀" not in page.dropped and "远方远方" not in page.dropped


def test_who_says_what_under_a_kicker_is_a_headline_stack_not_fields() -> None:
    page = parse_page(
        f"{_STORY_A}聚焦全国两会\n\n代表：稳就业是头等大事\n委员：加大民生投入力度\n专家：经济长期向好\n\n"
        "本报讯（记者 林雨）全国两会期间，代表委员围绕就业、民生等话题建言献策。\n"
    )
    assert "代表：" not in page.articles[-1].body
    assert "代表：稳就业是头等大事" in (page.articles[-1].title or "")


@pytest.mark.parametrize(
    "stack",
    ["坚持人民至上\n坚持守正创新\n坚持问题导向", "张建国家庭\n李秀英家庭\n王大山家庭\n赵春梅家庭"],
)
def test_a_stack_of_subtitles_with_no_photo_is_no_caption_list(stack: str) -> None:
    page = parse_page(
        f"{_STORY_A}学习贯彻党的二十大精神\n以“三个坚持”指引新征程\n\n{stack}\n\n□ 张明远\n\n"
        "党的二十大报告深刻阐述了新时代坚持和发展中国特色社会主义的重大问题。\n"
    )
    assert page.articles[-1].captions == ()
    assert stack.split("\n")[0] in (page.articles[-1].subtitle or "")


def test_a_captions_last_words_over_a_photo_credit_are_no_name() -> None:
    page = parse_page(
        "城南梅园迎来赏梅高峰\n\n本报讯（记者 周远）近日，城南梅园\n的梅花竞相开放，吸引了大批市民前\n"
        "来观赏。据介绍，今年梅花花期比往\n年提前了一周左右。\n\n3月5日，市民在梅园赏梅。梅开正艳\n李四 摄\n"
    )
    assert "梅开正艳李四" not in page.articles[0].authors


def test_a_photo_inside_a_story_does_not_end_it() -> None:
    page = parse_page(
        "全市春季植树活动启动\n\n本报讯（记者 周远）3月12日上午，全市春季义务植树活动在城东生态公园启动，"
        "机关干部、志愿者和市民共500余人参加。\n\n"
        "志愿者在城东生态公园种植树苗，大家分工协作，挖坑、扶苗、培土、浇水，一派热火朝天的景象。"
        " 本报记者 林小河 摄\n\n\n"
        "据了解，今年全市计划新增造林面积3万亩，完成村庄绿化50个，新建城市公园12个，全市森林覆盖率将提高到45%以上。\n\n"
        "市林业局负责人表示，将加强苗木管护，确保栽一棵、活一棵。\n"
    )
    assert len(page.articles) == 1
    assert "据了解" in page.articles[0].body


def test_a_sentence_thanking_tipsters_is_the_storys_text() -> None:
    page = parse_page(
        "走失老人当晚平安回家\n\n本报讯（记者 林雨）12日晚，78岁的张大爷在城东走失，家人焦急万分。\n\n"
        "感谢热心市民提供线索，派出所为其颁发奖金500元。\n\n家属专程送来锦旗，向民警表示感谢。\n"
    )
    assert page.articles[0].notes == ()
    assert "颁发奖金500元" in page.articles[0].body


def test_a_headline_naming_a_qr_prompt_over_a_dateline_stays_a_headline() -> None:
    page = parse_page(
        f"{_STORY_A}扫码看直播\n\n本报讯（记者 林雨）昨天，我市首个“扫码看直播”农产品展销平台上线。\n"
    )
    assert [a.title for a in page.articles] == ["全市春季植树活动启动", "扫码看直播"]


def test_a_space_before_the_et_cetera_closing_a_bracket_is_the_wraps() -> None:
    page = parse_page(
        "城东新区规划公示\n\n本报讯（记者 林雨）昨天，城东新区规划方案公示，"
        "市民（读者 王先生 \n等）提出了意见。\n"
    )
    assert "王先生等" in page.articles[0].body


def test_a_narrow_page_printed_without_blank_lines_keeps_its_section_and_headlines() -> None:
    # One block as long as a page is no narrow column's paragraph: its lines are read one by one.
    def story(title: str, place: str) -> list[str]:
        opening = [title, f"本报讯（记者 周小川）{place}的居民今天迎来了", "新建成的社区服务中心，"]
        return opening + ["各个服务窗口同时开放，居民可以在", "这里办理社保、医保和户籍等事项。"] * 12

    page = parse_page(
        "\n".join(["城事", *story("青石镇社区服务中心开门", "青石镇"), *story("白沙乡便民站启用", "白沙乡")])
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("城事", "青石镇社区服务中心开门"),
        ("城事", "白沙乡便民站启用"),
    ]
    assert page.articles[1].body.startswith("白沙乡的居民今天迎来了新建成的社区服务中心，各个服务窗口")


@pytest.mark.parametrize("folio", ["", "青石日报 2026年5月6日 星期三\n第3版\n\n"])
def test_a_name_over_the_first_headline_in_its_block_is_the_pages_section(folio: str) -> None:
    # Over the page's first story (only its folio above) a name is the section of every story
    # after it; over a later headline it is a column's tag, that story's alone.
    page = parse_page(
        f"{folio}要闻\n青石镇开通夜班公交\n\n本报讯（记者 甲乙）近日，青石镇开通两条夜班公交线路。\n\n\n"
        "路边停车要守规矩\n\n本报讯（记者 周远）近来，老街两旁乱停车的现象屡见不鲜。\n\n\n"
        "话外音\n古桥修缮完工\n\n本报讯（记者 林雨）古桥修缮工程日前完工，将于下月开放。\n\n\n"
        "新桥今日通车\n\n本报讯（记者 王五）新桥今天正式通车，市民纷纷前来参观。\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("要闻", "青石镇开通夜班公交"),
        ("要闻", "路边停车要守规矩"),
        ("话外音", "古桥修缮完工"),
        ("要闻", "新桥今日通车"),
    ]


def test_a_headline_over_a_justified_dateline_stays_the_title() -> None:
    # A paragraph to a line, each spread to the column's width: the dateline's line opens a
    # paragraph, so the unspread headline over it is no wrap of it.
    page = parse_page(
        "青石镇开通夜班公交\n"
        "本 报 讯 （记 者 张 三）  昨 天 ， 青 石 镇 开 通 两 条 夜 班 公 交 线 路 。\n"
        "新 线 路 从 镇 政 府 出 发 ， 经 过 老 街 和 火 车 站 。\n"
        "夜 班 公 交 每 半 小 时 一 班 ， 票 价 两 元 。\n\n\n"
        "古桥修缮完工\n"
        "本 报 讯 （记 者 李 四）  古 桥 修 缮 工 程 日 前 完 工 。\n"
        "工 人 们 按 照 原 样 更 换 了 破 损 的 石 板 。\n"
    )
    assert [(a.title, a.authors) for a in page.articles] == [
        ("青石镇开通夜班公交", ("张三",)),
        ("古桥修缮完工", ("李四",)),
    ]
    assert page.articles[0].body.startswith("昨天，青石镇开通两条夜班公交线路。")


@pytest.mark.parametrize(("gap", "apart"), [("\n\n", "\n\n\n"), ("\n", "\n\n\n"), ("\n", "\n")])
def test_a_page_spreading_a_paragraph_to_each_line_keeps_its_paragraphs(gap: str, apart: str) -> None:
    # Every line spread to the column's width, each a paragraph ending a sentence: the lines are
    # paragraphs, not a narrow column's wraps (counted as set, each is no wider than a column's
    # line), and the unspread headline under the last one is no part of it.  A spread line stopping
    # mid-sentence still goes on into the next.
    page = parse_page(
        gap.join(
            [
                "青石镇开通夜班公交",
                "本 报 讯 （记 者 张 三） 昨 天 ， 青 石 镇 开 通 两 条 夜 班 公 交 线 路 。",
                "新 线 路 从 镇 政 府 出 发 ， 经 过 老 街 和 火 车 站 ， 终 点\n设 在 工 业 园 区 东 门 。",
                "夜 班 公 交 每 半 小 时 一 班 ， 票 价 两 元 。",
                "镇 里 的 职 工 说 ， 以 后 下 夜 班 回 家 方 便 多 了 ！",
                "“ 这 是 我 们 盼 了 很 久 的 好 事 。 ”",
            ]
        )
        + f"{apart}古桥修缮完工\n本 报 讯 （记 者 李 四） 古 桥 修 缮 工 程 日 前 完 工 。\n"
        "工 人 们 按 照 原 样 更 换 了 破 损 的 石 板 。\n"
    )
    first, second = page.articles
    assert (first.title, first.authors) == ("青石镇开通夜班公交", ("张三",))
    assert first.body.split("\n\n") == [
        "昨天，青石镇开通两条夜班公交线路。",
        "新线路从镇政府出发，经过老街和火车站，终点设在工业园区东门。",
        "夜班公交每半小时一班，票价两元。",
        "镇里的职工说，以后下夜班回家方便多了！",
        "“这是我们盼了很久的好事。”",
    ]
    assert (second.title, second.body.split("\n\n")) == (
        "古桥修缮完工",
        ["古桥修缮工程日前完工。", "工人们按照原样更换了破损的石板。"],
    )


def test_a_spread_line_ending_a_sentence_in_a_column_of_wraps_is_one_of_them() -> None:
    # A typesetter spreads a wrap, never a paragraph's last line: one spread line among unspread
    # ones goes on into the next, whatever it ends with.
    page = parse_page(
        "青石镇新建图书馆开放\n\n本报讯 青石镇新建的图书馆昨天正式对外开放，\n"
        "馆内藏书三万余册，设有少儿阅览区和自\n习 区 ， 开 放 首 日 来 了 很 多 市 民 。\n"
        "馆长说，今后还将定期举办读书分享会，\n欢迎大家常来看看。\n"
    )
    assert page.articles[0].body == (
        "青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区和自习区，"
        "开放首日来了很多市民。馆长说，今后还将定期举办读书分享会，欢迎大家常来看看。"
    )


def _column(text: str, width: int = 15) -> list[str]:
    """``text`` wrapped at ``width`` characters; a mark that cannot open a line hangs at the end
    of the line above."""
    lines: list[str] = []
    start = 0
    while start < len(text):
        end = start + width
        while end < len(text) and text[end] in "，。、；：！？”）":
            end += 1
        lines.append(text[start:end])
        start = end
    return lines


def _run_together(stories: list[tuple[str, ...]], under: dict[str, str] | None = None) -> list[str]:
    """A narrow page printed without blank lines: the section 城事, then each story's headline and
    its paragraphs wrapped in a column; ``under`` gives a line printed under a story (its credit)."""
    lines = ["城事"]
    for title, *paragraphs in stories:
        lines.append(title)
        for paragraph in paragraphs:
            lines.extend(_column(paragraph))
        lines.extend([under[title]] if under and title in under else [])
    return lines


def test_a_narrow_page_printed_without_blank_lines_keeps_its_wraps_joined() -> None:
    # A page-long block of a wrapped column: a line filling the column mid-sentence goes on into
    # the next, so a credit the wrap cut stays whole and no wrap is read as a headline.
    stories = [
        (
            "青石镇开通夜班公交",
            "本报讯（记者 周小川）昨天晚上，青石镇开通了两条夜班公交线路，方便在工业园区上夜班的职工回家。",
            "新线路从镇政府出发，经过老街和火车站，终点设在工业园区的东门，全程大约十五公里。",
            "据镇交通办负责人介绍，夜班公交每半小时发一班车，票价两元，乘客可以刷卡或者扫码乘车。",
        ),
        (
            "古桥修缮工程完工",
            "本报讯（记者 林雨）经过一年多的施工，青石镇的明代古桥修缮工程日前完工，将于下月起向游客开放。",
            "修缮期间，工人们按照原样更换了部分破损的石板和栏杆，桥面也重新做了防水处理。",
            "修好以后镇里还将在桥头立一块石碑介绍古桥的历史和这次修缮的经过。",
        ),
        (
            "白沙乡举办农民丰收节",
            "本报讯（记者 王五 通讯员 赵六）金秋时节，白沙乡在村文化广场举办农民丰收节，"
            "吸引了周边上千名群众参加。",
            "活动现场，农户们摆出了自家种的大米、红薯和柑橘，来往的游客边品尝边选购，十分热闹。",
            "乡里还组织了插秧比赛和农具展览，让孩子们了解农耕文化，体验劳动的乐趣。",
        ),
        (
            "老街菜市场完成改造",
            "本报讯（记者 孙七）近日，老街菜市场完成了为期三个月的改造，重新向市民开放。",
            "改造后的市场增加了停车位，摊位也按照蔬菜、肉类和水产分区摆放，地面干净整洁。",
            "市场管理处表示，今后将每天抽检蔬菜的农药残留，让市民买得放心、吃得安心。",
        ),
    ]
    lines = _run_together(stories, {"古桥修缮工程完工": "本报记者 林雨 摄"})
    assert len(lines) > 40
    page = parse_page("\n".join(lines))
    assert [(a.section, a.title) for a in page.articles] == [("城事", title) for title, *_ in stories]
    assert page.articles[1].body.endswith("修好以后镇里还将在桥头立一块石碑介绍古桥的历史和这次修缮的经过。")
    assert page.articles[2].authors == ("王五", "赵六")
    assert page.articles[2].body.startswith("金秋时节，白沙乡在村文化广场举办农民丰收节，")


def test_a_page_long_roll_of_names_is_the_text_under_its_headline() -> None:
    # A block of over 40 lines with no full stop sets no column: a listing, an entry to a line,
    # never a run of headlines (the first line the title, the rest its subtitle, no text).
    surnames, given = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许", "建国秀英志强海燕德明"
    names = [s + given[2 * (k % 5) : 2 * (k % 5) + 2] for k, s in enumerate(surnames * 2)]
    roll = [f"{name}　青石镇第{k % 6 + 1}小学" for k, name in enumerate(names)]
    roll.append("白沙乡中心小学")
    page = parse_page(
        "教育\n\n青石镇表彰优秀乡村教师名单\n\n"
        + "\n".join(roll)
        + "\n\n\n白沙乡新建两所幼儿园\n\n"
        + "本报讯（记者 林雨）今年白沙乡将新建两所公办幼儿园，可提供学位四百个。\n"
    )
    first, second = page.articles
    assert (first.section, first.title, first.subtitle) == ("教育", "青石镇表彰优秀乡村教师名单", None)
    assert first.body.split("\n\n") == [line.replace("　", " ") for line in roll]
    assert (second.title, second.authors) == ("白沙乡新建两所幼儿园", ("林雨",))


def test_a_page_long_poem_without_full_stops_is_its_text() -> None:
    verses = ["江水向东流", "山花映日红", "村口老槐树", "年年等人归"] * 11
    page = parse_page("副刊\n\n故乡的河\n\n" + "\n".join(verses) + "\n")
    (poem,) = page.articles
    assert (poem.title, poem.subtitle) == ("故乡的河", None)
    assert poem.body.split("\n\n") == verses


def test_a_spread_line_opening_with_a_closing_quote_goes_on_with_the_line_above() -> None:
    # Every line spread, and the export wraps without hanging punctuation: the closing quote of a
    # sentence ending a line opens the next one, which is no paragraph of its own.
    page = parse_page(
        "青 石 镇 图 书 馆 开 放\n\n"
        "本 报 讯 （记 者 林 雨） 近 日 ， 青 石 镇\n"
        "图 书 馆 正 式 开 放 ， 馆 长 说 ： “ 欢 迎\n"
        "大 家 常 来 看 书 。\n"
        "” 开 馆 首 日 来 了 三 百 多 位 读 者 。\n"
    )
    assert page.articles[0].body == (
        "近日，青石镇图书馆正式开放，馆长说：“欢迎大家常来看书。”开馆首日来了三百多位读者。"
    )


@pytest.mark.parametrize("top", ["城 事\n\n", "城　事\n\n", "城 事\n"])
def test_a_spaced_section_name_over_the_first_headline_is_the_section(top: str) -> None:
    # A two-character section name padded to the width of three is shaped as a padded personal
    # name (李 涛), but over the page's first headline it names the page's section.
    page = parse_page(
        top + "青石镇开通夜班公交\n\n本报讯（记者 周远）昨天，青石镇开通两条夜班公交线路。\n\n\n"
        "古桥修缮完工\n\n本报讯（记者 林雨）青石镇的明代古桥修缮工程日前完工。\n"
    )
    assert [(a.section, a.title, a.authors) for a in page.articles] == [
        ("城事", "青石镇开通夜班公交", ("周远",)),
        ("城事", "古桥修缮完工", ("林雨",)),
    ]


def test_a_short_narrow_page_printed_without_blank_lines_keeps_its_headlines_and_paragraphs() -> None:
    # Under 40 lines, yet a headline between finished text and a dateline tells stories run
    # together: the section, the headlines and the paragraphs' ends stay lines of their own.
    stories = [
        (
            "青石镇开通夜班公交",
            "本报讯（记者 周小川）昨天晚上，青石镇开通了两条夜班公交线路。",
            "据镇交通办介绍，夜班公交每半小时发一班车，票价两元。",
        ),
        (
            "古桥修缮工程完工",
            "本报讯（记者 林雨）青石镇的明代古桥修缮工程日前完工，下月开放。",
            "修缮期间，工人们按照原样更换了部分破损的石板和栏杆。",
        ),
    ]
    lines = _run_together(stories)
    assert len(lines) < 20
    page = parse_page("\n".join(lines))
    assert [(a.section, a.title) for a in page.articles] == [("城事", title) for title, *_ in stories]
    assert page.articles[0].body.split("\n\n") == [
        "昨天晚上，青石镇开通了两条夜班公交线路。",
        "据镇交通办介绍，夜班公交每半小时发一班车，票价两元。",
    ]
    assert page.articles[1].body.split("\n\n")[1] == "修缮期间，工人们按照原样更换了部分破损的石板和栏杆。"


def _wrapped(text: str, width: int = 24) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


_FIRST_STORY = _wrapped(
    "本报讯（记者 甲乙）青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处。"
    "公园里种满了月季和海棠，每到傍晚都有不少老人带着孩子来这里玩耍，热闹非凡。"
)
_SECOND_LEAD = _wrapped(
    "这几天，东岭村的红薯迎来丰收，村民们忙着采挖、分拣和装车，一派繁忙景象。"
    "今年全村种植红薯三百多亩，预计总产量可达一千余吨，产值比去年明显提高。"
)


def test_a_headline_stopping_short_of_the_column_opens_a_story_without_a_dateline() -> None:
    # Single blank lines part paragraphs and stories alike, lines wrap at 24 characters; the
    # second story prints no dateline and no byline.  A line of 13 characters after a finished
    # paragraph is no paragraph's first line a column break cut off (that would fill the
    # column): it is a headline.
    for title in ("东岭村红薯喜获丰收销路更畅", "秋收时节东岭村的红薯堆成山"):
        page = parse_page(f"青石镇建成三座口袋公园\n\n{_FIRST_STORY}\n\n{title}\n\n{_SECOND_LEAD}\n")
        assert [a.title for a in page.articles] == ["青石镇建成三座口袋公园", title]
        assert page.articles[0].body.endswith("热闹非凡。")
        assert page.articles[1].body.startswith("这几天，东岭村")
    # A line filling the column, running on mid-sentence into the block under it, is a
    # paragraph's first line a column break parted from the rest; a line as short as a
    # crosshead (居民点赞新公园) stays in its story.
    lead = "这几天，东岭村的红薯迎来丰收，村民们忙着采挖分拣和装车，一派繁忙景象。"
    for middle in (f"{lead[:22]}\n\n{lead[22:]}", f"居民点赞新公园\n\n{lead}"):
        page = parse_page(f"青石镇建成三座口袋公园\n\n{_FIRST_STORY}\n\n{middle}\n")
        assert [a.title for a in page.articles] == ["青石镇建成三座口袋公园"]
        assert page.articles[0].body.endswith("一派繁忙景象。")


_NARROW_STORY = "\n".join(
    (
        "近年来，青石县坚持农业优先发展，以一",
        "村一品为抓手，做优做强茶叶、板栗等",
        "特色农产品，强化龙头企业带动，发展",
        "农产品深加工和观光农业，全力推进农",
        "民增收致富。 记者 甲乙 摄",
    )
)


def test_three_full_lines_with_no_mark_under_a_headline_are_captions_not_a_wrapped_paragraph() -> None:
    # In a column of 18 characters, captions of 15 fill their lines as wraps would; prose puts a
    # comma in every line or two, so three lines with no mark at all are a list.
    captions = ["东岭村茶园里茶农忙碌采茶的身影", "白沙乡板栗基地迎来丰收好年景"]
    captions.append("风景如画的青石湖万亩油菜花海")
    page = parse_page("青石县特色农业结硕果\n\n" + "\n".join(captions) + f"\n\n{_NARROW_STORY}\n")
    article = page.articles[-1]
    assert article.title == "青石县特色农业结硕果"
    paras = article.body.split("\n\n")
    assert paras[:3] == captions and paras[3].startswith("近年来")


def test_a_list_longer_than_a_subtitle_stack_under_a_headline_is_captions_without_a_credit() -> None:
    # Six places a line each under the headline, the story printing no photographer: a stack of
    # subtitles never runs this long, so they caption the page's pictures.
    places = ["东岭村油菜花田", "白沙乡梨园", "青石湖畔", "城南梅园长廊", "老街灯笼巷", "北山茶园"]
    page = parse_page(
        f"{_STORY_A}春到青石 处处如画\n\n" + "\n".join(places) + "\n\n□ 张明远\n\n"
        "春分过后，青石县各地花开正盛，吸引了大批游客前来踏青赏花。\n"
    )
    article = page.articles[-1]
    assert article.title == "春到青石 处处如画"
    assert article.body.split("\n\n")[: len(places)] == places


def test_a_roundups_name_over_an_untitled_item_mid_page_is_the_section() -> None:
    # 快讯 alone between a finished story and an untitled item: the column the item and the
    # stories after it stand in, neither the item's headline nor a line of its text.
    page = parse_page(
        "教育\n\n青石小学开展读书月活动\n\n本报讯（记者 甲乙）青石小学近日开展读书月活动，师生共读经典。\n\n"
        "快讯\n\n城东新桥昨日正式通车，市民出行更加便捷，沿线交通压力明显缓解。（周远）\n\n"
        "古桥修缮完工\n\n本报讯（记者 林雨）古桥修缮工程日前完工，将于下月开放。\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("教育", "青石小学开展读书月活动"),
        ("快讯", None),
        ("快讯", "古桥修缮完工"),
    ]
    assert page.articles[1].body.startswith("城东新桥") and page.articles[1].authors == ("周远",)


def test_a_line_over_fields_signed_by_a_credit_is_their_headline_after_a_finished_story() -> None:
    # Single blank lines part everything; the line over 时间：/地点： with the photographer's
    # field under them heads an item of its own, not a line of the story above.
    page = parse_page(
        "青石小学开展读书月活动\n\n本报讯（记者 甲乙）青石小学近日开展读书月活动，师生共读经典。\n\n"
        "随手拍\n\n时间：3月6日上午\n地点：城东广场\n拍摄者：本报记者 周远\n\n"
        "城东广场的花坛里，几位志愿者正在清理垃圾，引得路人纷纷点赞。\n"
    )
    assert [(a.title, a.authors) for a in page.articles] == [
        ("青石小学开展读书月活动", ("甲乙",)),
        ("随手拍", ("周远",)),
    ]
    assert page.articles[0].body.endswith("共读经典。")


def test_a_headline_stack_set_apart_after_a_finished_paragraph_opens_a_story() -> None:
    # A kicker, a headline and a subtitle in a block of their own between paragraphs, single
    # blank lines throughout and no dateline under them, sharing words with the lead below: a
    # new story, not lines of the one above.
    stack = "红薯熟了吗？\n东岭村迎来红薯丰收年\n村民采挖装车忙？"
    page = parse_page(f"青石镇建成三座口袋公园\n\n{_FIRST_STORY}\n\n{stack}\n\n{_SECOND_LEAD}\n")
    assert len(page.articles) == 2
    assert "东岭村迎来红薯丰收年" in (page.articles[1].title or "")
    assert page.articles[0].body.endswith("热闹非凡。")
    assert page.articles[1].body.startswith("这几天，东岭村")


def test_a_column_of_42_characters_is_a_wrapped_column_too() -> None:
    # Lines wrapped at 42 characters are still a column's wraps, not a paragraph to a line: the
    # headline of 14 characters under a finished paragraph stops well short of it.
    first = _wrapped(_FIRST_STORY.replace("\n", "") * 2, 42)
    lead = _wrapped(_SECOND_LEAD.replace("\n", "") * 2, 42)
    page = parse_page(f"青石镇建成三座口袋公园\n\n{first}\n\n东岭村：红薯喜获丰收采挖正忙\n\n{lead}\n")
    assert [a.title for a in page.articles] == ["青石镇建成三座口袋公园", "东岭村：红薯喜获丰收采挖正忙"]


def test_a_roundups_name_under_a_story_that_jumps_to_another_page_is_the_section() -> None:
    # The story above ends on its jump note, not a full stop: 快讯 under it is no column logo
    # dropped from a sentence but the column of the item under it.
    page = parse_page(
        "教育\n\n青石小学开展读书月活动\n\n本报讯（记者 甲乙）青石小学近日开展读书月活动，师生共读经典。"
        "（下转第4版）\n\n快讯\n\n城东新桥昨日正式通车，市民出行更加便捷，沿线交通压力明显缓解。（周远）\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("教育", "青石小学开展读书月活动"),
        ("快讯", None),
    ]


def test_a_short_line_with_a_comma_on_a_page_of_wide_gaps_is_a_cut_paragraph_not_a_crosshead() -> None:
    # Stories two blank lines apart, paragraphs one: a column break left 在城东公园、青石 on its
    # own after a finished paragraph.  A crosshead is a phrase; the enumeration comma says the
    # sentence runs on into the block under it.
    page = parse_page(
        "青石镇建成口袋公园\n\n本报讯（记者 甲乙）青石镇今年新建了三座口袋公园。\n\n"
        "在城东公园、青石\n\n湖公园和南山公园，周边居民散步休闲有了好去处。\n\n\n"
        "古桥修缮完工\n\n本报讯（记者 林雨）古桥修缮工程日前完工，将于下月开放。\n"
    )
    assert [a.title for a in page.articles] == ["青石镇建成口袋公园", "古桥修缮完工"]
    assert "在城东公园、青石湖公园和南山公园" in page.articles[0].body
