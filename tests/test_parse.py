"""The parser on invented pages, one newspaper convention at a time.

Every page here is made up for the test (fictional places and people); the
real seed pages are scored separately in test_parse_seeds.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from digest.paper.bylines import parse_credits
from digest.paper.parse import parse_page
from digest.paper.textnorm import full_width_punctuation
from digest.types import Credit, Kind


def only(text: str):  # type: ignore[no-untyped-def]
    page = parse_page(text, "t.txt")
    assert len(page.articles) == 1, [a.title for a in page.articles]
    return page.articles[0]


def test_markdown_page_sections_headlines_bylines_datelines() -> None:
    page = parse_page(
        "● 山城\n\n# 青石镇开通夜班公交\n\n□ 本报记者 林小河\n\n"
        "近日,青石镇开通两条夜班公交线路。\n\n线路覆盖车站和医院。\n\n"
        "● 速写\n\n## 古桥修缮完工\n\n本报3月5日讯 (记者 周远)古桥修缮工程日前完工。\n\n"
        "**编辑有话说:** 老桥新生,值得点赞。\n\n"
        "## 河畔图书角开放\n\n本报北岭3月5日电(见习记者 吴一 通讯员 郑二)河畔图书角开放。\n",
        "p.txt",
    )
    a, b, c = page.articles
    assert (a.section, a.title, a.authors, a.date) == ("山城", "青石镇开通夜班公交", ("林小河",), None)
    assert a.body == "近日，青石镇开通两条夜班公交线路。\n\n线路覆盖车站和医院。"
    assert (b.section, b.title, b.authors, b.date) == ("速写", "古桥修缮完工", ("周远",), "03-05")
    assert b.body == "古桥修缮工程日前完工。"
    assert b.notes == ("编辑有话说：老桥新生，值得点赞。",)
    assert b.dateline == "本报3月5日讯 (记者 周远)"
    assert (c.section, c.place, c.authors) == ("速写", "北岭", ("吴一", "郑二"))
    assert [x.role for x in c.credits] == ["见习记者", "通讯员"]
    assert "**" not in "".join(x.body for x in page.articles)


def test_wrapped_lines_and_column_breaks_are_joined() -> None:
    article = only(
        "# 标题一则\n\n本报讯(记者 甲乙)第一段讲到一半,\n\n被分栏切开的后半句。\n\n"
        "第二段在行\n中折行,也要接上。\n"
    )
    assert article.body == "第一段讲到一半，被分栏切开的后半句。\n\n第二段在行中折行，也要接上。"


def test_justification_spaces_removed_between_chinese_characters() -> None:
    article = only("# 标 题 也 有 空 格\n\n本 期 读 书 会 以 学 习 为 主 题。2023 年 10月 18日举行。\n")
    assert article.title == "标题也有空格"
    assert article.body == "本期读书会以学习为主题。2023年10月18日举行。"


def test_space_between_phrases_is_kept() -> None:
    article = only("# 绿水青山 金山银山\n\n“艺美山城 青石讲坛”开讲。\n")
    assert article.title == "绿水青山 金山银山"
    assert "“艺美山城 青石讲坛”" in article.body


def test_headlines_printed_after_their_articles() -> None:
    page = parse_page(
        "本报北岭 5月 2日电 （记者\n林小河）北岭市的樱桃园迎来采摘季，\n果农忙着装箱。\n\n"
        "樱桃园里人头攒动，樱桃采摘季带动了乡村旅游。\n\n"
        "北岭樱桃迎来采摘季\n\n"
        "本报5月2日讯 （记者 周远）南湾渔港的休渔期结束，\n渔船陆续出海。\n\n"
        "渔港码头一片繁忙，渔民说今年渔港收成可期。\n\n"
        "南湾渔港渔船出海\n"
    )
    titles = [a.title for a in page.articles]
    assert titles == ["北岭樱桃迎来采摘季", "南湾渔港渔船出海"]
    first, second = page.articles
    assert first.authors == ("林小河",) and first.date == "05-02" and first.place == "北岭"
    assert first.body.startswith("北岭市的樱桃园迎来采摘季，果农忙着装箱。")
    assert second.authors == ("周远",) and second.body.endswith("今年渔港收成可期。")


def test_vertical_headline_and_byline() -> None:
    page = parse_page(
        "本报讯（记者 甲乙）第一篇的正文在这里。\n\n第一篇的结尾。\n\n第一篇的标题\n\n"
        "诗朗诵里的乡愁绵长，乡愁在诗朗诵中一遍遍回响。\n\n"
        "﹃\n诗\n朗\n诵\n里\n的\n乡\n愁\n﹄\n\n□\n本\n报\n记\n者\n\n林\n小\n河\n\n"
        "本报讯（记者 周远）下一篇的开头。\n\n下一篇的结尾。\n\n下一篇的标题\n"
    )
    poem = next(a for a in page.articles if a.title == "“诗朗诵里的乡愁”")
    assert poem.authors == ("林小河",)
    assert poem.body.startswith("诗朗诵里的乡愁绵长")


def test_doubled_running_head_names_the_section_and_is_dropped() -> None:
    page = parse_page("山城新貌山城新貌··特别报道特别报道\n\n# 新桥通车\n\n本报讯(记者 甲乙)新桥今天通车。\n")
    article = page.articles[0]
    assert article.section == "特别报道"
    assert "特别报道" not in article.body
    assert page.dropped == ("山城新貌山城新貌··特别报道特别报道",)


def test_column_logo_inside_a_sentence_is_dropped() -> None:
    page = parse_page(
        "新路通车\n\n本报讯(记者 甲乙)全市道路建设稳步推进,“放管服”改\n\n回眸2099\n\n"
        "革深入推进,群众出行更方便。\n"
    )
    assert page.articles[0].body == "全市道路建设稳步推进，“放管服”改革深入推进，群众出行更方便。"
    assert page.dropped == ("回眸2099",)


def test_bare_section_place_kicker_and_subtitle() -> None:
    page = parse_page(
        "速递\n\n北岭区\n\n樱桃采摘季开启\n\n本报北岭4月1日电(记者林小河)樱桃熟了。\n\n"
        "贯彻落实全市工作会议精神\n\n办好两件实事 推动山城发展\n\n——访市文旅局局长周远\n\n"
        "“新的一年要办好两件实事。”周远说。\n\n(甲乙)\n"
    )
    cherry, interview = page.articles
    assert (cherry.section, cherry.kicker, cherry.title) == ("速递", "北岭区", "樱桃采摘季开启")
    assert interview.kicker == "贯彻落实全市工作会议精神"
    assert interview.title == "办好两件实事 推动山城发展"
    assert interview.subtitle == "——访市文旅局局长周远"
    assert interview.kind is Kind.INTERVIEW
    assert interview.authors == ("甲乙",)


def test_photo_story_with_credit_under_it() -> None:
    article = only("### 樱桃红了\n\n图为果农在采摘樱桃。\n\n本报记者 林小河 摄\n")
    assert article.kind is Kind.PHOTO
    assert article.authors == ("林小河",)
    assert [c.role for c in article.credits] == ["本报记者 摄"]  # the mark joins the role, nothing dropped


def test_question_and_answer_is_an_interview() -> None:
    article = only(
        "# 医保卡怎么用\n\n**问:** 能在药店用吗?\n\n**答:** 能。\n\n**问:** 要带卡吗?\n\n**答:** 不用。\n"
    )
    assert article.kind is Kind.INTERVIEW
    assert article.body.split("\n\n")[0] == "问：能在药店用吗？"


def test_commentary_and_infographic_kinds() -> None:
    comment = only("消费要“全方位”\n\n——二谈今年重点工作\n\n消费是经济的引擎。\n\n(弘文)\n")
    assert comment.kind is Kind.COMMENTARY
    chart = only("图解 山城五年规划\n\n文案：甲乙 设计：丙丁\n\n■ 建成三座新桥。\n\n■ 新增一条地铁。\n")
    assert chart.kind is Kind.INFOGRAPHIC
    assert chart.body == "建成三座新桥。\n\n新增一条地铁。"


@pytest.mark.parametrize("blank", ["\n", ""])
def test_an_infographic_label_set_one_character_a_line_is_one_word(blank: str) -> None:
    # 图 / 解 山城…: the label's last character shares the headline's line.  On a long page of
    # narrow bullets without blank lines, the lone 图 was taken for a kicker.
    item = "■ 支持青石湖申请创建国家\n级湿地公园，修复湖岸，建成\n三座新桥、两条绿道。\n"
    chart = only(
        f"图\n解 关于推动山城高质量发展奋力书写现代化新篇章的若干意见\n{blank}"
        f"文案：甲乙 丙丁 设计：戊己 监制：庚辛\n{blank}" + item * 16
    )
    assert (chart.kicker, chart.title) == (None, "图解 关于推动山城高质量发展奋力书写现代化新篇章的若干意见")
    assert chart.kind is Kind.INFOGRAPHIC


def test_page_jumps_are_metadata_not_body() -> None:
    page = parse_page("# 续篇\n\n(上接第1版)故事接着讲。\n\n故事讲完了。\n\n■本报第4版\n")
    article = page.articles[0]
    assert article.body == "故事接着讲。\n\n故事讲完了。"
    assert article.jumps == ("上接第1版", "本报第4版")


def test_dateline_mid_article_starts_a_new_untitled_article() -> None:
    page = parse_page(
        "# 访谈一则\n\n□本报记者 甲乙\n\n**记者：**请谈谈今年的打算。\n\n**局长：**要办好实事。\n\n"
        "**本报11月27日讯（记者丙丁）**另一篇新闻的正文。\n"
    )
    interview, news = page.articles
    assert interview.kind is Kind.INTERVIEW and interview.authors == ("甲乙",)
    assert news.title is None and news.authors == ("丙丁",) and news.date == "11-27"
    assert news.body == "另一篇新闻的正文。"


def test_a_dateline_title_repeating_the_headline_stays_out_of_the_text() -> None:
    page = parse_page(
        "● 综合\n\n### “山城的灯火”\n——北岭夜市见闻\n新华社记者甲乙、丙丁\n\n"
        "新华社北岭5月2日电 题：“山城\n的灯火”——北岭夜市见闻\n\n"
        "夜幕降临，北岭老街亮起了灯\n笼，摊主们陆续出摊。一排排\n摊位沿着老街铺开，游客们边\n走边尝。\n"
    )
    (article,) = page.articles
    assert (article.title, article.subtitle) == ("“山城的灯火”", "——北岭夜市见闻")
    assert article.authors == ("甲乙", "丙丁") and article.date == "05-02"
    assert article.body.startswith("夜幕降临，北岭老街亮起了灯笼，摊主们陆续出摊。")
    assert page.dropped == ("“山城的灯火”——北岭夜市见闻",)  # reported, not lost


def test_a_dateline_title_is_the_headline_of_a_story_printed_without_one() -> None:
    article = only("新华社北岭5月2日电 题：“山城的灯火”——北岭夜市见闻\n\n夜幕降临，北岭老街亮起灯笼。\n")
    assert (article.title, article.subtitle) == ("“山城的灯火”", "——北岭夜市见闻")
    assert article.body == "夜幕降临，北岭老街亮起灯笼。"


def test_a_dateline_title_gives_way_to_a_headline_printed_after_the_story() -> None:
    page = parse_page(
        "山城夜话\n\n北岭的夜市开张了，摊主们陆续出摊，老街一下子热闹起来，游客们说这里的灯火最有味道。\n\n"
        "本报北岭5月2日电 题：夜市的灯火\n\n"
        "夜幕降临，北岭老街亮起灯笼，一排排摊位沿街铺开，游客们边走边尝，夜市的灯火映红了老街。\n\n"
        "北岭夜市的灯火\n\n另一条新闻的正文，讲老街游客越来越多，夜市的灯火越来越亮。\n\n南山桥通车\n"
    )
    night = page.articles[1]
    assert night.title == "北岭夜市的灯火" and night.body.startswith("夜幕降临")
    assert page.dropped == ("夜市的灯火",)


@pytest.mark.parametrize(
    "rest",
    [
        "题：夜市开张。摊主们陆续出摊，",  # a sentence: text, whatever word opens it
        "近日，北岭老街的夜市重新开",  # a column break right after the dateline
    ],
)
def test_text_after_a_dateline_is_joined_across_a_column_break(rest: str) -> None:
    article = only(f"# 夜市开张\n\n本报讯（记者 甲乙）{rest}\n\n张，游客们边走边尝。\n")
    assert article.body == f"{rest}张，游客们边走边尝。"


def test_page_without_structure_is_one_article_with_all_text() -> None:
    text = "这是一段没有标题的文字,讲的是山城的天气。\n\n第二段继续讲,明天多云转晴。\n"
    article = only(text)
    assert article.title is None
    assert article.body == "这是一段没有标题的文字，讲的是山城的天气。\n\n第二段继续讲，明天多云转晴。"


def test_crlf_controls_and_bom_are_cleaned() -> None:
    article = only("\ufeff# 标题\x07\r\n\r\n正文\x00里有控制字符\ufffe。\r\n")
    assert article.title == "标题"
    assert article.body == "正文里有控制字符。"


def test_empty_and_blank_pages_have_no_articles() -> None:
    assert parse_page("").articles == ()
    assert parse_page(" \n\n\t\n").articles == ()


def test_folio_lines_are_page_furniture() -> None:
    page = parse_page("2099年3月5日 星期四\n\n# 新桥通车\n\n新桥今天通车。\n\n责任编辑：甲乙\n")
    assert [a.title for a in page.articles] == ["新桥通车"]
    assert page.articles[0].body == "新桥今天通车。"
    assert set(page.dropped) == {"2099年3月5日 星期四", "责任编辑：甲乙"}


def test_one_paragraph_a_line_without_blank_lines() -> None:
    page = parse_page(
        "速递\n北岭区\n樱桃采摘季开启\n"
        "本报北岭4月1日电(记者林小河)北岭区的樱桃熟了,果农们忙着采摘,游客也赶来体验采摘的乐趣。\n"
        "今年樱桃产量比去年增加两成,品质也更好,收购商早早就来到园区等候装车外运到各地市场。\n"
        "南湾县\n渔港休渔期结束\n"
        "本报南湾4月1日电(记者周远)南湾渔港休渔期结束,渔船陆续出海,码头上一片繁忙景象。\n"
    )
    assert [(a.section, a.kicker, a.title) for a in page.articles] == [
        ("速递", "北岭区", "樱桃采摘季开启"),
        ("速递", "南湾县", "渔港休渔期结束"),
    ]
    assert page.articles[0].body.count("\n\n") == 1


def test_unmarked_section_and_place_beside_a_marked_headline() -> None:
    page = parse_page(
        "# 第一篇\n\n正文一。\n\n速递\n\n北岭区\n\n## 樱桃采摘季开启\n\n本报讯(记者 林小河)樱桃熟了。\n"
    )
    first, second = page.articles
    assert first.body == "正文一。"
    assert (second.section, second.kicker, second.title) == ("速递", "北岭区", "樱桃采摘季开启")


def test_a_lone_character_beside_a_marked_headline_names_no_section() -> None:
    # A character a cut left over would otherwise be the section of every later story.
    page = parse_page(
        "# 新桥通车\n\n新桥今天正式通车。（记者 王明）\n\n川\n\n## 古桥修缮\n\n古桥修缮工程日前完工。\n\n"
        "## 老街开张\n\n老街今天重新开张。\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        (None, "新桥通车"),
        (None, "古桥修缮"),
        (None, "老街开张"),
    ]


def test_a_lone_character_alone_over_a_headline_names_no_section() -> None:
    # Set apart over a headline like a column's name, one character is a cut's leftover (or the
    # story's own), never the section of the stories after it.
    page = parse_page(
        "要闻\n\n新桥通车\n本报讯（记者 王明）新桥今天正式通车，市民可步行过河。\n\n川\n\n古桥修缮完工\n"
        "本报讯（记者 李华）古桥修缮工程日前完工，桥面恢复原貌。\n\n老街重新开张\n"
        "本报讯（记者 赵敏）老街今天重新开张，二十家老字号回归。\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("要闻", "新桥通车"),
        ("要闻", "古桥修缮完工"),
        ("要闻", "老街重新开张"),
    ]


def test_lone_line_between_paragraphs_fragment_or_headline() -> None:
    page = parse_page(
        "新桥通车\n\n本报讯(记者 甲乙)新桥今天通车。\n\n全市道路建设持续推进各项工程\n\n"
        "建设进度比计划提前了一个月。\n\n别样婚纱照\n\n图为一对新人在新桥上拍摄婚纱照。\n\n本报记者 丙丁 摄\n"
    )
    bridge, photo = page.articles
    assert bridge.body == "新桥今天通车。\n\n全市道路建设持续推进各项工程建设进度比计划提前了一个月。"
    assert (photo.title, photo.kind, photo.authors) == ("别样婚纱照", Kind.PHOTO, ("丙丁",))


def test_opinion_column_is_commentary_but_news_briefs_are_not() -> None:
    page = parse_page(
        "● 评论\n\n# 读书的人多了\n\n图书馆里座无虚席。\n\n● 社会速评\n\n# 新桥通车\n\n新桥今天通车。\n"
    )
    assert [a.kind for a in page.articles] == [Kind.COMMENTARY, Kind.NEWS]


def test_a_role_waiting_for_its_name_keeps_its_words() -> None:
    """Two roles before one name: both are the name's, none of the words vanish."""
    assert parse_credits("文/图 本报记者 孟和朝鲁") == (Credit("孟和朝鲁", "文/图 本报记者"),)
    assert parse_credits("记者 记者本报") is None  # 本报 is a rank, never a name
    two = (Credit("张三", "本报记者"), Credit("李四", "通讯员"))
    assert parse_credits("本报记者 张三 通讯员 李四") == two
    assert parse_credits("记者 通讯员") is None  # roles and no one: not a byline


