"""Properties the parser keeps on any input (hypothesis)."""

from __future__ import annotations

import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.paper.parse import parse_page
from digest.paper.titles import balanced, short_title
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
        "图：",
        "上图",
        "/摄",
        "《",
        "》",
    ]
)
_PAGES = st.lists(_PIECES, max_size=80).map("".join)


def _letters(text: str) -> Counter[str]:
    text = unicodedata.normalize("NFKC", text)
    return Counter(ch for ch in text if ch.isalnum())


def _accounted(page: Page) -> Counter[str]:
    found: Counter[str] = Counter()
    for a in page.articles:
        captions = (c.text for c in a.captions)
        for part in (
            a.section,
            a.kicker,
            a.title,
            a.subtitle,
            a.body,
            a.dateline,
            *a.notes,
            *a.jumps,
            *captions,
        ):
            found += _letters(part or "")
        for credit in a.credits:
            found += _letters(credit.name + credit.role)
    for noise in page.dropped:
        found += _letters(noise)
    return found


def _lost(text: str, page: Page) -> Counter[str]:
    """The letters of ``text`` that ``page`` neither carries nor reports.

    Section names and credits are kept once however often the page prints them: a running head
    repeats its section, a reporter is named by the byline and again by each photo's credit.
    """
    lost = _letters(text) - _accounted(page)
    sections = {a.section for a in page.articles if a.section}
    credits = {c.name + c.role for a in page.articles for c in a.credits}
    for kept in sections | credits:
        lost -= Counter({ch: 8 * n for ch, n in _letters(kept).items()})
    return lost


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
    assert not _lost(text, page), (text, page)


@settings(max_examples=200, deadline=None)
@given(_PAGES)
def test_output_is_clean_text(text: str) -> None:
    for a in parse_page(text).articles:
        for part in (a.title or "", a.body, *a.notes):
            assert "\x00" not in part and "\ufffe" not in part and "\r" not in part
            assert "**" not in part
            assert not part.startswith((" ", "\n")) and not part.endswith((" ", "\n"))


# An article as pages print one with photos: a headline, captions above or among the text (some
# with a photographer's credit, some saying 图为), a byline or dateline, paragraphs of prose.
_WORD = st.text(alphabet="甲乙丙丁林河桥山城新通车小", min_size=2, max_size=6)
_SENTENCE = st.lists(_WORD, min_size=3, max_size=12).map(lambda words: "，".join(words) + "。")
_CAPTION = st.tuples(
    st.sampled_from(["", "图为", "图：", "上图："]),
    st.lists(_WORD, min_size=2, max_size=5).map("".join),
    st.sampled_from(["。", ""]),
    st.sampled_from(["", " 本报记者 林小河 摄", "（甲乙 摄）", " 丙丁/摄", "记者 山城 摄"]),
).map("".join)
_PARAGRAPH = st.lists(_SENTENCE, min_size=2, max_size=6).map("".join)
_ARTICLE = st.tuples(
    st.lists(_WORD, min_size=2, max_size=4).map("".join),
    st.lists(_CAPTION, max_size=3),
    st.sampled_from(["", "本报讯（记者 甲乙）", "本报记者 丙丁\n\n"]),
    st.lists(st.tuples(_PARAGRAPH, st.lists(_CAPTION, max_size=1)), min_size=1, max_size=4),
).map(
    lambda parts: (
        f"### {parts[0]}\n\n"
        + "".join(f"{c}\n\n" for c in parts[1])
        + parts[2]
        + "\n\n".join(p + "".join(f"\n\n{c}" for c in cs) for p, cs in parts[3])
        + "\n"
    )
)


@settings(max_examples=150, deadline=None)
@given(_ARTICLE)
def test_captions_lose_no_letter_and_leave_the_body(text: str) -> None:
    page = parse_page(text)
    assert not _lost(text, page), (text, page)
    for a in page.articles:
        paragraphs = a.body.split("\n\n") if a.body else []
        texts = [c.text for c in a.captions]
        assert all(texts), (text, a)
        # The text as printed holds every paragraph and every caption, each once: a caption left
        # the body (a paragraph may still read the same when the page printed it twice).
        printed = a.printed_body().split("\n\n") if a.printed_body() else []
        assert Counter(printed) == Counter(paragraphs) + Counter(texts), (text, a)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_PAGES, st.text(), _PARAGRAPH))
def test_short_title_is_short_balanced_and_from_the_text(text: str) -> None:
    title = short_title(text)
    if title is None:
        return
    assert title.strip() and balanced(title), (text, title)
    assert len(title.removesuffix("…")) <= 20, (text, title)
    bare = title.removesuffix("…")
    assert all(ch in text for ch in bare), (text, title)
