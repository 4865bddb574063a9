"""The language the site, its feeds and its emails declare (``site.language``), and the fixed words
they are written in.

The templates' fixed words (buttons, headings, footers) are written in simplified characters.  A
site declared as Taiwanese or Hong Kong Chinese shows them in traditional characters, converted
once per template source by OpenCC with that region's conventions; what a template inserts (the
articles' own text, section names, titles) is never converted: it stays as the paper printed it.
"""

from __future__ import annotations

import re
from functools import cache

DEFAULT_LANGUAGE = "zh-CN"

# RFC 5646 (BCP 47) language tags, "langtag" production: language, extlang, script, region,
# variants, extensions, private use.  Grandfathered tags are not accepted: none names Chinese.
_TAG = re.compile(
    r"""
    (?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})  # language (with extlangs)
    (?:-[A-Za-z]{4})?                                     # script: Hant, Hans
    (?:-(?:[A-Za-z]{2}|\d{3}))?                           # region: TW, HK, 419
    (?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*           # variants
    (?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*         # extensions
    (?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?                      # private use
    """,
    re.VERBOSE,
)

# Regions whose Chinese is written in traditional characters, and the OpenCC conversion that
# follows each one's usage (Taiwan's phrases too: 软件 → 軟體; Hong Kong's glyph forms: 訂閲).
_TRADITIONAL_REGIONS = {"TW": "s2twp.json", "HK": "s2hk.json", "MO": "s2hk.json"}


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` is no BCP 47 language tag, or None when it is one."""
    if not _TAG.fullmatch(tag):
        return f"{tag!r} is not a BCP 47 language tag"
    return None


def _script_and_region(tag: str) -> tuple[str, str]:
    """``tag``'s script subtag (lower case) and region subtag (upper case), each "" when absent.

    Only the subtags before the first singleton count: after it come an extension's or private use's
    (``zh-Hant-u-nu-hanidec``, ``zh-x-hk``), which may be as short as a region and are none."""
    script = region = ""
    for part in tag.split("-")[1:]:
        if len(part) == 1:
            break
        if len(part) == 4 and part.isalpha() and not script:
            script = part.lower()
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            region = region or part.upper()
    return script, region


def conversion(tag: str) -> str | None:
    """The OpenCC configuration that writes the fixed words for ``tag``, or None to keep them as
    written (simplified; a language other than Chinese, whose pages keep the Chinese words too).

    ``zh-Hant`` alone is converted to plain traditional characters; a script subtag decides over a
    region (``zh-Hans-HK`` stays simplified)."""
    if tag.split("-")[0].lower() != "zh":
        return None
    script, region = _script_and_region(tag)
    if script == "hans":
        return None
    if region in _TRADITIONAL_REGIONS:
        return _TRADITIONAL_REGIONS[region]
    return "s2t.json" if script == "hant" else None


@cache
def _converter(config: str) -> object:
    # Imported here: a simplified-Chinese site loads the dictionaries only when it reads section names.
    import opencc

    return opencc.OpenCC(config)


def opencc_convert(text: str, config: str) -> str:
    """``text`` converted by OpenCC's configuration ``config`` (``s2twp.json``, ``t2s.json``...)."""
    converted: str = _converter(config).convert(text)  # type: ignore[attr-defined]
    return converted


def traditional(tag: str) -> bool:
    """Whether ``tag`` declares Chinese written in traditional characters (its fixed words are)."""
    return conversion(tag) is not None


def fixed_words(text: str, tag: str) -> str:
    """``text``, one of the service's own fixed words or a template's source, as ``tag`` writes it."""
    config = conversion(tag)
    if config is None:
        return text
    return opencc_convert(text, config)


# The fonts the stylesheets name, written for simplified Chinese, and the same faces cut for Taiwan's
# (TC) and Hong Kong's (HK) glyph shapes: a browser given zh-TW text and an SC font draws mainland
# shapes.  Listed longest first, so "Noto Sans CJK SC" is replaced before any shorter name in it.
_SC_FONTS = (
    ("Noto Serif CJK SC", "Noto Serif CJK TC", "Noto Serif CJK HK"),
    ("Source Han Serif SC", "Source Han Serif TC", "Source Han Serif HK"),
    ("Source Han Sans SC", "Source Han Sans TC", "Source Han Sans HK"),
    ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK HK"),
    ("Hiragino Sans GB", "Hiragino Sans CNS", "Hiragino Sans CNS"),
    ("Microsoft YaHei", "Microsoft JhengHei", "Microsoft JhengHei"),
    ("PingFang SC", "PingFang TC", "PingFang HK"),
    ("Songti SC", "Songti TC", "Songti TC"),
    ("STSong", "PMingLiU", "PMingLiU_HKSCS"),
    ("SimSun", "MingLiU", "MingLiU_HKSCS"),
)


def fixed_fonts(text: str, tag: str) -> str:
    """``text``, a stylesheet or template, with its simplified-Chinese fonts replaced by the same
    faces for ``tag``'s traditional characters (TC, or HK for Hong Kong and Macau); unchanged for
    any other tag."""
    config = conversion(tag)
    if config is None:
        return text
    column = 2 if config == "s2hk.json" else 1
    for names in _SC_FONTS:
        text = text.replace(f'"{names[0]}"', f'"{names[column]}"')
    return text


def fixed_source(text: str, tag: str) -> str:
    """A template's or stylesheet's source with its words and its fonts written for ``tag``."""
    return fixed_fonts(fixed_words(text, tag), tag)


def og_locale(tag: str) -> str:
    """The Open Graph locale (``zh_TW``) of ``tag``: language and region, underscored."""
    language = tag.split("-")[0].lower()
    region = _script_and_region(tag)[1]
    return f"{language}_{region}" if region and region.isalpha() else language
