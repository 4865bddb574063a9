"""The page's name, which is its articles' section when nothing on the page names a better one.

A folio prints it after the page number (``第3版 经济``, ``第01版：一版要闻``, ``第5版：经济周刊
2023年12月4日``, ``A3版 经济周刊 …``); some headers print it on a line of its own beside the
paper's name (``A2 … 星期一`` over ``综合新闻 … 东岭晚报``).

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import itertools
import re

from digest.paper.classify import _FURNITURE, _HEADER_LINES, T, _Line
from digest.paper.conventions import Conventions
from digest.paper.textnorm import CJK

# A folio's page number (第3版, 第01版, A3版) and the page's name printed after it, at the line's
# end or before the date: 第3版 经济, 第01版：一版要闻, 第5版：经济周刊 2023年12月4日, A3版 经济周刊 ….
_FOLIO = re.compile(
    f"(?:第\\s*[0-9A-Za-z０-９]+\\s*版|(?<![0-9A-Za-z])[A-Za-z][0-9]{{1,2}}\\s*版)"
    f"\\s*[：:]?\\s*([{CJK}·]{{2,10}})(?![{CJK}·：:])"
)


# What a folio prints after the page number that names no page: the day, the paper (…日报).
_NOT_PAGE_NAME = re.compile(r"^(?:星期|周[一二三四五六日天]$)|报$")


_PAGE_NUMBER = re.compile(r"^(?:第\s*[0-9A-Za-z０-９]+\s*版|[A-Za-z]?\d{1,2}版?)$")  # A2, 第2版, 02


def _page_name(lines: list[_Line], conv: Conventions) -> str | None:
    """The page's name as its folio prints it (第3版 经济, 第01版：一版要闻 → 要闻), or None."""
    for line in lines:
        if line.kind is T.NOISE:
            folio = _FOLIO.search(line.text)
            if folio and not _NOT_PAGE_NAME.search(folio.group(1)):
                return _named(folio.group(1), conv)
    return _header_name(lines, conv)


def _named(name: str, conv: Conventions) -> str | None:
    for word in conv.non_sections:
        name = name.removeprefix(word)
    return name if len(name) >= 2 else None


def _header_name(lines: list[_Line], conv: Conventions) -> str | None:
    """The page's name printed in the page header apart from its folio (``A2 … 星期一`` over
    ``综合新闻 … 东岭晚报``): the one bare phrase there that names no paper and no day, when the
    header's lines are the page's first block, all furniture, one with the page number."""
    header = lines[:1] + list(itertools.takewhile(lambda line: line.gap == 0, lines[1:]))
    if len(header) > _HEADER_LINES or len(header) == len(lines) or any(x.kind is not T.NOISE for x in header):
        return None
    lines_parts = [line.text.split() for line in header]
    if not any(_PAGE_NUMBER.match(part) for parts in lines_parts for part in parts):
        return None
    # Only from a line that also names the paper or the page: an editor's line (责任编辑 王小明)
    # names a person, and a lunar date (农历十月廿二) a day.
    names = [
        part
        for parts in lines_parts
        if any(_PAGE_NUMBER.match(part) or part.endswith("报") for part in parts)
        for part in parts
        if re.fullmatch(f"[{CJK}·]{{2,10}}", part)
        and not _NOT_PAGE_NAME.search(part)
        and not _FURNITURE.search(part)
        and not part.startswith("农历")
    ]
    return _named(names[0], conv) if len(names) == 1 else None
