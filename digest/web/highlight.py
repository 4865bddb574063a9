"""Marking the searched words in a result: pure functions over the original (unsegmented) text.

The result is a tuple of ``Part`` (text, marked), which the template wraps in
``<mark>`` with autoescape on, so article text can never become markup.

The query's words come normalised as the index holds them (``segment.normalize``:
NFKC and lower case), so they are looked for in the text folded the same way, one
character at a time, and each match is marked on the characters it came from: a
paper printing ``２０２４`` or ``ＡＩ`` gets them marked for ``2024`` or ``ai``, as
the search found them, and a mark never cuts a character in two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from digest.publish.layout import one_line
from digest.store.segment import normalize

# The snippet: this many characters of the body around the first match.
SNIPPET_CHARS = 120
# How far before the first match the snippet starts, so the word is read in its sentence.
_LEAD = 30


@dataclass(frozen=True)
class Part:
    """A run of text, marked when it is one of the searched words."""

    text: str
    marked: bool = False


@lru_cache(maxsize=256)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    # Longest first, so 乌兰牧骑 is marked whole rather than as 乌兰 and the rest.
    alternatives = sorted({normalize(w) for w in words if w}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile("|".join(re.escape(w) for w in alternatives))


# A paper uses a few thousand distinct characters: each is folded once, then looked up.
_fold_char = lru_cache(maxsize=65536)(normalize)


def _matches(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """The spans of ``text`` whose folded form matches ``pattern``, in order, not overlapping."""
    folded: list[str] = []
    origin: list[int] = []  # for each folded character, the index of the character it came from
    for at, char in enumerate(text):
        form = _fold_char(char)
        folded.append(form)
        origin.extend([at] * len(form))
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer("".join(folded)):
        if match.end() > match.start():
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            if not spans or start >= spans[-1][1]:
                spans.append((start, end))
    return spans


def mark(text: str, words: Sequence[str]) -> tuple[Part, ...]:
    """``text`` cut into parts, the occurrences of ``words`` (any case or width) marked."""
    pattern = _pattern(tuple(words))
    if pattern is None or not text:
        return (Part(text),) if text else ()
    parts: list[Part] = []
    at = 0
    for start, end in _matches(text, pattern):
        if start > at:
            parts.append(Part(text[at:start]))
        parts.append(Part(text[start:end], True))
        at = end
    if at < len(text):
        parts.append(Part(text[at:]))
    return tuple(parts)


def snippet(body: str, words: Sequence[str], size: int = SNIPPET_CHARS) -> tuple[Part, ...]:
    """About ``size`` characters of ``body`` (as one line) around the first searched word, marked;
    the body's opening when no word is in it (a headline or byline hit)."""
    text = one_line(body)
    pattern = _pattern(tuple(words))
    found = _matches(text, pattern)[:1] if pattern else []
    start = max(0, found[0][0] - _LEAD) if found else 0
    end = min(len(text), start + size)
    start = max(0, min(start, end - size))
    piece = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    return mark(piece, words)
