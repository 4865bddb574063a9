"""Logical lines of a page: blocks, OCR line wraps and column breaks undone, running heads found.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date

from digest.paper.bylines import BULLET, find_jumps, is_byline, trailing_credit
from digest.paper.conventions import Conventions
from digest.paper.cuts import (
    _CREDIT_LINE,
    _TEXT_END,
    _cut_by_column_break,
    _cut_credit,
    _editors_line,
    _lengthens_whole_credit,
    _open_credit,
)
from digest.paper.datelines import Dateline, parse_dateline
from digest.paper.shapes import (
    _MAX_HEADING,
    _PAGE_BLOCK,
    _captions_over_credit,
    _column_width,
    _finished,
    _glyphs,
    _listed_field,
    _listing,
    _opens_item,
    _runs_on,
    _spread,
    _unwrapped_lines,
    _wide,
)
from digest.paper.tables import _tables
from digest.paper.textnorm import (
    CJK,
    clean_lines,
    display_width,
    ends_open,
    ends_sentence,
    join_vertical,
    join_wrapped,
    squeeze_spaces,
    undouble,
)

_MD_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*#*$")


# A line opening with justification spaces, a bracket or a quotation mark set close to the
# character it opens (本 报 讯 （记 者).
_JUSTIFIED_START = re.compile(r"^(?:[（(“「『]?\S ){4}")


_QA_LABEL = re.compile(r"^(?:问|答|记者|主持人|[QAＱＡ])\s*[:：]")  # an interview's turn


_TURN = re.compile(f"^(?:{_QA_LABEL.pattern[1:]}|[{CJK}]{{2,4}}[:：])")  # 记者：… or a speaker's 站长：…


_DOUBLED = re.compile(r"(\S{2,})\1")  # cheap test before the exact measure of a running head


_RUNNING_HEAD_SHARE = 0.8  # of a running head's characters sit in doubled runs (headlines: rarely any)


_SHORT_RUNNING_HEAD = 8  # characters; a shorter running head is a page name printed twice, whole
_SHORT_NAME = re.compile(f"[{CJK}]{{2,3}}")  # a short page name printed twice: 要闻, 视点
_MAX_RUNNING_HEAD = 120  # characters; running heads are one short line, never a paragraph


_FULL_LINE = 0.85  # share of a column's width a line fills when the text wrapped, not ended, there


_STOPS = re.compile("[。；;]")  # a line with a full stop or semicolon in it holds a sentence
_SECTION_WORD = re.compile(f"[{CJK}]{{2,4}}")  # a section's bare name over a headline: 要闻, 城市新闻


# The words of a folio line: its weekday, page number or date.
_FOLIO = re.compile(r"星期[一二三四五六日天]|第\s*\d{1,3}\s*版|\d{4}年\d{1,2}月\d{1,2}日")


# A line opening with one of these goes on with the line above: a mark closing a quotation, a
# bracket or a clause never opens a paragraph (an export wrapping without hanging punctuation
# leaves it at a line's start: 更充实。 / ” 他说。).
_NO_LINE_START = frozenset("”’）》」』】〕，。、；：？！,;:?!)")


_CREDIT_WRAPS = 4  # lines of a narrow column a credit the wrap cut may take


# A cut line: a row of one rule mark (─ — = * ※ ~ _ -), spaced or not, four or more.
_CUT_LINE = re.compile(r"^\s*([─━═—=*＊※~～_＿\-－])(?:\s*\1){3,}\s*$")


def _blocks(text: str, credit: re.Pattern[str]) -> Iterator[tuple[int, list[str], list[bool]]]:
    """Blocks of lines, each with the number of blank lines before it (two or more part articles
    on many pages; one parts paragraphs) and which of its lines open a paragraph by their indent.

    An indent counts only on a page that also has lines without one: a page indented all
    through has a margin, not paragraph indents.  A block's first line starts a paragraph anyway
    inside its block; its indent says more, that the paragraph above (cut off mid-sentence) does
    not go on there, only on a page whose text runs on unindented in lines as wide as its
    indented ones: where every wide line is indented, a continuation would be too."""
    lines = clean_lines(text, credit)
    margin = all(indent for line, indent in lines if line)
    opens = not margin and _runs_on_unindented(lines)
    block: list[str] = []
    indents: list[bool] = []
    gap = blanks = 0
    for line, indent in lines:
        if _CUT_LINE.match(line):
            # A rule across the column (──── / ==== / ****) parts two stories, as a wide gap does.
            if block:
                yield gap, block, indents
                block, indents = [], []
            blanks = max(blanks + 1, 2)
            continue
        if line:
            if not block:
                gap, blanks = blanks, 0
            indents.append(indent and not margin and (opens or bool(block)))
            block.append(line)
        else:
            if block:
                yield gap, block, indents
                block, indents = [], []
            blanks += 1
    if block:
        yield gap, block, indents


def _runs_on_unindented(lines: list[tuple[str, bool]]) -> bool:
    """Does a line go on with the unfinished line above it, unindented and at least as wide as
    the page's usual indented line?  A paragraph's wraps hold the two characters its indented
    first line gives up: then an indent marks a paragraph, not a line's width."""
    widths = sorted(len(line) for line, indent in lines if line and indent)
    if not widths:
        return False
    wide = widths[len(widths) // 2]
    text = [(line, indent) for line, indent in lines if line]
    return any(
        not indent and len(line) >= wide and not ends_sentence(before)
        for (before, _), (line, indent) in itertools.pairwise(text)
    )


# A section's name in brackets (【区县】): a line of its own, whatever the line above fills.
_BRACKETED_NAME = re.compile(r"^【[^【】]{1,12}】$")


def _starts_new_line(line: str, conv: Conventions) -> bool:
    return bool(
        BULLET.match(line)
        or _BRACKETED_NAME.match(line)
        or _MD_HEADING.match(line)
        or _read_dateline(line.replace("**", ""), conv)[1]
        or _running_head(line, short=False)
        or ("版" in line and _jump_note(line))
    )


def _read_dateline(text: str, conv: Conventions, issue: date | None = None) -> tuple[str, Dateline | None]:
    """A line's dateline, if any, and the text it is read in: a line spread to the column's width
    (台 海 网 5 月 1 2 日 讯, 本 报 讯 （记 者 张 三）) is read as set, its spaces squeezed out.
    Telling lines apart and naming them use this one reading, so a justified dateline both
    opens a line of its own and is read as the dateline it is."""
    dateline = parse_dateline(text, conv, issue)
    if dateline is None and _JUSTIFIED_START.match(text):
        squeezed = squeeze_spaces(text)
        dateline = parse_dateline(squeezed, conv, issue)
        if dateline is not None:
            return squeezed, dateline
    return text, dateline


def _jump_note(line: str) -> bool:
    """A line that is a page-jump note and nothing else (（上接第1版）): never the wrap of the
    headline it is printed under, whatever the headline's width."""
    rest, jumps = find_jumps(line)
    return bool(jumps) and not rest


def _logical_lines(
    text: str, conv: Conventions
) -> tuple[list[str], set[int], set[int], set[int], set[int], int]:
    """Blocks → lines, with wraps inside a block joined; blank lines separate blocks ("", and
    two for a wider gap).  Also returns where the lines set apart in a block of their own stand,
    where the rows of a table (each a line of its own, its cells two spaces apart) stand,
    which lines open with a paragraph indent (a paragraph of their own, whatever ends above),
    where the entries of a page-long listing stand (text a line each, never headlines), and the
    width of the page's wrapped column (0 where it prints a paragraph to a line)."""
    out: list[str] = []
    apart: set[int] = set()
    rows: set[int] = set()
    opened: set[int] = set()
    listed: set[int] = set()
    blocks = [(gap, join_vertical(block), indents) for gap, block, indents in _blocks(text, conv.credit_hint)]
    width = _column_width([block for _, block, _ in blocks])
    for gap, block, indents in blocks:
        if len(indents) != len(block):
            indents = [False] * len(block)  # vertical text was rejoined: no line is indented
        if gap >= 2 and out:
            out.append("")
        opening = len(out)
        start = 0
        for first, end in _tables(block):
            # A table's rows are never a headline, its kicker or a paragraph's wraps: the text
            # around it is laid out as blocks of their own.
            if first > start:
                _lay_out(block[start:first], indents[start:first], width, conv, out, (apart, opened, listed))
            rows.update(range(len(out), len(out) + end - first))
            out.extend("  ".join(row.split(" ")) for row in block[first:end])
            out.append("")
            start = end
        if start < len(block):
            _lay_out(block[start:], indents[start:], width, conv, out, (apart, opened, listed))
        # A column break after a full stop (most blocks) cuts no credit.
        if (
            gap == 1
            and opening >= 2
            and out[opening - 2][-1:] != "。"
            and not rows & {opening - 2, opening}
            and _cut_by_column_break(out[opening - 2], out[opening], conv)
        ):
            _mend_column_break(out, opening, (apart, opened, rows, listed))
    return out, apart, rows, opened, listed, width


def _mend_column_break(out: list[str], first: int, marks: tuple[set[int], ...]) -> None:
    """The line a block opens with (``out[first]``) goes on with the line that ended the block
    above, where the column break between them cut a credit or a dateline: one line, and
    ``marks`` (indices into ``out``) move up with the lines after it."""
    out[first - 2 : first + 1] = [join_wrapped([out[first - 2], out[first]])]
    for mark in marks:
        moved = {i - 2 if i > first else i for i in mark if i not in (first - 1, first)}
        mark.clear()
        mark.update(moved)


def _lay_out(
    block: list[str],
    indents: list[bool],
    width: int,
    conv: Conventions,
    out: list[str],
    marks: tuple[set[int], set[int], set[int]],
) -> None:
    """One block's logical lines, added to ``out`` and followed by a blank line; ``marks`` gathers
    where lines set apart stand, which lines open with an indent and which are a listing's."""
    apart, opened, listed = marks
    if indents and indents[0]:
        opened.add(len(out))
    if _unwrapped_lines(block, width):
        # Short lines that do not fill the column are lines of their own: a headline over
        # its kicker, a list of captions, a column tag.
        apart.update(range(len(out), len(out) + len(block)))
        out.extend(block)
        out.append("")
        return
    captions = _captions_over_credit(block, conv)
    if captions:
        # Captions listed a line each over the story's credit, all in one block with its text:
        # lines of their own, set apart as a block of them would be.
        apart.update(range(len(out), len(out) + captions))
        out.extend(block[:captions])
        block, indents = block[captions:], indents[captions:]
    if _listing(block):
        # A page's worth of lines without a sentence in them is a listing (a roll of names, a
        # programme, a long poem), an entry to a line: its lines are text, none a headline.
        listed.update(range(len(out), len(out) + len(block)))
        out.extend(block)
        out.append("")
        return
    if len(block) >= 2 and _wide(list(map(_glyphs, block))):
        # Lines this long are not a narrow column's wraps: the page puts one paragraph on a
        # line (a justified line counts as wide as it is set, not twice).  Unfinished ones are
        # joined later, with the paragraphs around them.
        out.extend(block)
        out.append("")
        return
    # A block as long as a page is a page printed without blank lines, its stories and headlines
    # run together; so is a shorter one where a story's headline stands between the text above
    # and its dateline.  Only a line filling the column the block sets, mid-sentence, goes on
    # into the next there.
    starts = [False] + [_starts_new_line(line, conv) for line in block[1:]]  # a block's first line starts one
    if not out:
        # The page's folio line (… 星期日 第11版：综合新闻) is a line of its own, and so is a short
        # page name printed twice in its first lines (体育体育, under the folio or over the text).
        for k, line in enumerate(block[:2]):
            if _running_head(line, short=True) or (k == 0 and _FOLIO.search(line)):
                starts[k : k + 2] = [True] * len(starts[k : k + 2])
    # most blocks: nothing opens a line under their first, and no column need be measured
    column = _column_width([block]) if any(starts) or len(block) > _PAGE_BLOCK else 0
    together = len(block) <= _PAGE_BLOCK and any(
        starts[k + 1] and _heads_story(block[k - 1], block[k], conv, column) for k in range(1, len(block) - 1)
    )
    page = column if len(block) > _PAGE_BLOCK or together else 0
    # A page's columns may differ in width (a box set narrower): each line is measured against
    # the column the lines around it set.
    columns = _local_columns(block, page) if page else []
    # In an interview each turn (记者：… / 站长：…) is a paragraph, even when it fills no line.
    interview = any(_QA_LABEL.match(line) for line in block)
    # A typesetter spreads a paragraph's wraps, never its last line: spread lines here and there
    # in a column are wraps, whatever they end with.  Where most of a block's lines are spread,
    # the export spread every line, as pages printing a paragraph to a line (each spread to the
    # same width) do: a spread line ending a sentence ends its paragraph there, one stopping
    # mid-sentence goes on into the next.
    spread = 2 * sum(map(_spread, block)) > len(block)
    pieces: list[str] = []
    for k, (line, indent) in enumerate(zip(block, indents, strict=True)):
        if (
            pieces
            and line[0] not in _NO_LINE_START
            and (
                indent
                or (
                    page
                    and (
                        not _runs_on(pieces, line, columns[k - 1], starts[k - 1] or _finished(out), conv)
                        or _phrases_set(pieces, out)
                    )
                )
                or starts[k]
                or (
                    k + 1 < len(block)
                    and starts[k + 1]
                    and _heads_story(pieces[-1], line, conv, columns[k - 1] if columns else 0)
                )
                or _ends_line(pieces, block)
                or (_credit_apart(pieces, line, conv) or _editors_line(pieces[-1], line, conv))
                or _signed_dateline(pieces, line, conv)
                or (interview and _TURN.match(line) is not None and ends_sentence(pieces[-1]))
                or (len(pieces) == 1 and _listed_field(pieces[0]) and _listed_field(line))
                or (spread and _spread(pieces[-1]) and ends_sentence(pieces[-1].replace(" ", "")))
                or _opens_item(pieces[-1], line)
            )
        ):
            out.append(join_wrapped(pieces))
            pieces = []
        pieces.append(line)
    out.append(join_wrapped(pieces))
    out.append("")


_NEAR_LINES = 8  # lines either side of a line that set the column it stands in


def _local_columns(block: list[str], page: int) -> list[int]:
    """The width of the column each line of a page-long block stands in: the usual width of the
    wrapped lines around it (a line ending a sentence is a paragraph's last, no wrap), where that
    is narrower than the page's usual one (wider, it is a few lines' squeezed punctuation)."""
    widths = [0 if ends_sentence(line) else _glyphs(line) for line in block]
    out: list[int] = []
    for k in range(len(block)):
        near = sorted(w for w in widths[max(0, k - _NEAR_LINES) : k + _NEAR_LINES + 1] if w)
        out.append(min(near[len(near) // 2], page) if near else page)
    return out


# Two phrases set side by side, one space apart (长江和黄河 可能发生秋汛): a headline's, never prose's.
_PHRASES_SET = re.compile(f"^[^ ，,、；;。！？!?：:]*[{CJK}”」』》] [“「『《{CJK}][^ ，,、；;。！？!?]*$")


def _phrases_set(pieces: list[str], out: list[str]) -> bool:
    """In a block with stories run together, is the line begun a headline of two phrases set side
    by side, under finished text (or a kicker ending in a colon)?  It fills the column by chance."""
    above = out[-1] if out else ""
    return (
        len(pieces) == 1
        and _PHRASES_SET.match(pieces[0]) is not None
        and (ends_sentence(above) or above.endswith(("：", ":")))
    )


def _heads_story(above: str, line: str, conv: Conventions, column: int = 0) -> bool:
    """Is ``line``, right over a line opening a story (a dateline, a bullet), that story's headline
    run together with what is above it: text ending a sentence, a section's bare name, or a line
    filling the ``column`` a column break cut mid-sentence (…尽量保留了古 / 标题 / 本报讯…: a
    paragraph's last line short of the column ends its sentence, or its credit closes it)?  It is
    no sentence itself.  (A headline's first line over its second goes on into it.)"""
    cut = column > 0 and _glyphs(above) >= column - 1 and _glyphs(line) < _FULL_LINE * column
    return (
        not ends_sentence(line)
        and not ends_open(line)
        and not _STOPS.search(line)
        and _glyphs(line) <= _MAX_HEADING
        and (ends_sentence(above) or _SECTION_WORD.fullmatch(above) is not None or cut)
        # a closing credit the wrap cut (…”王 / 星海 耿志清) is no headline
        and not (cut and (is_byline(line, conv) or trailing_credit(join_wrapped([above, line]), conv)))
    )


def _credit_apart(pieces: list[str], line: str, conv: Conventions) -> bool:
    """A credit shares a block with text but is no part of it: a byline over the text
    (``城市快报记者 X`` then the first line), under a headline, or a caption's credit above it.

    A credit cut by the wrap (``…本报记者`` / ``黄兴能 摄``) is one line, though, also where the
    wrap cut a name or a role word of the credit closing the text (``… 记者 周`` / ``小川 摄``),
    or its bracket opened lines above (``（青石晚报·青`` / ``石新闻记者 周`` / ``远）``).
    """
    # The credit's start: on the last line when a sentence ends there (most lines), else above.
    before = pieces[-1]
    recent = before if _TEXT_END.search(before) else join_wrapped(pieces[-_CREDIT_WRAPS:])
    if _cut_credit(recent, line, conv) or _open_credit(recent, line, conv):
        return False
    for text in (before, line):
        if (
            len(text) <= _CREDIT_LINE
            and conv.credit_hint.search(text)
            and (text is before or not conv.role_end.search(before))
            and (is_byline(text, conv) or (text is before and trailing_credit(text, conv)))
            and not parse_dateline(text, conv)  # 本报讯 记者X、通讯员Y / Z报道： is one line
        ):
            # A byline wrapped across two lines (…鄂尔多斯市融 / 媒体中心记者 X) stays whole; a
            # line that would only lengthen its whole last name (记者 王明 / 家) or glue a word to
            # the mark that closed it (记者 王明 摄 / 民生) is none of it.
            return not is_byline(before + line, conv) or _lengthens_whole_credit(before, before + line, conv)
    return False


def _signed_dateline(pieces: list[str], line: str, conv: Conventions) -> bool:
    """A dateline whose line ends with its unbracketed credit (``本报讯 记者 X``): the text starts
    on the next line, and the name must not run into it.  A credit the wrap cut
    (``本报讯 记者X、通讯员Y`` / ``Z报道：…``) reads on into the next line, though."""
    if len(pieces) != 1:
        return False
    dateline = parse_dateline(pieces[0], conv)
    if dateline is None or not dateline.credits or dateline.length < len(pieces[0].rstrip()):
        return False
    joined = parse_dateline(join_wrapped([pieces[0], line]), conv)
    return joined is None or joined.length <= dateline.length


def _ends_line(pieces: list[str], block: list[str]) -> bool:
    """A heading, a running head or a bracketed section name is a line of its own even without a
    blank line after it.

    A # heading as wide as the column was wrapped, though: its next line goes on with it.
    """
    heading = _MD_HEADING.match(pieces[0])
    wrapped = heading and display_width(pieces[-1]) >= _FULL_LINE * max(map(display_width, block))
    return bool(
        (heading and not wrapped)
        or _running_head(pieces[-1], short=False)
        or _BRACKETED_NAME.match(pieces[-1])
    )


def _running_head(line: str, short: bool) -> str | None:
    """The section named by a running head printed twice (…新篇章…新篇章··特别报道特别报道, 视点视点).

    A short one (要闻要闻) only where ``short`` says the line stands in the page's header: lower
    down a word printed twice is a headline's or a poem's (加油加油, 下呀下呀)."""
    if (
        not (4 if short else _SHORT_RUNNING_HEAD) <= len(line) <= _MAX_RUNNING_HEAD
        or re.search("[，。！？]", line)
        or not _DOUBLED.search(line)
    ):
        return None
    single, share = undouble(line.replace(" ", ""))
    # A short line counts only when all of it is one name of Chinese words printed twice (要闻要闻),
    # never a character repeated (哈哈哈哈) nor a number (2020, a year in a timeline): a page name
    # of two or three characters is short too.
    short = len(line) < _SHORT_RUNNING_HEAD
    if share < (1.0 if short else _RUNNING_HEAD_SHARE) or (
        short and not (_SHORT_NAME.fullmatch(single) and len(set(single)) > 1)
    ):
        return None
    parts = [p for p in re.split(r"[·•・|｜\s]+", single) if p]
    return parts[-1] if parts else None
