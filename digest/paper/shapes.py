"""What the widths and marks of a block's lines say about how they were set: the page's wrapped
column, lines printed whole (a paragraph to a line), lines spread to the column's width, lines set
apart (a kicker over its headline, captions listed a line each, labelled fields), a page-long listing.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.bylines import is_byline
from digest.paper.conventions import Conventions
from digest.paper.cuts import _open_credit
from digest.paper.textnorm import CJK, ends_open, ends_sentence, squeeze_spaces

_WRAP_WIDTH = 44  # characters; a narrow column's wrapped lines are never longer than this


_MAX_HEADING = 50  # characters; longer unpunctuated lines are wrapped body text


_SHORT_LINE = 0.75  # share of the column a line set apart stops short of (a paragraph's lines fill it)


_LIST_LINES = 8  # a block of more short lines than this is a narrow column, not a list
_LISTED_LINES = 3  # lines with no mark at all in them, as a list of captions prints them
_CLAUSE_MARK = re.compile("[，,、！!？?]")
_CAPTION_LINE = 16  # characters of a caption listed a line each over its story's credit


_PAGE_BLOCK = 40  # lines; a block longer than this is a page printed without blank lines
_WRAP_SLACK = 1  # characters a wrapped line of such a block stops short of its column at most


# A numbered item or part opening its line: （一）, 一、, 1. or 1、 (never 1.5亿, nor 二、三产业).
_NUMBERED = re.compile(
    r"^(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、(?![一二三四五六七八九十])|\d{1,2}[.．、](?!\d))\s*\S"
)


_FIELD = re.compile(f"^[{CJK}]{{2,4}}[：:]\\S")  # a labelled field: 时间：3月6日上午
# What the fields of a listing under a headline are called (街拍: 时间：… / 地点：… / 拍摄者：…).
_FIELD_LABELS = frozenset(
    ("时间", "日期", "地点", "地址", "人物", "事件", "拍摄", "拍摄者", "摄影", "主办", "承办", "电话")
)


def _listing(block: list[str]) -> bool:
    """Is ``block`` as long as a page with no full stop in it, so it sets no column
    (``_column_width``)?  Headlines come a few at a time between stories; a page's worth of lines
    without a sentence is a list, an entry to a line."""
    return len(block) > _PAGE_BLOCK and not any("。" in line for line in block)


def _spread(line: str) -> bool:
    """Is ``line`` spread to its column's width (本 期 读 书 会 。 ”)?  A space follows every
    other glyph at least, as a bracket set close to its word leaves (（记 者 张 三）); prose has few."""
    spaces = line.count(" ")
    return spaces > 0 and 3 * spaces >= len(line)


def _wraps(line: str, width: int) -> bool:
    """Does ``line`` go on into the next, in a column ``width`` characters wide?  It fills the
    column, within a character (a mark or a figure that did not fit), and stops mid-sentence; a
    paragraph's last line stops short, and so do most headlines, often by only two characters."""
    return _glyphs(line) >= width - _WRAP_SLACK and not ends_sentence(line)


_INDENT = 2  # characters a paragraph's first line is indented by (an export may drop the indent)
_PROSE_MARK = re.compile("[，,、；;：:。！!？?]")


def _unindented_wrap(line: str, nxt: str, width: int) -> bool:
    """Does ``line``, stopping short of the column by the paragraph indent the export dropped, go
    on into ``nxt`` as a paragraph's first line does on a page without blank lines?  It stops
    mid-sentence with no mark in it, as a headline does, but the line under it goes on as prose:
    it fills the column, or ends the sentence, with a clause mark in it.  A headline's next line
    is a story's opening, short of the column by the indent itself, or another headline line."""
    short = width - _WRAP_SLACK - _INDENT <= _glyphs(line) < width - _WRAP_SLACK
    prose = _PROSE_MARK.search(nxt) is not None and (_wraps(nxt, width) or ends_sentence(nxt))
    return short and prose and not ends_sentence(line) and _PROSE_MARK.search(line) is None


def _finished(out: list[str]) -> bool:
    """Does the text laid out so far end a sentence (so the next line opens a paragraph)?"""
    return bool(out) and ends_sentence(out[-1])


