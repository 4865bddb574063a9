"""Stable identities for articles.

An article's key must survive re-ingesting the same page, a corrected OCR of
it, a renamed or copied page file and a rebuilt database, so it is derived
from what a reader would call "the same article": the issue date plus the
headline, folded so that spacing, width and quote style do not matter.  An
article without a headline falls back to the start of its body.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

from digest.types import Article

_NOISE = re.compile(r"[\s\"'“”‘’「」『』《》〈〉﹃﹄﹁﹂·・,，.。:：;；!！?？、—\-_()（）\[\]【】]+")

# Enough of a body to tell two headline-less articles apart, short enough
# that an OCR fix later in the text keeps the key.
_BODY_PREFIX = 24


def fold(text: str) -> str:
    """The comparison form of a text: width-folded, without spaces, quotes or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


def article_uid(issue_date: date, article: Article) -> str:
    """A short hex key, the same for every copy or re-read of one article."""
    basis = fold(article.title or "") or "body:" + fold(article.body)[:_BODY_PREFIX]
    # surrogatepass: a lone surrogate from a broken decoder must not make identity fail.
    digest = hashlib.sha256(f"{issue_date.isoformat()}|{basis}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:20]


def tag_uri(authority: str, issue_date: date, uid: str) -> str:
    """The Atom id (RFC 4151 tag URI); ``authority`` is ``name,YYYY`` or ``name,YYYY-MM-DD``."""
    return f"tag:{authority}:article/{issue_date.isoformat()}/{uid}"
