"""A short title for an article printed without a headline.  Pure functions.

Briefs and photo stories often run without a headline; feeds, pages and
emails still need a line to show.  The short title is the first clause of
the text (up to the first ，。；：！？), or, when that clause is long, its first
``LIMIT`` characters or so, cut where the text allows it: never inside a
quotation or a bracket (``…与他的战马“`` would be wrong), never inside a run of
Latin letters or digits.  It is *derived*, not printed: the article's
``title`` stays ``None`` (so its identity never changes), and pages mark the
short title as such.
"""

from __future__ import annotations

import re

LIMIT = 20  # characters; a clause longer than this is cut (a headline is rarely longer)
_MIN = 5  # characters; a clause shorter than this (近日, 新春时节) says nothing alone
_REACH = 6  # characters before the limit where a phrase's visible end is worth cutting at
_ELLIPSIS = "…"
_CLAUSE_END = frozenset("，。；：！？,;:!?\n")
_SENTENCE_END = frozenset("。！？!?\n")
_PAIRS = dict(zip("“‘「『《〈（(【[〔﹃﹁", "”’」』》〉）)】]〕﹄﹂", strict=True))  # opening mark → closing
_CLOSERS = frozenset(_PAIRS.values())
_LEAD_NOISE = re.compile(r"^[\s■□●○◆◇▲△★☆•·…—\-]+")


def short_title(body: str) -> str | None:
    """The short title of a text: its first clause, or its first ~20 characters and "…".

    Quotation marks and brackets in it are always balanced; None when the text
    has nothing to make a title of.
    """
    first = _LEAD_NOISE.sub("", body.strip().split("\n", 1)[0].strip())
    title = _title(first) if first else None
    if title is not None and not balanced(title):
        title = _unmarked(title)
    # A clause of marks and spaces alone ("（　？") is no title.
    return title if title and title.strip() else None


def balanced(text: str) -> bool:
    """Whether every quotation mark and bracket in ``text`` is closed, in order, and none
    closes what was never opened."""
    stack: list[str] = []
    for char in text:
        if stack and char == stack[-1]:
            stack.pop()
        elif char in _PAIRS:
            stack.append(_PAIRS[char])
        elif char in _CLOSERS:
            return False
    return not stack


def _unmarked(text: str) -> str:
    """``text`` without its quotation marks and brackets (a page's own are sometimes unpaired)."""
    return "".join(ch for ch in text if ch not in _PAIRS and ch not in _CLOSERS).strip()


def _title(text: str) -> str | None:
    # A text opening with a long quotation or bracket is titled by its own words, one opening mark
    # fewer each time: at most ``LIMIT`` times, since a line of nothing but opening brackets made
    # the recursion this once was overflow the stack (and fail every publish after it).
    for _ in range(LIMIT):
        title, inner = _cut(text)
        if inner is None:
            return title
        if not inner.strip():
            return None
        text = inner
    return None


def _cut(text: str) -> tuple[str | None, str | None]:
    """``(title, None)``, or ``(None, inner)`` when ``text`` opens with a quotation or bracket too
    long to cut, whose words (``inner``) make the title instead."""
    cuts: list[int] = []  # where the text may be cut: no quotation or bracket left open before
    stack: list[str] = []
    for index, char in enumerate(text[: LIMIT + 1]):
        if not stack and char in _CLAUSE_END and (index >= _MIN or char in _SENTENCE_END) and index:
            # A clause of its own, short enough; 近日， alone says nothing, a short sentence does.
            return text[:index].strip(), None
        if stack and char == stack[-1]:
            stack.pop()
        elif char in _PAIRS:
            stack.append(_PAIRS[char])
        elif char in _CLOSERS and char in stack:
            while stack and stack.pop() != char:
                pass  # a mark closed out of order closes the ones opened inside it
        if not stack:
            cuts.append(index + 1)
    if len(text) <= LIMIT and not stack:
        return text, None
    # Where a word may end: not inside a Latin word or a number.  A phrase's visible end (after
    # a closing quote, 、 or a space) near the limit is better than the limit itself.
    fits = [
        at
        for at in cuts
        if _MIN <= at <= LIMIT and not (at < len(text) and _latin(text[at - 1]) and _latin(text[at]))
    ]
    ends = [at for at in fits if at >= LIMIT - _REACH and (text[at - 1] in _CLOSERS or text[at - 1] in "、 ")]
    if fits:
        at = (ends or fits)[-1]
        title = text[:at].rstrip("、，,；; ")
        return (title + _ELLIPSIS if at < len(text) else title), None
    if text[0] in _PAIRS:
        # The text opens with a long quotation or bracket: its own words make the title.
        inner = text[1:]
        closer = inner.find(_PAIRS[text[0]])
        return None, inner[:closer] if closer > 0 else inner
    return (_unmarked(text[:LIMIT]) + _ELLIPSIS if len(text) > LIMIT else text), None


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()
