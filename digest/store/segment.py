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
word-aware matching readers expect.
"""

from __future__ import annotations

import re
import unicodedata

import rjieba

# A token worth indexing holds a letter or a digit; punctuation and spaces are separators.
_WORDY = re.compile(r"\w")
# Compounds longer than this are names or runs of unknown characters; their pieces are not looked up.
_LONGEST_COMPOUND = 8


def normalize(text: str) -> str:
    """NFKC (full-width ``ＡＢＣ１２`` becomes ``ABC12``) and lower case, so index and query agree."""
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    """The words of ``text`` in reading order, as a query names them (no pieces added)."""
    return [token for token in rjieba.cut(normalize(text), True) if _WORDY.search(token)]


def index_words(text: str) -> list[str]:
    """The words of ``text`` for the index: each word, then the dictionary words inside it."""
    found: list[str] = []
    for word in words(text):
        found.append(word)
        if 2 < len(word) <= _LONGEST_COMPOUND:
            found.extend(_pieces(word))
    return found


def _pieces(word: str) -> list[str]:
    """The dictionary words of two or more characters strictly inside ``word``."""
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
