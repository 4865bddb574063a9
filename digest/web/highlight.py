"""Marking the searched words in a result: pure functions over the original (unsegmented) text.

The result is a tuple of ``Part`` (text, marked), which the template wraps in
``<mark>`` with autoescape on, so article text can never become markup.

A result is marked where the search found it: at the text's index words
(``segment.locate``: the words jieba cuts the text into and the dictionary words
inside them) that are one of the query's words, never at a mere occurrence of
the string, so ``和`` is not marked inside ``呼和浩特`` nor ``医保`` inside
``就医保障``.  The query's words come normalised as the index holds them (NFKC
and lower case); the text is folded the same way one character at a time, and
each mark covers the characters the word came from: a paper printing
``２０２４`` or ``ＡＩ`` gets them marked for ``2024`` or ``ai``, and a mark never
cuts a character in two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from digest.publish.layout import one_line
from digest.store.segment import locate, normalize

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
def _wanted(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize(w) for w in words if w)


# A paper uses a few thousand distinct characters: each is folded once, then looked up.
_fold_char = lru_cache(maxsize=65536)(normalize)


def _matches(text: str, wanted: frozenset[str]) -> list[tuple[int, int]]:
    """The spans of ``text`` that are index words in ``wanted``, in order, not overlapping."""
    if not wanted:
        return []
    folded: list[str] = []
    origin: list[int] = []  # for each folded character, the index of the character it came from
    for at, char in enumerate(text):
        form = _fold_char(char)
        folded.append(form)
        origin.extend([at] * len(form))
    spans: list[tuple[int, int]] = []
    for start, end in locate("".join(folded), wanted):
        first, last = origin[start], origin[end - 1] + 1
        # Two words from one character (㈠ folds to "(一)") mark it once.
        if not spans or first >= spans[-1][1]:
            spans.append((first, last))
    return spans


def _parts(text: str, spans: Sequence[tuple[int, int]]) -> tuple[Part, ...]:
    """``text`` cut into parts at ``spans``, which are marked."""
    parts: list[Part] = []
    at = 0
    for start, end in spans:
        if start > at:
            parts.append(Part(text[at:start]))
        parts.append(Part(text[start:end], True))
        at = end
    if at < len(text):
        parts.append(Part(text[at:]))
    return tuple(parts)


def mark(text: str, words: Sequence[str]) -> tuple[Part, ...]:
    """``text`` cut into parts, its index words among ``words`` (any case or width) marked."""
    return _parts(text, _matches(text, _wanted(tuple(words))))


def snippet(body: str, words: Sequence[str], size: int = SNIPPET_CHARS) -> tuple[Part, ...]:
    """About ``size`` characters of ``body`` (as one line) around the first searched word, marked;
    the body's opening when no word is in it (a headline or byline hit).

    The words are found in the whole body, as the index cut it, and then the window taken: cut out
    first, a word at the window's edge would be segmented differently.
    """
    text = one_line(body)
    spans = _matches(text, _wanted(tuple(words)))
    start = max(0, spans[0][0] - _LEAD) if spans else 0
    end = min(len(text), start + size)
    start = max(0, min(start, end - size))
    lead = "…" if start else ""
    piece = lead + text[start:end] + ("…" if end < len(text) else "")
    shift = len(lead) - start
    return _parts(piece, [(s + shift, e + shift) for s, e in spans if start <= s and e <= end])
