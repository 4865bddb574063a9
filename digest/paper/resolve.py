"""Whole-page evidence that settles what single lines cannot: which short lines are headlines,
crossheads, captions, column names or section names, and whether the page prints headlines after
their bodies.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.after import _body_between, _closes_story, _lead, _over_no_story, _overlap, _text_above
from digest.paper.apart import (
    _CAPTION_REACH,
    _COLUMN_LEN,
    _SECTION_REACH,
    _bare_word,
    _box_label,
    _brief,
    _caption_list,
    _column_name,
    _field_list,
    _is_section_name,
    _section_over_photo,
    _section_over_text,
)
from digest.paper.bylines import (
    continues_elsewhere,
    find_jumps,
    photographed,
    trailing_credit,
)
from digest.paper.classify import _NOTE, T, _Line, _wide_gaps
from digest.paper.conventions import Conventions
from digest.paper.datelines import parse_dateline
from digest.paper.headlike import _CROSSHEAD_LEN, _NO_PHRASE_END
from digest.paper.marked import _adopt_unmarked_heading_lines
from digest.paper.shapes import _NUMBERED
from digest.paper.signing import _REACH as _SIGNED_REACH
from digest.paper.signing import _signed_by_others, _signs_story_above, closing_note
from digest.paper.textnorm import (
    CJK,
    CLOSING_QUOTES,
    OPENING_QUOTES,
    ends_sentence,
    join_wrapped,
    squeeze_spaces,
)

_TAGGED = re.compile(f"^[{CJK}]{{2,6}}[|｜]")  # a column or video tag before a headline: 视频|…


_PHRASES = re.compile(f"[{CJK}”」』》] [“「『《{CJK}]")


# How a caption opens when it says so: 图为…, 图：…, 上图：…, 图片为…, 右图中….
_CAPTION_START = re.compile(r"^(?:[上下左右组]?图[为：:]|图片为|[上下左右]图中)")


_STACKED_LINES = 4  # lines of a column name set vertically, a word or two characters to a line


_STACK_LINES = 3  # lines of a headline with its kicker and subtitle


_CAPTION_PROSE = 40  # characters; a paragraph this short after a wide gap may be a photo's caption


_CAPTION = 120  # characters; a photo caption is never longer


_LOGO_LEN = 10  # column logos stranded inside a sentence (回眸2023) are this short


_HEADLINE_OVERLAP = 0.3  # share of a headline's two-character words its article's lead repeats


_LEAD_OVERLAP = 0.4  # the same, as weak evidence for a line the lead below might belong to


_HEADLINE_EVIDENCE = 2  # points _headline_evidence needs to call a lone line a headline


# How leads open: a quotation, a date, a time word.  A paragraph's continuation rarely does.
_LEAD_START = re.compile(
    r"^(?:[“「『]|(?:\d{4}年)?\d{1,2}月\d{1,2}日|近日|日前|近年来|今年|目前|记者|连日来|近期"
    # the day a news lead names first: 昨天上午，… 昨夜10点… (never 今天的…, a noun's)
    r"|[昨今前][日天夜晚](?=[，,\d上中下早晚凌]))"
)


def _resolve(
    lines: list[_Line], after: bool, conv: Conventions, page_name: str | None = None
) -> tuple[list[_Line], list[str]]:
    """Decide every candidate line; returns the lines kept and the layout noise dropped.

    ``page_name`` is the name the folio gives the page (第3版 经济), if any."""
    markdown = any(line.md for line in lines)
    if markdown:
        _adopt_unmarked_heading_lines(lines)
    wide = _wide_gaps(lines)
    # A running head printed twice (要闻要闻) names the page's one section: a short name over a
    # headline under it is that story's column tag, blank lines or none.
    running = any(line.kind is T.SECTION and line.lines for line in lines)
    # A page that sets its section names apart (marked ● 【】, or a bare word alone in its block)
    # prints a name in a headline's own block as that story's column tag.
    names_apart = any(
        line.kind is T.SECTION or (line.kind is T.CANDIDATE and _bare_word(line, conv)) for line in lines
    )
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
        # Headline-last, a wide gap parts a story's headline from the next story's first lines.
        while (
            j < len(lines)
            and lines[j].kind is kind
            and lines[j].md == line.md
            and not (after and j > i and lines[j].gap >= 2)
        ):
            j += 1
        run = lines[i:j]
        prev = out[-1] if out else None
        nxt = lines[j] if j < len(lines) else None
        lead = _lead(_body_between(out, len(out), -1)) if after else ""
        # A short name over a headline is its column's tag where the page parts its stories by
        # wide gaps or sets its section names apart, and a story stands above (over the page's
        # first one it is the page's section, as a marker would be: 要闻), or where a running
        # head names the page's section.
        tags = running or ((wide or names_apart) and not all(x.kind is T.SECTION for x in out))
        if _section_over_photo(run, prev, lines[j : j + _SECTION_REACH], conv, page_name, markdown):
            out.append(_Line(line.text, T.SECTION))
            i = j
            continue
        top = _over_no_story(run, out, nxt, conv) if after and not _text_above(out) else None
        if top is not None:
            out.extend(top)
            i = j
            continue
        fields = _field_list(run)
        captions = 0 if fields else _caption_list(run, prev, lines[j : j + _CAPTION_REACH], conv)
        if fields or captions:
            # Labelled fields listed under a headline (时间：… / 地点：…) are the story's text; a
            # list of photo captions under it is proof of the headline above, and so are fields
            # signed by a credit under them (拍摄者：本报记者 X): an item of its own.
            apart = fields or captions
            text = [_Line(r.text, T.PARA, apart=True, indent=r.indent) for r in run[-apart:]]
            signed = nxt is not None and nxt.kind in (T.CREDIT, T.BYLINE) and nxt.gap == 0
            head_next = None if captions or signed else text[0]
            out.extend(
                _resolve_run(run[:-apart], prev, head_next, markdown, lead, [], conv, wide, tags=tags)
                if run[:-apart]
                else []
            )
            out.extend(text)
            i = j
            continue
        k = _section_over_text(run, prev, nxt, conv) if after else None
        if k is not None:
            # The page's name, then the first story's text (its headline comes under it): the
            # headline above the name, if any, closed the story before.
            head = run[:k] and _resolve_run(run[:k], prev, run[k], markdown, lead, [], conv, wide)
            text = [_Line(r.text, T.PARA, apart=r.apart, indent=r.indent) for r in run[k + 1 :]]
            resolved = [*head, _Line(run[k].text, T.SECTION), *text]
        else:
            signed = (
                _signed_by_others(out, lines[j : j + _SIGNED_REACH + 1], conv)
                if _is_plain_para(nxt)
                else False
            )
            below = lines[j + 2 if _signs_story_above(run, lines[j:], out, conv) else j + 1 : j + 3]
            resolved = _resolve_run(run, prev, nxt, markdown, lead, below, conv, wide, signed, after, tags)
        if not resolved:
            dropped.extend(r.text for r in run)
        out.extend(resolved)
        i = j
    return out, dropped


def _text_or_byline(line: _Line | None) -> bool:
    """A paragraph or a byline, or an editor's note (编者按…): text the story under it goes on from."""
    return line is not None and (
        line.kind in (T.PARA, T.BYLINE) or (line.kind is T.NOTE and _NOTE.match(line.text) is not None)
    )


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
    signed_apart: bool = False,
    after: bool = False,
    tags: bool = False,
) -> list[_Line]:
    """What a run of candidate lines is: headlines, a section or column name over one, crossheads
    or text.  ``tags`` says a short name right over a headline is that story's column tag."""
    texts = [r.text for r in run]
    lone = len(run) == 1 and not run[0].md
    # Below a paragraph or a byline and above a paragraph: where a column break leaves a
    # paragraph's first line on its own.
    between_paras = _is_plain_para(nxt) and _text_or_byline(prev)
    # A credit closing the paragraph (…50个。（记者 X）) finishes it as a full stop does.
    finished = between_paras and _finishes(prev, conv)
    if lone and _roundup_name(texts[0], conv):
        # A column of briefs or photos named alone (快讯, 新闻速览): the section of the items under
        # it, never one item's headline nor a line of its text.
        return [_Line(texts[0], T.SECTION)]
    if lone and between_paras:
        assert prev is not None
        mid_sentence = prev.kind is T.PARA and not finished
        if mid_sentence and len(squeeze_spaces(texts[0])) <= _LOGO_LEN:
            return []  # a column logo printed inside a sentence: layout noise
    if lone and _bare_word(run[0], conv) and _is_plain_para(nxt) and _brief(nxt):
        # A bare word alone in its block over a bulleted brief (△…。) names the roundup the
        # briefs stand in: their section, never the first one's headline nor a line of text.
        return [_Line(texts[0], T.SECTION)]
    if markdown and not run[0].md:
        # A page marked up with # headings marks all of them; other short lines are body text.
        return [_Line(r.text, T.PARA, apart=r.apart, indent=r.indent) for r in run]
    # Between two paragraphs a short line is a paragraph's first line cut off by a column
    # break, unless the evidence says headline.
    closes = after and _closes_story(nxt)
    if after and wide and between_paras and not closes:
        # Headline-last, a headline closes its story and a wide gap parts it from the next one:
        # lines with the story's text going on under them are its own (crossheads, cut-off lines).
        return _story_lines(run, prev)
    if lone and between_paras and wide and not signed_apart and not closes and _crosshead(run[0], prev):
        return [_Line(texts[0], T.CROSSHEAD)]
    if lone and between_paras and not signed_apart and _NUMBERED.match(texts[0]) and _box_label(run[0], prev):
        return [_Line(texts[0], T.CROSSHEAD)]  # a numbered part of the story, never a headline
    # Short lines set apart in one block between two paragraphs (a kicker over a headline, or a
    # few lines of verse quoted in the text) are weighed together, as one line would be.
    one_block = len(run) > 1 and not run[0].md and all(r.gap == 0 for r in run[1:])
    if one_block and _stacked_name(run, prev, nxt):
        return [_Line("".join(texts), T.SECTION)]
    above = bool(lead_above) and _overlap(texts[0], lead_above) >= _HEADLINE_OVERLAP
    if (
        after
        and len(run) == 2
        and run[1].gap > 0
        and between_paras
        and not above
        and _crosshead(run[0], prev)
    ):
        # Headline-last, a crosshead over a line its story goes on from, each alone: weighed alone,
        # the line is text (a paragraph's first line a column break cut), so the crosshead is no
        # column's name over a headline; one repeating the story's lead above is its headline.
        rest = _resolve_run(run[1:], prev, nxt, markdown, lead_above, following, conv, wide, after=after)
        if all(r.kind is T.PARA for r in rest):
            return [_Line(texts[0], T.CROSSHEAD), *rest]
    measured = False  # a headline by its width alone (``_short_after_text``)
    if (lone or one_block) and between_paras:
        whole = _Line("".join(texts), run[0].kind, gap=run[0].gap) if one_block else run[0]
        evidence = _headline_evidence(whole, prev, nxt, following, lead_above, conv)
        if signed_apart:
            evidence += 2  # the text below is signed by others than the story above: another story
        if closes and finished:
            evidence += 2  # headline-last, a wide gap under a finished story: its headline closes it
        measured = evidence < _HEADLINE_EVIDENCE and _short_after_text(run, prev, nxt, wide, after)
        if measured:
            evidence += 2
        if evidence < _HEADLINE_EVIDENCE:
            # A short phrase set alone after a finished paragraph, well short of the column (or
            # of clause marks, where a paragraph prints to a line), is no line a column break cut
            # off: a crosshead, never glued onto the paragraph under it.
            if lone and (_box_label(run[0], prev) or (run[0].short and _crosshead(run[0], prev))):
                return [_Line(texts[0], T.CROSSHEAD)]
            return [_Line(r.text, T.PARA, apart=r.apart, indent=r.indent) for r in run]
    out: list[_Line] = []
    # Headline-last, a short name over a headline that closes a story is its column's tag: the
    # section of the stories under it would stand after that headline.
    tagged = after and bool(lead_above)
    if len(texts) >= 2 and (_is_section_name(texts[0], conv) or _column_name(run, conv)):
        if run[1].gap == 0 and tags:
            # A column's tag set right over the headline, in its block (话外音): that story's own,
            # not the page's from here on.
            return [_Line(" ".join(texts[1:]), T.HEADING, lines=texts[1:], tag=texts[0])]
        if not tagged:
            out.append(_Line(texts[0], T.SECTION))
            texts = texts[1:]
    elif len(texts) == 1 and _is_section_name(texts[0], conv) and nxt is not None and nxt.kind is T.HEADING:
        return [_Line(texts[0], T.SECTION)]
    # The gap before a headline tells which story it stands by (``_headlines_follow_bodies``).
    gap = run[len(run) - len(texts)].gap
    out.append(_Line(" ".join(texts), T.HEADING, lines=texts, gap=gap, measured=measured))
    return out