# -- pages of papers the seeds do not come from (invented text, the conventions of many dailies) --

_OTHER_PAPERS = """第3版 经济

春耕备耕正当时

本报某地18日电（记者 甲乙丙 通讯员 丁戊）连日来，各地组织农民开展春耕备耕。

据介绍，今年农资供应充足。


新能源汽车下乡活动启动！

晨报讯 近日，新能源汽车下乡活动在市会展中心启动。

活动现场，不少市民前来咨询。 记者/己庚


小微企业贷款利率再降

某某特区报讯（记者 辛壬）记者昨日获悉，小微企业贷款利率继续下降。

降费让利

今年以来，多家银行推出专项产品，为小微企业减费让利。

癸子 文/图


简讯

■ 市图书馆延长开放时间。即日起每晚开放至21时。

■ 城东新桥通车。城东新桥昨日正式通车。


市民热议新规

新规实施以来，市民反响热烈。
"""


def test_a_page_of_another_paper_splits_by_its_own_conventions() -> None:
    page = parse_page(_OTHER_PAPERS, "p.txt", issue=date(2026, 3, 19))
    titles = [a.title for a in page.articles]
    assert titles == [
        "春耕备耕正当时", "新能源汽车下乡活动启动！", "小微企业贷款利率再降", None, None, "市民热议新规"
    ]  # fmt: skip
    spring, cars, loans, library, bridge, last = page.articles
    # The folio names the page: its name is the section until a marker says otherwise.
    assert spring.section == cars.section == loans.section == "经济"
    assert spring.authors == ("甲乙丙", "丁戊") and spring.date == "03-18"
    assert spring.body.startswith("连日来")
    assert cars.authors == ("己庚",) and cars.body.endswith("咨询。")
    # A crosshead inside an article is a paragraph of its own; X 文/图 after the text is a credit.
    assert loans.body.split("\n\n")[1] == "降费让利"
    assert loans.authors == ("辛壬", "癸子")
    # A roundup of briefs: one article per item, the column as their section; a label in force
    # until the next, like any bare section word, so the story after the briefs stands under it.
    assert library.section == bridge.section == "简讯"
    assert library.body.startswith("市图书馆") and bridge.body.startswith("城东新桥")
    assert last.section == "简讯"


