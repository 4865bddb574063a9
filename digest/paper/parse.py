"""Page text → articles.  Pure functions: no I/O, no clock.

The words a page is read by (roles, outlets, places, ...) come in as one
``Conventions`` value (``digest.paper.conventions``); nothing here names a paper.
The parser works in four passes, each a function below:

1. ``_logical_lines``: clean the text, split it into blocks at blank lines
   (noting the wide gaps that part articles), re-join vertical text and
   wrapped lines inside a block, keep apart short lines that do not fill the
   column, and cut a block where a new paragraph or a credit visibly starts.
2. ``_classify``: name each line by newspaper convention (section marker,
   running head, heading, byline, dateline, photo credit, page jump, editor
   note, body text), leaving short unpunctuated lines as *candidates*.
3. ``_resolve``: decide each candidate from its neighbours and the page's
   layout: a heading, a crosshead, a column name, a column logo dropped from
   the middle of a sentence, or a wrapped fragment of a paragraph.
4. ``_assemble``: group lines into articles.  Whether headlines stand above
   or below their bodies is decided per page by evidence (which body each
   headline's words come from, and whether the page ends on a headline);
   captions, credits, bylines and datelines gather under their headline.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, auto

from digest.paper.bylines import (
    BULLET,
    Dateline,
    credit_roles_only,
    find_jumps,
    is_byline,
    is_editor_line,
    paren_names,
    parse_credits,
    parse_dateline,
    photographed,
    trailing_credit,
)
from digest.paper.conventions import MAINLAND, Conventions
from digest.paper.textnorm import (
    CJK,
    cjk_bigrams,
    clean_text,
    display_width,
    ends_open,
    ends_sentence,
    fix_vertical_quotes,
    full_width_punctuation,
    has_cjk,
    join_vertical,
    join_wrapped,
    squeeze_spaces,
    undouble,
)
from digest.types import Article, Caption, Credit, Kind, Page

# Recorded with every page read; bump it when a change to the parser changes what pages yield,
# and the service re-reads the stored pages (``digest.ingest.pipeline``).
PARSER_VERSION = "2"  # 2: photo captions kept apart from the body

_MD_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*#*$")
_SECTION_MARK = re.compile(r"^[●◆]\s*(\S.{0,11})$")
_BRACKET_SECTION = re.compile(r"^【\s*([^【】\s]{1,12})\s*】$")
_FOLIO = re.compile(f"第\\s*[0-9A-Za-z０-９]+\\s*版\\s*[：:]?\\s*([{CJK}·]{{2,10}})\\s*$")
_FIELD = re.compile(f"^[{CJK}]{{2,4}}[：:]\\S")  # a labelled field: 时间：3月6日上午
_TAGGED = re.compile(f"^[{CJK}]{{2,6}}[|｜]")  # a column or video tag before a headline: 视频|…
_EXCLAIMED = re.compile(r"[！？!?][”’」』\"']*$")
_BOLD_LABEL = re.compile(r"^\*\*([^*\n]{1,16}?)[:：]\s*\*\*\s*")
_NOTE = re.compile(r"^(编辑有话说|编者按|编后语|编后记|编后)\s*[:：]\s*")
_QA_LABEL = re.compile(r"^(?:问|答|记者|主持人|[QAＱＡ])\s*[:：]")
_SPEAKER = re.compile(f"^([{CJK}]{{2,4}})[:：]")  # 王惠贞：… — a speaker when the name recurs
_PHRASES = re.compile(f"[{CJK}”》] [“《{CJK}]")
_DOUBLED = re.compile(r"(\S{2,})\1")  # cheap test before the exact measure of a running head
_SUBTITLE = re.compile(r"^(?:——|──|--|—)\s*")
# How a caption opens when it says so: 图为…, 图：…, 上图：…, 图片为…, 右图中….
_CAPTION_START = re.compile(r"^(?:[上下左右组]?图[为：:]|图片为|[上下左右]图中)")
# Folio and page-credit lines printed in the margins of every page.
_FURNITURE = re.compile(r"星期[一二三四五六日天]|责任编辑|责编|版式设计|美编|校对|检校|^第\s*\d+\s*版")

_RUNNING_HEAD_SHARE = 0.8  # of a running head's characters sit in doubled runs (headlines: rarely any)
_MAX_RUNNING_HEAD = 120  # characters; running heads are one short line, never a paragraph
_FULL_LINE = 0.85  # share of a column's width a line fills when the text wrapped, not ended, there
_WRAP_WIDTH = 40  # characters; a narrow column's wrapped lines are never longer than this
_MAX_COMMA_HEADING = 30  # a headline with a comma is short: 科技支撑,内蒙古“双碳”之路行稳致远
_MAX_HEADING = 50  # characters; longer unpunctuated lines are wrapped body text
_SHORT_LABEL = 8  # a heading line this short beside a long one is a kicker or subtitle
_CROSSHEAD_LEN = 12  # characters; a crosshead is a short phrase (a column break leaves longer stubs)
_COLUMN_LEN = 8  # a column name set apart above a headline (聚焦防汛抗洪) is this short
_SECTION_LEN = 4  # bare section names (速递, 一线, 图见) are this short
_SHORT_LINE = 0.75  # share of the column a line set apart stops short of (a paragraph's lines fill it)
_CAPTION_PROSE = 40  # characters; a paragraph this short after a wide gap may be a photo's caption
_CAPTION = 120  # characters; a photo caption is never longer
_LIST_LINES = 8  # a block of more short lines than this is a narrow column, not a list
_CREDIT_LINE = 40  # characters; a credit line is never longer
_LOGO_LEN = 10  # column logos stranded inside a sentence (回眸2023) are this short
_LEAD = 300  # characters of a body compared with a headline
_END_VOTE = 0.5  # a page ending on a headline votes this much for headline-last
_AFTER_MARGIN = 0.2  # mean vote above which a page is headline-last (seeds: ≤ 0 or ≥ 0.5)
_HEADLINE_OVERLAP = 0.3  # share of a headline's two-character words its article's lead repeats
_LEAD_OVERLAP = 0.4  # the same, as weak evidence for a line the lead below might belong to
_HEADLINE_EVIDENCE = 2  # points _headline_evidence needs to call a lone line a headline
# How leads open: a quotation, a date, a time word.  A paragraph's continuation rarely does.
_LEAD_START = re.compile(r"^(?:“|\d{1,2}月\d{1,2}日|近日|日前|近年来|今年|目前|记者|连日来|近期)")
# Columns that carry opinion, not news (a "速评" column of news briefs is not one of them).
_OPINION = ("评论", "短评", "时评", "社论", "言论", "评论员文章", "观点")
_NO_PHRASE_END = set("的和与及在为了是把被对从向将等并或而但以于之其")
_PHOTO_BODY = 600  # a photo story's caption is short; a news story with a photo is not a photo


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


def parse_page(
    text: str, name: str = "", conventions: Conventions = MAINLAND, issue: date | None = None
) -> Page:
    """Split one page's text into articles, in reading order.

    ``conventions`` are the words the page is read by (roles, outlets,
    places); ``issue``, when known, is the day the page was printed, which
    gives a day-only dateline (``本报合肥18日电``) its month.  Never raises on
    any string; a page with no recognisable structure becomes one article
    holding all its text.
    """
    conv = conventions
    classified = _classify(*_logical_lines(text, conv), conv, issue)
    lines, dropped = _resolve(classified, False, conv)
    after = _headlines_follow_bodies(lines)
    if after:
        # Headline-last pages put a headline between two bodies; look again at short lines
        # there that the first reading took for paragraph fragments.
        lines, dropped = _resolve(classified, True, conv)
    builders, unused = _assemble(lines, after, conv, _page_name(classified, conv))
    articles = tuple(b.build() for b in builders)
    return Page(name=name, articles=articles, dropped=(*dropped, *unused))


# -- pass 1: lines ---------------------------------------------------------------------------


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Blocks of lines, each with the number of blank lines before it (two or more part articles
    on many pages; one parts paragraphs)."""
    block: list[str] = []
    gap = blanks = 0
    for line in clean_text(text).split("\n"):
        if line:
            if not block:
                gap, blanks = blanks, 0
            block.append(line)
        else:
            if block:
                yield gap, block
                block = []
            blanks += 1
    if block:
        yield gap, block


