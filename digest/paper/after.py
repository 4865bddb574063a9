"""Pages that print each headline under its story: whether a page does (the verdict), and what
follows from it.  A headline closes the text above it, so short lines with no story text above them
headline nothing, and a wide gap under a short line shows the story it closes has ended.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.apart import _COLUMN_LEN, _listing
from digest.paper.classify import T, _Line, _wide_gaps
from digest.paper.conventions import Conventions
from digest.paper.textnorm import CJK, cjk_bigrams

_LEAD = 300  # characters of a body compared with a headline


_END_VOTE = 0.5  # a page ending on a headline votes this much for headline-last


_GAP_VOTE = 0.5  # a headline with a wide gap on one side votes this much for that side's story


_AFTER_MARGIN = 0.2  # mean vote above which a page is headline-last (seeds: ≤ 0 or ≥ 0.5)


_NAME = re.compile(f"[{CJK}·]{{2,{_COLUMN_LEN}}}")  # a section's or a column's name: 城事, 杭州新闻·科教


def _name_like(line: _Line, conv: Conventions) -> bool:
    """A bare name of a few words alone in its block (城事, 杭州新闻·科教): how a page prints the
    name of a section; never a place (海南区), which kicks a headline."""
    return line.alone and _NAME.fullmatch(line.text) is not None and not conv.place.match(line.text)


def _over_no_story(
    run: list[_Line], out: list[_Line], nxt: _Line | None, conv: Conventions
) -> list[_Line] | None:
    """Short lines on a page printing headlines under their stories, with no story text above them
    since the last headline: they can close no story, so they are no headline.  A bare name alone in
    its block is the section the stories under it stand in; under a headline, the rest are the next
    story's first lines (a list of its photos' captions, a line a column break cut off).  At the top
    of the page a story may still print its headline over its text (an infographic's title): None,
    left to the evidence, unless the lines are a section's name or a listing (captions, fields)."""
    if run[0].md:
        return None  # a page marking its headlines with # says which lines they are
    if _name_like(run[0], conv) and (len(run) > 1 or _opens_text(nxt)):
        return [_Line(run[0].text, T.SECTION), *_as_text(run[1:])]
    if not any(line.kind is T.HEADING for line in out) and not _listing(run):
        return None
    return _as_text(run)


def _text_above(out: list[_Line]) -> bool:
    """Is a story's text open at the end of ``out``: a paragraph since the last headline or section,
    other than the lines set apart at a story's top (its photos' captions, labelled fields)?"""
    for line in reversed(out):
        if line.kind in (T.HEADING, T.SECTION):
            return False
        if line.kind is T.PARA and not line.apart:
            return True
    return False


def _opens_text(line: _Line | None) -> bool:
    return line is not None and line.kind in (T.PARA, T.BYLINE, T.CREDIT)


def _as_text(run: list[_Line]) -> list[_Line]:
    return [_Line(r.text, T.PARA, apart=r.apart, indent=r.indent) for r in run]


def _closes_story(nxt: _Line | None) -> bool:
    """A wide gap under a line: on a page printing headlines under their stories, the story the
    line closes has ended there (a crosshead inside a story is set off by single blank lines)."""
    return nxt is not None and nxt.gap >= 2


def _headlines_follow_bodies(lines: list[_Line]) -> bool:
    """Decide whether this page prints headlines below their articles.

    Evidence: a headline shares words with the lead of the article it belongs
    to, so compare each headline with the body before and after it; a page
    that ends on a headline is printed headline-last; on a page parting its
    stories by wide gaps, the side of the gap a headline stands on.
    """
    votes: list[float] = []
    wide = _wide_gaps(lines)
    for index, line in enumerate(lines):
        if line.kind is not T.HEADING or line.measured:
            continue
        heading = "".join(line.lines)
        before = _lead(_body_between(lines, index, -1))
        after_text = _lead(_body_between(lines, index, 1))
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if before and after_text:
            votes.append(_overlap(heading, before) - _overlap(heading, after_text))
        elif before and nxt is None:
            votes.append(_END_VOTE)
        else:
            continue  # no story on one side: nothing to tell which one the headline stands by
        if wide:
            votes[-1] += _gap_vote(line, nxt)
    # The mean, not the sum: on a long page small chance overlaps must not add up to a verdict.
    return bool(votes) and sum(votes) / len(votes) > _AFTER_MARGIN


def _gap_vote(heading: _Line, nxt: _Line | None) -> float:
    """On a page parting its stories by wide gaps, a headline sits on its story's side of the gap:
    a wide gap under it and none over it votes headline-last, the other way round headline-first."""
    under = nxt.gap if nxt is not None else 0
    if heading.gap <= 1 and under >= 2:
        return _GAP_VOTE
    if heading.gap >= 2 and under <= 1 and nxt is not None:
        return -_GAP_VOTE
    return 0.0


def _body_between(lines: list[_Line], index: int, step: int) -> str:
    """The body text from ``index`` (exclusive) to the nearest heading or section, either way."""
    parts: list[str] = []
    i = index + step
    while 0 <= i < len(lines) and lines[i].kind not in (T.HEADING, T.SECTION):
        if lines[i].kind in (T.PARA, T.NOTE):  # an editor's note speaks of its story too
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
