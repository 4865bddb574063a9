"""What each logical line is on its own: section mark, page furniture, heading, byline, credit,
dateline, note, interview label or paragraph.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, auto

from digest.paper import leadtags
from digest.paper.bylines import (
    credit_roles_only,
    find_jumps,
    is_byline,
    is_editor_line,
    paren_names,
    parse_credits,
    photographed,
    split_mark,
    trailing_credit,
    unsigned_byline,
)
from digest.paper.conventions import Conventions
from digest.paper.cuts import _CREDIT_LINE
from digest.paper.datelines import Dateline
from digest.paper.headlike import (
    _CLAUSE_BREAK,
    _EXCLAIMED,
    _fills_column,
    _headline_shaped,
    _is_candidate,
    _quote_cut,
    _set_whole,
    _short_of_column,
)
from digest.paper.lines import _MD_HEADING, _QA_LABEL, _read_dateline, _running_head
from digest.paper.shapes import _MAX_HEADING, _WRAP_WIDTH
from digest.paper.textnorm import CJK, ends_sentence, join_wrapped, squeeze_spaces
from digest.types import Credit

_SECTION_MARK = re.compile(r"^[●◆]\s*(\S.{0,11})$")


# A marker longer than _SECTION_MARK takes (● 聚焦·两会/“特稿”&观察), or bulleted with ■ as brief
# headlines are too, is a section only where one stands: alone between blank lines, over a
# headline, and no sentence (a bulleted line of text has clause marks).
_LONG_SECTION_MARK = re.compile(r"^[●◆■]\s*(\S.{1,23})$")


_PADDED_WORD = re.compile(f"^[{CJK}] [{CJK}]$")  # a word of two padded to the width of three: 要 闻


_CLAUSE_MARKS = re.compile("[，。；！？,;!?]")


_SIGNATURE = re.compile(f"^[{CJK}]{{3}}$")  # a name signing a story under its headline: 林雨晴


_BRACKET_SECTION = re.compile(r"^【\s*([^【】\s]{1,12})\s*】$")


_BOLD_LABEL = re.compile(r"^\*\*([^*\n]{1,16}?)[:：]\s*\*\*\s*")


# An editor's note opens with its label and a colon, or a space (编者按 大地流金…) before its text.
_NOTE = re.compile(r"^(编辑有话说|编者按|编后语|编后记|编后)(?:\s*[:：]\s*|\s+(?=\S))")


# A reader's tip acknowledged under the story it led to (感谢李先生提供线索，奖励50元; 本条线索由
# 读者王女士提供，获报料奖100元): a note of that story, never the next one's headline.  It opens
# with its thanks or "this tip" and names the reward: a headline may offer a reward for tips
# (警方悬赏征集线索 最高奖励5万元) or thank the tipsters (感谢热心群众提供线索 走失老人当晚回家).
# The note is set without a full stop: a sentence ending in 。 (感谢热心市民提供线索，派出所为其
# 颁发奖金500元。) is the story's text.
_TIP_NOTE = re.compile(
    r"^(?=.{4,40}$)(?:感谢|谢谢|本条|此条).*(?:奖|\d+元).*(?<!。)$"
)  # on a line naming 线索 or 报料


# A page header's lines with the folio: at most this many, and each names a paper (…晚报), a page
# (第2版, A2版) or a day (星期一, 2023年12月4日).
_HEADER_LINES = 3
_UNPARTED_LINES = 12  # lines of a page printed without blank lines (one block: stories run together)
_HEADER_WORDS = re.compile(
    r"[日晚早时商]报(?:\s|$)|第?[A-Za-z]?\d{1,3}版|星期[一二三四五六日天]|\d{4}年\d{1,2}月\d{1,2}日"
)


_SPEAKER = re.compile(f"^([{CJK}]{{2,4}})[:：]")  # 王惠贞：… — a speaker when the name recurs


# Folio and page-credit lines printed in the margins of every page.  A date written with dots or
# dashes standing apart (内蒙古日报 | 2026.12.03 | 05) is a folio's: prose writes 12月3日.
_FURNITURE = re.compile(
    r"星期[一二三四五六日天]|责任编辑|责编|版式设计|美编|校对|检校|^第\s*\d+\s*版|^[A-Za-z]\d{1,2}\s*版(?:\s|[：:]|$)"
    r"|(?:^|[\s|｜])20\d\d([.\-/])\d{1,2}\1\d{1,2}(?:$|[\s|｜])"
)


# A prompt to scan the QR code printed by a story (扫码看视频): neither headline nor text.  It
# names what the code opens; a headline about scanning codes (扫码点餐成常态) names no such thing.
_QR_PROMPT = re.compile(
    r"^(?:扫码|扫描二维码|扫一扫|扫描下方二维码)[^，。；,;]{0,6}(?:视频|全文|原文|详情|直播|更多|报道)$"
)


class T(Enum):
    """What a logical line is."""

    SECTION = auto()
    NOISE = auto()  # page furniture: folio lines, editors' credits for the page
    HEADING = auto()
    CANDIDATE = auto()
    BYLINE = auto()
    CREDIT = auto()  # a trailing photo credit (本报记者 马芳 摄)
    PAREN = auto()  # a trailing author (刘沙沙)
    JUMP = auto()
    NOTE = auto()
    CROSSHEAD = auto()  # a subheading inside an article (小标题)
    PARA = auto()


@dataclass
class _Line:
    text: str
    kind: T = T.PARA
    md: bool = False  # a markdown heading
    label: bool = False  # starts with a speaker label (Q&A, interview)
    dateline: Dateline | None = None
    credits: tuple[Credit, ...] = ()
    lines: list[str] = field(default_factory=list)  # a heading group's lines
    speaker: str = ""  # the name a paragraph opens with (王惠贞：…)
    gap: int = 0  # blank lines before it (a wide gap parts articles)
    alone: bool = False  # a block of its own, blank lines on both sides
    apart: bool = False  # one of a few short lines set apart in a block (a list of captions, fields)
    row: bool = False  # a row of a table of figures, or the note under it: text, never a headline
    indent: bool = False  # opens with a paragraph indent: never the end of the paragraph above
    short: bool = False  # alone or apart, and short of the page's wrapped column: no wrap broke it there
    filled: bool = False  # as wide as the page's wrapped column: a wrap or a column break may have cut it
    measured: bool = False  # a headline by its width alone: no vote on which side of its story it stands
    tag: str = ""  # a column's tag printed over this headline (话外音): the section of its story alone


def _wide_gaps(lines: list[_Line]) -> bool:
    """Does the page part its stories by wide gaps (two blank lines or more)?  Only gaps under the
    page's first line of a story count: those in its header, around the folio, a running head or
    the page's section name, part no stories."""
    header = (T.NOISE, T.SECTION)
    first = next((i for i, line in enumerate(lines) if line.kind not in header), len(lines))
    return any(line.gap >= 2 for line in lines[first + 1 :])