def _starts_new_line(line: str, conv: Conventions) -> bool:
    return bool(
        BULLET.match(line)
        or _MD_HEADING.match(line)
        or parse_dateline(line.replace("**", ""), conv)
        or _running_head(line)
    )


def _logical_lines(text: str, conv: Conventions) -> tuple[list[str], set[int]]:
    """Blocks → lines, with wraps inside a block joined; blank lines separate blocks ("", and
    two for a wider gap).  Also returns where the lines set apart in a block of their own stand."""
    out: list[str] = []
    apart: set[int] = set()
    blocks = [(gap, join_vertical(block)) for gap, block in _blocks(text)]
    width = _column_width([block for _, block in blocks])
    for gap, block in blocks:
        if gap >= 2 and out:
            out.append("")
        if _unwrapped_lines(block, width):
            # Short lines that do not fill the column are lines of their own: a headline over
            # its kicker, a list of captions, a column tag.
            apart.update(range(len(out), len(out) + len(block)))
            out.extend(block)
            out.append("")
            continue
        if len(block) >= 2 and max(map(len, block)) > _WRAP_WIDTH:
            # Lines this long are not a narrow column's wraps: the page puts one paragraph on a
            # line.  Unfinished ones are joined later, with the paragraphs around them.
            out.extend(block)
            out.append("")
            continue
        pieces: list[str] = []
        for line in block:
            if pieces and (
                _starts_new_line(line, conv)
                or _ends_line(pieces, block)
                or _credit_apart(pieces[-1], line, conv)
            ):
                out.append(join_wrapped(pieces))
                pieces = []
            pieces.append(line)
        out.append(join_wrapped(pieces))
        out.append("")
    return out, apart


