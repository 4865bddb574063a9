"""General rules the layout remix (``benchmarks/parse_remix.py``) showed missing: how headlines,
credits and text are told apart whatever the page's layout.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

from digest.paper.bylines import parse_credits
from digest.paper.parse import parse_page


@pytest.mark.parametrize(
    "text",
    [
        "这几天，晚报摄影记者林小河每",  # a paragraph's first line, wrapped inside a word
        "城南小区 杂物堆满楼道T晚报记者 周远",  # a headline run into the byline under it
    ],
)
def test_words_before_the_first_role_that_no_mark_credits_are_no_names(text: str) -> None:
    assert parse_credits(text) is None


def test_a_headline_over_its_byline_in_one_block_stays_the_headline() -> None:
    page = parse_page(
        "第3版 城市\n\n城南小区 杂物堆满楼道\nT晚报记者 周远\n"
        "晚报讯 昨日上午，记者来到城南小区，看到楼道里堆满了旧家具和纸箱，居民进出十分不便。\n\n"
        "物业表示，将在本周内组织清理，并在每栋楼前张贴告示，提醒业主不要乱堆乱放。\n"
    )
    (article,) = page.articles
    assert article.title == "城南小区 杂物堆满楼道"
    assert [c.name for c in article.credits] == ["周远"]


def test_a_wrapped_line_about_a_reporter_is_text_not_a_credit() -> None:
    page = parse_page(
        "第3版 城市\n\n河边步道重新开放\n\n"
        "晚报讯 经过三个月的整修，城东河边\n步道昨日重新开放，沿途新增了路灯和\n座椅，市民纷纷前来散步。\n\n"
        "这几天，晚报摄影记者林小河每\n天都在步道上拍摄。据他观察，傍晚\n时分游人最多，不少市民带着孩子来\n"
        "这里放风筝。\n"
    )
    (article,) = page.articles
    assert not article.credits
    assert "林小河每天都在步道上拍摄" in article.body


_CHERRY = (
    "本报讯（周远）昨天，青石湖公园的樱花迎来盛花期，湖边游人如织，不少市民带着家人前来赏花拍照。\n\n"
    "公园管理处表示，樱花花期预计持续到下周末，请游客文明赏花，不要攀折花枝。\n\n"
    "樱花盛开，游人如织\n\n"
)
_SORTING = (
    "8月4日上午，城北社区在文化广场举办垃圾分类宣传活动，居民踊跃参加。\n\n"
    "活动现场，志愿者为居民讲解分类知识，并发放了宣传手册和分类垃圾袋。\n\n"
)


@pytest.mark.parametrize(
    "credit",
    [
        "记者 林雨 吴一\n通讯员 陈晨\n",  # a role to a line: the credit ends with its last line
        "本报记者 林雨 本报通讯员 陈晨 摄\n",  # a reporter beside the photographer is a writer
    ],
)
def test_a_headline_between_stories_signed_by_different_reporters_closes_the_first(credit: str) -> None:
    # Headline-last, single blank lines: the comma in the first headline says little, the credit
    # under the second story's text says another reporter wrote it.
    page = parse_page(_CHERRY + _SORTING + credit + "\n城北社区 垃圾分类进万家\n")
    assert [a.title for a in page.articles] == ["樱花盛开，游人如织", "城北社区 垃圾分类进万家"]
    assert [c.name for c in page.articles[0].credits] == ["周远"]
    assert "周远" not in [c.name for c in page.articles[1].credits]


def test_a_lead_opening_with_a_full_date_tells_the_headline_over_it() -> None:
    # A quotation in a line between two paragraphs is weak evidence of a headline; a paragraph
    # opening with a date, the year too (2023年5月6日，…), as leads do, adds to it.
    page = parse_page(
        "本报讯（记者 周远）青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，设有少儿阅览区。\n\n"
        "馆长说，今后还将定期举办读书分享会，欢迎市民常来看看。\n\n别让“僵尸车”挡了路\n\n"
        "2023年5月6日，城西一小区内停放多年的废旧车辆被集中拖走，居民出行方便了不少。\n\n"
        "社区工作人员介绍，这些车辆长期无人认领，占用了公共车位。\n"
    )
    assert [a.title for a in page.articles] == [None, "别让“僵尸车”挡了路"]


def test_a_column_break_under_a_marked_headline_leaves_the_first_line_in_the_text() -> None:
    # The line under the second headline fills the column and runs on at a comma: the text's
    # first line, parted from the rest by a column break, never the headline's subtitle.
    page = parse_page(
        "## 青石湖畔樱花开\n\n本报讯 昨天，青石湖公园的樱花迎来\n盛花期，湖边游人如织，不少市民带着\n"
        "家人前来赏花拍照。公园管理处表示，\n樱花花期预计持续到下周末。\n\n"
        "## 城北社区垃圾分类进万家\n\n2023年5月6日，城北社区在文化广\n\n场举办垃圾分类宣传活动，居民踊跃参\n"
        "加。志愿者为居民讲解分类知识，并发\n放了宣传手册和分类垃圾袋。\n"
    )
    assert [a.title for a in page.articles] == ["青石湖畔樱花开", "城北社区垃圾分类进万家"]
    assert page.articles[1].body.startswith("2023年5月6日，城北社区在文化广场举办")


def test_a_long_line_with_clauses_cut_off_by_a_column_break_is_no_headline() -> None:
    # The block under the crosshead is a paragraph's first lines, a column break after them:
    # over 30 characters with two commas, prose, whether or not it stands alone.
    page = parse_page(
        "青石镇图书馆开放\n\n本报讯（记者 周远）青石镇新建的图书\n馆昨天正式对外开放，馆内藏书三万余\n"
        "册，设有少儿阅览区和自习室。\n\n少儿天地\n\n走进少儿阅览区，书架上摆满了绘本，\n"
        "不少家长正陪着孩子在这里读书，也有\n\n孩子趴在软垫上安静地翻看图画书。馆\n员说，周末的人还要更多一些。\n"
    )
    (article,) = page.articles
    assert article.title == "青石镇图书馆开放"
    assert article.section is None
    assert "在这里读书，也有孩子趴在软垫上" in article.body


_LIBRARY = "城东新开一座图书馆\n\n本报讯 城东图书馆昨日开馆，市民排队入馆借书。馆内设有少儿阅览区。\n\n\n"
_OLD_STREET = "青石板路修补一新\n\n本报讯 经过半年改造，城西老街日前重新开放。沿街的老字号也陆续开门迎客。\n"
_NOTE_TEXT = "老街是一座城市的记忆。从今天起，本报推出栏目，讲述老街改造中的故事。"


@pytest.mark.parametrize("label", ["编者按 ", "编者按　", "编者按："])
def test_an_editors_note_is_read_after_a_space_as_after_a_colon(label: str) -> None:
    page = parse_page(_LIBRARY + label + _NOTE_TEXT + "\n\n" + _OLD_STREET)
    assert [a.title for a in page.articles] == ["城东新开一座图书馆", "青石板路修补一新"]
    (note,) = page.articles[1].notes
    assert note.endswith(_NOTE_TEXT)
    assert _NOTE_TEXT not in page.articles[1].body


@pytest.mark.parametrize("label", ["编者按 ", "编者按："])
def test_an_editors_note_over_a_column_name_over_a_headline_is_the_story_unders(label: str) -> None:
    page = parse_page(_LIBRARY + label + _NOTE_TEXT + "\n\n老街新事\n\n" + _OLD_STREET)
    library, street = page.articles
    assert not library.notes
    assert street.title == "青石板路修补一新"
    assert [n[-len(_NOTE_TEXT) :] for n in street.notes] == [_NOTE_TEXT]


@pytest.mark.parametrize("label", ["编者按 ", "编者按："])
def test_an_editors_note_over_a_photo_storys_captions_is_its_text(label: str) -> None:
    page = parse_page(
        "河谷秋色\n\n" + label + "秋风起，河谷里的庄稼熟了。本报记者走进河谷各村，记录下农家收获的\n\n"
        "忙碌与喜悦。\n\n稻田里，收割机来回穿梭。 本报记者 林小河 摄\n\n"
        "果园里，果农忙着采摘苹果。 本报记者 丙丁 摄\n"
    )
    (story,) = page.articles
    assert story.body.endswith("记录下农家收获的忙碌与喜悦。")  # one note, the column break mended
    assert not story.notes
    assert [c.text for c in story.captions] == ["稻田里，收割机来回穿梭。", "果园里，果农忙着采摘苹果。"]


def test_numbered_items_in_a_wrapped_column_are_paragraphs_of_their_own() -> None:
    # Short items under their lead-in look like wraps; a number opening a line after a colon, a
    # semicolon or a full stop starts an item.
    page = parse_page(
        "城东社区部署防汛工作\n\n本报讯 昨日，城东社区召开防汛工作会议，要求各\n小区做好以下工作：\n"
        "一、加强对低洼地段的巡查；\n二、备足沙袋和抽水设备。\n\n社区提醒居民注意：\n1.雨天尽量减少外出。\n"
        "2.不要在河边逗留。\n"
    )
    (article,) = page.articles
    assert article.body.split("\n\n") == [
        "昨日，城东社区召开防汛工作会议，要求各小区做好以下工作：",
        "一、加强对低洼地段的巡查；",
        "二、备足沙袋和抽水设备。",
        "社区提醒居民注意：",
        "1.雨天尽量减少外出。",
        "2.不要在河边逗留。",
    ]


def test_a_numbered_item_under_its_lead_in_is_a_paragraph_where_each_prints_on_a_line() -> None:
    lead = "昨日，城东社区召开防汛工作会议，社区主任通报了近期的天气形势，要求各小区物业和楼长做好以下工作："
    item = "一、加强对低洼地段、地下车库和老旧房屋的巡查，发现险情第一时间上报社区值班室。"
    page = parse_page(f"城东社区部署防汛工作\n\n本报讯 {lead}\n{item}\n")
    (article,) = page.articles
    assert article.body.split("\n\n") == [lead, item]


@pytest.mark.parametrize("line", ["1.5亿元资金已拨付到位。", "二、三产业融合发展。"])
def test_a_number_that_opens_no_item_goes_on_with_the_wrap(line: str) -> None:
    page = parse_page(f"城东新区建设提速\n\n本报讯 今年以来，城东新区各项工程进展顺利。\n{line}\n")
    (article,) = page.articles
    assert "\n" not in article.body


_ONE_PER_LINE = (
    "城北老街完成改造\n\n本报讯 经过半年施工，城北老街日前完成改造，青石板路修补一新，"
    "沿街的二十多家老字号也陆续开门迎客。\n\n"
    "家住老街的张大爷说，路平了，灯亮了，晚上出来走走也放心，孙子周末也愿意回来看看了。\n\n"
)


def test_a_headline_over_undated_text_where_each_paragraph_prints_on_a_line_opens_a_story() -> None:
    # No column to fall short of: a line alone after a finished paragraph, longer than a crosshead
    # and with no clause mark in it, was set there, never cut off the text under it.
    page = parse_page(
        _ONE_PER_LINE + "社区食堂开进老城区的小巷深处\n\n"
        "家住老城区的王阿姨每天中午都到社区食堂吃饭，三菜一汤只要十二元，味道也合老人的口味。\n"
    )
    assert [a.title for a in page.articles] == ["城北老街完成改造", "社区食堂开进老城区的小巷深处"]
    assert page.articles[1].body.startswith("家住老城区的王阿姨")


def test_a_line_a_column_break_cut_off_where_each_paragraph_prints_on_a_line_goes_on() -> None:
    page = parse_page(
        _ONE_PER_LINE + "社区工作人员介绍，老街改造\n\n后还将引进几家特色小店，让老街热闹起来。\n\n"
        "改造中发现的古井王家的旧宅位于\n\n老街东头，将作为街区的展示馆对外开放。\n"
    )
    (article,) = page.articles
    assert "老街改造后还将引进" in article.body
    assert "王家的旧宅位于老街东头" in article.body


_INDENTED = (
    "青石镇图书馆开放\n\n　　本报讯（记者 周远）青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，\n\n"
    "设有少儿阅览区和自习室，开馆第一天就迎来了上千名读者，不少人排队办理借书证。\n\n"
)


@pytest.mark.parametrize(
    "text",
    [
        # a column of 18 characters: the crosshead stops well short of it
        "青石镇图书馆开放\n\n本报讯（记者 周远）青石镇新建的图书\n馆昨天正式对外开放，馆内藏书三万余\n"
        "册，设有少儿阅览区和自习室。\n\n少儿阅览区\n\n走进少儿阅览区，书架上摆满了绘本，\n"
        "不少家长正陪着孩子在这里读书。\n",
        # (a guard) a paragraph to a line, indented (a column break leaves one's rest unindented): the
        # crosshead is not indented, the paragraph under it is
        _INDENTED + "少儿阅览区\n\n　　走进少儿阅览区，书架上摆满了绘本，不少家长正陪着孩子在这里读书。\n",
        # a paragraph to a line, nothing indented: the sentence under the crosshead repeats it
        "青石镇图书馆开放\n\n本报讯（记者 周远）青石镇新建的图书馆昨天正式对外开放，馆内藏书三万余册，"
        "设有少儿阅览区和自习室，开馆第一天就迎来了上千名读者。\n\n少儿阅览区\n\n"
        "走进少儿阅览区，书架上摆满了绘本，不少家长正陪着孩子在这里读书。\n",
    ],
)
def test_a_short_crosshead_after_a_finished_paragraph_on_a_page_of_single_blanks_stays_apart(
    text: str,
) -> None:
    (article,) = parse_page(text).articles
    assert article.title == "青石镇图书馆开放"
    assert "\n\n少儿阅览区\n\n走进少儿阅览区" in article.body


def test_a_short_stub_the_sentence_under_it_names_in_part_goes_on_where_each_paragraph_prints_on_a_line() -> (
    None
):
    # The rest of the sentence says 王先生 again, but not most of the stub: no crosshead's repeat.
    page = parse_page(
        _ONE_PER_LINE + "王先生说自己从小在这里\n\n长大，看着老街一天天变样，王先生心里特别高兴。\n"
    )
    (article,) = page.articles
    assert "从小在这里长大" in article.body


def test_a_short_stub_a_column_break_cut_off_an_indented_paragraph_goes_on() -> None:
    page = parse_page(
        _INDENTED + "　　馆长介绍说今后还将\n\n定期举办读书分享会，欢迎市民常来看看，也欢迎捐赠图书。\n"
    )
    (article,) = page.articles
    assert "今后还将定期举办" in article.body


def test_a_headline_and_byline_in_a_paragraphs_block_set_no_column() -> None:
    # The paragraph under them is printed whole, far wider than their lines: no column.
    page = parse_page(
        "小长假景区客流大增 交警全员上路\n城市晚报记者 周远 通讯员 林雨\n"
        "昨日是小长假第一天，前往城南景区的市民大幅增多，上午十一时左右，景区周边道路人流和车流均达到峰值。\n\n"
        + _ONE_PER_LINE
        + "社区食堂开进老城区的小巷深处\n\n"
        "家住老城区的王阿姨每天中午都到社区食堂吃饭，三菜一汤只要十二元，味道也合老人的口味。\n"
    )
    assert [a.title for a in page.articles][-1] == "社区食堂开进老城区的小巷深处"


def test_a_quoted_leads_first_line_a_column_break_left_alone_is_no_headline() -> None:
    # Stories parted by wide gaps; a column break leaves the lead's first line, which opens a
    # quotation with commas in it, alone under the headline.  The sentence under it closes the
    # quotation: no headline prints a quotation another line's sentence closes.
    page = parse_page(
        "第3版 城市\n\n\n古桥修缮完工\n\n"
        "本报讯（记者 周远）城南古桥修缮工程日前完工，这座建于清代的石\n"
        "拱桥将于下月重新向游人开放，市民纷纷前来参观。\n\n\n"
        "冬日里的暖心事\n\n"
        "“天冷了骑车手特别凉，社区给我们送来了手套，真\n\n"
        "是太贴心了。”日前，青石社区为辖区的外卖骑手送去了\n"
        "两百副手套和一批热饮，让他们在寒冬里感受到温暖。\n\n"
        "社区负责人说，今后还将为骑手们设立爱心驿站。\n"
    )
    assert [a.title for a in page.articles] == ["古桥修缮完工", "冬日里的暖心事"]
    assert page.articles[1].section == "城市"
    assert page.articles[1].body.startswith("“天冷了骑车手特别凉，社区给我们送来了手套，真是太贴心了。”")