def _classify(
    raw: list[str],
    apart: set[int],
    rows: set[int],
    opened: set[int],
    listed: set[int],
    width: int,
    conv: Conventions,
    issue: date | None,
) -> list[_Line]:
    """Name each logical line (``lines._logical_lines`` gives them with their marks and the
    page's ``width``) by newspaper convention."""
    out: list[_Line] = []
    # A page with no column that prints a paragraph too wide for one prints a paragraph to a line
    # (a few short lines tell nothing of the page's layout).
    whole = not width and any(len(squeeze_spaces(text)) > _WRAP_WIDTH for text in raw)
    # A page printed without blank lines sets nothing apart by them: a line after a finished
    # sentence stands as much alone as any line there can (a headline ending in ！, one with commas).
    printed = [k for k, text in enumerate(raw) if text]
    unparted = len(printed) > _UNPARTED_LINES and "" not in raw[printed[0] : printed[-1]]
    i = 0
    blanks = 1
    while i < len(raw):
        text = raw[i]
        i += 1
        if not text:
            blanks += 1
            continue
        alone = blanks > 0 and (i == len(raw) or raw[i] == "")
        if i - 1 in rows:
            out.append(_Line(text, T.PARA, gap=blanks, row=True))
            blanks = 0
            continue
        # The page's header: its first lines, with nothing but folio furniture above.
        top = len(out) < _HEADER_LINES and all(x.kind is T.NOISE for x in out)
        loose = unparted and bool(out) and (_finished_line(out[-1], conv) or _asks_under(out[-1], text))
        line = _classify_one(text, conv, issue, alone or loose or i - 1 in apart, top)
        line.gap, line.alone, line.apart, blanks = blanks, alone, i - 1 in apart, 0
        line.indent = i - 1 in opened
        next_text = raw[i + 1] if i + 1 < len(raw) else ""  # a wide gap's second blank: no run
        # Where the page prints a paragraph to a line (no column), a line set apart with others in
        # its block (a headline's stack) stopped where it was set, no wrap cut it; a line alone may too.
        line.short = ((alone or i - 1 in apart) and _short_of_column(text, next_text, width)) or (
            not width
            and (
                i - 1 in apart
                if not alone
                else whole and _set_whole(text, i - 1 in opened, i + 1 in opened, next_text)
            )
        )
        stacked = unparted and bool(out) and out[-1].kind is T.CANDIDATE and out[-1].short
        if (loose or stacked) and line.kind is T.CANDIDATE:
            # With no blank lines no column break shows: a line set whole after a finished sentence
            # (short of the column, or with no clause mark where a paragraph prints to a line) is
            # short as one set apart by blank lines is (a crosshead, a headline); so is one under
            # such a line (a headline under its kicker, a subtitle under its headline).
            lower = raw[i] if i < len(raw) else ""
            if _short_of_column(text, lower, width) if width else whole and _set_whole(text, False, True):
                line.short = True
        line.filled = not line.short and _fills_column(text, width)
        if i - 1 in listed:
            _list_entry(line)
        if line.kind is T.BYLINE and not line.credits:
            # A byline printed vertically: the roles in one block, the names in the next.
            nxt = raw[i + 1] if i + 1 < len(raw) and raw[i] == "" else (raw[i] if i < len(raw) else "")
            names = parse_credits(nxt, conv) if nxt and len(nxt) <= 16 else None
            if names:
                i += 2 if raw[i] == "" else 1
                line.credits = parse_credits(f"{text} {nxt}", conv) or names
                line.text = f"{text} {nxt}"
            elif not unsigned_byline(text, conv):
                line.kind = T.PARA
        out.append(line)
    _header_block(out)
    _padded_section(out)
    for headline, name, below in zip(out, out[1:], out[2:], strict=False):
        if _signs_under_headline(headline, name, below):
            name.kind, name.credits = T.BYLINE, (Credit(name=name.text, role=""),)
    for mark, under in itertools.pairwise(out):
        if under.kind in (T.CANDIDATE, T.HEADING) and _long_section_mark(mark, conv):
            mark.kind, mark.text = T.SECTION, _LONG_SECTION_MARK.sub(r"\1", mark.text).strip()
    for before, prompt, below in zip(out, out[1:], out[2:], strict=False):
        # A QR prompt's words set apart after a finished story, alone over the next one's
        # dateline, are that story's headline (扫码看直播 over a story about the platform).
        if (
            prompt.kind is T.NOISE
            and prompt.gap >= 2
            and before.kind is T.PARA
            and below.dateline is not None
            and _QR_PROMPT.match(prompt.text)
        ):
            prompt.kind, prompt.lines = T.CANDIDATE, [prompt.text]
    for before, byline in itertools.pairwise(out):
        # Whatever stands right above a byline is a headline if it can be one at all.
        if (
            byline.kind is T.BYLINE
            and before.kind is T.PARA
            and before.dateline is None
            and not before.row
            and _headline_shaped(before.text)
        ):
            before.kind, before.lines = T.CANDIDATE, [before.text]
    for line, below in itertools.pairwise(out):
        if line.kind is T.CANDIDATE and below.kind is T.PARA and _quote_cut(line.text, below.text):
            line.kind = T.PARA  # a quoted lead's first line a column break left alone
    _sign_finished_text(out)
    return _notes_run_on(out)


