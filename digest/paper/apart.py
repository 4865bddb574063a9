"""Short lines the page sets apart that are no headline, though they stand where one would: a list
of labelled fields or of photo captions under a headline, a section's bare name over text, a
column's name over a headline, a box's label inside a story.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.bylines import BULLET, photographed, trailing_credit
from digest.paper.classify import T, _Line
from digest.paper.conventions import Conventions
from digest.paper.shapes import _FIELD, _FIELD_LABELS, _NUMBERED
from digest.paper.textnorm import CJK, ends_open, ends_sentence

_SECTION_LEN = 4  # bare section names (速递, 一线, 图见) are this short


_COLUMN_LEN = 8  # a column name set apart above a headline (聚焦防汛抗洪) is this short


_CAPTION_LINES = 3  # a list of captions a line each has this many lines at least


_STACK_LINES = 4  # lines of subtitles stacked under a headline at most; a longer list is captions


_CAPTION_REACH = 40  # lines of the story under a list of captions searched for its photo


_STACK_MARKS = re.compile(r"\s|——|[|｜：:]")  # how headline lines read: phrases side by side, a dash


_PHOTO_REACH = 3  # lines under a section's name that may hold its photo's caption and credit


_SECTION_REACH = 2 * _PHOTO_REACH + 1  # lines _section_over_photo reads: a photo, a word, a photo


def _is_section_name(text: str, conv: Conventions) -> bool:
    """Could a short bare line be a section's name?  Never one character: that is a word or a
    name's end a cut left over (记者 周小 / 川), not a section every later story would carry."""
    return (
        2 <= len(text) <= _SECTION_LEN
        and not conv.place.match(text)
        and not re.search(r"\d", text)
        and not ends_open(text)  # a kicker (水利部：) runs on into its headline
    )


def _bare_word(line: _Line, conv: Conventions) -> bool:
    """A bare word of a few characters alone in its block: how a section's name is printed."""
    return (
        line.alone
        and not line.md
        and re.fullmatch(f"[{CJK}]{{2,{_SECTION_LEN}}}", line.text) is not None
        and _is_section_name(line.text, conv)
    )


def _section_over_text(
    run: list[_Line], prev: _Line | None, nxt: _Line | None, conv: Conventions
) -> int | None:
    """On a page printing headlines under their stories, where in ``run`` a section's name
    stands: a bare word alone in its block with no story open above it (the top of the page, or
    the headline that closed the story before) and text under it.  A headline there would have
    no story to close; what follows it is the next story's text (a line of it may look short)."""
    for k, line in enumerate(run):
        if (
            _bare_word(line, conv)
            and (k > 0 or prev is None or prev.kind in (T.HEADING, T.SECTION))
            and (
                (k < len(run) - 1 and not run[k + 1].alone)
                or (nxt is not None and nxt.kind in (T.PARA, T.BYLINE))
            )
        ):
            return k
    return None


def _section_over_photo(
    run: list[_Line],
    prev: _Line | None,
    below: list[_Line],
    conv: Conventions,
    page_name: str | None,
    markdown: bool = False,
) -> bool:
    """A section's bare name over an untitled photo at the very top of the page (or the name the
    folio gives the page, where nothing above named a section yet), and under it a caption closed
    by the photographer's credit, at its end or on the line after it (a column break may cut the
    caption in two).  Lower down, a short word over a photo is the photo's title (雪后初晴, 植绿),
    and so is each of a row of them (春耕忙 / 赏花去 / 防汛演练): the page's top may open such a
    row too.  On a page marking its headlines with # (``markdown``), a photo's title is marked, so
    an unmarked bare word over an untitled photo names the section anywhere on the page (图片新闻).
    ``below`` holds the lines after ``run`` (``_SECTION_REACH`` of them are read)."""
    if len(run) != 1 or not _bare_word(run[0], conv):
        return False
    if markdown:
        return _photo(below, conv) is not None
    if prev is not None and not (
        run[0].text == page_name
        and run[0].gap >= 2
        and (
            prev.kind in (T.CREDIT, T.PAREN)
            or (prev.kind is T.PARA and (ends_sentence(prev.text) or trailing_credit(prev.text, conv)))
        )
    ):
        return False
    photo = _photo(below, conv)
    if photo is None:
        return False
    rest = below[photo + 1 :]
    # Another bare word over another photo: a row of titled photos, the first word one of them.
    return not (rest and _bare_word(rest[0], conv) and _photo(rest[1:], conv) is not None)


def _photo(below: list[_Line], conv: Conventions) -> int | None:
    """Where the untitled photo's caption opening ``below`` ends with the photographer's credit."""
    if not below or below[0].dateline is not None:
        return None
    for k, line in enumerate(below[:_PHOTO_REACH]):
        if line.kind is T.CREDIT:
            return k if any(photographed(c) for c in line.credits) else None
        if line.kind is not T.PARA:
            return None
        credit = trailing_credit(line.text, conv)
        if credit is not None:
            return k if any(photographed(c) for c in credit[1]) else None
    return None


def _field_list(run: list[_Line]) -> int:
    """How many lines at the end of ``run`` list labelled fields, one a line in one block
    (时间：3月6日上午 / 地点：…), under a headline of their own (街拍): two or more, or none.

    A headline and its subtitle often take that shape too, each naming who says what
    (卫健委：呼吸道疾病进入高发期 / 专家：勤洗手戴口罩): two labelled lines are fields only
    when the labels are what such listings name (``_FIELD_LABELS``), and three or more when most
    of them are (代表：… / 委员：… / 专家：… under a kicker is a headline stack)."""
    n = _fields(run)
    return n if n < len(run) else 0


