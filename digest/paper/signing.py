"""Who signs a stretch of text: the credits of the story open above a line, and the credit
that closes the text below it.  Two stories side by side are signed by different people.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re

from digest.paper.bylines import is_editor_line, photographed, trailing_credit
from digest.paper.classify import T, _Line
from digest.paper.conventions import Conventions
from digest.paper.headlike import _CROSSHEAD_LEN
from digest.paper.leadtags import source_alone
from digest.paper.textnorm import ends_sentence
from digest.types import Credit

_REACH = 40  # lines searched either way
# Words in brackets closing a paragraph: an editor's credit after the last sentence (…。（X编辑）).
_BRACKETED_END = re.compile(r"[（(][^（）()]{2,30}[）)]$")


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
    on a line of its own, before any headline, section, short line or other story's opening,
    and itself right before a wide gap, a dateline, a short line set apart or the page's end (a
    story's end).  Only
    ``_REACH`` lines are read; ``below`` may hold one more, to see what follows the last."""
    for k, line in enumerate(below[:_REACH]):
        credited, last = line.credits, k
        while line.kind in (T.CREDIT, T.PAREN) and last + 1 < len(below) and _goes_on(below[last + 1]):
            # A credit printed a role to a line (记者 甲乙 / 通讯员 丙丁) ends with its last line.
            last += 1
            credited += below[last].credits
        after = below[last + 1] if last + 1 < len(below) else None
        # A short line set apart under it (the next story's headline) ends the story as a wide gap does.
        ends = (
            after is None
            or after.gap >= 2
            or after.dateline is not None
            or (after.kind is T.CANDIDATE and after.gap >= 1)
        )
        if line.kind in (T.CREDIT, T.PAREN):
            credits = credited
        elif line.kind is not T.PARA or line.dateline is not None:
            return None
        else:
            # Where the story ends, a credit glued to its last sentence (…好。”记者周远) is one too.
            credit = trailing_credit(line.text, conv, closing=ends)
            if credit is None:
                continue
            credits = credit[1]
        return credits or None if ends else None
    return None


def _goes_on(line: _Line) -> bool:
    return line.kind in (T.CREDIT, T.PAREN) and line.gap == 0


def _writers(credits: tuple[Credit, ...]) -> set[str]:
    """The writers a closing credit names: its reporters (记者, 本报记者, 首席记者 …), or two or
    more bare names.  Who else a credit names (实习生, 通讯员, 整理, 设计 …) may join the story's
    own reporters; a bracketed word with no role is a note (有删节, 节选), not a name."""
    reporters = {c.name for c in credits if "记者" in c.role}
    if reporters:
        return reporters
    if len(credits) >= 2 and not any(c.role for c in credits):
        return {c.name for c in credits}
    return set()


def _signed_by_others(out: list[_Line], below: list[_Line], conv: Conventions) -> bool:
    """Does the text under a line close with the credit of writers other than those the story
    above named at its top?  Then the line opens another story.  A photographer's or a
    writer-photographer's credit (丙丁 摄, 丙丁 文/图) may close the same story, as may its own
    reporter named again; a reporter credited beside the photographer (记者 甲乙 通讯员 丙丁 摄)
    is a writer still."""
    closing = _closing_credit(below, conv)  # first: most text closes with no credit, a cheap no
    if not closing:
        return False
    writers = _writers(tuple(c for c in closing if "摄" not in c.role and "图" not in c.role))
    above = _names_above(out, conv) if writers else set()
    return bool(above) and not above & writers


def _signs_story_above(run: list[_Line], below: list[_Line], out: list[_Line], conv: Conventions) -> bool:
    """Is the credit under the paragraph below a short line (``below`` from that paragraph on)
    the closing credit of the story the line stands in: a writer's (记者 X, not X 摄), under a
    line no longer than a crosshead, where the story above named no writers at its top?  It then
    says nothing of a headline there (a photo's caption closed by its photographer's does)."""
    credit = below[1] if len(below) > 1 else None
    return (
        len(run) == 1
        and len(run[0].text) <= _CROSSHEAD_LEN
        and credit is not None
        and credit.kind is T.CREDIT
        and not any(photographed(c) for c in credit.credits)
        and not _names_above(out, conv)
    )


def closing_note(text: str, conv: Conventions) -> bool:
    """Bracketed words that close a story's text and credit no writer: a source alone in its
    paragraph (``（新华社电）``) or an editor's credit after the last sentence (``…。（X中心编辑）``)."""
    if source_alone(text, conv.not_a_name):
        return True
    end = _BRACKETED_END.search(text.rstrip())
    return end is not None and ends_sentence(text[: end.start()]) and is_editor_line(end.group(), conv)