def _finished_line(line: _Line, conv: Conventions) -> bool:
    """Does a line finish its text: a paragraph ending a sentence or closed by its credit (…上市。
    记者 X 摄), or a credit of its own?"""
    if line.kind in (T.CREDIT, T.PAREN):
        return True
    return line.kind is T.PARA and (ends_sentence(line.text) or trailing_credit(line.text, conv) is not None)


def _asks_under(above: _Line, text: str) -> bool:
    """Is ``text`` a question or exclamation of one phrase right under a line that may be a headline
    (新华坊这条有故事的小弄 / 路名到底该叫什么？), on a page without blank lines: a subtitle that stands as
    much alone as the headline over it, never a paragraph's first line (prose runs on past one phrase)."""
    return (
        above.kind is T.CANDIDATE and _EXCLAIMED.search(text) is not None and not _CLAUSE_BREAK.search(text)
    )


def _list_entry(line: _Line) -> None:
    """A line of a page-long listing (a roll of names, a long poem) is text of its own, as a
    table's row is: never a headline, never joined with the lines around it.  A credit or a
    dateline in it stays what it is."""
    if line.kind in (T.CANDIDATE, T.PARA) and line.dateline is None:
        line.kind, line.lines, line.row = T.PARA, [], True


def _sign_finished_text(lines: list[_Line]) -> None:
    """A byline under finished text and over a headline (or the page's end) signs the text; so do
    the lines of one printed a role to a line (记者 甲乙 / 通讯员 丙丁)."""
    for start, line in enumerate(lines):
        if line.kind is not T.BYLINE or start == 0:
            continue
        before = lines[start - 1]
        if before.kind is not T.PARA or not ends_sentence(before.text):
            continue
        end = start
        while end < len(lines) and lines[end].kind is T.BYLINE:
            end += 1
        if end == len(lines) or lines[end].kind in (T.CANDIDATE, T.HEADING, T.SECTION):
            for byline in lines[start:end]:
                byline.kind = T.CREDIT


