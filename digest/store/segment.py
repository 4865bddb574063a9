"""Chinese word segmentation for the search index: pure functions over rjieba (jieba-rs).

Chinese is written without spaces, so neither SQLite FTS5 nor PostgreSQL's
text search can find ``医保`` in ``医保基金`` on their own.  Text is cut into
words here, at index time and at query time with the same dictionary, and
the index stores the words joined by spaces; the databases then match whole
words.  A compound the dictionary knows also yields every shorter dictionary
word inside it (``呼和浩特市`` → ``呼和浩特``, ``浩特``…), as jieba's search
mode does for two- and three-character pieces only, so a query for a part of
a compound finds it.  A string that straddles two words (``医保`` in
``就医保障``) is not a word of that text and is not found: that is the
word-aware matching readers expect.  ``locate`` finds a text's index words
again where it stands, so a result is marked where the search found it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from itertools import chain

# A token worth indexing holds a letter or a digit; punctuation and spaces are separators.
_WORDY = re.compile(r"\w")
# Compounds longer than this are names or runs of unknown characters; their pieces are not looked up.
_LONGEST_COMPOUND = 8


# jieba cuts each run of Chinese characters, letters and digits apart from the others: a text cut at
# spaces and at these marks (each always a token of its own) gives the same words clause by clause.
_CLAUSE = re.compile(r"[^\s。，、；：？！“”‘’（）《》【】,;:?!()]+")

# Full-width ASCII forms and the ideographic space, which fill Chinese text, are what NFKC changes
# there; mapping them first leaves most text already normalised, and the full NFKC pass (two orders
# of magnitude slower than its quick check) runs only on what still needs it.  NFKC decomposes
# character by character, so mapping some characters to their NFKC forms first changes no result.
# A pattern with a lookup beats ``str.translate``, which pays a dict lookup for every character.
_WIDE = re.compile("[\uff01-\uff5e\u3000]")
_NARROW = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)} | {"\u3000": " "}


def normalize(text: str) -> str:
    """NFKC (full-width ``ＡＢＣ１２`` becomes ``ABC12``) and lower case, so index and query agree."""
    narrow = _WIDE.sub(lambda match: _NARROW[match.group()], text)
    if not unicodedata.is_normalized("NFKC", narrow):
        narrow = unicodedata.normalize("NFKC", narrow)
    return narrow.lower()


def words(text: str) -> list[str]:
    """The words of ``text`` in reading order, as a query names them (no pieces added)."""
    import rjieba  # its dictionary takes a tenth of a second to load: only for commands that search

    return [token for token in rjieba.cut(normalize(text), True) if _WORDY.search(token)]


def index_words(text: str) -> list[str]:
    """The words of ``text`` for the index: each word, then the dictionary words inside it."""
    import rjieba

    # Looked up and chained in C: a body is hundreds of tokens, nearly all of them met before.
    return list(chain.from_iterable(map(_FORMS.__getitem__, rjieba.cut(normalize(text), True))))


def locate(folded: str, wanted: Collection[str]) -> list[tuple[int, int]]:
    """Where ``wanted`` words are index words of ``folded`` (a text already ``normalize``d).

    The spans ``(start, end)`` of ``folded``, in order and not overlapping, of
    the words ``index_words`` gives for it that are in ``wanted``: a word cut
    from the text, or a dictionary word inside one, the longest first where two
    overlap.  A string straddling two words (``医保`` in ``就医保障``) or inside
    a longer word that holds no such dictionary word (``和`` in ``呼和浩特``) is
    not one: the words a search found the text by, and only those.
    """
    import rjieba

    spans: list[tuple[int, int]] = []
    for clause in _CLAUSE.finditer(folded):
        text = clause.group()
        if not any(word in text for word in wanted):
            continue  # most of a long body: no need to cut it
        at = clause.start()
        for token in rjieba.cut(text, True):
            if token in wanted:
                spans.append((at, at + len(token)))
            elif len(token) > 2:
                inner = [form for form in _FORMS[token][1:] if form in wanted]
                if inner:
                    spans.extend(_inside(token, at, inner))
            at += len(token)
    return spans


def _inside(token: str, at: int, inner: list[str]) -> list[tuple[int, int]]:
    """The spans of the words ``inner`` (longest first) in ``token`` standing at ``at``, in order,
    a shorter word left out where it overlaps a longer one."""
    taken: list[tuple[int, int]] = []
    for form in inner:
        start = token.find(form)
        while start >= 0:
            end = start + len(form)
            if all(end <= begun or start >= ended for begun, ended in taken):
                taken.append((start, end))
            start = token.find(form, start + 1)
    return sorted((at + start, at + end) for start, end in taken)


# What each token adds to the index, by token: text repeats its words, so a full rebuild looks each
# one up once instead of asking the dictionary again for every piece of every occurrence.  The
# dictionary never changes while the process runs; the bound only caps memory in a long-lived service.
_FORMS_KEPT = 200_000


class _Forms(dict[str, tuple[str, ...]]):
    """``_forms`` by token: a token met before is a plain dict lookup, one never met is looked up."""

    def __missing__(self, token: str) -> tuple[str, ...]:
        if len(self) >= _FORMS_KEPT:
            self.clear()
        forms = self[token] = _forms(token)
        return forms


_FORMS = _Forms()


def _forms(token: str) -> tuple[str, ...]:
    """A token's index words: none for punctuation, else itself and the dictionary words inside it."""
    if not _WORDY.search(token):
        return ()
    if 2 < len(token) <= _LONGEST_COMPOUND:
        return (token, *_pieces(token))
    return (token,)


def _pieces(word: str) -> list[str]:
    """The dictionary words of two or more characters strictly inside ``word``."""
    import rjieba

    size = len(word)
    return [
        word[start : start + length]
        for length in range(size - 1, 1, -1)
        for start in range(size - length + 1)
        if rjieba.has_word(word[start : start + length])
    ]


def index_text(text: str) -> str:
    """``index_words`` joined by spaces: what the full-text index stores for ``text``."""
    return " ".join(index_words(text))