def test_a_day_only_dateline_has_no_date_without_the_issue() -> None:
    assert parse_page(_OTHER_PAPERS).articles[0].date is None


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("昨天上午,当省长(记者)说: 好!", "昨天上午，当省长（记者）说：好！"),
        ("他说:“好。”", "他说：“好。”"),
        ("多得不得了!”", "多得不得了！”"),
        ("共1,000人,10:30到场", "共1,000人，10:30到场"),  # numbers keep their marks
        ("见 http://a.example/x?y=1 说明", "见 http://a.example/x?y=1 说明"),
        ("Hello, world (again)!", "Hello, world (again)!"),
    ],
)
def test_half_width_punctuation_touching_chinese_becomes_full_width(text: str, repaired: str) -> None:
    assert full_width_punctuation(text) == repaired


@pytest.mark.parametrize(
    "turns",
    [
        "Q：为什么开夜校？\n\nA：晚上才有空。\n\nQ：效果怎么样？\n\nA：不少人开了网店。",
        "记者：为什么开夜校？\n\n甲乙丙：晚上才有空。\n\n记者：效果怎么样？\n\n甲乙丙：不少人开了网店。",
        "主持人：为什么开夜校？\n\n甲乙丙：晚上才有空。\n\n主持人：效果怎么样？\n\n甲乙丙：不少人开了网店。",
    ],
)
def test_labelled_turns_make_an_interview_and_keep_their_labels(turns: str) -> None:
    article = only(f"乡村夜校火了\n\n{turns}\n")
    assert article.kind is Kind.INTERVIEW
    assert article.body.count("\n\n") == 3 and article.body.split("\n\n")[1].endswith("晚上才有空。")
    assert article.body.split("\n\n")[1][:2] in ("A：", "甲乙")


