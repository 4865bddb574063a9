"""Credits and datelines a line wrap or a column break cut in two: when the two pieces are one.

A column break falls wherever the column ends, inside a dateline (``据新华社青石3月12`` / ``日电``), a
bracketed credit (``（记者 周远`` / ``林雨）``) or a name (``记者 郭炳`` / ``中 摄``) too; read apart,
the pieces lose the authors and leave a stray word that looks like a section's name.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import functools
import re

from digest.paper.bylines import (
    is_byline,
    is_editor_line,
    paren_names,
    parse_credits,
    split_mark,
)
from digest.paper.conventions import Conventions
from digest.paper.datelines import parse_dateline
from digest.paper.textnorm import CJK, ends_sentence, join_wrapped

_CREDIT_LINE = 40  # characters; a credit line is never longer


# Where the text before a closing credit ends: a full stop, or a space after the last sentence.
_TEXT_END = re.compile("[。！？；”」]")


_DATELINE_CUT = 80  # characters; a dateline and its credit, cut anywhere, leave no more before the cut


_WORD_REACH = 12  # characters after a break that cut a dateline its word (讯, 电) may stand at


_NAME_REST = re.compile(f"^([{CJK}]{{1,2}})(?:\\s*(\\S{{1,4}}))?$")  # 中 摄, 小川: a name's end, its mark
_NAME_REST_LEN = 7  # characters: the longest line _NAME_REST takes


def _editors_line(before: str, line: str, conv: Conventions) -> bool:
    """A line crediting only the page's editors (``责任编辑：X 版式：Y``) under the text's last
    sentence (``before``): the page's credit, never a wrap of that sentence."""
    return (
        _TEXT_END.search(before[-1:]) is not None
        and len(line) <= _CREDIT_LINE
        and conv.credit_hint.search(line) is not None
        and is_editor_line(line, conv)
    )


def _cut_by_column_break(before: str, after: str, conv: Conventions) -> bool:
    """Does the block after a column break (its first line ``after``) go on with the line that
    ended the block before it (``before``): a bracketed credit, a dateline or a name it cut?"""
    if ends_sentence(before):
        return False  # most paragraphs: a column break after a full stop cuts nothing
    # Cheap tests first: most blocks that do not end a sentence are headlines.
    return (
        (("（" in before or "(" in before) and _open_credit(before, after, conv))
        or (len(after) <= _NAME_REST_LEN and _cut_name(before, after, conv))
        or _cut_dateline(before, after, conv)
    )


def _open_credit(before: str, after: str, conv: Conventions) -> bool:
    """A bracket opened before the break and closed after it holds a credit: one credit, however
    far apart the column break sets its two halves (``（记者 周远`` / ``林雨）``)."""
    opened = max(before.rfind("（"), before.rfind("("))
    if opened < 0 or opened < max(before.rfind("）"), before.rfind(")")):
        return False
    closed = min((k for k in (after.find("）"), after.find(")")) if k >= 0), default=-1)
    if closed < 0 or max(after.find("（", 0, closed), after.find("(", 0, closed)) >= 0:
        return False
    inside = before[opened + 1 :] + after[:closed]
    if len(inside) > _CREDIT_LINE:
        return False
    # Bare names in brackets credit only where they close the text: …参观。（周 / 小川）.
    return is_byline(inside.strip(), conv) or (
        not after[closed + 1 :].strip() and paren_names(f"（{inside}）", conv) is not None
    )


def _cut_name(before: str, after: str, conv: Conventions) -> bool:
    """The credit closing the text ends in a name the break cut (``… 记者 郭`` / ``炳中 摄``): the
    block after the break is the name's last characters, a credit's mark at most after them.

    A name of more than four characters is no name cut but a short headline after a credit
    (``记者 周远`` / ``街拍``), and so are two characters after a whole name of two, and a
    word after a credit its mark closed (``记者 王明 摄`` / ``民生``)."""
    rest = _NAME_REST.match(after)
    tail = _TEXT_END.split(before)[-1].strip()
    if rest is None or not conv.credit_hint.search(tail) or (rest[2] and not conv.mark_only.match(rest[2])):
        return False
    credits = parse_credits(tail + after, conv)
    if not credits or _lengthens_whole_credit(tail, tail + after, conv):
        return False
    name = credits[-1].name
    cut = len(name) - len(rest[1])
    return (
        name.endswith(rest[1])
        and 1 <= cut <= 3
        and len(name) <= 4
        and not (cut >= 2 and len(rest[1]) >= 2)
        and tail.endswith(name[:cut])
    )


