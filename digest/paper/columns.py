"""Plain text for fixed-width readers: display width with CJK counted double, and wrapping to a column.

Mail clients show a text/plain part in a monospace font where a Chinese
character (Unicode East Asian Width W or F) takes two columns.  Wrapping by
``len`` lets a line of 143 characters run to 286 columns; this module counts
columns.  Lines break between CJK characters or at spaces, never inside a run
of ASCII (a URL stays whole), and never before closing punctuation (kinsoku:
a line does not start with ，。」 and the like).  Pure.
"""

from __future__ import annotations

import re
import unicodedata

# Characters a line must not start with (closing marks and full-width punctuation).
_NO_LINE_START = frozenset("，。、；：！？）》」』】〕”’…—·,.;:!?)]}")
_UNITS = re.compile(r"[\x21-\x7e]+|[ \u3000]+|.", re.DOTALL)


def width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: wide and full-width characters 2, combining marks 0."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def wrap(line: str, columns: int, hanging: str | None = None) -> list[str]:
    """``line`` cut into lines of at most ``columns`` display columns (a longer unbreakable word stays whole).

    Continuation lines start with ``hanging`` (default: the line's own leading
    spaces), so an indented summary stays indented.
    """
    if width(line) <= columns:
        return [line]
    indent = line[: len(line) - len(line.lstrip(" \u3000"))]
    follow = indent if hanging is None else hanging
    lines: list[str] = []
    current: list[str] = [indent]
    used = width(indent)
    for unit in _UNITS.findall(line[len(indent) :]):
        size = width(unit)
        if unit.isspace():
            if len(current) > 1:
                current.append(unit)
                used += size
            continue
        if used + size > columns and len(current) > 1:
            carried: list[str] = []
            # Closing punctuation never starts a line: take the unit before it along.
            if unit[0] in _NO_LINE_START and len(current) > 2 and not current[-1].isspace():
                carried.append(current.pop())
            lines.append("".join(current).rstrip())
            current = [follow, *carried]
            used = width(follow) + sum(width(piece) for piece in carried)
        current.append(unit)
        used += size
    lines.append("".join(current).rstrip())
    return lines


def wrap_text(text: str, columns: int) -> str:
    """Every line of ``text`` wrapped to ``columns`` (``wrap``); a "■ " line hangs under its text."""
    out: list[str] = []
    for line in text.split("\n"):
        out += wrap(line, columns, "  " if line.startswith("■ ") else None)
    return "\n".join(out)