def test_labelled_fields_said_once_are_no_interview() -> None:
    article = only("街头一景\n\n时间：3月6日上午\n\n地点：桥下\n\n有市民反映，桥下的餐棚无人打理。")
    assert article.kind is not Kind.INTERVIEW


def test_a_byline_after_the_text_signs_it_and_the_next_headline_opens_another() -> None:
    page = parse_page(
        "城市新闻\n\n地铁三号线明年通车\n\n——全线车站主体完工\n\n记者获悉，三号线车站主体已完工。\n\n"
        "三号线串联老城区和高新区。\n\n记者 甲乙丙\n\n“家门口的公园又变美了”\n\n"
        "城西公园改造后重新开放。\n\n（记者 丁戊）\n\n天气转暖，踏青正当时\n\n本周我市气温回升。\n"
    )
    metro, park, spring = page.articles
    assert (metro.title, metro.subtitle) == ("地铁三号线明年通车", "——全线车站主体完工")
    assert metro.authors == ("甲乙丙",)
    assert metro.body.endswith("高新区。")
    assert (park.title, park.authors) == ("“家门口的公园又变美了”", ("丁戊",))
    assert park.body == "城西公园改造后重新开放。"
    assert spring.title == "天气转暖，踏青正当时" and not spring.authors
    assert {a.section for a in page.articles} == {"城市新闻"}