def _runs_on(pieces: list[str], line: str, column: int, opens: bool, conv: Conventions) -> bool:
    """In a page-long block, does the last line begun go on into ``line``: it fills the column
    mid-sentence, it leaves a bracketed credit open that ``line`` closes (``本报某地 5月 6日电 （记者`` /
    ``周远）…``), or it is a paragraph's first line exported without its indent (one that ``opens`` a
    paragraph, under finished text or a dateline, the paragraph going on in ``line``)?"""
    last = pieces[-1]
    return (
        _wraps(last, column)
        or _open_credit(last, line, conv)
        or (len(pieces) == 1 and opens and _unindented_wrap(last, line, column))
    )


def _listed_field(line: str) -> bool:
    """A labelled field of a listing (时间：3月6日上午): a line of its own when another follows it,
    however much of the column it fills."""
    return _FIELD.match(line) is not None and re.split("[：:]", line, maxsplit=1)[0] in _FIELD_LABELS


def _column_width(blocks: list[list[str]]) -> int:
    """The page's column width in characters: the usual length of a wrapped line (0 if none).

    A paragraph's last line is no wrap, but it is never wider than the column: where the blocks'
    last lines are as wide as a page printing a paragraph to a line, their short lines above (a
    headline and its byline in the block of the text) set no column."""
    wrapped = [block for block in blocks if len(block) >= 3 and any("。" in line for line in block)]
    widths = sorted(_glyphs(line) for block in wrapped for line in block[:-1])
    ends = [_glyphs(block[-1]) for block in wrapped]
    return widths[len(widths) // 2] if widths and not _wide(widths + ends) else 0


def _wide(widths: list[int]) -> bool:
    """Are these line widths too wide for a column's wraps?  A line or two in ten printed whole
    (a long caption, a wide headline) leave a column a column."""
    if max(widths) <= _WRAP_WIDTH:
        return False  # most blocks: the cheap answer
    return sorted(widths)[len(widths) * 9 // 10] > _WRAP_WIDTH


def _glyphs(line: str) -> int:
    """How many characters wide a line is set: a justified line (本 期 读 书 会) is as wide as its
    column, not twice, so its justification spaces are left out."""
    return len(squeeze_spaces(line))


def _unwrapped_lines(block: list[str], width: int) -> bool:
    """A block of a few short lines, none ending a sentence, where some line stops well short
    of the column: the lines were set apart, not wrapped.  A line ending mid-clause (水利部：)
    runs on into the next, as a wrap would."""
    if not 2 <= len(block) <= _LIST_LINES or any(not 2 <= len(line) <= _MAX_HEADING for line in block):
        return False
    if any(re.search(r"[。；;]", line) or ends_open(line) for line in block):
        return False
    # Prose puts a mark in every line or two: three full lines with none are a list (captions).
    listed = len(block) >= _LISTED_LINES and not any(_CLAUSE_MARK.search(line) for line in block)
    return listed or not width or any(len(line) < _SHORT_LINE * width for line in block[:-1])


def _captions_over_credit(block: list[str], conv: Conventions) -> int:
    """How many lines open ``block`` as a list of captions over a credit: three or more short
    lines with no mark in them (市政府北坡花坛 / 丰收的喜悦 / …), then a byline."""
    if len(block) <= _LISTED_LINES or len(block[0]) > _CAPTION_LINE:
        return 0  # most blocks open with a line of text
    n = next((k for k, line in enumerate(block) if len(line) > _CAPTION_LINE or _CLAUSE_MARK.search(line)), 0)
    listed = n >= _LISTED_LINES and not any(map(ends_sentence, block[:n]))
    return n if listed and is_byline(block[n], conv) else 0


def _opens_item(above: str, line: str) -> bool:
    """Does ``line`` open a numbered item (一、…, 1.…, （二）…) after a line ending a sentence, a
    list's clause (；) or its lead-in (做好以下工作：)?  The item is a paragraph of its own, even
    where the line above stops short enough to look like a wrap."""
    end = above.rstrip()[-1:]
    return _NUMBERED.match(line) is not None and (end in "：:；;" or ends_sentence(above))
