"""Who signs a stretch of text: the credits of the story open above a line, and the credit
that closes the text below it.  Two stories side by side are signed by different people.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

from digest.paper.bylines import trailing_credit
from digest.paper.classify import T, _Line
from digest.paper.conventions import Conventions
from digest.types import Credit

_REACH = 40  # lines searched either way


def _names_above(out: list[_Line], conv: Conventions) -> set[str]:
    """The names the story open at the end of ``out`` printed at its top (dateline, byline)."""
    names: set[str] = set()
    for line in reversed(out[-_REACH:]):
        if line.kind in (T.HEADING, T.SECTION):
            break
        if line.dateline is not None:
            names.update(c.name for c in line.dateline.credits)
        if line.kind is T.BYLINE:
            names.update(c.name for c in line.credits)
    return names


def _closing_credit(below: list[_Line], conv: Conventions) -> tuple[Credit, ...] | None:
    """The credit that closes the text from the top of ``below``: at the end of a paragraph or
    on a line of its own, before any headline, section, short line or other story's opening."""
    for line in below[:_REACH]:
        if line.kind in (T.CREDIT, T.PAREN):
            return line.credits or None
        if line.kind is not T.PARA or line.dateline is not None:
            return None
        credit = trailing_credit(line.text, conv)
        if credit is not None:
            return credit[1]
    return None


def _signed_by_others(out: list[_Line], below: list[_Line], conv: Conventions) -> bool:
    """Does the text under a line close with the credit of writers other than those the story
    above named at its top?  Then the line opens another story.  A photographer's or a
    writer-photographer's credit (丙丁 摄, 丙丁 文/图) may close the same story, as may its own
    reporter named again."""
    above = _names_above(out, conv)
    closing = _closing_credit(below, conv)
    if not above or not closing:
        return False
    if any("摄" in c.role or "图" in c.role for c in closing):
        return False
    return not above & {c.name for c in closing}