def test_verse_quoted_between_paragraphs_is_no_headline() -> None:
    article = only(
        "新桥通车\n\n新桥今天通车，市民写下诗句。\n\n春风吹过山岗\n花开遍地金黄\n燕子归来呢喃\n\n这首诗表达了喜悦。\n"
    )
    assert article.title == "新桥通车"
    assert "花开遍地金黄" in article.body


def test_text_after_a_jump_to_another_page_is_another_story() -> None:
    page = parse_page(
        "山城新建一座物流园\n\n本报讯（记者 林小河）物流园一期昨日开工，总投资十亿元，"
        "建成后将新增仓储面积二十万平方米，带动就业三千余人。（下转第6版）\n\n"
        "据市统计局消息，前三季度全市工业增加值同比增长百分之七。\n\n"
        "其中，高技术制造业增长较快。\n\n（记者 周远）\n"
    )
    first, second = page.articles
    assert first.jumps == ("下转第6版",)
    assert first.body.endswith("带动就业三千余人。")
    assert second.body.startswith("据市统计局消息")
    assert second.authors == ("周远",)


def test_a_jump_line_of_its_own_ends_the_story_too() -> None:
    page = parse_page(
        "山城新建一座物流园\n\n本报讯（记者 林小河）物流园一期昨日开工，总投资十亿元。\n\n"
        "（下转第6版）\n\n据市统计局消息，前三季度全市工业增加值同比增长。\n"
    )
    first, second = page.articles
    assert first.jumps == ("下转第6版",)
    assert second.body.startswith("据市统计局消息")


def test_bulleted_brief_headline_over_its_dateline() -> None:
    page = parse_page(
        "简讯\n\n■ 青石镇新增充电桩四百个\n本报讯 今年以来，青石镇新建公共充电桩四百个。（李新）\n\n"
        "■ 第三届读书节闭幕\n本报讯 历时一个月的读书节日前闭幕。（记者 王冬）\n"
    )
    first, second = page.articles
    assert (first.section, first.title, first.dateline) == ("简讯", "青石镇新增充电桩四百个", "本报讯")
    assert first.body == "今年以来，青石镇新建公共充电桩四百个。"
    assert (second.section, second.title, second.authors) == ("简讯", "第三届读书节闭幕", ("王冬",))
    assert second.body == "历时一个月的读书节日前闭幕。"


@pytest.mark.parametrize(
    "text",
    [
        # a page that prints each paragraph on one line
        "西岭人才公寓交付\n本报西岭12月3日电 记者：黄一强\n"
        "西岭首批人才公寓昨日交付使用，共提供房源五百六十套，首批入住的一百二十名青年人才领到了钥匙。\n",
        # a narrow column whose lines wrap
        "西岭人才公寓交付\n\n本报讯 记者 黄一强 通讯员 姜二\n西岭首批人才公寓昨日交\n付使用，共提供房源五百\n"
        "六十套，首批入住的一百二\n十名青年人才领到了钥匙。\n",
    ],
)
def test_an_unbracketed_credit_ending_the_dateline_line_stays_out_of_the_text(text: str) -> None:
    article = only(text)
    assert article.title == "西岭人才公寓交付"
    assert article.authors[0] == "黄一强"
    assert article.body.startswith("西岭首批人才公寓昨日交付使用")


def test_a_credit_cut_by_the_wrap_reads_on_to_its_reported_mark() -> None:
    article = only("西岭降温\n\n本报讯 记者黄一强、通讯员姜\n二报道：立春后天气变化频\n繁，气温忽高忽低。\n")
    assert article.authors == ("黄一强", "姜二")
    assert article.body == "立春后天气变化频繁，气温忽高忽低。"


