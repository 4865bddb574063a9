"""Bylines, photo credits and page jumps: the newspaper's own conventions.

The grammar of how Chinese dailies credit people (本报记者 X、Y, 记者/X, X/摄,
X 文/图, (X)), over the words of a ``Conventions`` value; ``digest.paper.datelines``
reads how they date their stories with it.  Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from digest.paper.conventions import MAINLAND, Conventions
from digest.paper.textnorm import CJK, CLOSING_QUOTES, OPENING_QUOTES, ends_sentence
from digest.types import Credit

# Han names are two to four characters; Mongolian and other transliterated names run longer
# (巴依斯古楞) and may carry a middle dot.  A name glued to a role is a Han name.
_NAME = re.compile(f"^(?:[{CJK}]{{2,6}}|[{CJK}]{{1,8}}(?:[·•][{CJK}]{{1,8}})+)$")
_GLUED_NAME = re.compile(f"^[{CJK}]{{2,4}}$")
# A name glued to a role glued to the text (…好。”记者周远): two or three characters, as most are.
_GLUED_TO_TEXT = re.compile(f"^[{CJK}]{{2,3}}$")
# One name padded to the width of three characters: 梁 正, 李 涛.
_PADDED = re.compile(f"^[{CJK}] [{CJK}]$")
# The marks that lead a byline, a list item or a brief (□ 本报记者 X, ■ 市图书馆…).
BULLET = re.compile(r"^[■□●○◆◇▲△★☆•]\s*")
_BRACKETED = re.compile(r"^[（(](.*)[）)]$")
# A credit holds names, roles and marks: never digits, sentence ends or quotation marks.
_NOT_CREDIT = re.compile(f'[0-9０-９。！？!?{OPENING_QUOTES}{CLOSING_QUOTES}"《》…%]')
_SEPARATORS = re.compile(r"[\s、，,；;:：|｜]+")
_SLASH = re.compile(r"\s*[/／]\s*")  # 文 / 李华, 文／李华: the slash of a mark, as 文/李华 prints it
_SINGLE = re.compile(f"^[{CJK}]$")
# A credit closing a paragraph: in brackets, or after the last sentence end.
_TAIL_BRACKETED = re.compile(r"\s*[（(]([^（）()]{2,60})[）)]\s*$")
_TAIL_PLAIN = re.compile(r"(?<=[。！？!?…”’」』）)])(\s*)([^。！？!?…“”「」『』（）()，,]{2,40})$")
_BARE_NAMES = re.compile(f"^[{CJK}]{{2,3}}(?: [{CJK}]{{2,3}})+$")  # 王星海 耿志清: two names or more
_PAGE_NO = r"[A-Za-z]?\s*[0-9一二三四五六七八九十]+"  # 第3版, 第三版, 第A3版
_JUMP = re.compile(
    rf"[（(]?\s*(?:上接|下接|紧接|下转|转|接)\s*第\s*{_PAGE_NO}\s*版\s*[）)]?"
    # in brackets the 第 may be left out (（下转A3版）), and 续 says 上接 (（续第一版）)
    rf"|[（(]\s*(?:上接|下接|紧接|下转|转|接|续)\s*第?\s*{_PAGE_NO}\s*版\s*[）)]"
    rf"|^[■□◆]?\s*本报第\s*{_PAGE_NO}\s*版$"
)

_MAX_BYLINE = 80  # characters; a longer line is prose, whatever words it starts with
# characters of an outlet glued to a role (齐鲁晚报·齐鲁壹点记者, 鄂尔多斯市融媒体中心记者): a longer
# run before 记者 is a sentence about the reporter (…告诉中青报·中青网记者，这是…)
_MAX_OUTLET = 14
_MAX_UNSIGNED = 24  # characters; an outlet and a role signing an editorial are never longer
_SENTENCE_MARKS = frozenset("。！？!?…”’」』，,、；;：:")
_TAIL = 72  # characters at the end of a paragraph a closing credit may take, with its brackets


@dataclass(frozen=True)
class _Reading:
    credits: tuple[Credit, ...]
    roles: bool  # a role or a mark was printed (记者, 摄): a byline even without a lead mark
    editors: bool  # someone was credited as an editor (never an author)


def _tokens(text: str) -> list[str]:
    """Split a credit at its separators and re-join names padded to width (李 涛 → 李涛)."""
    raw = [t for t in _SEPARATORS.split(text) if t]
    out: list[str] = []
    i = 0
    while i < len(raw):
        if i + 1 < len(raw) and _SINGLE.match(raw[i]) and _SINGLE.match(raw[i + 1]) and raw[i + 1] != "摄":
            out.append(raw[i] + raw[i + 1])
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return out


@lru_cache(maxsize=4096)  # one line is asked about as editor line, byline and credit in turn
def _read(text: str, conv: Conventions) -> _Reading | None:
    """The byline grammar: roles, names and marks in any order.

    A role applies to the names after it (``记者 X Y 通讯员 Z``); a mark to the
    names before it (``X Y 摄``, ``X/文 Y/图``).  A word glued in front of the
    first role is the outlet (``长城网记者``) and stays with the role.  Returns
    None unless every word is a role, a mark or a name.
    """
    if len(text) > _MAX_BYLINE + 8:
        return None  # prose: the cheap test first, most lines of a page end here
    text = _SLASH.sub("/", BULLET.sub("", text.strip()))
    bracketed = _BRACKETED.match(text)
    if bracketed:
        text = bracketed.group(1).strip()
    if not text or len(text) > _MAX_BYLINE or _NOT_CREDIT.search(text) or text[-1] in "、，,；;":
        return None
    credits: list[Credit] = []
    role = ""
    group: list[int] = []  # credits named since the last role: what a spaced mark applies to
    waiting = False  # a role was printed and no name has followed it yet
    editing = False  # names now being read are editors'
    roles = editors = False
    items: list[tuple[str, str, bool]] = []  # (kind, text, glued to the next item)
    for token in _tokens(text):
        pieces = [p for p in conv.role_split.split(token) if p]
        for index, piece in enumerate(pieces):
            glued = index + 1 < len(pieces)
            if conv.editor_only.match(piece):
                items.append(("editor", piece.rstrip("：:/"), glued))
            elif conv.role_only.match(piece):
                items.append(("role", piece.rstrip("：:/"), glued))
            else:
                items.append(("text", piece, glued))
    for index, (kind, piece, glued) in enumerate(items):
        nxt = items[index + 1] if index + 1 < len(items) else None
        if (
            kind == "text"
            and glued
            and nxt is not None
            and nxt[0] != "text"
            and not conv.mark_only.match(piece)
        ):
            if conv.outlet_end.search(piece) and len(piece) <= _MAX_OUTLET:
                # An outlet glued to the role after it: 城市快报记者, 中青报·中青网见习记者.
                items[index + 1] = (nxt[0], piece + nxt[1], nxt[2])
                continue
            if not role:
                return None  # a name glued before a role follows another role (记者X通讯员Y)
        if kind == "editor":
            editing, editors, waiting = True, True, True
            continue
        if kind == "role":
            roles = True
            if conv.mark_only.match(piece) and group and (nxt is None or nxt[0] != "text"):
                # 王伟 摄影: a mark after the names it credits, not a role before others.
                for at in group:
                    credits[at] = _marked(credits[at], piece)
                group = []
                continue
            if group and not role:
                # Names before the first role that no mark credits (这几天，快报记者X, 标题 某某记者 X):
                # words of a sentence or a headline, not names.
                return None
            role = f"{role} {piece}" if waiting and role else piece
            editing, waiting, group = False, True, []
            continue
        mark = ""
        if conv.mark_only.match(piece):
            roles = True
            if not group or piece.endswith("/"):
                # 文/图 本报记者 X, 图/记者：Y: a mark before the names reads as a role.
                role = f"{role} {piece}" if waiting and role else piece
                editing, waiting = False, True
                continue
            for at in group:
                credits[at] = _marked(credits[at], piece.lstrip("/"))
            group = []
            continue
        suffix = conv.mark_suffix.search(piece)
        if suffix and _NAME.match(piece[: suffix.start()].strip("/")):
            piece, mark = piece[: suffix.start()], suffix.group(0).lstrip("/")
        glued_to_role = index > 0 and items[index - 1][2] and items[index - 1][0] != "text"
        piece = piece.strip("/")
        shape = _GLUED_NAME if glued or glued_to_role else _NAME
        # A photo credited to an agency (图/中央社, 图／新华社) names it where a photographer's name stands.
        agency = role.endswith("/") and conv.known_outlet.match(piece) is not None
        if not agency and (not shape.match(piece) or conv.not_a_name.search(piece)):
            return None
        if glued_to_role and items[index - 1][1].endswith(conv.unsigned_roles):
            return None  # a commentator signs apart from a name (评论员 X): 评论员文章 names a column
        waiting = False
        if editing:
            continue
        roles = roles or bool(mark)
        group.append(len(credits))
        credits.append(Credit(name=piece, role=f"{role} {mark}".strip() if mark else role))
        if mark:
            group = []
    if waiting and not editors:
        return None  # a role with nobody after it: not a byline after all
    if editors and credits:
        return None  # authors and editors on one line: text to keep, not a credit to read
    return _Reading(tuple(credits), roles, editors)


def photographed(credit: Credit) -> bool:
    """True when the credit is for photographs (X 摄, 摄影报道, 摄影记者, 记者 X 摄, 拍摄者)."""
    return "摄" in credit.role


def split_mark(role: str, conv: Conventions = MAINLAND) -> tuple[str, str]:
    """A credit's role as the words printed before the names and the mark printed after them:
    ``本报记者 摄`` → (``本报记者``, ``摄``), ``摄`` → ("", ``摄``), ``文/图 本报记者`` → (itself, "")."""
    before, _, last = role.rpartition(" ")
    return (before, last) if last in conv.marks else (role, "")


def _marked(credit: Credit, mark: str) -> Credit:
    """A credit with a mark printed after the name added to its role (记者 X 摄 → 记者 摄)."""
    return Credit(credit.name, f"{credit.role} {mark}".strip())


def parse_credits(text: str, conv: Conventions = MAINLAND) -> tuple[Credit, ...] | None:
    """Read a byline such as ``□ 文/图 本报记者 孟和朝鲁`` or ``记者梁亮 通讯员郑明``.

    Returns None when the text is not made only of roles, marks and names, so
    that a sentence is never mistaken for a byline.  Editors are read but not
    returned: they are not authors.
    """
    reading = _read(text, conv)
    return reading.credits if reading and reading.credits else None


def credit_roles_only(text: str, conv: Conventions = MAINLAND) -> bool:
    """True for a byline that names roles but no one yet (``□本报记者``), as in vertical print."""
    if len(text) > _MAX_BYLINE:
        return False
    text = BULLET.sub("", text.strip())
    return bool(text) and all(conv.role_only.match(t) for t in text.split())


def unsigned_byline(text: str, conv: Conventions = MAINLAND) -> bool:
    """True for a byline that credits the outlet's voice and no one (``本报评论员``, ``本报特约评论员``,
    ``新华社评论员``): an editorial's, no author's, and no part of its text either."""
    return len(text) <= _MAX_UNSIGNED and conv.unsigned.match(BULLET.sub("", text.strip())) is not None


def is_byline(text: str, conv: Conventions = MAINLAND) -> bool:
    """True when a whole line is a byline with at least one role or mark, or a lead mark."""
    stripped = text.strip()
    reading = _read(stripped, conv)
    if not reading or not reading.credits:
        return False
    if reading.roles or _PADDED.match(stripped):
        return True
    # Names alone need a lead mark, and names so marked are Han names (a list item is not).
    return stripped[0] in "□■" and all(_GLUED_NAME.match(c.name) for c in reading.credits)


def is_editor_line(text: str, conv: Conventions = MAINLAND) -> bool:
    """True for a line that credits only editors (``编辑：X``, ``（共青团新闻中心编辑）``)."""
    reading = _read(text, conv)
    return reading is not None and reading.editors and not reading.credits


def paren_names(text: str, conv: Conventions = MAINLAND) -> tuple[Credit, ...] | None:
    """A trailing author line such as ``(刘沙沙)`` or ``（本报记者 X 通讯员 Y）``; None for anything else."""
    stripped = text.strip()
    if not _BRACKETED.match(stripped):
        return None
    return parse_credits(stripped, conv)


def trailing_credit(
    text: str, conv: Conventions = MAINLAND, closing: bool = False
) -> tuple[str, tuple[Credit, ...]] | None:
    """A credit closing a paragraph: ``…特点。 (吕劲)``, ``…花海。 记者 郭炳中 摄``, ``…。”王星海 耿志清``.

    Returns the paragraph without it and the credits, or None.  Without
    brackets the credit must print a role or a mark, or be two names or more
    set apart by single spaces: one bare word after a sentence is more likely
    the sentence's own.  A role glued both to the sentence and to a name
    (``…越来越好。”记者周远``) credits only where the caller knows the paragraph
    closes its story (``closing``): elsewhere it may be a sentence about the
    reporter a column break cut (``…不得了！”记者追问`` / ``“是什么…”``).
    """
    if not text or text[-1] in _SENTENCE_MARKS:
        return None  # most paragraphs end on their own words
    # Only the end of a paragraph can hold its credit: search there, not the whole text.
    cut = max(0, len(text) - _TAIL)
    tail = text[cut:]
    bracketed = _TAIL_BRACKETED.search(tail)
    if bracketed:
        rest = text[: cut + bracketed.start()].rstrip()
        credits = parse_credits(bracketed.group(1), conv)
        if credits and (not rest or ends_sentence(rest)):
            return rest, credits
        return None
    plain = _TAIL_PLAIN.search(tail)
    if not plain or (plain.start() == 0 and cut):
        return None  # the lookbehind needs the character before the tail
    glued = not plain.group(1) and _glued_role(plain.group(2), conv)
    if glued and not closing:
        return None
    reading = _read(plain.group(2), conv)
    if not reading or not reading.credits:
        return None
    if glued and not _people(reading.credits, conv):
        return None
    if reading.roles or _BARE_NAMES.match(plain.group(2)):
        return text[: cut + plain.start()].rstrip(), reading.credits
    return None


def _glued_role(tail: str, conv: Conventions) -> bool:
    """A role glued to the sentence before it and to the words after it, and no mark closing them
    (…不得了！”记者追问, …。记者昨日从市, …好。”记者周远): the start of a sentence about the reporter
    that a column break cut off, or a credit closing the story; a credit that stands apart from the
    text (…。 记者 甲乙, …。（记者甲乙）) or ends with its mark (…。记者甲乙摄) is one anywhere."""
    return conv.glued_role.fullmatch(tail) is not None and not conv.mark_suffix.search(tail)


def _people(credits: tuple[Credit, ...], conv: Conventions) -> bool:
    """Do the words glued to a role glued to the text name people (…好。”记者周远), not go on with
    a sentence about the reporter (…”记者追问, …。记者了解到, …。记者昨日从市)?"""
    return all(_glued_name(c.name, conv) for c in credits)


def _glued_name(words: str, conv: Conventions) -> bool:
    """Are the words glued to a role glued to the text a name: two or three characters, as most
    names have, or four after a compound surname (欧阳晓东), and no reporting word first?  A
    reporting word of one character (从, 问, 在) is a surname too where a name of two follows it
    (…。记者从飞, …。记者问静); before more words it starts a sentence (…。记者从市里)."""
    if not (_GLUED_TO_TEXT.match(words) or (len(words) == 4 and words.startswith(conv.compound_surnames))):
        return False
    word = conv.reporting_start.match(words)
    return word is None or (len(word.group(0)) == 1 and len(words) == 2)


def reporting_goes_on(para: str, text: str, conv: Conventions = MAINLAND) -> bool:
    """Does ``text``, the next block's, go on with the sentence about the reporter that ``para``
    ends in (…。记者随后来 / 到城北…, …。记者周远 / 看到，…), which a column break cut where a credit
    glued to the last sentence would close the story (…借阅。记者林雨 / 青石湖…)?  A reporting word
    runs across the cut or opens ``text``, though not one of one character (在, 从) nor a time
    (近日，…): those open sentences of their own as often.  So do the words glued to the role when
    a reporting word starts them (…。记者从市 / 统计局获悉…): a surname at a story's end (记者从飞),
    the start of a sentence where more text follows."""
    glued = conv.role_words_end.search(para)
    if glued and conv.reporting_start.match(glued.group(1)):
        return True
    if any(len(word) >= 2 and text.startswith(word) for word in conv.reporting):
        return True
    return any(
        para.endswith(word[:k]) and text.startswith(word[k:])
        for word in (*conv.reporting, *conv.reporting_times)
        for k in range(1, len(word))
    )


def continues_elsewhere(jumps: list[str]) -> bool:
    """Does one of these jump notes send the reader on to another page (``下转第6版``)?  What
    follows it on this page is then another story."""
    return any(jump.startswith(("下转", "转", "下接")) for jump in jumps)


def find_jumps(text: str) -> tuple[str, list[str]]:
    """Strip page-jump notes (``(上接第1版)``, ``■本报第4版``) from a paragraph.

    Returns the remaining text and the jump notes found, normalised without
    brackets or marks.
    """
    jumps: list[str] = []
    if "版" not in text:
        return text.strip(), jumps

    def take(match: re.Match[str]) -> str:
        jumps.append(re.sub(r"[（()）■□◆\s]", "", match.group(0)))
        return ""

    rest = _JUMP.sub(take, text).strip()
    return rest, jumps