def _notes_run_on(lines: list[_Line]) -> list[_Line]:
    """An editor's note cut off mid-sentence (by a column break) goes on in the paragraph under
    it, as any paragraph does: one note, never a note and the start of the story's text."""
    out: list[_Line] = []
    for line in lines:
        note = out[-1] if out else None
        if (
            note is not None
            and note.kind is T.NOTE
            and not ends_sentence(note.text)
            and line.kind is T.PARA
            and line.dateline is None
            and not (line.indent or line.row or line.label)
        ):
            note.text = join_wrapped([note.text, line.text])
            continue
        out.append(line)
    return out


def _padded_section(lines: list[_Line]) -> None:
    """A two-character word padded to the width of three (要 闻, 文　化) over the page's first
    headline, nothing but page furniture above it, is the page's section, set as section names
    are: a byline stands under its headline, never over the page's first one."""
    top = next((k for k, line in enumerate(lines) if line.kind not in (T.NOISE, T.SECTION)), None)
    if top is None or top + 1 == len(lines):
        return
    line, under = lines[top], lines[top + 1]
    if line.kind is T.BYLINE and _PADDED_WORD.match(line.text) and under.kind in (T.CANDIDATE, T.HEADING):
        line.kind, line.text, line.credits = T.SECTION, line.text.replace(" ", ""), ()


def _signs_under_headline(headline: _Line, name: _Line, text: _Line) -> bool:
    """A name of three characters alone in its block between a headline and the text signs the
    story (a commentary's 林雨晴): a subtitle is never so short, a section's name seldom three."""
    return (
        headline.kind is T.CANDIDATE
        and name.kind is T.CANDIDATE
        and name.alone
        and _SIGNATURE.match(name.text) is not None
        and text.kind is T.PARA
    )


