"""Tables of figures printed in a page's text: their rows are lines of their own, never a
headline or a paragraph's wraps.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from digest.paper.textnorm import ends_sentence

_TABLE_ROWS = 3  # rows with figures in them: fewer make no table
_MAX_CELLS = 8  # cells in a table's row
_MAX_CELL = 16  # characters in one cell (本周均价（元/公斤）)


_FIGURE = re.compile(r"^[+\-−±]?\d[\d,，.]*(?:%|‰|[万亿千百]?[元吨人个件户]?)$")  # 26.40, -1.2%, 1,200


_TABLE_NOTE = re.compile(r"^(?:[（(].*[）)]|注\s*[：:].*|(?:数据|资料)?来源\s*[：:].*)$")  # under a table


def _tables(block: list[str]) -> Iterator[tuple[int, int]]:
    """Where tables of figures stand in a block, as (first, end) line indices: at least
    ``_TABLE_ROWS`` lines in a row with the same number of space-parted short cells, mostly
    numbers (``猪肉 26.40 -1.2%``), with the header row over them and a bracketed note under them.

    A line of prose has no such cells; nor do justification spaces (本 期 读 书 会), whose
    cells are not numbers."""
    if len(block) < _TABLE_ROWS:
        return  # most blocks: a paragraph, a headline
    rows = [_cells(line) for line in block]
    i = 0
    while i < len(block):
        cells = rows[i]
        end = i + 1
        while cells and end < len(block) and len(rows[end]) == len(cells):
            end += 1
        run = [row[1:] for row in rows[i:end]]
        figures = [sum(map(_is_figure, row)) for row in run]
        if sum(n > 0 for n in figures) >= _TABLE_ROWS and 2 * sum(figures) >= sum(map(len, run)):
            if end < len(block) and _TABLE_NOTE.match(block[end]):
                end += 1
            yield i, end
        i = end


def _cells(line: str) -> list[str]:
    """A table row's cells, or [] when the line cannot be one."""
    cells = line.split(" ")
    if not 2 <= len(cells) <= _MAX_CELLS or any(len(cell) > _MAX_CELL for cell in cells):
        return []
    return [] if ends_sentence(line) else cells


def _is_figure(cell: str) -> bool:
    return _FIGURE.match(cell) is not None
