"""Pages that mark their headlines with # (## 标题): the unmarked lines that belong to a marked
headline all the same.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.classify import T, _Line
from digest.paper.shapes import _FIELD
from digest.paper.textnorm import ends_sentence

_KICKER_LEN = 30  # characters; a kicker over a headline is no longer
_STOPS = re.compile("[。；;]")  # a line with a full stop or semicolon in it holds a sentence
_COMMA = re.compile("[，,]")  # a clause break: a sentence runs on


def _adopt_unmarked_heading_lines(lines: list[_Line]) -> None:
    """On a page that marks headlines with #, short lines touching a marked one belong to it.

    A section name or a place above a headline, or a subtitle under it, is often left
    unmarked; without this they would be read as body text of the article before.
    """
    for index, line in enumerate(lines):
        if not line.md:
            continue
        for step in (-1, 1):
            run: list[_Line] = []
            i = index + step
            if step < 0 and i > 0 and _kicker_over(lines[i], lines[i - 1]):
                lines[i].kind, lines[i].md = T.HEADING, True
                i -= 1
            while (
                0 <= i < len(lines)
                and lines[i].kind is T.CANDIDATE
                and not (step > 0 and _cut_text(lines[i]))
            ):
                run.append(lines[i])
                i += step
            # One or two lines: a list of captions or of labelled fields (时间：… 地点：…) under a
            # headline is the story's text, not its headline.
            if len(run) <= 2 and not (len(run) == 2 and all(_FIELD.match(r.text) for r in run)):
                for r in run:
                    r.kind, r.md = T.HEADING, True


def _kicker_over(line: _Line, above: _Line) -> bool:
    """A kicker ending in a dash or a colon right over a marked headline (市民来信—— / ## “…”, 水利部：),
    opening its line
    (a blank line or a finished sentence above it): the headline's, not the text's above."""
    return (
        line.kind is T.PARA
        and line.dateline is None
        and line.text.endswith(("——", "：", ":"))
        and len(line.text) <= _KICKER_LEN
        and not _STOPS.search(line.text)
        and (line.gap > 0 or ends_sentence(above.text))
    )


def _cut_text(line: _Line) -> bool:
    """A line under a marked headline that fills the page's column with a comma in it (2020年4月
    18日，河北省某某 / 市…): the text's first line a column break cut off, not a subtitle."""
    return line.filled and _COMMA.search(line.text) is not None
