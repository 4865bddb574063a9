"""What a line's own words and width say about it: could it be a headline or a crosshead, did it stop
where it was set or where a wrap or a column break cut it.

Kept apart from ``digest.paper.classify``, which names each line, and read also by the passes after it
(``resolve``, ``signing``, ``assemble``).  Pure functions over text.
"""

from __future__ import annotations

import re

from digest.paper.bylines import BULLET
from digest.paper.lines import _FULL_LINE
from digest.paper.shapes import _MAX_HEADING
from digest.paper.textnorm import (
    CLOSING_QUOTES,
    OPENING_QUOTES,
    ends_open,
    ends_sentence,
    has_cjk,
    squeeze_spaces,
)

_EXCLAIMED = re.compile(r"[！？!?][”’」』\"']*$")


_CLAUSE_BREAK = re.compile("[，,、；;]")  # where prose parts its clauses


_NO_PHRASE_END = frozenset("的和与及在为了是把被对从向将等并或而但以于之其")  # a phrase never ends on these


_CROSSHEAD_LEN = 12  # characters; a crosshead is a short phrase (a column break leaves longer stubs)


_MAX_COMMA_HEADING = 30  # a headline with a comma is short: 科技支撑,内蒙古“双碳”之路行稳致远


_PAST_COLUMN = 2  # characters a wrapped line may run past its column's usual width
_RUN_KEPT_WHOLE = re.compile(r"^[A-Za-z0-9.%]+")  # a wrap never cuts a run of Latin letters or figures


def _short_of_column(text: str, below: str, width: int) -> bool:
    """Does a line stop well short of the page's wrapped column, so that no wrap ended it there?
    A paragraph's first line a column break parted from the rest fills the column, unless the
    wrap put a run of figures it would cut (2020年) on the next line."""
    run = _RUN_KEPT_WHOLE.match(below)
    kept = len(run.group()) if run else 0
    return width > 0 and len(squeeze_spaces(text)) + kept < _FULL_LINE * width


def _set_whole(text: str, indented: bool, opens_below: bool, below: str = "") -> bool:
    """On a page printing a paragraph to a line, did a line alone stop where it was set, not where
    a column break cut a paragraph's first words off?  Prose a break cuts has a clause mark every
    clause or so, or stops where no phrase ends (…位于); and a break leaves stubs of a few characters
    as often as it leaves a phrase: a crosshead's length counts only unindented over an indented
    paragraph on a page indenting them, or where the first sentence ``below`` repeats it."""
    if _CLAUSE_BREAK.search(text) or text[-1] in _NO_PHRASE_END:
        return False
    bare = squeeze_spaces(text)
    return len(bare) > _CROSSHEAD_LEN or (opens_below and not indented) or _repeated_below(bare, below)


_SENTENCE_END = re.compile("[。！？!?]")
_REPEATED = 4  # characters of a crosshead the sentence under it repeats at least (绿水青山)


def _repeated_below(text: str, below: str) -> bool:
    """Does the first sentence under a short line repeat most of it, a run of four characters or
    more and at least half the line (少儿阅览区 / 走进少儿阅览区，…)?  A crosshead names what the
    paragraph under it is about, in its words; the rest of a sentence a column break cut goes on
    from its first words and seldom says them again."""
    first = _SENTENCE_END.split(below, maxsplit=1)[0]
    need = max(_REPEATED, (len(text) + 1) // 2)
    return any(text[at : at + need] in first for at in range(len(text) - need + 1))


def _fills_column(text: str, width: int) -> bool:
    """Is a line as wide as the page's wrapped column, as a paragraph's wrapped lines are (a mark
    or a figure the wrap kept may take it a character or two past)?  A wider line was set whole."""
    glyphs = len(squeeze_spaces(text))
    return width > 0 and _FULL_LINE * width <= glyphs <= width + _PAST_COLUMN


def _headline_shaped(text: str) -> bool:
    if _too_long(text):
        return False
    bare = squeeze_spaces(text)
    return len(bare) <= _MAX_HEADING and not _ends_statement(bare) and not _STOPS.search(bare)


# A full stop or semicolon inside a line: a sentence, not a headline.
_STOPS = re.compile("[。；;]")
_COMMAS = re.compile("[，,]")


def _too_long(text: str) -> bool:
    """Longer than a headline even with every space squeezed out (most lines are prose: a cheap no)."""
    return len(text) - text.count(" ") > _MAX_HEADING


def _ends_statement(text: str) -> bool:
    """Ends a sentence with 。 or …; a headline may end in ！ or ？ (“这才是真正的河南!”)."""
    return ends_sentence(text) and not _EXCLAIMED.search(text)


def _is_candidate(text: str, alone: bool = False) -> bool:
    """Could this line be a headline?  Short, Chinese, no sentence end, no clause break at its end.

    A line standing alone in its block may end in ！ or ？ and hold commas, as headlines do on
    some pages; the evidence around it decides (``_headline_evidence``).
    """
    if _too_long(text):
        return False
    bare = squeeze_spaces(text)
    commas = len(_COMMAS.findall(bare))
    return (
        len(bare) <= _MAX_HEADING
        and (alone or commas <= 1)
        and not (commas and len(bare) > _MAX_COMMA_HEADING and (commas > 1 or not alone))
        and has_cjk(bare)
        and not (_ends_statement(bare) if alone else ends_sentence(bare))
        and not ends_open(bare)
        and not _STOPS.search(bare)
        and not BULLET.match(bare)
    )


def _quote_cut(line: str, below: str) -> bool:
    """Does ``line`` open a quotation it leaves open for ``below`` to close in a sentence (“现在骑车
    时腿特别冷，… / …太实用了。”日前，…)?  A quotation a headline prints closes on its line or in
    the headline's own next line, never in a sentence: ``line`` is a quoted lead's first line."""
    opened = max(line.rfind(q) for q in OPENING_QUOTES)
    if opened < 0 or opened < max(line.rfind(q) for q in CLOSING_QUOTES):
        return False
    closed = min((k for k in (below.find(q) for q in CLOSING_QUOTES) if k >= 0), default=-1)
    if closed < 0 or any(0 <= below.find(q) < closed for q in OPENING_QUOTES):
        return False
    return re.search("[。！？!?]", below[: closed + 2]) is not None