def _short_after_text(
    run: list[_Line], prev: _Line | None, nxt: _Line | None, wide: bool, after: bool
) -> bool:
    """A line longer than a crosshead, set alone after a finished paragraph and stopping well
    short of the page's wrapped column, is no paragraph's first line a column break cut off (that
    fills the column): it is the headline of the story under it.  So is a block of two or three
    such lines, a headline with its kicker or subtitle, where one of them shares words with the
    lead below (lines of verse quoted in the text do not).  Not where a wide gap parts the
    stories (a line after a single blank is a crosshead there) nor on a page printing headlines
    under their stories, whose crossheads stand in the same place."""
    if len(run) == 1:
        shaped = run[0].alone and run[0].short and len(squeeze_spaces(run[0].text)) > _CROSSHEAD_LEN
    else:
        lead = _lead(nxt.text) if nxt is not None else ""
        shaped = (
            len(run) <= _STACK_LINES
            and all(r.short for r in run)
            and max(_overlap(r.text, lead) for r in run) >= _HEADLINE_OVERLAP
        )
    return (
        shaped
        and not wide
        and not after
        and prev is not None
        and prev.kind is T.PARA
        and ends_sentence(prev.text)
    )


def _roundup_name(text: str, conv: Conventions) -> bool:
    """A short bare name ending in a roundup's word (简讯, 图片集锦): a column's, not a headline's."""
    bare = squeeze_spaces(text)
    return (
        len(bare) <= _COLUMN_LEN
        and bare.endswith(conv.roundups)
        and re.fullmatch(f"[{CJK}]+", bare) is not None
    )


