"""Readable URL slugs for section names, Chinese included (pinyin)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache, partial

from digest import longlived

_NON_SLUG = re.compile(r"[^a-z0-9]+")
# What a slug made here looks like: forms and imports check section choices against it.
SLUG_SHAPE = re.compile(r"^[a-z0-9-]{1,80}$")


# A paper has a few dozen section names, met on every article: pinyin lookup is the slow part.
@lru_cache(maxsize=4096)
def slugify(name: str, fallback: str = "section") -> str:
    """``众观`` → ``zhong-guan``; ``社会速评`` → ``she-hui-su-ping``; Latin text is kept.

    Returns ``fallback`` when nothing usable is left (an empty or all-symbol name).
    """
    text = unicodedata.normalize("NFKC", name).strip()
    words = _pinyin()(text)
    slug = _NON_SLUG.sub("-", "-".join(words).lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:60].strip("-") or fallback


@cache
def _pinyin() -> Callable[[str], list[str]]:
    """pypinyin's reading of a text, syllable by syllable, loaded the first time a name needs it:
    its phrase table takes a quarter of a second to load, and is kept out of the garbage
    collector's scans from then on (``longlived``)."""
    from pypinyin import Style, lazy_pinyin

    longlived.settle()
    return partial(lazy_pinyin, style=Style.NORMAL, errors="default")