def _lengthens_whole_credit(tail: str, whole: str, conv: Conventions) -> bool:
    """Would the piece after a cut (``whole`` is ``tail`` and the piece) only lengthen the whole
    credit ``tail`` ends in: its whole last name (``记者 王明`` / ``家园`` → 王明家园), with no mark
    after it to close the credit, or the mark that closed it with a name (``记者 王明 摄`` /
    ``民生`` → 摄民生)?  Then the piece opens what comes next (a headline, a section's name, a
    paragraph); a mark (``记者 周远`` / ``山 摄``), the rest of a mark (``记者 王明 摄`` / ``影``), a
    credit that is none without the piece (``记者 周`` / ``小川``) or one character making a name of
    three (``记者 周小`` / ``川``) tells a cut credit."""
    own = parse_credits(tail, conv)
    joined = parse_credits(whole, conv) if own else None
    if not own or not joined or len(joined) < len(own):
        return False
    if split_mark(own[-1].role, conv)[1]:
        return len(joined) > len(own)
    name, same = own[-1].name, joined[len(own) - 1]
    return (
        same.name != name
        and same.name.startswith(name)
        and not split_mark(same.role, conv)[1]
        and not _name_end(name, same.name[len(name) :], conv)
    )


def _name_end(name: str, piece: str, conv: Conventions) -> bool:
    """Is one character after a name that reads whole (``记者 周小`` / ``川``) that name's last, cut off
    by the wrap?  Most Han names have three characters (a compound surname's four: 欧阳晓 / 东), and a
    headline or a paragraph of one character is far rarer than such a cut; two characters or more
    after a whole name (``记者 王明`` / ``家园``) are what follows."""
    return len(piece) == 1 and (
        len(name) == 2 or (len(name) == 3 and name.startswith(conv.compound_surnames))
    )


def _cut_dateline(before: str, after: str, conv: Conventions) -> bool:
    """A dateline the break cut (``据新华社青石3月12`` / ``日电``, ``本报讯 记者周远、通讯员`` /
    ``林雨报道：``): read on into the next column, it is longer than all the text before the break."""
    if len(before) > _DATELINE_CUT or after.startswith(conv.outlets):
        return False  # an outlet opening the next block opens its own dateline
    words = conv.dateline_word
    if not (words.search(before) or words.search(after, 0, _WORD_REACH)):
        return False  # the cheap test first: no dateline's word on either side of the break
    joined = parse_dateline(join_wrapped([before, after]), conv)
    # A headline over a dateline (青石镇开通夜班公交 / 本报讯…) is no part of it.
    return joined is not None and joined.length > len(before.rstrip()) and parse_dateline(after, conv) is None


def _cut_credit(before: str, line: str, conv: Conventions) -> bool:
    """The end of ``before`` is a credit the wrap cut inside a word (``记者 周`` / ``小川 摄``,
    ``记者 周小`` / ``川 摄``, ``通讯`` / ``员周小川摄影报道``): one side is no credit on its own,
    both together are.  Two whole credits (``记者 甲乙`` / ``丙丁 摄``) stay two lines."""
    tail = _TEXT_END.split(before)[-1].lstrip()
    # A space kept at the wrap (``textnorm.clean_lines``) parts two names: 本报记者周小川 / 林雨.
    whole = tail + line
    tail = tail.rstrip()
    return bool(
        tail
        and len(whole) <= _CREDIT_LINE
        # The tail holds a credit's word (记者 周) or is the start of one the wrap cut (通讯, 本报记):
        # a caption's last words (…赏梅。梅开正艳 / 李四 摄) are no part of the credit under them.
        and (conv.credit_hint.search(tail) or _cut_role(conv).fullmatch(tail.replace(" ", "")))
        and conv.credit_hint.search(whole)
        and not (is_byline(tail, conv) and is_byline(line, conv))
        and is_byline(whole, conv)
        and not _lengthens_whole_credit(tail, whole, conv)
    )


@functools.cache
def _cut_role(conv: Conventions) -> re.Pattern[str]:
    """The start of a role word, after its ranks if any, that a wrap cut off (通讯, 本报记)."""
    starts = {role[:k] for role in conv.roles for k in range(1, len(role))}
    ranks = "|".join(map(re.escape, conv.ranks))
    return re.compile(f"(?:{ranks})*(?:{'|'.join(map(re.escape, sorted(starts, key=len, reverse=True)))})")