def test_each_turn_of_an_interview_is_a_paragraph_in_a_narrow_column() -> None:
    article = only(
        "站长谈春运\n\n本报讯（记者 孙一）春运将至。\n记者：今年有什么新变化？\n"
        "站长：我们增加了自助售票机。\n记者：旅客要注意什么？\n站长：请提前到站。\n"
    )
    assert article.body.split("\n\n") == [
        "春运将至。",
        "记者：今年有什么新变化？",
        "站长：我们增加了自助售票机。",
        "记者：旅客要注意什么？",
        "站长：请提前到站。",
    ]
    assert article.kind is Kind.INTERVIEW


def test_an_editors_note_over_a_headline_introduces_the_story_under_it() -> None:
    page = parse_page(
        "春运首日客流平稳\n本报讯（记者 孙一）今天是春运首日，全市各客运站秩序井然。\n\n"
        "编者按：岁末年初，不少市民开始筹划春节出行。本报今起推出系列报道。\n\n"
        "平安回家路\n铁路部门加开临客百余趟\n\n本报讯（记者 吴二）铁路部门将在节前加开临时旅客列车。\n"
    )
    first, second = page.articles
    assert first.notes == ()
    assert second.title == "铁路部门加开临客百余趟"
    assert second.notes == ("编者按：岁末年初，不少市民开始筹划春节出行。本报今起推出系列报道。",)


def test_short_lines_in_the_folio_block_are_the_page_header() -> None:
    page = parse_page(
        "A2　　　　2023年12月4日　星期一\n综合新闻　　　　　　东岭晚报\n\n"
        "铁路部门加开临客\n本报讯（记者 吴二）铁路部门将在节前加开临时旅客列车。\n"
    )
    assert [a.title for a in page.articles] == ["铁路部门加开临客"]
    assert "综合新闻 东岭晚报" in page.dropped


_LONG = (
    "会议强调，要把思想和行动统一到决策部署上来，抓好各项工作落实，确保全年目标任务圆满完成，作出新的贡献。"
)


def test_a_headline_right_under_the_folio_stays_a_headline() -> None:
    # Pages with no blank line at all are one block from the folio down; and a headline may sit
    # right under the folio with its story after a blank line. Neither is the page's header.
    folio = "东岭晚报　2024年3月21日　星期四　第01版：要闻\n"
    solid = parse_page(
        f"{folio}全市经济工作会议召开\n本报讯（记者 吴二）{_LONG}\n"
        f"春耕备耕有序推进\n本报讯（记者 张三）{_LONG}\n"
    )
    assert [a.title for a in solid.articles] == ["全市经济工作会议召开", "春耕备耕有序推进"]
    apart = parse_page(f"{folio}全市经济工作会议召开\n\n本报讯（记者 吴二）{_LONG}\n")
    assert [a.title for a in apart.articles] == ["全市经济工作会议召开"]


def test_an_indented_line_opens_a_paragraph_in_a_narrow_column() -> None:
    # Two paragraphs wrapped in one block: only the two-character indent tells where the
    # second one starts, and cleaning removes it.
    article = only(
        "山城新区人才公寓交付\n\n"
        "　　本报讯（记者 黄一）山城新区首批人才公\n寓昨日交付使用，共提供房源560套，首批入住\n"
        "的120名青年人才领到了钥匙。\n"
        "　　据了解，人才公寓实行拎包入住，租金按市\n场价五折收取，最长可租住五年。\n"
    )
    assert article.body.split("\n\n") == [
        "山城新区首批人才公寓昨日交付使用，共提供房源560套，首批入住的120名青年人才领到了钥匙。",
        "据了解，人才公寓实行拎包入住，租金按市场价五折收取，最长可租住五年。",
    ]


def test_a_margin_on_every_line_is_no_paragraph_indent() -> None:
    article = only(
        "　　山城新区人才公寓交付\n\n"
        "　　本报讯（记者 黄一）山城新区首批人才公寓昨\n　　日交付使用，共提供房源560套。首批入住的\n"
        "　　120名青年人才领到了钥匙。\n"
    )
    assert article.body == (
        "山城新区首批人才公寓昨日交付使用，共提供房源560套。首批入住的120名青年人才领到了钥匙。"
    )


@pytest.mark.parametrize(
    "folio",
    [
        "第5版：经济周刊　　2023年12月4日",
        "A3版 经济周刊 2023年12月4日 星期一",
        "A3版　经济周刊　2023年12月4日",
        "东岭晚报　2023年12月4日　星期一　第3版　经济周刊　责任编辑：王一",
    ],
)
def test_the_page_name_printed_before_the_date_is_the_section(folio: str) -> None:
    page = parse_page(f"{folio}\n\n春耕备耕有序推进\n\n本报讯（记者 张三）{_LONG}\n")
    assert [(a.section, a.title) for a in page.articles] == [("经济周刊", "春耕备耕有序推进")]
    assert page.dropped[0].startswith(folio[:3])


@pytest.mark.parametrize("folio", ["第2版　东岭晚报　2023年12月4日", "A2版　星期一　东岭晚报"])
def test_the_paper_or_the_day_after_the_page_number_is_no_section(folio: str) -> None:
    page = parse_page(f"{folio}\n\n春耕备耕有序推进\n\n本报讯（记者 张三）{_LONG}\n")
    assert [(a.section, a.title) for a in page.articles] == [(None, "春耕备耕有序推进")]


