"""Plain text for fixed-width readers: display width with CJK counted double, and wrapping to a column.

Mail clients show a text/plain part in a monospace font where a Chinese
character (Unicode East Asian Width W or F) takes two columns.  Wrapping by
``len`` lets a line of 143 characters run to 286 columns; this module counts
columns.  Lines break between CJK characters or at spaces, never inside a run
of ASCII (a URL stays whole), and by the Chinese line-breaking rules (避头尾,
kinsoku): a line does not start with closing punctuation (，。」” and the
like) nor end with an opening mark (“（《 and the like).  Pure.

The marks Chinese shares with Latin text (“”‘’…—·) have East Asian Width
"ambiguous": one column in a Latin font, two in a Chinese one.  Here they are
Chinese punctuation, set full width like ，。 beside them, so they count two;
too wide a count only breaks a line early, too narrow a one runs it past the
column.  Latin letters of ambiguous width (é, Greek) count one.
"""

from __future__ import annotations

import re
import unicodedata

# Characters a line must not start with (closing marks and full-width punctuation) or end with
# (opening marks).
_NO_LINE_START = frozenset("，。、；：！？）》」』】〕〉”’…—·,.;:!?)]}")
_NO_LINE_END = frozenset("“‘（《「『【〔〈([{")
_UNITS = re.compile(r"[\x21-\x7e]+|[ \u3000]+|.", re.DOTALL)


def width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: wide and full-width characters 2, combining marks 0."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if wide(char) else 1


def wide(char: str) -> bool:
    """Whether ``char`` is set full width: CJK characters and punctuation, with the ambiguous-width
    marks Chinese shares with Latin text (“”‘’…—·, see the module docstring)."""
    kind = unicodedata.east_asian_width(char)
    return kind in ("W", "F") or (kind == "A" and unicodedata.category(char).startswith("P"))


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
    for cluster in _clusters(line[len(indent) :]):
        size = width(cluster)
        if cluster.isspace():
            # A break at a space drops it: none starts a line, the one ending it is stripped.
            if len(current) > 1:
                current.append(cluster)
                used += size
            continue
        if used + size > columns and len(current) > 1:
            lines.append("".join(current).rstrip())
            current = [follow]
            used = width(follow)
        current.append(cluster)
        used += size
    lines.append("".join(current).rstrip())
    return lines


def _clusters(text: str) -> list[str]:
    """``text`` in pieces no line break may fall inside: a closing mark joins what precedes it and
    an opening mark what follows it, however many stand in a row (``子”。`` and ``“《书`` stay
    whole); other spaces stand alone, as the places a line may break."""
    clusters: list[str] = []
    for unit in _UNITS.findall(text):
        if clusters and _sticks(clusters[-1], unit):
            clusters[-1] += unit
        elif len(clusters) > 1 and clusters[-1].isspace() and unit[0] in _NO_LINE_START:
            # Not at the space before a closing mark either: the mark would start the line.
            space = clusters.pop()
            clusters[-1] += space + unit
        else:
            clusters.append(unit)
    return clusters


def _sticks(before: str, unit: str) -> bool:
    """Whether a line may not break between the piece ``before`` and the ``unit`` after it."""
    if before.isspace():
        return False
    if unit.isspace():
        return before[-1] in _NO_LINE_END
    return unit[0] in _NO_LINE_START or before.rstrip()[-1] in _NO_LINE_END


def wrap_text(text: str, columns: int) -> str:
    """Every line of ``text`` wrapped to ``columns`` (``wrap``); a "■ " line hangs under its text."""
    out: list[str] = []
    for line in text.split("\n"):
        out += wrap(line, columns, "  " if line.startswith("■ ") else None)
    return "\n".join(out)
