"""Properties the parser keeps on any input (hypothesis)."""

from __future__ import annotations

import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.parse import parse_page
from digest.types import Page

# Text made of the pieces pages are made of, so the rules actually fire.
_PIECES = st.sampled_from(
    [
        "本报",
        "记者",
        "讯",
        "电",
        "摄",
        "通讯员",
        "□",
        "■",
        "●",
        "#",
        "## ",
        "**",
        "——",
        "(",
        ")",
        "（",
        "）",
        "﹃",
        "﹄",
        "。",
        "，",
        ",",
        "、",
        "：",
        "“",
        "”",
        "？",
        "！",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\r\n",
        "\t",
        "7月21日",
        "第4版",
        "上接",
        "星期三",
        "编辑有话说:",
        "问:",
        "答:",
        "图解",
        "区",
        "旗",
        "市",
        "山",
        "城",
        "新",
        "桥",
        "通",
        "车",
        "甲",
        "乙",
        "丙",
        "林",
        "小",
        "河",
        "2023",
        "45k",
        "CCER",
        "特别报道特别报道",
        "\x00",
        "\x07",
        "\ufffe",
        "\u3000",
        "\xa0",
        # The open byline grammar and the page layout it reads.
        "/",
        "文/图",
        "摄影报道",
        "实习生",
        "见习记者",
        "晚报",
        "网",
        "消息",
        "18日",
        "编辑",
        "△",
        "【",
        "】",
        "|",
        "?",
        "!",
        "!”",
        "\n\n\n",
        "甲 乙",
        "又讯",
        "图为",
    ]
)
_PAGES = st.lists(_PIECES, max_size=80).map("".join)


def _letters(text: str) -> Counter[str]:
    text = unicodedata.normalize("NFKC", text)
    return Counter(ch for ch in text if ch.isalnum())


def _accounted(page: Page) -> Counter[str]:
    found: Counter[str] = Counter()
    for a in page.articles:
        for part in (a.section, a.kicker, a.title, a.subtitle, a.body, a.dateline, *a.notes, *a.jumps):
            found += _letters(part or "")
        for credit in a.credits:
            found += _letters(credit.name + credit.role)
    for noise in page.dropped:
        found += _letters(noise)
    return found


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_any_string(text: str) -> None:
    page = parse_page(text, "x.txt")
    assert page.name == "x.txt"


@settings(max_examples=200, deadline=None)
@given(_PAGES)
def test_deterministic(text: str) -> None:
    assert parse_page(text) == parse_page(text)


@settings(max_examples=400, deadline=None)
@given(_PAGES)
def test_no_letter_lost_except_reported_noise(text: str) -> None:
    page = parse_page(text)
    lost = _letters(text) - _accounted(page)
    # Section names are kept once however often a running head repeats them.
    sections = {a.section for a in page.articles if a.section}
    for section in sections:
        lost -= Counter({ch: 8 * n for ch, n in _letters(section).items()})
    assert not lost, (text, page)


@settings(max_examples=200, deadline=None)
@given(_PAGES)
def test_output_is_clean_text(text: str) -> None:
    for a in parse_page(text).articles:
        for part in (a.title or "", a.body, *a.notes):
            assert "\x00" not in part and "\ufffe" not in part and "\r" not in part
            assert "**" not in part
            assert not part.startswith((" ", "\n")) and not part.endswith((" ", "\n"))