def _long_section_mark(line: _Line, conv: Conventions) -> bool:
    return (
        line.kind is T.PARA
        and line.alone
        and line.dateline is None
        and _LONG_SECTION_MARK.match(line.text) is not None
        and not _CLAUSE_MARKS.search(line.text)
        and not find_jumps(line.text)[1]
        and not is_byline(line.text, conv)
    )


def _header_block(lines: list[_Line]) -> None:
    """The page's header: a line printed in one block with the folio at the top of the page
    (``A2 … 星期一`` over ``综合新闻 … 东岭晚报``) names the page and the paper, not a story.

    Only a block of its own (a blank line after it) of at most ``_HEADER_LINES``, and only a line
    naming a paper, a page or a day: a page without blank lines is one block from the folio to its
    end, and the first story's headline may sit right under the folio."""
    top = list(itertools.takewhile(lambda line: line.gap == 0, lines[1:]))
    block = lines[:1] + top
    if len(block) > _HEADER_LINES or len(block) == len(lines):
        return
    if any(line.kind is T.NOISE for line in block):
        for line in block:
            if line.kind is T.CANDIDATE and _HEADER_WORDS.search(line.text):
                line.kind = T.NOISE


def _classify_one(
    text: str, conv: Conventions, issue: date | None, alone: bool = False, top: bool = False
) -> _Line:
    label = bool(_BOLD_LABEL.match(text)) or bool(_QA_LABEL.match(text))
    note = _NOTE.match(text.replace("**", ""))
    text = text.replace("**", "").strip()
    if note or (("线索" in text or "报料" in text) and _TIP_NOTE.match(text)):
        return _Line(text, T.NOTE)  # the label (编辑有话说) stays: it says whose words these are
    md = _MD_HEADING.match(text)
    if md:
        return _Line(md.group(2).strip(), T.HEADING, md=True, lines=[md.group(2).strip()])
    bracketed = _BRACKET_SECTION.match(text)
    if bracketed:
        return _Line(bracketed.group(1), T.SECTION)
    mark = _SECTION_MARK.match(text)
    if mark and not ends_sentence(text) and not find_jumps(text)[1] and not is_byline(text, conv):
        return _Line(mark.group(1).strip(), T.SECTION)
    head = _running_head(text, short=top)
    if head:
        return _Line(head, T.SECTION, lines=[text])
    furniture = len(text) <= _MAX_HEADING and _FURNITURE.search(text) and not ends_sentence(text)
    if furniture or _QR_PROMPT.match(text):
        return _Line(text, T.NOISE)
    # Most lines of a page are prose: the byline grammar is tried only on short lines that
    # carry a credit's word or mark.
    credit_like = len(text) <= _CREDIT_LINE * 2 and conv.credit_hint.search(text) is not None
    if credit_like and is_editor_line(text, conv):
        return _Line(text, T.NOISE)
    text, dateline = _read_dateline(text, conv, issue)
    if dateline:
        return _Line(text, T.PARA, dateline=dateline, credits=dateline.credits)
    rest, jumps = find_jumps(text)
    if jumps and not rest:
        return _Line(text, T.JUMP)
    paren = paren_names(text, conv)
    if paren:
        return _Line(text, T.PAREN, credits=paren)
    if credit_like and (credit_roles_only(text, conv) or unsigned_byline(text, conv)):
        return _Line(text, T.BYLINE)
    if credit_like and is_byline(text, conv):
        credits = parse_credits(text, conv) or ()
        # A photographer's credit closes the picture story it stands under; so does any credit
        # printed after the names it marks (X 文/图, X 报道).
        trailing = any(photographed(c) or split_mark(c.role, conv)[1] for c in credits)
        return _Line(text, T.CREDIT if trailing else T.BYLINE, credits=credits)
    if leadtags.source_alone(text, conv.not_a_name):
        return _Line(text, T.PARA)  # closes the story above, never opens the next one's headline
    if _is_candidate(text, alone and not label):
        return _Line(text, T.CANDIDATE, lines=[text])
    speaker = _SPEAKER.match(text)
    return _Line(text, T.PARA, label=label, speaker=speaker.group(1) if speaker else "")
