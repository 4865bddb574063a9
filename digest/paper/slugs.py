"""Readable URL slugs for section names, Chinese included (pinyin)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_SLUG = re.compile(r"[^a-z0-9]+")
# What a slug made here looks like: forms and imports check section choices against it.
SLUG_SHAPE = re.compile(r"^[a-z0-9-]{1,80}$")


# A paper has a few dozen section names, met on every article: pinyin lookup is the slow part.
@lru_cache(maxsize=4096)
def slugify(name: str, fallback: str = "section") -> str:
    """``众观`` → ``zhong-guan``; ``社会速评`` → ``she-hui-su-ping``; Latin text is kept.

    Returns ``fallback`` when nothing usable is left (an empty or all-symbol name).
    """
    # Its phrase dictionary takes a quarter of a second to load: only once a name needs a slug.
    from pypinyin import Style, lazy_pinyin

    text = unicodedata.normalize("NFKC", name).strip()
    words = lazy_pinyin(text, style=Style.NORMAL, errors="default")
    slug = _NON_SLUG.sub("-", "-".join(words).lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:60].strip("-") or fallback
