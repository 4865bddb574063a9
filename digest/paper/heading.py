"""A heading group's parts and a paragraph's clean text: what the printed headline lines of one
story are (kicker, headline, subtitle), and the type-setting artefacts taken out of each field.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.bylines import BULLET
from digest.paper.conventions import Conventions
from digest.paper.textnorm import (
    fix_vertical_quotes,
    full_width_punctuation,
    squeeze_spaces,
    tighten_punctuation,
)

_SUBTITLE = re.compile(r"^(?:——|──|--|—)\s*")


_LABEL_END = re.compile(r"^\S\s+\S")  # 解 国务院…: a vertical label's last character, then the headline
_SHORT_LABEL = 8  # a heading line this short beside a long one is a kicker or subtitle


def _headline(lines: list[str], conv: Conventions) -> tuple[str | None, str | None, str | None]:
    """Kicker, headline and subtitle from the lines of one heading group."""
    lines = _vertical_words([_clean_title(t) for t in lines if _clean_title(t)])
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


def _vertical_words(lines: list[str]) -> list[str]:
    """Heading lines with a line of one character joined to the line under it when that line opens
    with one character set apart by a space: a label set one character a line for display, its last
    character on the headline's line (an infographic's 图 / 解 国务院…), is one word, never a kicker.
    A lone character over a plain headline stays a line of its own (a cut's leftover)."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) == 1 and _LABEL_END.match(line):
            out[-1] += line
        else:
            out.append(line)
    return out


def _clean_title(text: str) -> str:
    # Headlines are set in display type, where a space beside a full-width mark is an artefact of
    # layout or OCR; body text keeps its spaces as printed.
    title = full_width_punctuation(fix_vertical_quotes(squeeze_spaces(BULLET.sub("", text))))
    return tighten_punctuation(title).strip()


def _clean_para(text: str) -> str:
    """A paragraph as read: justification spaces, vertical quotes and half-width marks set right."""
    return full_width_punctuation(fix_vertical_quotes(squeeze_spaces(text))).strip()