def _fields(run: list[_Line]) -> int:
    """How many lines at the end of ``run`` list labelled fields in one block, as ``_field_list``
    reads them, whether or not a headline stands over them."""
    n = 0
    for line in reversed(run):
        if line.md or not _FIELD.match(line.text):
            break
        n += 1
        if line.gap:
            break
    if n < 2:
        return 0
    labels = [re.split("[：:]", line.text, maxsplit=1)[0] for line in run[-n:]]
    listed = sum(label in _FIELD_LABELS for label in labels)
    return n if listed == n or (n >= 3 and 2 * listed > n) else 0


def _listing(run: list[_Line]) -> bool:
    """Is all of ``run`` one block listing labelled fields (时间：… / 地点：…) or photo captions,
    a plain phrase to a line (东岭村的油菜花海 / 白沙乡果农修剪梨树 / …), with no headline over
    them?  A headline stack prints phrases side by side or a dash, and has fewer lines."""
    if _fields(run) == len(run):
        return True
    return (
        len(run) >= _CAPTION_LINES
        and all(r.gap == 0 and r.apart for r in run[1:])
        and not any(r.md or _STACK_MARKS.search(r.text) for r in run)
    )


def _caption_list(run: list[_Line], prev: _Line | None, below: list[_Line], conv: Conventions) -> int:
    """How many lines at the end of ``run`` list photo captions a line each, in a block of their
    own under the headline's block (a picture spread: 东岭村的油菜花海 / 白沙乡果农修剪梨树 / …):
    three or more, or none.  A headline stack (kicker, title, subtitle) under a column's short
    name is the same shape, so the block above must be more than such a name; a headline's lines
    print phrases side by side or a dash, captions one plain phrase each.  The headline may
    be ``prev``, when a line of layout noise (扫码看视频) stood between.

    A stack of subtitles (坚持人民至上 / 坚持守正创新 / …) or a list of names is that shape too:
    captions need a photo to caption, a photographer's credit or a 图为 in the story ``below``
    (``_CAPTION_REACH`` lines of it are read), or captions written as sentences, or more lines
    than a stack of subtitles takes (the story may keep its photographers' names off the page)."""
    n = 0
    for line in reversed(run):
        n += 1
        if line.gap:
            break
    block, above = run[-n:], run[:-n]
    if not above and prev is not None and prev.kind is T.HEADING:
        above = [prev]
    if not above and n > _CAPTION_LINES and not run[0].gap:
        # A page without blank lines prints the captions right under their headline's one line.
        block, above, n = run[1:], run[:1], n - 1
    if n < _CAPTION_LINES or not above:
        return 0
    if len(above) == 1 and len(above[0].text) <= _COLUMN_LEN:
        return 0  # a column's name over a headline stack
    if any(r.md or _STACK_MARKS.search(r.text) for r in block):
        return 0
    listed = n > _STACK_LINES or any(ends_sentence(r.text) for r in block)
    return n if listed or _photo_in(below, conv) else 0


def _photo_in(below: list[_Line], conv: Conventions) -> bool:
    """Does the story opening ``below`` print a photo: a photographer's credit or a 图为 caption
    before the next headline?"""
    for line in below[:_CAPTION_REACH]:
        if line.kind in (T.HEADING, T.SECTION, T.CANDIDATE):
            return False
        if line.kind is T.CREDIT and any(photographed(c) for c in line.credits):
            return True
        if line.kind is T.PARA and line.text.startswith(("图为", "图片为")):
            return True
        credit = trailing_credit(line.text, conv) if line.kind is T.PARA else None
        if credit is not None and any(photographed(c) for c in credit[1]):
            return True
    return False


def _brief(line: _Line | None) -> bool:
    """A bulleted item of a roundup: a bullet, then a sentence (△联席会议制度已在我省全面实行。…)."""
    return line is not None and BULLET.match(line.text) is not None and "。" in line.text


def _box_label(line: _Line, prev: _Line | None) -> bool:
    """A bare word of a few characters alone between blank lines after a finished paragraph
    (链接, 背景, 相关新闻) labels a box or a part of the story: a paragraph of its own, never the
    start of the text under it.  So does a numbered part's heading (（一）压实责任, 二、…, 3.…)."""
    return (
        line.alone
        and prev is not None
        and prev.kind is T.PARA
        and ends_sentence(prev.text)
        and (
            re.fullmatch(f"[{CJK}]{{2,{_SECTION_LEN}}}", line.text) is not None
            or _NUMBERED.match(line.text) is not None
        )
    )


def _column_name(run: list[_Line], conv: Conventions) -> bool:
    """A column's name set apart above a headline (聚焦防汛抗洪): a short bare line alone in its
    block, the headline in a block of its own below it.  (Two # headings one above the other
    are a kicker and its headline: the page marked both as headline text.)"""
    first, second = run[0], run[1]
    return (
        first.alone
        and not first.md
        and second.gap > 0
        and len(first.text) <= _COLUMN_LEN
        and not conv.place.match(first.text)
        and re.fullmatch(f"[{CJK}·]{{2,}}", first.text) is not None
    )