def test_no_space_beside_full_width_punctuation_in_a_headline() -> None:
    article = only(
        "# 市交通局局长周一： 让群众出行更便捷 （ 访谈 ）\n\n"
        "本报讯（记者 张三）今年全市新开公交线路十二条。\n"
    )
    assert article.title == "市交通局局长周一：让群众出行更便捷 （访谈）"


def test_a_long_section_marker_alone_over_a_headline_is_a_section() -> None:
    page = parse_page(
        "● 要闻\n\n春耕备耕有序推进\n\n本报讯（记者 张三）全县春耕备耕工作有序推进。\n\n"
        "● 聚焦·两会/“特稿”&‹观察>\n\n代表委员热议民生实事\n\n"
        "本报讯（记者 李四）代表委员们围绕教育、医疗、养老等民生话题建言献策。\n\n"
        "乡村振兴结硕果\n\n本报讯（记者 王五）今年全县粮食总产量再创新高。\n"
    )
    assert [(a.section, a.title, a.body) for a in page.articles] == [
        ("要闻", "春耕备耕有序推进", "全县春耕备耕工作有序推进。"),
        (
            "聚焦·两会/“特稿”&‹观察>",
            "代表委员热议民生实事",
            "代表委员们围绕教育、医疗、养老等民生话题建言献策。",
        ),
        ("聚焦·两会/“特稿”&‹观察>", "乡村振兴结硕果", "今年全县粮食总产量再创新高。"),
    ]


def test_a_bulleted_sentence_over_a_headline_is_no_section() -> None:
    page = parse_page(
        "● 要闻\n\n春耕备耕有序推进\n\n本报讯（记者 张三）全县春耕备耕工作有序推进。\n\n"
        "● 全县新建高标准农田二十万亩，粮食再获丰收\n\n乡村振兴结硕果\n\n"
        "本报讯（记者 王五）今年全县粮食总产量再创新高。\n"
    )
    assert {a.section for a in page.articles} == {"要闻"}
    assert "全县新建高标准农田二十万亩，粮食再获丰收" in page.articles[0].body


_TABLE = (
    "本周主要蔬菜价格\n品名　　本周均价（元/公斤）　　环比\n黄瓜　　4.20　　　　　　-2.3%\n"
    "西红柿　　5.60　　　　　　+1.8%\n萝卜　　1.10　　　　　　持平\n（数据来源：市物价监测中心）\n"
)


def test_a_table_of_figures_keeps_out_of_the_next_headline() -> None:
    page = parse_page(
        f"上接第1版\n开发区将继续优化营商环境，推行一窗受理。（记者 林一）\n\n{_TABLE}\n"
        "新能源企业落户高新区\n　　本报讯（记者 徐二）12月2日，某新能源公司与高新区签约。\n"
    )
    table, story = page.articles[1:]
    assert (table.title, table.subtitle) == ("本周主要蔬菜价格", None)
    assert table.body.split("\n\n") == [
        "品名  本周均价（元/公斤）  环比",
        "黄瓜  4.20  -2.3%",
        "西红柿  5.60  +1.8%",
        "萝卜  1.10  持平",
        "（数据来源：市物价监测中心）",
    ]
    assert (story.title, story.subtitle, story.authors) == ("新能源企业落户高新区", None, ("徐二",))


def test_a_table_inside_a_story_stays_in_it_row_by_row() -> None:
    article = only(f"菜价总体平稳\n\n本报讯（记者 林一）本周本市蔬菜价格总体平稳。\n\n{_TABLE[9:]}\n")
    assert article.title == "菜价总体平稳"
    assert article.body.split("\n\n")[1:3] == ["品名  本周均价（元/公斤）  环比", "黄瓜  4.20  -2.3%"]


def test_an_indented_block_after_a_cut_off_paragraph_opens_a_new_one() -> None:
    # The first paragraph breaks off mid-sentence at the column's foot; the next column opens
    # with an indent, so it is a new paragraph, not the rest of the cut one.  The wraps printed
    # without indent, as wide as the column, show that an indent here marks a paragraph.
    article = only(
        "山城新区人才公寓交付\n\n"
        "　　本报讯（记者 黄一）山城新区首批人才公\n寓昨日交付使用，共提供房源560套，首批入住\n"
        "的120名青年人才领到了钥匙。新区还将建\n\n"
        "　　据了解，人才公寓实行拎包入住，租金按市\n场价五折收取，最长可租住五年。\n"
    )
    assert article.body.split("\n\n") == [
        "山城新区首批人才公寓昨日交付使用，共提供房源560套，首批入住的120名青年人才领到了钥匙。新区还将建",
        "据了解，人才公寓实行拎包入住，租金按市场价五折收取，最长可租住五年。",
    ]


def test_indented_wide_lines_alone_do_not_part_a_cut_off_paragraph() -> None:
    # Every wide line indented, the wraps too: the indent tells nothing about paragraphs, and
    # the text after the column break goes on with the sentence it cut.
    article = only(
        "山城新区人才公寓交付\n\n"
        "　　本报讯（记者 黄一）山城新区首批人才公寓昨日交付使用，共提供房源560套，首批入住的\n\n"
        "　　120名青年人才领到了钥匙。据了解，人才公寓实行拎包入住，租金按市场价五折收取。\n"
    )
    assert article.body == (
        "山城新区首批人才公寓昨日交付使用，共提供房源560套，首批入住的120名青年人才领到了钥匙。"
        "据了解，人才公寓实行拎包入住，租金按市场价五折收取。"
    )


