"""Datelines: where and when a story was filed, and who filed it (本报讯, 海都讯,
新华社北京3月5日电（记者 X）, and Taiwan's and Hong Kong's lead tags through ``digest.paper.leadtags``).

Kept apart from ``digest.paper.bylines``, whose credit grammar reads the credits a dateline
carries.  Pure functions over the words of a ``Conventions`` value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from digest.paper import leadtags
from digest.paper.bylines import is_byline, is_editor_line, parse_credits
from digest.paper.conventions import MAINLAND, Conventions
from digest.paper.textnorm import has_cjk
from digest.types import Credit

_REPORTED = re.compile(r"^([^。！？：:]{2,40}?)\s*报\s?道\s*[:：]\s*")  # 报 道 ： on a justified line too
_CLAUSE_COMMA = re.compile("[，,]")  # a clause break: a sentence, never a credit, puts one before a role
_DATELINE_REACH = 40  # characters: outlet, place and date come before the dateline's word
_DATELINE_CREDIT = 40  # characters; a credit after a dateline on a line of their own is never longer


@dataclass(frozen=True)
class Dateline:
    """What a dateline says: where, which month and day, who reported."""

    place: str | None
    date: str | None  # MM-DD
    credits: tuple[Credit, ...]
    length: int  # characters of the paragraph it occupies


def parse_dateline(text: str, conv: Conventions = MAINLAND, issue: date | None = None) -> Dateline | None:
    """Read a dateline at the start of a paragraph (``本报乌海4月12日电(记者郝飏)``, ``海都讯``), or the
    tag Taiwan's and Hong Kong's papers print there (``【记者王明／台北报导】``, ``【本报讯】``, see
    ``digest.paper.leadtags``)."""
    if text[:1] in "【〔［[（(" or "报导" in text[:_DATELINE_REACH] or "报道" in text[:_DATELINE_REACH]:
        tagged = _lead_tag(text, conv, issue)
        if tagged:
            return tagged
    return _dateline(text, conv, issue)


def _lead_tag(text: str, conv: Conventions, issue: date | None) -> Dateline | None:
    """The tag before a lead, bracketed (``【记者王明／台北报导】``, ``（中央社记者王明台北5日电）``,
    ``【港湾专讯】``) or not (``记者王明／台北报导``), read as the dateline it stands for."""
    tag = leadtags.bracketed(text)
    words, length = tag or leadtags.unbracketed(text) or ("", 0)
    if not words or (tag and length >= len(text.rstrip())):
        return None  # a bracketed source alone ((新华社电), (综合外电报导)) closes the story above
    if tag:
        agency = conv.agency_role.match(words)
        found = leadtags.agency_reporters(words[agency.end() :]) if agency else None
        if agency and found:
            names, place, dated = found
            when = _dateline(f"{agency.group('outlet')}{place}{dated}", conv, issue)
            credits = parse_credits(f"{agency.group('role')} {names}", conv) or ()
            return Dateline(place=place, date=when.date if when else None, credits=credits, length=length)
        inside = _dateline(words, conv, issue)
        if inside and inside.length >= len(words):
            # the credit may follow the tag as it follows a dateline (【本报讯】记者X报道：…)
            after = _dateline(f"{words} {text[length:]}", conv, issue)
            if after and after.credits and not inside.credits:
                return replace(after, length=after.length - len(words) - 1 + length)
            return replace(inside, length=length)
    reported = leadtags.filed(words)
    if reported is None:
        return None
    named = parse_credits(reported[0], conv) if reported[0] else ()
    if named is None and not conv.outlet_end.search(reported[0]):
        return None  # a desk (国际新闻中心) files as a reporter does; any other words are text
    return Dateline(place=reported[1], date=None, credits=named or (), length=length)


def _dateline(text: str, conv: Conventions, issue: date | None) -> Dateline | None:
    """A mainland dateline at the start of a paragraph: outlet, place, date and 电 or 讯.

    Any outlet may open one; an outlet not among the conventions' known ones
    must be followed by a date, a space or a bracket, so that a sentence that
    merely starts with a word ending in 电 or 讯 is not taken for one.  A
    day-only date (``本报合肥18日电``) takes its month from ``issue`` when given.
    """
    head = text[:_DATELINE_REACH]
    if not any(word in head for word in conv.dateline_words):
        return None  # the cheap test first: most paragraphs are no dateline
    match = conv.dateline.match(text)
    if not match:
        return None
    known = conv.known_outlet.match(match.group("outlet")) is not None
    after = text[match.end("word") : match.end("word") + 1]
    if not known and not match.group("day") and after not in ("", " ", "（", "(", "【", "["):
        return None
    if not known and not has_cjk(match.group("outlet")):
        return None
    date = None
    month = int(match.group("month")) if match.group("month") else (issue.month if issue else None)
    if match.group("day") and month is not None:
        day = int(match.group("day"))
        if 1 <= month <= 12 and 1 <= day <= 31:
            date = f"{month:02d}-{day:02d}"
    length = match.end()
    credits: tuple[Credit, ...] = ()
    if match.group("credits"):
        credits = parse_credits(match.group("credits"), conv) or ()
    else:
        # 本报讯 记者X、通讯员Y报道：… (the credit unbracketed, closed by 报道).
        rest = text[length:]
        reported = _REPORTED.match(rest)
        found = parse_credits(reported.group(1), conv) if reported else None
        if reported and found:
            credits, length = found, length + reported.end()
        elif _credit_rest(rest, conv):
            # 本报西坝12月3日电 记者：X, the text on the next line: the line's rest is its credit.
            credits, length = parse_credits(rest.strip(), conv) or (), len(text)
        elif lead := _lead_credit(rest, conv):
            credits, length = lead[0], length + lead[1]
    place = match.group("place") if known and match.group("place") else None
    return Dateline(place=place, date=date, credits=credits, length=length)


def _credit_rest(rest: str, conv: Conventions) -> bool:
    """Is what follows a dateline on its line nothing but a credit naming a role (``记者：X``)?"""
    rest = rest.strip()
    role = conv.role_split.search(rest)
    return (
        0 < len(rest) <= _DATELINE_CREDIT
        # A clause before the first role is the text's first words (近日，记者走进 / 位于…).
        and not (role and _CLAUSE_COMMA.search(rest, 0, role.start()))
        and not re.search(r"[（()）]", rest)  # a bracket the wrap cut (讯(记者 X / Y 文/图)…)
        and conv.credit_hint.search(rest) is not None
        and not is_editor_line(rest, conv)
        and is_byline(rest, conv)
    )


def _lead_credit(rest: str, conv: Conventions) -> tuple[tuple[Credit, ...], int] | None:
    """A credit after a dateline, unbracketed and parted from the text by a space
    (``本报青石12月2日电　记者X　通讯员Y　历时…``, ``本报讯 记者X 实习生Y 报道　市…``): the credits
    and the characters they take with the space after them.  It opens with a role or a mark
    (names alone may be the text's first words), and the longest such run is the credit."""
    if not conv.role_split.match(rest.lstrip()):
        return None
    found = None
    for gap in re.finditer(r"\s+", rest):
        head = rest[: gap.start()].strip()
        if len(head) > _DATELINE_CREDIT:
            break
        if head and gap.end() < len(rest) and is_byline(head, conv) and not is_editor_line(head, conv):
            found = (parse_credits(head, conv) or (), gap.end())
    return found
