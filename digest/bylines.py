"""Bylines, datelines, photo credits and page jumps: the newspaper's own conventions.

A lexicon of how Chinese dailies credit people (本报记者, 通讯员, 摄, 文/图 ...)
and date their stories (本报7月21日讯, 本报乌海4月12日电).  Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.textnorm import CJK
from digest.types import Credit

# Longest first, so 本报见习记者 is not read as 本报 + 见习记者.
_ROLES = (
    "本报特约记者",
    "本报见习记者",
    "本报实习记者",
    "本报通讯员",
    "本报记者",
    "特约通讯员",
    "特约记者",
    "见习记者",
    "实习记者",
    "通讯员",
    "记者",
    "摄影记者",
    "文/图",
    "图/文",
    "文图",
    "摄影报道",
    "摄影",
    "文案",
    "设计",
    "监制",
    "制图",
    "美编",
    "编辑",
    "责任编辑",
    "统筹",
    "撰文",
    "供图",
    "整理",
)
_ROLE_ALT = "|".join(re.escape(r) for r in sorted(_ROLES, key=len, reverse=True))
# Any organisation's reporter: 鄂尔多斯市融媒体中心记者, 新华社记者.
_ORG_ROLE = re.compile(f"^[{CJK}]{{2,16}}(?:记者|通讯员)$")
_ROLE_ONLY = re.compile(f"^(?:{_ROLE_ALT})[:：]?$")
_ROLE_PREFIX = re.compile(f"^((?:{_ROLE_ALT}))[:：]?(.+)$")
# Han names are two to four characters; Mongolian and other transliterated names run longer
# (巴依斯古楞) and may carry a middle dot.
_NAME = re.compile(f"^(?:[{CJK}]{{2,6}}|[{CJK}]{{1,8}}(?:[·•][{CJK}]{{1,8}})+)$")
_PHOTO_SUFFIX = re.compile(r"(?:摄影报道|摄影|摄)$")
_LEAD_MARK = re.compile(r"^[□■◆◇●○▲△★☆]\s*")

_DATELINE = re.compile(
    r"^(?:本报|新华社|中新社|人民日报|据新华社)"
    rf"(?P<place>[{CJK}]{{0,8}}?)\s*"
    r"(?:(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日\s*)?"
    r"(?:讯|电)\s*"
    r"(?:[（(](?P<credits>[^（）()]{1,60})[）)])?\s*"
)
_JUMP = re.compile(
    r"[（(]?\s*(?:上接|下接|下转|转|接)\s*第\s*[0-9一二三四五六七八九十]+\s*版\s*[）)]?"
    r"|^[■□◆]?\s*本报第\s*[0-9一二三四五六七八九十]+\s*版$"
)
_PAREN_NAMES = re.compile(f"^[（(]\\s*([{CJK}·]{{2,8}}(?:[ 、，,][{CJK}·]{{2,8}})*)\\s*[）)]$")


_MAX_BYLINE = 80  # characters; a longer line is prose, whatever words it starts with


@dataclass(frozen=True)
class Dateline:
    """What a dateline says: where, which month and day, who reported."""

    place: str | None
    date: str | None  # MM-DD
    credits: tuple[Credit, ...]
    length: int  # characters of the paragraph it occupies


def parse_credits(text: str) -> tuple[Credit, ...] | None:
    """Read a byline such as ``□ 文/图 本报记者 孟和朝鲁`` or ``记者梁亮 通讯员郑明``.

    Returns None when the text is not made only of roles and names, so that a
    sentence is never mistaken for a byline.
    """
    text = _LEAD_MARK.sub("", text.strip())
    if not text or len(text) > _MAX_BYLINE:
        return None
    credits: list[Credit] = []
    role = ""
    unnamed = False  # a role was named and no name has followed it yet
    pending: list[str] = []  # names waiting to learn whether a trailing 摄 applies

    def flush(final_role: str | None = None) -> None:
        for name in pending:
            credits.append(Credit(name=name, role=final_role if final_role is not None else role))
        pending.clear()

    for token in re.split(r"[ 、，,]+", text):
        if not token:
            continue
        if _ROLE_ONLY.match(token) or _ORG_ROLE.match(token):
            if token.rstrip("：:") in ("摄影报道", "摄影") and pending:
                flush(token.rstrip("：:"))
                continue
            flush()
            # A role still waiting for a name ("文/图 本报记者 孟和朝鲁") shares it with this one.
            role = f"{role} {token.rstrip('：:')}" if unnamed else token.rstrip("：:")
            unnamed = True
            continue
        if token in ("摄", "报道"):
            if not pending and not credits:
                return None
            # 报道 after names is part of their credit ("记者 林小河 报道"): keep it with the role.
            flush("摄" if token == "摄" else f"{role}报道")
            continue
        prefixed = _ROLE_PREFIX.match(token)
        if prefixed and _NAME.match(prefixed.group(2).rstrip("摄")):
            flush()
            role = f"{role} {prefixed.group(1)}" if unnamed else prefixed.group(1)
            token = prefixed.group(2)
        photo = ""
        suffix = _PHOTO_SUFFIX.search(token)
        if suffix and len(token) > 2 and _NAME.match(token[: suffix.start()]):
            token, photo = token[: suffix.start()], suffix.group(0)
        if not _NAME.match(token):
            return None
        pending.append(token)
        unnamed = False
        if photo:
            flush(photo)
    flush()
    # A role with nobody after it means this was not a byline after all.
    return tuple(credits) if credits and not unnamed else None


def credit_roles_only(text: str) -> bool:
    """True for a byline that names roles but no one yet (``□本报记者``), as in vertical print."""
    text = _LEAD_MARK.sub("", text.strip())
    return bool(text) and len(text) <= _MAX_BYLINE and all(_ROLE_ONLY.match(t) for t in text.split())


def is_byline(text: str) -> bool:
    """True when a whole line is a byline with at least one role or a lead mark."""
    stripped = text.strip()
    credits = parse_credits(stripped)
    if not credits:
        return False
    return stripped[0] in "□■" or any(c.role for c in credits)


def parse_dateline(text: str) -> Dateline | None:
    """Read a dateline at the start of a paragraph (``本报乌海4月12日电(记者郝飏)``)."""
    match = _DATELINE.match(text)
    if not match:
        return None
    date = None
    if match.group("month"):
        month, day = int(match.group("month")), int(match.group("day"))
        if 1 <= month <= 12 and 1 <= day <= 31:
            date = f"{month:02d}-{day:02d}"
    credits: tuple[Credit, ...] = ()
    if match.group("credits"):
        credits = parse_credits(match.group("credits")) or ()
    return Dateline(place=match.group("place") or None, date=date, credits=credits, length=match.end())


def paren_names(text: str) -> tuple[Credit, ...] | None:
    """A trailing author line such as ``(刘沙沙)``; None for anything else."""
    match = _PAREN_NAMES.match(text.strip())
    if not match:
        return None
    names = [n for n in re.split(r"[ 、，,]+", match.group(1)) if n]
    return tuple(Credit(name=n, role="") for n in names)


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