@pytest.mark.parametrize("label", ["链接", "背景", "相关新闻"])
def test_a_bare_label_between_paragraphs_is_not_glued_onto_the_text(label: str) -> None:
    article = only(
        "山城新区人才公寓交付\n\n"
        "本报讯（记者 黄一）山城新区首批人才公寓昨日交付使用，共提供房源560套。\n\n"
        f"{label}\n\n"
        "据了解，人才公寓实行拎包入住，租金按市场价五折收取，最长可租住五年。\n"
    )
    assert article.body.split("\n\n") == [
        "山城新区首批人才公寓昨日交付使用，共提供房源560套。",
        label,
        "据了解，人才公寓实行拎包入住，租金按市场价五折收取，最长可租住五年。",
    ]


def test_the_page_name_beside_the_paper_in_the_header_is_the_section() -> None:
    # The folio has no 版 and no name; the page's name sits on the header's second line,
    # spaced apart from the paper's.
    page = parse_page(
        "B3　　　　2024年5月6日　星期一\n城市生活　　　　　　西川晚报\n\n"
        f"社区食堂开门迎客\n\n本报讯（记者 吴二）{_LONG}\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [("城市生活", "社区食堂开门迎客")]


@pytest.mark.parametrize(
    "header",
    ["B3　　　　2024年5月6日　星期一\n西川晚报\n", "2024年5月6日　星期一\n城市生活　　　　　　西川晚报\n"],
)
def test_a_header_without_a_page_number_or_a_page_name_gives_no_section(header: str) -> None:
    page = parse_page(f"{header}\n社区食堂开门迎客\n\n本报讯（记者 吴二）{_LONG}\n")
    assert [(a.section, a.title) for a in page.articles] == [(None, "社区食堂开门迎客")]


def test_a_column_name_set_a_word_to_a_line_is_the_section_not_captions() -> None:
    page = parse_page(
        f"新能源企业落户高新区\n\n　　本报讯（记者 徐二）{_LONG}（下转第6版）\n\n"
        "园区\n速递\n\n"
        "　　据了解，高新区前三季度新签约项目42个，总投资额同比增长两成。\n"
        "　　其中，先进制造业项目占比超过六成。\n"
    )
    first, second = page.articles
    assert first.title == "新能源企业落户高新区"
    assert second.section == "园区速递"
    assert second.captions == ()
    assert second.body.split("\n\n") == [
        "据了解，高新区前三季度新签约项目42个，总投资额同比增长两成。",
        "其中，先进制造业项目占比超过六成。",
    ]


def test_a_short_list_inside_a_story_stays_its_text_not_a_section() -> None:
    # The shape of a column name set a word to a line, but inside a story: after …获得一等奖：
    page = parse_page(
        "第4版 教育\n\n科技大赛落幕\n\n"
        "本报讯（记者 李华）昨天，科技创新大赛落幕，以下四名同学获得一等奖：\n\n"
        "王磊\n刘洋\n陈静\n赵鹏\n\n组委会表示，获奖作品将推荐参加省级比赛。\n\n"
        "劳动教育现场会召开\n\n本报讯（记者 周敏）昨天，劳动教育现场会在实验小学召开。\n"
    )
    assert [(a.title, a.section) for a in page.articles] == [
        ("科技大赛落幕", "教育"),
        ("劳动教育现场会召开", "教育"),
    ]
    assert "王磊" in page.articles[0].body and "组委会表示" in page.articles[0].body


@pytest.mark.parametrize(
    "header",
    ["A2 2023年12月4日 星期一\n责任编辑 王小明", "A2 2023年12月4日 星期一 农历十月廿二\n东岭晚报"],
    ids=["editor", "lunar-date"],
)
def test_an_editor_or_a_lunar_date_in_the_header_is_no_page_name(header: str) -> None:
    page = parse_page(
        f"{header}\n\n城区新增停车场\n\n本报讯（记者 李华）城区今年新增三处公共停车场，共提供车位八百余个。\n"
    )
    assert [a.section for a in page.articles] == [None]


def test_an_indent_behind_an_invisible_character_still_opens_a_paragraph() -> None:
    # Scraped text often puts a zero-width space before the indent; cleaning drops it.
    page = parse_page(
        "第3版 要闻\n\n城区新增停车场\n\n"
        "\u200b　　本报讯（记者 李华）记者从市交通局获悉，城区今年新增三处公共停车场，共提\n"
        "供车位八百余个，其中新能源车位两百个。\n\u200b　　据介绍，新增停车场将实行分时段收费，收费标准\n"
        "按照全市统一规定执行，市民可通过手机查询。\n"
    )
    (article,) = page.articles
    assert article.body.count("\n\n") == 1 and article.body.split("\n\n")[1].startswith("据介绍")


def test_a_number_cut_by_the_wrap_is_joined_without_a_space() -> None:
    article = only(
        "青石镇外贸稳中有升\n\n本报讯 3月1\n2日，海关发布数据，一季度青石镇外贸进出口总值20\n"
        "24亿元，其中出口13\n56亿元。\n"
    )
    assert article.body == "3月12日，海关发布数据，一季度青石镇外贸进出口总值2024亿元，其中出口1356亿元。"
