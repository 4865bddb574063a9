"""The byline grammar: roles, names and marks in any order, over a Conventions value.

Names here are invented; the forms are the ones Chinese dailies print.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from datetime import date

import pytest

from digest.config import ParserConfig
from digest.paper.bylines import (
    is_byline,
    is_editor_line,
    paren_names,
    parse_credits,
    reporting_goes_on,
    trailing_credit,
    unsigned_byline,
)
from digest.paper.conventions import MAINLAND, conventions_for
from digest.paper.datelines import parse_dateline
from digest.types import Credit


def names(text: str) -> list[str] | None:
    credits = parse_credits(text)
    return None if credits is None else [c.name for c in credits]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本报记者 甲乙、丙丁", ["甲乙", "丙丁"]),
        ("记者 甲乙 通讯员 丙丁", ["甲乙", "丙丁"]),
        ("本报通讯员 甲乙", ["甲乙"]),
        ("见习记者 甲乙", ["甲乙"]),
        ("实习生 甲乙", ["甲乙"]),
        ("特约记者 甲乙", ["甲乙"]),
        ("全媒体记者 甲乙", ["甲乙"]),
        ("融媒体记者 甲乙", ["甲乙"]),
        ("首席记者 甲乙", ["甲乙"]),
        ("拍友 甲乙", ["甲乙"]),
        ("文/图 甲乙", ["甲乙"]),
        ("甲乙 文/图", ["甲乙"]),
        ("记者/甲乙", ["甲乙"]),
        ("甲乙/摄", ["甲乙"]),
        ("甲乙/文 丙丁/图", ["甲乙", "丙丁"]),
        ("甲乙 摄影报道", ["甲乙"]),
        ("记者：甲乙；图/记者：丙丁", ["甲乙", "丙丁"]),
        ("李 涛", ["李涛"]),  # a two-character name padded to the width of three
        ("全媒体记者甲乙丙", ["甲乙丙"]),  # the role glued to the name
        ("记者甲乙丙通讯员丁戊", ["甲乙丙", "丁戊"]),  # names run together with roles
        ("记者 甲乙 摄影 丙丁 实习生戊己", ["甲乙", "丙丁", "戊己"]),
        ("城市晚报记者 甲乙", ["甲乙"]),  # an outlet glued to the role is no name
        ("某某报·某某网见习记者 甲乙", ["甲乙"]),
        ("拍摄者：本报记者 甲乙", ["甲乙"]),
        ("本报记者 甲乙 本报通讯员 丙丁 摄", ["甲乙", "丙丁"]),
        ("文/甲乙", ["甲乙"]),  # a mark before the name it credits, as a role
        ("文／甲乙", ["甲乙"]),
        ("文 / 甲乙 图 / 丙丁", ["甲乙", "丙丁"]),
        ("文/本报记者 甲乙", ["甲乙"]),
        ("图/本报记者 甲乙 文/丙丁", ["甲乙", "丙丁"]),
    ],
)
def test_the_forms_of_a_byline(text: str, expected: list[str]) -> None:
    assert names(text) == expected
    assert is_byline(text)


@pytest.mark.parametrize(
    ("text", "unsigned"),
    [
        ("本报评论员", True),
        ("本报特约评论员", True),
        ("新华社评论员", True),
        ("■ 青石日报评论员", True),
        ("本报评论员 甲乙", False),  # a name: a byline as any other
        ("本报记者", False),  # a reporter's name follows, if only in the next block
        ("评论员文章", False),
    ],
)
def test_a_byline_of_the_outlets_commentator_signs_with_no_name(text: str, unsigned: bool) -> None:
    assert unsigned_byline(text) is unsigned


@pytest.mark.parametrize(
    "text",
    [
        "图片报道",  # 报道 glued to a word is that word's
        "小记者对话校长",  # a headline holding a role word
        "某某会见中外记者倾力推介某地",
        "时间：3月6日上午",
        "聚焦新能源、稀土新材料、",  # a list item, not names
        "记者 通讯员",  # roles and no one
        "这是一句话。",
    ],
)
def test_what_is_not_a_byline(text: str) -> None:
    assert not is_byline(text)


def test_roles_and_marks_keep_their_order() -> None:
    assert parse_credits("记者：甲乙；图/记者：丙丁") == (Credit("甲乙", "记者"), Credit("丙丁", "图/ 记者"))
    assert parse_credits("甲乙/文 丙丁/图") == (Credit("甲乙", "文"), Credit("丙丁", "图"))
    assert parse_credits("本报记者 甲乙 摄") == (Credit("甲乙", "本报记者 摄"),)


def test_editors_are_read_but_never_authors() -> None:
    assert is_editor_line("编辑：甲乙")
    assert is_editor_line("（某某中心编辑）")
    assert parse_credits("编辑：甲乙") is None
    assert names("本报记者 甲乙 责任编辑 丙丁") is None  # mixed: kept as text, nothing lost


def test_trailing_credits_close_a_paragraph() -> None:
    assert trailing_credit("事情办完了。 (甲乙)") == ("事情办完了。", parse_credits("甲乙"))
    assert trailing_credit("事情办完了。(记者 甲乙 丙丁)")[1] == parse_credits("记者 甲乙 丙丁")  # type: ignore[index]
    assert trailing_credit("田里一片金黄。 记者 甲乙 摄") == ("田里一片金黄。", parse_credits("记者 甲乙 摄"))
    assert trailing_credit("他说。”甲乙丙 丁戊")[1] == parse_credits("甲乙丙 丁戊")  # type: ignore[index]
    # One bare word after a sentence is the sentence's own; so is a remark in brackets.
    assert trailing_credit("他来了。大家") is None
    assert trailing_credit("他来了(这是第一次)") is None
    assert paren_names("（周 健 刘星野）") == parse_credits("周健 刘星野")


@pytest.mark.parametrize(
    "text", ["多得不得了！”记者追问", "生活的开始。记者昨日从市", "大学老师。记者在南京站"]
)
def test_a_role_glued_to_the_sentence_and_the_words_after_it_is_no_credit(text: str) -> None:
    # The start of a sentence about the reporter, cut off where a column ends.
    assert trailing_credit(text) is None


@pytest.mark.parametrize(
    ("text", "credit"),
    [
        ("日子一定会越来越好。”", "记者周远"),
        ("新馆下月投入使用。", "实习生陈晨"),
        ("新馆下月投入使用。", "本报记者周远通讯员林雨"),
        ("新馆下月投入使用。", "记者欧阳晓东"),  # a compound surname's name of four
        ("新馆下月投入使用。", "记者从飞"),  # surnames that are reporting words of one character
        ("新馆下月投入使用。", "记者问静"),
    ],
)
def test_a_role_glued_to_the_last_sentence_and_a_name_closes_the_story(text: str, credit: str) -> None:
    # Where the story goes on after the paragraph, the same words may be a sentence a column
    # break cut; where it ends there, they are its credit.
    assert trailing_credit(text + credit) is None
    assert trailing_credit(text + credit, closing=True) == (text, parse_credits(credit))


@pytest.mark.parametrize(
    "text",
    [
        "他们都说不得了！”记者追问",
        "事情还没有结束。记者了解到",
        "场馆里人来人往。记者注意到",
        "工地已经停工。记者看到",
        "新馆的开放时间。记者昨日从市",
        "一名退休教师。记者在青石站",
        "新馆的开放时间。记者从市里",  # a reporting word of one character before more than a name
        "新馆的开放时间。记者问市民",
        "新馆已经开放。记者周远来到现场",
    ],
)
def test_a_role_glued_to_the_words_of_a_sentence_is_no_credit_even_where_the_story_ends(text: str) -> None:
    # Verbs and times follow the reporter in a sentence about them, as do more words than a name has.
    assert trailing_credit(text, closing=True) is None


@pytest.mark.parametrize(
    ("text", "goes_on"),
    [
        ("到城北，看到菜价平稳。", True),  # 来到 across the break
        ("了解到，菜价平稳。", True),
        ("看到，菜价平稳。", True),
        ("随机采访了几位市民。", True),
        ("城北的菜价也很平稳。", False),
        ("在城北，菜价也很平稳。", False),  # a word of one character opens sentences as often
        ("近日，城北的菜价也很平稳。", False),  # so does a time
        ("今天上午，城北的菜价也很平稳。", False),
    ],
)
def test_what_goes_on_with_a_sentence_about_the_reporter_after_a_break(text: str, goes_on: bool) -> None:
    assert reporting_goes_on("菜价总体平稳。记者随后来", text) is goes_on


def test_words_glued_to_the_role_that_a_reporting_word_starts_go_on_after_a_break() -> None:
    # 从飞 names the reporter at a story's end; with text after the break, 从市 starts a sentence.
    assert reporting_goes_on("菜价总体平稳。记者从市", "统计局获悉，菜价平稳。")
    assert not reporting_goes_on("菜价总体平稳。记者周远", "统计局获悉，菜价平稳。")


@pytest.mark.parametrize("text", ["他来了。记者 甲乙", "他来了。（记者甲乙）", "田里一片金黄。记者甲乙摄"])
def test_a_credit_set_apart_or_closed_by_its_mark_stays_a_credit(text: str) -> None:
    assert trailing_credit(text) is not None


@pytest.mark.parametrize(
    ("text", "date_", "who"),
    [
        ("本报讯 (记者 甲乙)今天", None, ["甲乙"]),
        ("晨报讯 今天", None, []),
        ("某某特区报讯（记者 甲乙）今天", None, ["甲乙"]),
        ("本报讯 记者甲乙、通讯员丙丁报道：今天", None, ["甲乙", "丙丁"]),
        ("新华社北京3月14日电（记者 甲乙）今天", "03-14", ["甲乙"]),
        ("某某网5月12日讯(本网记者 甲乙 丙丁 文/图) 今天", "05-12", ["甲乙", "丙丁"]),
        ("本报讯今天", None, []),
    ],
)
def test_datelines_of_any_outlet(text: str, date_: str | None, who: list[str]) -> None:
    line = parse_dateline(text)
    assert line is not None
    assert line.date == date_
    assert [c.name for c in line.credits] == who
    assert text[line.length :].strip() == "今天"


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("本报西岭12月3日电 记者：甲乙", ["甲乙"]),
        ("本报讯 记者 甲乙 通讯员 丙丁", ["甲乙", "丙丁"]),
        ("新华社北京12月3日电 记者甲乙", ["甲乙"]),
    ],
)
def test_a_credit_closing_the_dateline_line_is_its_credit(text: str, who: list[str]) -> None:
    line = parse_dateline(text)
    assert line is not None
    assert [c.name for c in line.credits] == who
    assert line.length == len(text)


@pytest.mark.parametrize(
    "text", ["本报讯 近日，我市召开会议", "本报讯 编辑：甲乙", "某某网讯(本网记者 甲乙 丙丁"]
)
def test_text_or_a_cut_bracket_after_a_dateline_is_no_credit(text: str) -> None:
    line = parse_dateline(text)
    assert line is not None and not line.credits


def test_a_day_only_dateline_takes_its_month_from_the_issue() -> None:
    assert parse_dateline("本报合肥18日电 今天") is not None
    assert parse_dateline("本报合肥18日电 今天").date is None  # type: ignore[union-attr]
    dated = parse_dateline("本报合肥18日电 今天", MAINLAND, date(2026, 3, 19))
    assert dated is not None and dated.date == "03-18"


@pytest.mark.parametrize("text", ["本报通讯员甲乙说", "市民来电反映", "他们通讯录里有人", "电视台播出了"])
def test_what_is_not_a_dateline(text: str) -> None:
    assert parse_dateline(text) is None


def test_a_paper_adds_its_own_words() -> None:
    assert not is_byline("播报员 甲乙")
    conv = MAINLAND.extended(roles=("播报员",))
    assert is_byline("播报员 甲乙", conv)
    assert MAINLAND.extended(roles=("记者",)).roles == MAINLAND.roles  # duplicates kept once


@pytest.mark.parametrize("note", ["(待续)", "（本报综合）", "（据新华社电）", "（新华社）", "(全文完)"])
def test_a_source_note_in_brackets_credits_no_one(note: str) -> None:
    assert trailing_credit(f"事情办完了。{note}") is None
    assert paren_names(note) is None


def test_every_parser_key_adds_to_its_conventions_field() -> None:
    keys = [f.name for f in dataclasses.fields(ParserConfig)]
    conv = conventions_for(ParserConfig(**{key: ("甲乙",) for key in keys}))
    for key in keys:
        assert getattr(conv, key)[-1] == "甲乙", key
    assert conventions_for(ParserConfig()) is MAINLAND


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("视觉 林雨晴", ["林雨晴"]),  # a photo designer's credit, set apart from the name
        ("视觉：陈晨", ["陈晨"]),
        ("文字 周远 视觉：陈晨", ["周远", "陈晨"]),
        ("视觉/陈晨", ["陈晨"]),
        ("视觉盛宴点亮夜空", None),  # glued to the words after it, 视觉 opens a phrase
        ("视觉冲击", None),
    ],
)
def test_a_spaced_role_credits_only_set_apart(text: str, expected: list[str] | None) -> None:
    assert is_byline(text) is (expected is not None)
    if expected is not None:
        assert names(text) == expected


def test_a_headline_opening_with_a_spaced_role_stays_a_headline() -> None:
    from digest.paper.parse import parse_page

    page = parse_page(
        "视觉盛宴点亮夜空\n\n本报讯 昨晚，城南广场举行灯光秀，吸引数千市民观看。\n\n文字 周远 视觉：陈晨\n"
    )
    (article,) = page.articles
    assert article.title == "视觉盛宴点亮夜空"
    assert [c.name for c in article.credits] == ["周远", "陈晨"]


def test_conventions_hash_once_and_never_carry_a_hash_into_another_process() -> None:
    # The hash is kept on the value (the byline cache hashes it for every line); string hashes are
    # salted per process, so a value pickled in one process (a worker's) hashes afresh in another.
    conv = conventions_for(ParserConfig(roles=("播报员",)))
    again = MAINLAND.extended(roles=("播报员",))
    assert conv is not again and conv == again and hash(conv) == hash(again)
    assert hash(conv) != hash(MAINLAND)
    code = (
        "import pickle, sys; from digest.paper.conventions import MAINLAND; "
        "sys.stdout.buffer.write(pickle.dumps((MAINLAND, hash(MAINLAND))))"
    )
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    salted = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", code], env=salted, capture_output=True, check=True, timeout=60
    )
    there, hash_there = pickle.loads(out.stdout)
    assert hash_there != hash(MAINLAND)  # another salt
    assert there == MAINLAND and hash(there) == hash(MAINLAND)
    assert there.credit_hint.search("本报记者 甲乙")  # the compiled patterns travel as before
