"""Stable identities for articles: a re-read page's articles keep the ids they had.

An article is "the same article" when it stands on the same page of the same
issue and reads mostly the same, not when its headline is the same.  So a
re-read page (a corrected OCR, a fixed headline, an edited paragraph, changed
whitespace, a page saved again another day, a renamed file) is *matched*
against that page's previous articles by text similarity with a small bonus
for keeping its position (``match``), and a matched article keeps its id.
Only an article no previous one resembles gets a new id, derived from the
issue date, page number and folded headline (``article_uid``), so a
database rebuilt from the same folder gives every article the id it got the
first time.  The rule and its limits are in docs/model.md.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rapidfuzz.fuzz import ratio as lcs_ratio

from digest.types import Article

_NOISE = re.compile(r"[\s\"'“”‘’「」『』《》〈〉﹃﹄﹁﹂·・,，.。:：;；!！?？、—\-_()（）\[\]【】]+")

# Enough of a body to tell two headline-less articles apart, short enough
# that an OCR fix later in the text keeps the key.
_BODY_PREFIX = 24
# How much of an article is compared when matching: a headline plus the start of the body
# decides "same article" as well as the whole text, at a fraction of the cost.
_COMPARED = 600
# Similarity (0..1) above which a re-read article is the previous one; a fixed headline or an
# edited paragraph stays far above it, two different stories on one page far below.
SAME = 0.6
# Keeping its place on the page counts for this much similarity.
_POSITION_BONUS = 0.1


@dataclass(frozen=True)
class Known:
    """A previous article of a page, as matching needs it."""

    uid: str
    title: str | None
    body: str  # the text as printed, captions in place (``Article.printed_body``)
    index: int  # its place on the page (0 = first)


def fold(text: str) -> str:
    """The comparison form of a text: width-folded, without spaces, quotes or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


def article_uid(issue_date: date, article: Article, page: int = 0) -> str:
    """A short hex key for a new article, the same whenever the same page text is first read."""
    # The text as printed, captions in place: keeping captions apart (or a derived short title,
    # which is never the title) does not change the key an article got before.
    basis = fold(article.title or "") or "body:" + fold(article.printed_body())[:_BODY_PREFIX]
    # Page 0 (unknown) keeps the key of the first releases, so their ids do not change.
    where = issue_date.isoformat() if not page else f"{issue_date.isoformat()}#{page}"
    # surrogatepass: a lone surrogate from a broken decoder must not make identity fail.
    digest = hashlib.sha256(f"{where}|{basis}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:20]


def tag_uri(authority: str, issue_date: date, uid: str) -> str:
    """The Atom id (RFC 4151 tag URI); ``authority`` is ``name,YYYY`` or ``name,YYYY-MM-DD``."""
    return f"tag:{authority}:article/{issue_date.isoformat()}/{uid}"


def _compared(title: str | None, body: str) -> str:
    return (fold(title or "") + "|" + fold(body))[:_COMPARED]


def similarity(a: str, b: str) -> float:
    """How alike two compared forms are, 0..1 (``difflib`` ratio, cheap bounds first).

    The ratio is 0 below the lowest score that can count (``SAME`` less the position bonus):
    whether a pair reaches it is told first by an upper bound computed in C.  difflib's ratio
    counts matching blocks, a common subsequence, so it is at most the longest common
    subsequence's ratio (rapidfuzz's ``ratio``); the characters two Chinese texts share (what
    difflib's own quick bounds count) say little, as any two articles share most of theirs.
    """
    if a == b:
        return 1.0
    floor = SAME - _POSITION_BONUS
    # A hair under the floor, so that rounding in either library never drops a pair that counts.
    if lcs_ratio(a, b, score_cutoff=100 * floor - 1e-6) == 0:
        return 0.0
    # difflib's own quick bounds are looser than this one (shared characters bound the common
    # subsequence), so they would never drop a pair it kept.
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def match(previous: Sequence[Known], fresh: Sequence[Article]) -> list[str | None]:
    """For each fresh article of a re-read page, the uid of the previous article it is (or None).

    Pairs are taken best first, each previous article at most once, so two
    articles with one headline stay two, and an article that moved on the
    page keeps its id when its text still matches.
    """
    if not previous:
        return [None] * len(fresh)
    old = [_compared(known.title, known.body) for known in previous]
    new = [_compared(article.title, article.printed_body()) for article in fresh]
    found: list[str | None] = [None] * len(fresh)
    taken: set[int] = set()

    def take(ranked: list[tuple[Any, ...]]) -> None:
        """Take ``ranked`` pairs (sort keys ending in the article and the previous one) best first."""
        for *_, i, j in sorted(ranked):
            if found[i] is None and j not in taken:
                found[i] = previous[j].uid
                taken.add(j)

    def left() -> Iterator[tuple[int, int]]:
        return (
            (i, j)
            for i in range(len(new))
            if found[i] is None
            for j in range(len(previous))
            if j not in taken
        )

    # Every pair scored by difflib, then taken best first, is the rule; but a re-read mostly finds
    # each article as it was or nearly (a page saved again, a parser upgrade, an OCR fix), and
    # comparing each with every other article of its page made a re-read of a whole archive cost
    # fifteen times its first read.  So the pairs only a few can beat are settled first, in the
    # order the rule takes them, and difflib scores only what is left:
    # 1. the same place, nearly the same text: a score above 1, which no pair across places has
    #    (their similarity is 1 at most);
    scored = {
        (i, j): similarity(new[i], old[j]) + _POSITION_BONUS
        for j, known in enumerate(previous)
        if (i := known.index) < len(new)
    }
    take([(-value, 0, i, j) for (i, j), value in scored.items() if value > 1.0])
    # 2. the same text in another place (an article added or dropped above it): a score of 1, as
    #    only a same-place pair at exactly 1 also has;
    take(
        [
            (abs(previous[j].index - i), i, j)
            for i, j in left()
            if (scored[i, j] == 1.0 if (i, j) in scored else new[i] == old[j])
        ]
    )
    # 3. the rest, below 1.
    ranked = []
    for i, j in left():
        value = scored[i, j] if (i, j) in scored else similarity(new[i], old[j])
        if value >= SAME:
            ranked.append((-value, abs(previous[j].index - i), i, j))
    take(ranked)
    return found


# A dropped article is taken to live on in a kept one when this much of its text (folded) stands in
# that one as one unbroken run: a story merged into another, a crosshead no longer read as a story
# of its own.  A text split between two articles, or mostly rewritten, has no successor.
CONTAINED = 0.8
# Shorter texts (folded) name no successor: a caption or a one-line brief is found anywhere.
_MIN_CONTAINED = 20


def successor(body: str, fresh: Sequence[Article]) -> int | None:
    """Which of a re-read page's ``fresh`` articles holds the text ``body`` of a dropped one (its
    printed body, ``Article.printed_body``), by ``CONTAINED``; None when none does."""
    wanted = fold(body)
    if len(wanted) < _MIN_CONTAINED:
        return None
    best, found = CONTAINED * len(wanted), None
    for index, article in enumerate(fresh):
        text = fold(article.printed_body())
        if wanted in text:
            return index
        if len(text) < best:
            continue
        # The longest run of the dropped text standing whole in this one (indexing the shorter text).
        run = difflib.SequenceMatcher(None, text, wanted, autojunk=False).find_longest_match().size
        if run >= best:
            best, found = run, index
    return found
