"""Marking the searched words in a result: pure functions over the original (unsegmented) text.

The result is a tuple of ``Part`` (text, marked), which the template wraps in
``<mark>`` with autoescape on, so article text can never become markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from digest.publish.layout import one_line

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
    alternatives = sorted({w for w in words if w}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile("|".join(re.escape(w) for w in alternatives), re.IGNORECASE)


def mark(text: str, words: Sequence[str]) -> tuple[Part, ...]:
    """``text`` cut into parts, the occurrences of ``words`` (any case) marked."""
    pattern = _pattern(tuple(words))
    if pattern is None or not text:
        return (Part(text),) if text else ()
    parts: list[Part] = []
    at = 0
    for match in pattern.finditer(text):
        if match.start() > at:
            parts.append(Part(text[at : match.start()]))
        parts.append(Part(match.group(), True))
        at = match.end()
    if at < len(text):
        parts.append(Part(text[at:]))
    return tuple(parts)


def snippet(body: str, words: Sequence[str], size: int = SNIPPET_CHARS) -> tuple[Part, ...]:
    """About ``size`` characters of ``body`` (as one line) around the first searched word, marked;
    the body's opening when no word is in it (a headline or byline hit)."""
    text = one_line(body)
    pattern = _pattern(tuple(words))
    found = pattern.search(text) if pattern else None
    start = max(0, found.start() - _LEAD) if found else 0
    end = min(len(text), start + size)
    start = max(0, min(start, end - size))
    piece = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    return mark(piece, words)