def _column_width(blocks: list[list[str]]) -> int:
    """The page's column width in characters: the usual length of a wrapped line (0 if none)."""
    widths = sorted(
        len(line)
        for block in blocks
        if len(block) >= 3 and any("。" in line for line in block)
        for line in block[:-1]
    )
    return widths[len(widths) // 2] if widths and widths[-1] <= _WRAP_WIDTH else 0


def _unwrapped_lines(block: list[str], width: int) -> bool:
    """A block of a few short lines, none ending a sentence, where some line stops well short
    of the column: the lines were set apart, not wrapped.  A line ending mid-clause (水利部：)
    runs on into the next, as a wrap would."""
    if not 2 <= len(block) <= _LIST_LINES or any(not 2 <= len(line) <= _MAX_HEADING for line in block):
        return False
    if any(re.search(r"[。；;]", line) or ends_open(line) for line in block):
        return False
    return not width or any(len(line) < _SHORT_LINE * width for line in block[:-1])


def _credit_apart(before: str, line: str, conv: Conventions) -> bool:
    """A credit shares a block with text but is no part of it: a byline over the text
    (``城市快报记者 X`` then the first line), under a headline, or a caption's credit above it.

    A credit cut by the wrap (``…本报记者`` / ``黄兴能 摄``) is one line, though.
    """
    for text in (before, line):
        if (
            len(text) <= _CREDIT_LINE
            and conv.credit_hint.search(text)
            and (text is before or not conv.role_end.search(before))
            and (is_byline(text, conv) or (text is before and trailing_credit(text, conv)))
            and not parse_dateline(text, conv)  # 本报讯 记者X、通讯员Y / Z报道： is one line
        ):
            # A byline wrapped across two lines (…鄂尔多斯市融 / 媒体中心记者 X) stays whole.
            return not is_byline(before + line, conv)
    return False


def _ends_line(pieces: list[str], block: list[str]) -> bool:
    """A heading or a running head is a line of its own even without a blank line after it.

    A # heading as wide as the column was wrapped, though: its next line goes on with it.
    """
    heading = _MD_HEADING.match(pieces[0])
    wrapped = heading and display_width(pieces[-1]) >= _FULL_LINE * max(map(display_width, block))
    return bool((heading and not wrapped) or _running_head(pieces[-1]))


def _running_head(line: str) -> str | None:
    """The section named by a running head printed twice (…新篇章…新篇章··特别报道特别报道)."""
    if not 8 <= len(line) <= _MAX_RUNNING_HEAD or re.search("[，。！？]", line) or not _DOUBLED.search(line):
        return None
    single, share = undouble(line.replace(" ", ""))
    if share < _RUNNING_HEAD_SHARE:
        return None
    parts = [p for p in re.split(r"[·•・|｜\s]+", single) if p]
    return parts[-1] if parts else None


# -- pass 2: classify ------------------------------------------------------------------------


def _classify(raw: list[str], apart: set[int], conv: Conventions, issue: date | None) -> list[_Line]:
    out: list[_Line] = []
    i = 0
    blanks = 1
    while i < len(raw):
        text = raw[i]
        i += 1
        if not text:
            blanks += 1
            continue
        alone = blanks > 0 and (i == len(raw) or raw[i] == "")
        line = _classify_one(text, conv, issue, alone or i - 1 in apart)
        line.gap, line.alone, line.apart, blanks = blanks, alone, i - 1 in apart, 0
        if line.kind is T.BYLINE and not line.credits:
            # A byline printed vertically: the roles in one block, the names in the next.
            nxt = raw[i + 1] if i + 1 < len(raw) and raw[i] == "" else (raw[i] if i < len(raw) else "")
            names = parse_credits(nxt, conv) if nxt and len(nxt) <= 16 else None
            if names:
                i += 2 if raw[i] == "" else 1
                line.credits = parse_credits(f"{text} {nxt}", conv) or names
                line.text = f"{text} {nxt}"
            else:
                line.kind = T.PARA
        out.append(line)
    for before, byline in itertools.pairwise(out):
        # Whatever stands right above a byline is a headline if it can be one at all.
        if (
            byline.kind is T.BYLINE
            and before.kind is T.PARA
            and before.dateline is None
            and _headline_shaped(before.text)
        ):
            before.kind, before.lines = T.CANDIDATE, [before.text]
    for before, byline, after in zip(out, out[1:], [*out[2:], None], strict=False):
        # A byline under finished text and over a headline (or the page's end) signs the text.
        if (
            byline.kind is T.BYLINE
            and before.kind is T.PARA
            and ends_sentence(before.text)
            and (after is None or after.kind in (T.CANDIDATE, T.HEADING, T.SECTION))
        ):
            byline.kind = T.CREDIT
    return out


def _headline_shaped(text: str) -> bool:
    bare = squeeze_spaces(text)
    return len(bare) <= _MAX_HEADING and not _ends_statement(bare) and not re.search(r"[。；;]", bare)


def _ends_statement(text: str) -> bool:
    """Ends a sentence with 。 or …; a headline may end in ！ or ？ (“这才是真正的河南!”)."""
    return ends_sentence(text) and not _EXCLAIMED.search(text)


def _classify_one(text: str, conv: Conventions, issue: date | None, alone: bool = False) -> _Line:
    label = bool(_BOLD_LABEL.match(text)) or bool(_QA_LABEL.match(text))
    note = _NOTE.match(text.replace("**", ""))
    text = text.replace("**", "").strip()
    if note:
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
    head = _running_head(text)
    if head:
        return _Line(head, T.SECTION, lines=[text])
    if len(text) <= _MAX_HEADING and _FURNITURE.search(text) and not ends_sentence(text):
        return _Line(text, T.NOISE)
    # Most lines of a page are prose: the byline grammar is tried only on short lines that
    # carry a credit's word or mark.
    credit_like = len(text) <= _CREDIT_LINE * 2 and conv.credit_hint.search(text) is not None
    if credit_like and is_editor_line(text, conv):
        return _Line(text, T.NOISE)
    dateline = parse_dateline(text, conv, issue)
    if dateline:
        return _Line(text, T.PARA, dateline=dateline, credits=dateline.credits)
    rest, jumps = find_jumps(text)
    if jumps and not rest:
        return _Line(text, T.JUMP)
    paren = paren_names(text, conv)
    if paren:
        return _Line(text, T.PAREN, credits=paren)
    if credit_like and credit_roles_only(text, conv):
        return _Line(text, T.BYLINE)
    if credit_like and is_byline(text, conv):
        credits = parse_credits(text, conv) or ()
        # A photographer's credit closes the picture story it stands under; so does any credit
        # printed after the names it marks (X 文/图, X 报道).
        trailing = any(photographed(c) or c.role.rsplit(" ", 1)[-1] in conv.marks for c in credits)
        return _Line(text, T.CREDIT if trailing else T.BYLINE, credits=credits)
    if _is_candidate(text, alone and not label):
        return _Line(text, T.CANDIDATE, lines=[text])
    speaker = _SPEAKER.match(text)
    return _Line(text, T.PARA, label=label, speaker=speaker.group(1) if speaker else "")


def _is_candidate(text: str, alone: bool = False) -> bool:
    """Could this line be a headline?  Short, Chinese, no sentence end, no clause break at its end.

    A line standing alone in its block may end in ！ or ？ and hold commas, as headlines do on
    some pages; the evidence around it decides (``_headline_evidence``).
    """
    bare = squeeze_spaces(text)
    commas = len(re.findall("[，,]", bare))
    return (
        len(bare) <= _MAX_HEADING
        and (alone or commas <= 1)
        and not (commas and len(bare) > _MAX_COMMA_HEADING and not alone)
        and has_cjk(bare)
        and not (_ends_statement(bare) if alone else ends_sentence(bare))
        and not ends_open(bare)
        and not re.search(r"[。；;]", bare)
        and not BULLET.match(bare)
    )


# -- pass 3: resolve candidates --------------------------------------------------------------


def _resolve(lines: list[_Line], after: bool, conv: Conventions) -> tuple[list[_Line], list[str]]:
    """Decide every candidate line; returns the lines kept and the layout noise dropped."""
    markdown = any(line.md for line in lines)
    if markdown:
        _adopt_unmarked_heading_lines(lines)
    wide = any(line.gap >= 2 for line in lines[1:])
    out: list[_Line] = []
    dropped: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.kind is T.NOISE or (line.kind is T.SECTION and line.lines):
            dropped.append(line.text if line.kind is T.NOISE else line.lines[0])
        if line.kind is T.NOISE:
            i += 1
            continue
        if line.kind is not T.CANDIDATE and not (line.md and line.kind is T.HEADING):
            out.append(line)
            i += 1
            continue
        j = i
        kind = T.HEADING if line.md else T.CANDIDATE
        while j < len(lines) and (lines[j].kind is kind) and (lines[j].md == line.md):
            j += 1
        run = lines[i:j]
        prev = out[-1] if out else None
        nxt = lines[j] if j < len(lines) else None
        lead = _lead(_body_between(out, len(out), -1)) if after else ""
        resolved = _resolve_run(run, prev, nxt, markdown, lead, lines[j + 1 : j + 3], conv, wide)
        if not resolved:
            dropped.extend(r.text for r in run)
        out.extend(resolved)
        i = j
    return out, dropped


def _adopt_unmarked_heading_lines(lines: list[_Line]) -> None:
    """On a page that marks headlines with #, short lines touching a marked one belong to it.

    A section name or a place above a headline, or a subtitle under it, is often left
    unmarked; without this they would be read as body text of the article before.
    """
    for index, line in enumerate(lines):
        if not line.md:
            continue
        for step in (-1, 1):
            run: list[_Line] = []
            i = index + step
            while 0 <= i < len(lines) and lines[i].kind is T.CANDIDATE:
                run.append(lines[i])
                i += step
            # One or two lines: a list of captions or of labelled fields (时间：… 地点：…) under a
            # headline is the story's text, not its headline.
            if len(run) <= 2 and not (len(run) == 2 and all(_FIELD.match(r.text) for r in run)):
                for r in run:
                    r.kind, r.md = T.HEADING, True


def _is_plain_para(line: _Line | None) -> bool:
    return line is not None and line.kind is T.PARA and line.dateline is None


def _resolve_run(
    run: list[_Line],
    prev: _Line | None,
    nxt: _Line | None,
    markdown: bool,
    lead_above: str,
    following: list[_Line],
    conv: Conventions,
    wide: bool,
) -> list[_Line]:
    texts = [r.text for r in run]
    lone = len(run) == 1 and not run[0].md
    # Below a paragraph or a byline and above a paragraph: where a column break leaves a
    # paragraph's first line on its own.
    between_paras = prev is not None and prev.kind in (T.PARA, T.BYLINE) and _is_plain_para(nxt)
    if lone and between_paras:
        assert prev is not None
        mid_sentence = prev.kind is T.PARA and not ends_sentence(prev.text)
        if mid_sentence and len(squeeze_spaces(texts[0])) <= _LOGO_LEN:
            return []  # a column logo printed inside a sentence: layout noise
    if markdown and not run[0].md:
        # A page marked up with # headings marks all of them; other short lines are body text.
        return [_Line(r.text, T.PARA, apart=r.apart) for r in run]
    # Between two paragraphs a short line is a paragraph's first line cut off by a column
    # break, unless the evidence says headline.
    if lone and between_paras and wide and _crosshead(run[0], prev):
        return [_Line(texts[0], T.CROSSHEAD)]
    # Short lines set apart in one block between two paragraphs (a kicker over a headline, or a
    # few lines of verse quoted in the text) are weighed together, as one line would be.
    one_block = len(run) > 1 and not run[0].md and all(r.gap == 0 for r in run[1:])
    if (lone or one_block) and between_paras:
        whole = _Line("".join(texts), run[0].kind, gap=run[0].gap) if one_block else run[0]
        evidence = _headline_evidence(whole, prev, nxt, following, lead_above, conv)
        if evidence < _HEADLINE_EVIDENCE:
            return [_Line(r.text, T.PARA, apart=r.apart) for r in run]
    out: list[_Line] = []
    if len(texts) >= 2 and (_is_section_name(texts[0], conv) or _column_name(run, conv)):
        out.append(_Line(texts[0], T.SECTION))
        texts = texts[1:]
    elif len(texts) == 1 and _is_section_name(texts[0], conv) and nxt is not None and nxt.kind is T.HEADING:
        return [_Line(texts[0], T.SECTION)]
    out.append(_Line(" ".join(texts), T.HEADING, lines=texts))
    return out


def _headline_evidence(
    line: _Line,
    prev: _Line | None,
    nxt: _Line | None,
    following: list[_Line],
    lead_above: str,
    conv: Conventions,
) -> int:
    """Weigh whether a lone short line between two paragraphs is a headline or a cut-off fragment.

    For: set like a headline (two phrases side by side, a tag before a bar), quotation marks,
    a photo caption or photo credit right after it, words shared with the lead below it or (on
    headline-last pages) with the lead of the article above it, a wide gap after a finished
    paragraph, a credit closing the paragraph above.  Against: commas (a sentence running on),
    a last character that cannot end a phrase (的, 和, 在 ...).
    """
    text = line.text
    bare = squeeze_spaces(text)
    score = 0
    if prev is not None and prev.kind is T.PARA:
        if line.gap >= 2 and ends_sentence(prev.text):
            score += 2
        if trailing_credit(prev.text, conv):
            score += 2
    if nxt is not None and _is_caption(nxt.text, conv):
        score += 2
    tagged = _TAGGED.match(bare) is not None
    if tagged:
        score += 2
    if _PHRASES.search(bare):
        score += 2
    if "“" in bare and "”" in bare:
        score += 2 if bare.startswith("“") and bare.endswith("”") else 1  # a quotation as headline
    if nxt is not None and (nxt.text.startswith(("图为", "图片为", "图中")) or _LEAD_START.match(nxt.text)):
        score += 1
    if any(x.kind is T.CREDIT for x in following[:1]):
        score += 2
    lead_below = _lead(nxt.text + "".join(x.text for x in following if x.kind is T.PARA)) if nxt else ""
    if _overlap(bare, lead_below) >= _LEAD_OVERLAP:
        score += 1
    if lead_above and _overlap(bare, lead_above) >= _HEADLINE_OVERLAP:
        score += 2
    if re.search("[，,、]", bare) and not tagged:  # after a tag (视频|…) a headline runs as a sentence
        score -= 2
    if bare[-1] in _NO_PHRASE_END:
        score -= 2
    return score


def _finished(last: list[str], text: str) -> bool:
    """After a wide gap, does a new article start with ``text``?  Yes after a finished paragraph,
    where both are paragraphs of prose; a photo story's short captions stand apart by wide gaps
    too (农户开心地笑了。 / 蓝莓熟了。)."""
    return ends_sentence(last[-1]) and min(len(join_wrapped(last)), len(text)) > _CAPTION_PROSE


def _is_caption(text: str, conv: Conventions) -> bool:
    """A photo caption: a short paragraph closed by a photographer's credit, or opening 图为."""
    if len(text) > _CAPTION or not text.strip():
        return False
    if _CAPTION_START.match(text):
        return True
    credit = trailing_credit(text, conv)
    return credit is not None and any(
        photographed(c) or c.role.endswith(("文/图", "图/文")) for c in credit[1]
    )


def _crosshead(line: _Line, prev: _Line | None) -> bool:
    """On a page that parts articles by wide gaps, a short line set off by single blank lines
    after a finished paragraph is a crosshead (小标题) of the article it stands in."""
    return (
        line.gap == 1
        and prev is not None
        and prev.kind is T.PARA
        and ends_sentence(prev.text)
        and len(squeeze_spaces(line.text)) <= _CROSSHEAD_LEN
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
        and re.fullmatch(f"[{CJK}·]+", first.text) is not None
    )


def _is_section_name(text: str, conv: Conventions) -> bool:
    return len(text) <= _SECTION_LEN and not conv.place.match(text) and not re.search(r"\d", text)


# -- pass 4: assemble ------------------------------------------------------------------------


def _headlines_follow_bodies(lines: list[_Line]) -> bool:
    """Decide whether this page prints headlines below their articles.

    Evidence: a headline shares words with the lead of the article it belongs
    to, so compare each headline with the body before and after it; a page
    that ends on a headline is printed headline-last.
    """
    votes: list[float] = []
    for index, line in enumerate(lines):
        if line.kind is not T.HEADING:
            continue
        heading = "".join(line.lines)
        before = _lead(_body_between(lines, index, -1))
        after_text = _lead(_body_between(lines, index, 1))
        if before and after_text:
            votes.append(_overlap(heading, before) - _overlap(heading, after_text))
        elif before and index == len(lines) - 1:
            votes.append(_END_VOTE)
    # The mean, not the sum: on a long page small chance overlaps must not add up to a verdict.
    return bool(votes) and sum(votes) / len(votes) > _AFTER_MARGIN


def _body_between(lines: list[_Line], index: int, step: int) -> str:
    """The body text from ``index`` (exclusive) to the nearest heading or section, either way."""
    parts: list[str] = []
    i = index + step
    while 0 <= i < len(lines) and lines[i].kind not in (T.HEADING, T.SECTION):
        if lines[i].kind is T.PARA:
            parts.append(lines[i].text)
        i += step
    if step < 0:
        parts.reverse()
    return "".join(parts)


def _lead(text: str) -> str:
    return text[:_LEAD]


def _overlap(heading: str, text: str) -> float:
    """Share of a heading's two-character words found in a text."""
    words = cjk_bigrams(heading)
    return sum(w in text for w in words) / len(words) if words else 0.0


@dataclass
class _Builder:
    section: str | None
    conv: Conventions
    title_lines: list[str] = field(default_factory=list)
    paras: list[list[str]] = field(default_factory=list)  # each paragraph as the pieces it was cut into
    credits: list[Credit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    jumps: list[str] = field(default_factory=list)
    date: str | None = None
    place: str | None = None
    dateline: str | None = None
    labels: int = 0
    speakers: Counter[str] = field(default_factory=Counter)  # names paragraphs open with
    closed: bool = False  # its headline has been printed below it: what follows is another article
    ended: bool = False  # a credit closed its text: a paragraph after it is another article's
    crossheads: set[int] = field(default_factory=set)  # paragraphs nothing is joined onto
    listed: set[int] = field(default_factory=set)  # lines set apart (captions, fields): never joined
    before_text: int = 0  # paragraphs printed before the dateline or byline: captions
    caption_credits: dict[int, str] = field(default_factory=dict)  # credits printed under captions

    def empty(self) -> bool:
        return not (self.title_lines or self.paras or self.notes)

    def has_body(self) -> bool:
        return bool(self.paras)

    def only_captions(self) -> bool:
        """Nothing but photo captions so far (a caption with its credit, or a list of short
        captions under the headline): the byline and dateline may still come."""
        for pieces in self.paras:
            para = join_wrapped(pieces)
            if not (_listed(para) or _is_caption(para, self.conv)):
                return False
        return True

    def add_crosshead(self, text: str) -> None:
        """A crosshead (小标题) is a paragraph of its own, never the start of the next one."""
        self.crossheads.add(len(self.paras))
        self.paras.append([text])

    def credit_last_caption(self, credit: str) -> None:
        """A photographer's credit on the line under a caption (图为… / 本报记者 X 摄) is its own."""
        last = len(self.paras) - 1
        if last >= 0 and last not in self.caption_credits and _CAPTION_START.match(self.paras[last][0]):
            self.caption_credits[last] = _clean_para(credit.strip("()（） "))

    def text_opens(self) -> None:
        """A dateline or byline opens the text: what stands before it are photo captions."""
        self.before_text = len(self.paras)

    def add_para(self, text: str, label: bool = False, apart: bool = False) -> None:
        text, jumps = find_jumps(text)
        self.jumps.extend(jumps)
        text = BULLET.sub("", text).strip()
        if not text:
            return
        self.labels += label
        last = len(self.paras) - 1
        if (
            self.paras
            and not ends_sentence(self.paras[-1][-1])
            and not label
            and not apart
            and last not in self.crossheads
            and last not in self.listed
            and not _CAPTION_START.match(self.paras[-1][0])  # a caption is a paragraph of its own
            and not trailing_credit(self.paras[-1][-1], self.conv)
        ):
            self.paras[-1].append(text)
        else:
            if apart:
                self.listed.add(len(self.paras))
            self.paras.append([text])
        if trailing_credit(text, self.conv) and not _is_caption(text, self.conv):
            self.ended = True

    def add_dateline(self, line: _Line) -> None:
        assert line.dateline is not None
        self.date = self.date or line.dateline.date
        self.place = self.place or line.dateline.place
        self.dateline = self.dateline or squeeze_spaces(line.text[: line.dateline.length].strip())
        self.credits.extend(line.dateline.credits)
        self.add_para(line.text[line.dateline.length :])

    def _caption_at(self, index: int, para: str) -> bool:
        """Is paragraph ``index`` a photo caption?  Those printed before the dateline or byline
        that opens the text, a list of short lines set apart at the top of the text, and
        paragraphs shaped as captions (图为…, …X 摄); never a crosshead."""
        if index in self.crossheads:
            return False
        if _is_caption(para, self.conv):
            return True
        if _FIELD.match(para):
            return False  # 时间：… 地点：… are the story's own facts
        leading = all(i in self.listed and _listed(join_wrapped(self.paras[i])) for i in range(index + 1))
        return index < self.before_text or leading

    def build(self) -> Article:
        kicker, title, subtitle = _headline(self.title_lines, self.conv)
        paras: list[tuple[str, str, bool]] = []  # text, the credit printed after it, a caption?
        for index, pieces in enumerate(self.paras):
            para = join_wrapped(pieces)
            caption = self._caption_at(index, para)
            printed = self.caption_credits.get(index, "")
            credit = trailing_credit(para, self.conv)
            if credit:
                # A credit closing a paragraph (…特点。(吕劲), a caption's …摄) names people, not text.
                printed = _clean_para(para[len(credit[0]) :].strip().strip("()（）"))
                para = credit[0]
                self.credits.extend(credit[1])
            para = _clean_para(para)
            if para:
                paras.append((para, printed, caption))
        captions = _captions(paras)
        body = "\n\n".join(text for text, _, caption in paras if not (caption and captions))
        article = Article(
            title=title,
            body=body,
            section=self.section,
            kicker=kicker,
            subtitle=subtitle,
            credits=tuple(self.credits),
            date=self.date,
            place=self.place,
            dateline=self.dateline,
            notes=tuple(_clean_para(n) for n in self.notes),
            jumps=tuple(dict.fromkeys(self.jumps)),
            captions=captions,
        )
        # An interview: question-and-answer labels, or speakers who take the floor again.
        turns = self.labels + sum(n for n in self.speakers.values() if n >= 2)
        return _with_kind(article, turns)


def _listed(para: str) -> bool:
    """Shaped as one of a list of captions: short, and no sentence in it."""
    return len(para) <= _CAPTION and "。" not in para and not ends_sentence(para)


def _captions(paras: list[tuple[str, str, bool]]) -> tuple[Caption, ...]:
    """The captions among an article's paragraphs (text, printed credit, caption?), each with
    the number of body paragraphs before it.

    When the captions hold as much text as the rest, they are the story (a photo story's
    text is its pictures' captions) and stay its body: none is returned.
    """
    shown = sum(len(text) for text, _, caption in paras if caption)
    if not shown or shown >= sum(len(text) for text, _, caption in paras if not caption):
        return ()
    out: list[Caption] = []
    at = 0
    for text, credit, caption in paras:
        if caption:
            out.append(Caption(text=text, credit=credit, at=at))
        else:
            at += 1
    return tuple(out)


def _page_name(lines: list[_Line], conv: Conventions) -> str | None:
    """The page's name as its folio prints it (第3版 经济, 第01版：一版要闻 → 要闻), or None."""
    for line in lines:
        if line.kind is T.NOISE:
            folio = _FOLIO.search(line.text)
            if folio:
                name = folio.group(1)
                for word in conv.non_sections:
                    name = name.removeprefix(word)
                return name if len(name) >= 2 else None
    return None


def _assemble(
    lines: list[_Line], after: bool, conv: Conventions, page_name: str | None = None
) -> tuple[list[_Builder], list[str]]:
    """Group lines into articles; also returns section markers no article stood under.

    ``page_name``, the name the folio gives the page (第3版 经济), is the section of the
    articles above the page's first section marker.
    """
    built: list[_Builder] = []
    seen: list[str] = []  # section markers, in order
    section: str | None = page_name
    outer: str | None = None  # the section around a roundup of briefs, back after its items
    in_roundup = False
    pending_notes: list[str] = []
    cur: _Builder | None = None
    wide_gaps = any(line.gap >= 2 for line in lines[1:])

    def start() -> _Builder:
        nonlocal cur
        cur = _Builder(section=section, conv=conv)
        cur.notes.extend(pending_notes)
        pending_notes.clear()
        built.append(cur)
        return cur

    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if line.kind is T.SECTION:
            seen.append(line.text)
            section, in_roundup = line.text, False
            if cur is not None:
                cur.closed = True
        elif line.kind is T.HEADING:
            if in_roundup:
                section, in_roundup = outer, False
            if cur is not None and cur.title_lines and (nxt is None or nxt.kind is T.SECTION):
                # Headings with no article of their own (an infographic's sub-heads, a page-end
                # title for the next page): keep them with the article they stand under.
                for text in line.lines:
                    if nxt is None:
                        cur.notes.append(text)
                    else:
                        cur.paras.append([text])
            elif after and cur is not None and cur.has_body() and not cur.title_lines and not cur.closed:
                cur.title_lines = list(line.lines)
                cur.closed = True
            elif cur is not None and cur.title_lines and cur.jumps and not cur.has_body():
                # A continuation (上接第1版) repeats its headline; a heading under the jump is
                # the continuation's crosshead.
                cur.add_crosshead(" ".join(line.lines))
            else:
                start().title_lines = list(line.lines)
        elif line.kind is T.BYLINE:
            # A byline belongs to the article whose headline it stands under: the open one
            # before its body starts or, headline-last, the one just closed by its headline.
            opening = cur is not None and not cur.closed and (not cur.has_body() or cur.only_captions())
            closing = after and cur is not None and cur.closed and not cur.credits
            if cur is not None and opening:
                cur.text_opens()
            (cur if cur is not None and (opening or closing) else start()).credits.extend(line.credits)
        elif line.kind in (T.CREDIT, T.PAREN):
            credited = cur or start()
            credited.credits.extend(line.credits)
            if any(photographed(c) for c in line.credits):
                credited.credit_last_caption(line.text)
            # A credit after the text closes the story; a photographer's may be followed by more
            # captions of the same pictures.
            signed = cur is not None and cur.has_body() and not cur.only_captions()
            if cur is not None and (
                line.kind is T.PAREN or (signed and not any(photographed(c) for c in line.credits))
            ):
                cur.ended = True
        elif line.kind is T.CROSSHEAD:
            open_one = cur is not None and not cur.closed and not cur.ended
            (cur if cur is not None and open_one else start()).add_crosshead(line.text)
        elif line.kind is T.JUMP:
            (cur or start()).jumps.extend(find_jumps(line.text)[1])
        elif line.kind is T.NOTE:
            if cur is None or cur.closed:
                pending_notes.append(line.text)
            else:
                cur.notes.append(line.text)
        elif line.dateline is not None:
            # A dateline opens an article, unless the open one has only its headline, byline
            # and photo captions so far.
            if cur is None or cur.closed or cur.ended or cur.dateline or not cur.only_captions():
                start()
            assert cur is not None
            cur.text_opens()
            cur.add_dateline(line)
        else:
            heads = (section, *cur.title_lines) if cur is not None else ()
            brief = BULLET.match(line.text) is not None and (  # an item of a roundup of briefs
                any((t or "").endswith(conv.roundups) for t in heads)
                or trailing_credit(line.text, conv) is not None
            )
            if brief and cur is not None and not cur.has_body() and len(cur.title_lines) == 1:
                # A roundup of briefs (△ item (X), △ item (Y)): its heading is their column.
                outer, in_roundup = section, True
                section = cur.section = cur.title_lines.pop()
            elif (
                cur is None
                or cur.closed
                or cur.ended
                or (brief and cur.has_body())
                or (wide_gaps and line.gap >= 2 and cur.has_body() and _finished(cur.paras[-1], line.text))
            ):
                start()
            assert cur is not None
            cur.add_para(line.text, line.label, line.apart)
            if line.speaker:
                cur.speakers[line.speaker] += 1
    if pending_notes:
        (cur or start()).notes.extend(pending_notes)
    kept = _fold_orphans(built)
    used = {b.section for b in kept}
    return kept, [name for name in dict.fromkeys(seen) if name not in used]


def _fold_orphans(built: list[_Builder]) -> list[_Builder]:
    """A byline or jump with no article after it belongs to the article before it."""
    kept: list[_Builder] = []
    for b in built:
        if b.empty() and kept and not b.dateline:
            kept[-1].credits.extend(b.credits)
            kept[-1].jumps.extend(b.jumps)
        elif not b.empty() or b.credits or b.jumps or b.dateline:
            kept.append(b)
    return kept


# -- article fields --------------------------------------------------------------------------


def _headline(lines: list[str], conv: Conventions) -> tuple[str | None, str | None, str | None]:
    """Kicker, headline and subtitle from the lines of one heading group."""
    lines = [_clean_title(t) for t in lines if _clean_title(t)]
    subtitle = None
    marked = [t for t in lines if _SUBTITLE.match(t)]
    if marked:
        subtitle = marked[0]
        lines = [t for t in lines if t is not marked[0]]
    if not lines:
        return None, subtitle, None
    kicker = None
    if len(lines) >= 2 and conv.place.match(lines[0]):
        kicker, lines = lines[0], lines[1:]
    if len(lines) == 1:
        return kicker, lines[0], subtitle
    first, second, rest = lines[0], lines[1], lines[2:]
    # No line is dropped: what is neither kicker nor headline joins the subtitle.
    extra = " ".join(x for x in (subtitle, *rest) if x) or None
    if len(first) <= _SHORT_LABEL and len(first) * 2 <= len(second):
        return " ".join(x for x in (kicker, first) if x), second, extra
    if len(second) <= _SHORT_LABEL and len(second) * 2 <= len(first) and subtitle is None:
        return kicker, first, " ".join([second, *rest])
    if subtitle is not None and kicker is None:
        return first, second, extra
    # Two lines of like size and nothing to tell the main line from the other: the printed
    # headline is both, read in order.
    return kicker, f"{first} {second}", extra


def _clean_title(text: str) -> str:
    return full_width_punctuation(fix_vertical_quotes(squeeze_spaces(BULLET.sub("", text)))).strip()


def _clean_para(text: str) -> str:
    return full_width_punctuation(fix_vertical_quotes(squeeze_spaces(text))).strip()


def _with_kind(article: Article, labels: int) -> Article:
    from dataclasses import replace

    return replace(article, kind=_kind(article, labels))


def _kind(article: Article, labels: int) -> Kind:
    heads = " ".join(x for x in (article.kicker, article.title) if x)
    roles = {c.role for c in article.credits}
    if heads.startswith(("图解", "图表")) or roles & {"制图", "设计"}:
        return Kind.INFOGRAPHIC
    if any(photographed(c) for c in article.credits) and len(article.printed_body()) <= _PHOTO_BODY:
        return Kind.PHOTO
    subtitle = article.subtitle or ""
    if subtitle.lstrip("—-─ ").startswith("访") or "专访" in heads or labels >= 2:
        return Kind.INTERVIEW
    if (
        re.match(r"^[—\-─\s]*[一二三四五六七八九十]?(?:谈|论|评)", subtitle)
        or heads.startswith(_OPINION)
        or article.section in _OPINION
    ):
        return Kind.COMMENTARY
    return Kind.NEWS


def articles_text(articles: Iterable[Article]) -> str:
    """All the text a page's articles carry, for checks that nothing was lost."""
    parts: list[str] = []
    for a in articles:
        parts.extend(x for x in (a.section, a.kicker, a.title, a.subtitle, a.body) if x)
        parts.extend(a.notes)
        parts.extend(c.name for c in a.credits)
    return "\n".join(parts)