def _finishes(line: _Line | None, conv: Conventions) -> bool:
    """Does a paragraph end its story's text: a sentence's end, a closing credit, a jump note, a
    bracketed source or editor's credit (``closing_note``)?"""
    return line is not None and (
        ends_sentence(line.text)
        or trailing_credit(line.text, conv) is not None
        or continues_elsewhere(find_jumps(line.text)[1])
        or closing_note(line.text, conv)
    )


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
        if trailing_credit(prev.text, conv) or closing_note(prev.text, conv):
            score += 2
    if nxt is not None and _is_caption(nxt.text, conv):
        score += 2
    tagged = _TAGGED.match(bare) is not None
    if tagged:
        score += 2
    if _PHRASES.search(bare):
        score += 2
    if any(o in bare and c in bare for o, c in zip(OPENING_QUOTES, CLOSING_QUOTES, strict=True)):
        quoted = bare[0] in OPENING_QUOTES and bare[-1] in CLOSING_QUOTES
        score += 2 if quoted else 1  # a quotation as headline
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


def _finished(last: list[str], text: str, conv: Conventions) -> bool:
    """After a wide gap, does a new article start with ``text``?  Yes after a finished paragraph,
    where both are paragraphs of prose; a photo story's short captions stand apart by wide gaps
    too (农户开心地笑了。 / 蓝莓熟了。).  A paragraph closed by its credit after the last sentence
    (…育苗。本报记者 林小河 摄) is finished where untitled photos are printed one after another:
    the text after the gap closes with a photographer's credit too, or opens a story with its
    dateline.  Else it is a photo printed inside the story, whose text goes on under it."""
    whole = join_wrapped(last)
    if min(len(whole), len(text)) <= _CAPTION_PROSE:
        return False
    if ends_sentence(last[-1]):
        return True
    # Only a new story after the gap finishes it, so a credit glued to the last sentence may too.
    if trailing_credit(whole, conv, closing=True) is None:
        return False
    credit = trailing_credit(text, conv)
    return (credit is not None and any(photographed(c) for c in credit[1])) or parse_dateline(
        text, conv
    ) is not None


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
    after a finished paragraph is a crosshead (小标题) of the article it stands in.  A comma in it
    says a sentence runs on (在城区迎宾大道、白云 / 大道、…): a paragraph a column break cut."""
    return (
        (line.gap == 1 or (line.gap == 0 and line.short))  # or on a page without blank lines
        and prev is not None
        and prev.kind is T.PARA
        and ends_sentence(prev.text)
        and len(squeeze_spaces(line.text)) <= _CROSSHEAD_LEN
        and not re.search("[，,、]", line.text)
    )


def _story_lines(run: list[_Line], prev: _Line | None) -> list[_Line]:
    """Short lines inside a story's text: crossheads and box labels where set off after a
    finished paragraph, else the text's own lines."""
    out: list[_Line] = []
    for line in run:
        if _crosshead(line, prev) or _box_label(line, prev):
            out.append(_Line(line.text, T.CROSSHEAD))
        else:
            out.append(_Line(line.text, T.PARA, apart=line.apart, indent=line.indent))
        prev = line
    return out


def _stacked_name(run: list[_Line], prev: _Line | None, nxt: _Line | None) -> bool:
    """A column's name set vertically a word to a line (市场 / 动态) in a block of its own over
    the text: one name, never captions or a headline.

    Only where a story starts: at the top of the page, after what is no paragraph, after a story
    that jumped to another page or a wide gap.  Inside a story the same shape is a short list (the
    names of four winners after …获得一等奖：), which stays its text."""
    opens = prev is None or prev.kind is not T.PARA or bool(find_jumps(prev.text)[1]) or run[0].gap >= 2
    return (
        opens
        and 2 <= len(run) <= _STACKED_LINES
        and run[0].gap > 0
        and _is_plain_para(nxt)
        and nxt is not None
        and nxt.gap > 0
        and all(re.fullmatch(f"[{CJK}]{{1,2}}", r.text) for r in run)
    )
