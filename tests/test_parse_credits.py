"""Credits, jump notes and column tags the layout cuts or sets against a headline.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

from digest.paper.parse import parse_page

# A story in a narrow column: its lines wrapped at about fourteen characters.
_NARROW = (
    "本报讯 青石镇老街改造工程日前全\n部完工，沿街的三十多家店铺陆续\n重新开张，居民们纷纷回到老街。\n\n"
    "镇里还在老街两头修建了停车场，\n方便外地游客前来参观游览。\n"
)


@pytest.mark.parametrize(
    "headline",
    ["## 青石镇老街改造完成 三十多家店铺重新开张", "青石镇老街改造完成店铺开张"],
)
def test_a_jump_note_under_a_headline_is_no_part_of_it(headline: str) -> None:
    page = parse_page(f"{headline}\n（上接第1版）\n\n{_NARROW}")
    article = page.articles[0]
    assert "上接" not in (article.title or "")
    assert article.title == headline.removeprefix("## ")
    assert article.jumps == ("上接第1版",)
    assert article.body.startswith("青石镇老街改造工程")


_NEXT = "\n\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n"


@pytest.mark.parametrize(
    ("dateline", "authors", "date"),
    [
        ("青石日报客户端讯（青\n\n石日报见习记者 周远）", ("周远",), None),
        ("据新华社青石3月12\n\n日电（记者周远）", ("周远",), "03-12"),
        ("本报讯 记者周远、通讯员\n\n林雨报道：", ("周远", "林雨"), None),
    ],
)
def test_a_column_break_inside_a_dateline_keeps_its_credit(
    dateline: str, authors: tuple[str, ...], date: str | None
) -> None:
    page = parse_page(f"新桥通车\n\n{dateline}新桥今天正式通车，市民纷纷前来参观。{_NEXT}")
    first, second = page.articles
    assert first.authors == authors
    assert first.date == date
    assert first.body == "新桥今天正式通车，市民纷纷前来参观。"
    assert second.title == "古桥修缮"


@pytest.mark.parametrize(
    ("credit", "authors"),
    [
        ("（记者 周远 \n\n林雨）", ("周远", "林雨")),  # a bracket opened before the break, closed after
        (" 记者 周小\n\n川 摄", ("周小川",)),  # a name the break cut
        (" 本报记者周小川\n 林雨", ("周小川", "林雨")),  # the wrap at the space between two names
        (" 通讯员周小川摄影\n报道", ("周小川",)),  # the wrap inside the credit's mark
        ("（青石晚报·青\n石新闻记者 周远 林雨\n 王华）", ("周远", "林雨", "王华")),  # three lines
    ],
)
def test_a_closing_credit_cut_by_a_wrap_or_a_column_break_stays_whole(
    credit: str, authors: tuple[str, ...]
) -> None:
    page = parse_page(
        f"新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观，\n大家都说通行更方便了。{credit}{_NEXT}"
    )
    first, second = page.articles
    assert first.authors == authors
    assert first.body == "新桥今天正式通车，市民纷纷前来参观，大家都说通行更方便了。"
    assert (second.section, second.title) == (None, "古桥修缮")


@pytest.mark.parametrize("cut", ["\n", "\n\n"])  # a wrap, a column break
@pytest.mark.parametrize(
    ("credit", "piece", "authors"),
    [
        (" 记者 王明", "家园", ("王明",)),
        ("\n记者 王明", "家园", ("王明",)),  # on a line of its own
        (" 本报记者 周远 王明", "家园", ("周远", "王明")),
        (" 记者 王明", "新家园", ("王明",)),
        (" 记者 周小川", "家", ("周小川",)),  # one character after a name of three
        ("\n记者 周小川", "家", ("周小川",)),
        ("（记者 王明）", "家", ("王明",)),  # the bracket closed the credit
        ("（记者 王明）", "家园", ("王明",)),
    ],
)
def test_a_whole_name_closing_a_story_is_not_lengthened_by_the_line_after_it(
    credit: str, piece: str, authors: tuple[str, ...], cut: str
) -> None:
    # Only a mark after it (川 摄) would make the short line the rest of a name the cut split.
    page = parse_page(
        f"新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观，\n大家都说通行更方便了。{credit}{cut}{piece}"
        "\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n"
    )
    first, second = page.articles
    assert first.authors == authors
    assert first.body == "新桥今天正式通车，市民纷纷前来参观，大家都说通行更方便了。"
    assert (second.title, second.body) == (piece, "古桥修缮工程日前完工，将于下月开放。")


@pytest.mark.parametrize("cut", ["\n", "\n\n"])  # a wrap, a column break
@pytest.mark.parametrize(
    ("credit", "authors"),
    [
        (" 记者 周小", ("周小川",)),
        ("\n记者 周小", ("周小川",)),  # on a line of its own
        (" 本报记者 周远 林小", ("周远", "林小川")),
        ("\n本报记者 周远 通讯员 林小", ("周远", "林小川")),
        (" 记者 欧阳晓", ("欧阳晓川",)),  # a compound surname's name of four
    ],
)
def test_one_character_after_a_name_closing_a_story_is_the_end_of_the_name(
    credit: str, authors: tuple[str, ...], cut: str
) -> None:
    # Most names have three characters; a story or a headline of one character is far rarer.
    text = "本报讯 新桥今天正式通车，市民纷纷前来参观，\n大家都说通行更方便了。"
    page = parse_page(f"新桥通车\n\n{text}{credit}{cut}川{_NEXT}")
    first, second = page.articles
    assert first.authors == authors
    assert first.body == "新桥今天正式通车，市民纷纷前来参观，大家都说通行更方便了。"
    assert (second.section, second.title) == (None, "古桥修缮")


@pytest.mark.parametrize(
    ("byline", "authors"),
    [("本报记者 周小\n川", ("周小川",)), ("本报记者 周小川 通讯员 林小\n川", ("周小川", "林小川"))],
)
def test_a_byline_over_the_text_wrapped_before_the_last_character_of_a_name_stays_whole(
    byline: str, authors: tuple[str, ...]
) -> None:
    page = parse_page(f"新桥通车\n\n{byline}\n\n新桥今天正式通车，市民纷纷前来参观。\n")
    assert page.articles[0].authors == authors
    assert page.articles[0].body == "新桥今天正式通车，市民纷纷前来参观。"


def test_a_bracketed_credit_in_a_dateline_wrapped_inside_a_name_stays_whole() -> None:
    page = parse_page(
        "新桥通车\n\n青石日报客户端讯（青\n石日报见习记者 周小\n川）新桥今天正式通车，市民\n纷纷前来参观。\n"
    )
    assert page.articles[0].authors == ("周小川",)
    assert page.articles[0].body == "新桥今天正式通车，市民纷纷前来参观。"


def test_a_dateline_credit_wrapped_onto_a_justified_line_stays_whole() -> None:
    page = parse_page(
        "新桥通车\n\n本报讯 记者周远、通讯员林小\n"
        "雨 报 道 ： 新 桥 今 天 正 式 通 车 ，\n市民纷纷前来参观。\n"
    )
    assert page.articles[0].authors == ("周远", "林小雨")
    assert page.articles[0].body == "新桥今天正式通车，市民纷纷前来参观。"


@pytest.mark.parametrize("cut", ["\n", "\n\n"])
def test_a_reporter_named_in_the_first_sentence_is_no_credit_of_the_dateline(cut: str) -> None:
    page = parse_page(f"新厂投产\n\n本报讯 近日，记者走进{cut}位于青石镇的新厂看到，\n工人们正忙着装车。\n")
    assert page.articles[0].authors == ()
    assert page.articles[0].body == "近日，记者走进位于青石镇的新厂看到，工人们正忙着装车。"


def test_a_bare_name_in_brackets_cut_by_a_column_break_closes_the_text() -> None:
    page = parse_page(f"新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观。      （周\n\n小川）{_NEXT}")
    first, second = page.articles
    assert first.authors == ("周小川",)
    assert first.body == "新桥今天正式通车，市民纷纷前来参观。"
    assert (second.section, second.title) == (None, "古桥修缮")


def test_a_justified_line_in_a_block_does_not_keep_its_wraps_apart() -> None:
    # Spaced out, the line is wider than any column; set, it is as wide as the others.
    page = parse_page(
        "新桥通车\n\n本报讯 新桥今天正式通车，全镇三十多个村的\n"
        "2 0 0 0 多 户 村 民 从 此 出 行 更 加 方 便 快 捷 了 许 多 ，\n"
        "市民纷纷前来参观，都说通行方便了。 通\n"
        f"讯员周小川摄影报道{_NEXT}"
    )
    first, second = page.articles
    assert first.authors == ("周小川",)
    assert (second.section, second.title) == (None, "古桥修缮")


def test_a_dateline_on_a_justified_line_is_read() -> None:
    page = parse_page(
        "新桥通车\n\n青 石 网 3 月 1 2 日 讯 （ 本\n网记者 周远 林雨 文/\n"
        "图） 新桥今天正式通车，\n市民纷纷前来参观。\n"
    )
    assert page.articles[0].authors == ("周远", "林雨")
    assert page.articles[0].date == "03-12"
    assert page.articles[0].body == "新桥今天正式通车，市民纷纷前来参观。"


_TAGGED_PAGE = (
    "【城事】\n\n{mark}青石镇开通夜班公交\n\n本报讯（记者 甲乙）近日，青石镇开通两条夜班公交线路。\n\n\n"
    "街谈\n{mark}路边停车要守规矩\n\n本报讯（记者 周远）近来，老街两旁乱停车的现象屡见不鲜。\n\n\n"
    "{mark}古桥修缮完工\n\n本报讯（记者 林雨）古桥修缮工程日前完工，将于下月开放。\n"
)


@pytest.mark.parametrize("mark", ["", "## "])
def test_a_column_tag_over_a_headline_is_that_storys_section_only(mark: str) -> None:
    page = parse_page(_TAGGED_PAGE.format(mark=mark))
    assert [(a.section, a.title) for a in page.articles] == [
        ("城事", "青石镇开通夜班公交"),
        ("街谈", "路边停车要守规矩"),
        ("城事", "古桥修缮完工"),
    ]


def test_a_column_tag_over_a_headline_printed_under_its_story_is_that_storys_section() -> None:
    page = parse_page(
        "【城事】\n\n本报讯（记者 甲乙）近日，青石镇开通两条夜班公交线路。\n\n青石镇开通夜班公交\n\n\n"
        "本报讯（记者 周远）近来，老街两旁乱停车的现象屡见不鲜。\n\n街谈\n老街停车乱象何时休\n\n\n"
        "本报讯（记者 林雨）古桥修缮工程日前完工，将于下月开放。\n\n古桥修缮完工\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("城事", "青石镇开通夜班公交"),
        ("街谈", "老街停车乱象何时休"),
        ("城事", "古桥修缮完工"),
    ]


_CLOSED = (
    "新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观。\n\n"
    "住在桥边的老街坊们都笑着说：“有了这座又宽又结实的新桥，日子一定会越来越好。”{credit}\n"
)


@pytest.mark.parametrize(
    "after",
    [
        "\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n",  # the next story's headline
        "\n\n本报记者 林雨\n\n古桥修缮工程日前完工，将于下月开放。\n",  # the next story's byline
        "\n\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n",  # the next story's dateline
        # an untitled photo after a wide gap
        "\n\n\n修缮一新的古桥在晨光中格外好看，古桥修缮工程日前完工，将于下月开放。记者 林雨 摄\n",
        "",  # the page's end
    ],
)
@pytest.mark.parametrize(("credit", "authors"), [("记者周远", ("周远",)), ("实习生陈晨", ("陈晨",))])
def test_a_credit_glued_to_the_last_sentence_of_a_story_closes_it(
    after: str, credit: str, authors: tuple[str, ...]
) -> None:
    first, *rest = parse_page(_CLOSED.format(credit=credit) + after).articles
    assert first.authors == authors
    assert first.body.endswith("日子一定会越来越好。”")
    assert [a.body.endswith("将于下月开放。") for a in rest] == ([True] if after else [])


@pytest.mark.parametrize("credit", ["记者追问", "记者了解到", "记者昨日从市"])
def test_a_role_glued_to_a_sentence_about_the_reporter_closes_no_story(credit: str) -> None:
    page = parse_page(
        _CLOSED.format(credit=credit) + "\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n"
    )
    assert page.articles[0].authors == ()
    assert page.articles[0].body.endswith(f"日子一定会越来越好。”{credit}")


@pytest.mark.parametrize(
    ("after", "end"),
    [
        # a column break cut the sentence about the reporter: the text goes on in the next block
        ("\n来到桥头，看到车辆往来不断。\n", "越来越好。”记者周远来到桥头，看到车辆往来不断。"),
        # the story goes on on another page
        ("（下转第2版）\n\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工。\n", "越来越好。”记者周远"),
    ],
)
def test_a_role_and_a_name_glued_to_a_sentence_the_story_goes_on_from_are_no_credit(
    after: str, end: str
) -> None:
    page = parse_page(_CLOSED.format(credit="记者周远") + after)
    assert page.articles[0].authors == ()
    assert page.articles[0].body.endswith(end)


@pytest.mark.parametrize(
    ("brief", "authors"),
    [
        ("古桥修缮工程日前完工，将于下月开放，市民都说好。记者林雨", ("林雨",)),  # closed the same way
        ("古桥修缮工程日前完工，将于下月开放，市民都说好。", ()),
        ("近日，古桥修缮工程完工，将于下月开放。", ()),  # a time opens sentences of its own
    ],
)
def test_a_credit_glued_to_the_last_sentence_closes_the_story_before_an_untitled_paragraph(
    brief: str, authors: tuple[str, ...]
) -> None:
    first, second = parse_page(_CLOSED.format(credit="记者周远") + f"\n{brief}\n").articles
    assert first.authors == ("周远",)
    assert first.body.endswith("日子一定会越来越好。”")
    assert second.authors == authors
    assert second.body == brief.removesuffix("记者林雨")


@pytest.mark.parametrize(
    ("credit", "after"),
    [
        ("记者随后来", "到桥头，看到车辆往来不断。"),  # a reporting word across the break (来到)
        ("记者周远", "了解到，新桥每天通行车辆上万辆。"),  # opening the next block
        ("记者周远", "看到，桥上车辆往来不断。"),
    ],
)
def test_a_sentence_about_the_reporter_a_column_break_cut_goes_on_in_the_next_block(
    credit: str, after: str
) -> None:
    page = parse_page(_CLOSED.format(credit=credit) + f"\n{after}\n")
    (article,) = page.articles
    assert article.authors == ()
    assert article.body.endswith(f"越来越好。”{credit}{after}")


def test_a_credit_glued_to_the_last_sentence_before_a_caption_closes_the_text_of_the_same_story() -> None:
    page = parse_page(_CLOSED.format(credit="记者周远") + "\n市民在新桥上合影留念。 本报记者 林雨 摄\n")
    (article,) = page.articles
    assert article.authors == ("周远", "林雨")
    assert article.body.endswith("日子一定会越来越好。”")
    assert [c.text for c in article.captions] == ["市民在新桥上合影留念。"]


@pytest.mark.parametrize(("credit", "authors"), [("记者从飞", ("从飞",)), ("记者欧阳晓东", ("欧阳晓东",))])
def test_a_glued_name_of_a_surname_like_a_reporting_word_or_of_four_characters_closes_the_story(
    credit: str, authors: tuple[str, ...]
) -> None:
    first, second = parse_page(
        _CLOSED.format(credit=credit) + "\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n"
    ).articles
    assert first.authors == authors
    assert first.body.endswith("日子一定会越来越好。”")
    assert second.title == "古桥修缮"


def test_a_reporting_word_of_one_character_glued_to_the_role_goes_on_after_a_column_break() -> None:
    (article,) = parse_page(
        _CLOSED.format(credit="记者从市") + "\n统计局获悉，新桥每天通行车辆上万辆。\n"
    ).articles
    assert article.authors == ()
    assert article.body.endswith("越来越好。”记者从市统计局获悉，新桥每天通行车辆上万辆。")


@pytest.mark.parametrize(
    "byline", ["\n\n文/李华", "\n文/李华", "\n\n文／李华", "\n\n文 / 李华  图 / 王明", "\n\n文/本报记者 李华"]
)
@pytest.mark.parametrize("title", ["乡愁", "故乡的那棵老枣树"])
def test_a_byline_crediting_the_text_with_a_mark_before_the_name_is_read(byline: str, title: str) -> None:
    page = parse_page(
        f"副刊\n\n{title}{byline}\n\n家是母亲灶台上升起的炊烟，是父亲院子里那棵老枣树。\n\n每次回家，母亲总要送我到村口。\n"
    )
    (article,) = page.articles
    assert (article.section, article.kicker, article.title, article.subtitle) == ("副刊", None, title, None)
    assert article.authors == (("李华", "王明") if "王明" in byline else ("李华",))
    assert article.body.startswith("家是母亲")


@pytest.mark.parametrize("byline", ["\n\n本报评论员", "\n本报特约评论员", "\n\n新华社评论员"])
def test_an_editorial_signed_by_the_outlets_commentator_keeps_the_signature_out_of_its_text(
    byline: str,
) -> None:
    page = parse_page(
        f"评论\n\n守护好城市的烟火气{byline}\n\n城市的烟火气，是老百姓最真实的生活味道。\n\n"
        "烟火气与好秩序并不矛盾，关键在于精细管理。\n"
    )
    (article,) = page.articles
    assert (article.title, article.authors, article.captions) == ("守护好城市的烟火气", (), ())
    assert (
        article.body
        == "城市的烟火气，是老百姓最真实的生活味道。\n\n烟火气与好秩序并不矛盾，关键在于精细管理。"
    )


@pytest.mark.parametrize("cut", ["\n", "\n\n"])  # the credit on the caption's last line, on its own
@pytest.mark.parametrize("gap", ["\n", "\n\n"])  # the section word in the credit's block, after a blank line
def test_a_section_word_after_a_credit_closed_by_its_mark_names_the_next_section(cut: str, gap: str) -> None:
    # 摄民生 would read as a second name: a credit closed by its mark takes no name after the mark.
    page = parse_page(
        "城事\n\n新桥通车\n\n本报讯 新桥今天正式通车，市民纷纷前来参观。\n\n菜农采摘忙\n\n"
        f"青石镇的菜农们正忙着采摘蔬菜，供应节日市场。图为菜农在大棚里采摘黄瓜。{cut}本报见习记者 林小河 摄"
        f"{gap}民生\n\n古桥修缮\n\n本报讯 古桥修缮工程日前完工，将于下月开放。\n"
    )
    assert [(a.section, a.title, a.authors) for a in page.articles] == [
        ("城事", "新桥通车", ()),
        ("城事", "菜农采摘忙", ("林小河",)),
        ("民生", "古桥修缮", ()),
    ]


_FIRST = "河滨步道夜间照明完工\n\n沿着溪岸的三公里步道昨晚起点亮新路灯，附近居民说，终于可以放心散步了。"
_SECOND = "老街糕饼店传到第三代\n\n老街的糕饼店传到第三代，店主每天清晨四点起床蒸年糕，街坊一早就来排队。\n"


@pytest.mark.parametrize("source", ["（新华社电）", "（据新华社）", "（本报综合）", "(据新华社电)"])
@pytest.mark.parametrize("gap", ["\n\n", "\n\n\n"])
def test_a_bracketed_source_alone_after_a_story_closes_it_not_the_next_headline(
    source: str, gap: str
) -> None:
    page = parse_page(f"{_FIRST}\n\n{source}{gap}{_SECOND}")
    assert [a.title for a in page.articles] == ["河滨步道夜间照明完工", "老街糕饼店传到第三代"]
    first, second = page.articles
    # a source note credits no one: it stays the last words of the story it closes
    printed = source.replace("(", "（").replace(")", "）")  # half-width brackets are printed full-width
    assert first.body.endswith(f"散步了。\n\n{printed}") and first.credits == ()
    assert second.body.startswith("老街的糕饼店") and printed not in second.body


@pytest.mark.parametrize("source", ["（新华社电）", "（综合外电报导）"])
def test_a_bracketed_source_alone_under_a_headline_is_a_paragraph_of_its_own(source: str) -> None:
    first = _FIRST.replace("\n\n", f"\n\n{source}\n\n", 1)
    page = parse_page(f"{first}\n\n\n{_SECOND}")
    assert [a.title for a in page.articles] == ["河滨步道夜间照明完工", "老街糕饼店传到第三代"]
    assert page.articles[0].body.startswith(f"{source}\n\n沿着溪岸")
