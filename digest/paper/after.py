"""Pages that print each headline under its story: whether a page does.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

from digest.paper.classify import T, _Line
from digest.paper.textnorm import cjk_bigrams

_LEAD = 300  # characters of a body compared with a headline


_END_VOTE = 0.5  # a page ending on a headline votes this much for headline-last


_GAP_VOTE = 0.5  # a headline with a wide gap on one side votes this much for that side's story


_AFTER_MARGIN = 0.2  # mean vote above which a page is headline-last (seeds: ≤ 0 or ≥ 0.5)


def _headlines_follow_bodies(lines: list[_Line]) -> bool:
    """Decide whether this page prints headlines below their articles.

    Evidence: a headline shares words with the lead of the article it belongs
    to, so compare each headline with the body before and after it; a page
    that ends on a headline is printed headline-last; on a page parting its
    stories by wide gaps, the side of the gap a headline stands on.
    """
    votes: list[float] = []
    wide = any(line.gap >= 2 for line in lines[1:])
    for index, line in enumerate(lines):
        if line.kind is not T.HEADING:
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
