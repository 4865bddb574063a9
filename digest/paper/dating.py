"""The issue date of a page, from evidence, and how sure we are of it.  Pure: no clock, no I/O.

Pages carry a month and day far more often than a year, so the date is
taken from the strongest evidence a page offers, in this order:

1. the file name (``DatingRules.name_patterns``: ``2024-11-27_03.txt``,
   ``20241127/a.txt``);
2. the page header (报头/版次 line: ``内蒙古日报 2024年11月27日 星期三 第3版``);
3. the text: the month-day of the datelines (``本报11月27日讯``), else the
   most frequent ``M月D日`` phrase, with the year taken from the text where
   it is written: next to a dated phrase (``11月25日，2024年度…``), else the
   latest year the page names (``2023年第五期``) that is not after the
   file's time;
4. the file's modification time, a last resort.

The last two are *unsure* when the year or the whole date came from the
file time (``Dating.unsure``): the site and ``digest status`` show such a
page as 日期待核, and ingest never lets an unsure date replace one the page
already has (``keep_or_replace``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from digest.types import Article, DatedBy

# Named groups y, m, d (and optionally p, the page number) in each pattern, searched in the path.
DEFAULT_NAME_PATTERNS = (
    r"(?<!\d)(?P<y>20\d\d)[-_.](?P<m>\d\d)[-_.](?P<d>\d\d)(?:[-_ ](?P<p>\d{1,3}))?(?!\d)",
    r"(?<![0-9A-Za-z])(?P<y>20\d\d)(?P<m>\d\d)(?P<d>\d\d)(?![0-9A-Za-z])",
)
# The header is printed in the first lines of a page; further down a full date is a quotation.
HEADER_LINES = 12
# A year written this close to a month-day phrase is that phrase's year.
NEAR = 8

_FULL_DATE = r"(?P<y>20\d\d)\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
_HEADER = re.compile(_FULL_DATE + r"[\s　]*(?:星期|周|礼拜)[一二三四五六日天]")
_EDITION = re.compile(r"第\s*(?P<p>\d{1,3})\s*版")
_MONTH_DAY = re.compile(r"(?<![\d年])(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
# Years named as targets (到2030年, 至2025年) say nothing about when the page was printed.
_YEAR = re.compile(r"(?<![\d到至])(?P<y>20\d\d)\s*年")
_YEAR_BEFORE = re.compile(r"(?P<y>20\d\d)\s*年\s*$")
_YEAR_AFTER = re.compile(r"^[，,、\s]*(?P<y>20\d\d)\s*年")
_DATELINE = re.compile(r"^(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True)
class Dating:
    """A page's issue date, the evidence for it, and its page number (0 when unknown)."""

    day: date
    by: DatedBy
    page: int = 0

    @property
    def unsure(self) -> bool:
        """Whether the date rests on the file time (see ``DatedBy.unsure``)."""
        return self.by.unsure


@dataclass(frozen=True)
class DatingRules:
    """The configurable part of dating: file-name patterns (``ingest.date_patterns``)."""

    name_patterns: tuple[str, ...] = DEFAULT_NAME_PATTERNS

    def compiled(self) -> tuple[re.Pattern[str], ...]:
        """The patterns, compiled (validated at config load time)."""
        return tuple(re.compile(pattern) for pattern in self.name_patterns)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a file-name date pattern, or None when it can."""
    try:
        groups = re.compile(pattern).groupindex
    except re.error as exc:
        return f"{pattern!r} is not a regular expression ({exc})"
    missing = [name for name in ("y", "m", "d") if name not in groups]
    if missing:
        return f"{pattern!r} lacks the named groups {', '.join(f'(?P<{n}>...)' for n in missing)}"
    return None


def _day(year: str | int, month: str | int, day: str | int) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def from_name(name: str, rules: DatingRules) -> Dating | None:
    """The date (and page number) a file's path gives, by the first pattern that matches."""
    for pattern in rules.compiled():
        for match in pattern.finditer(name):
            found = _day(match["y"], match["m"], match["d"])
            if found is not None:
                number = match.groupdict().get("p")
                return Dating(found, DatedBy.NAME, int(number) if number else _page_after(name, match))
    return None


def page_from_name(name: str) -> int:
    """``…_03.txt`` → 3; 0 when the file name ends in no page number."""
    match = re.search(r"[-_ ](\d{1,3})$", PurePosixPath(name).stem)
    return int(match[1]) if match else 0


def _page_after(name: str, dated: re.Match[str]) -> int:
    """The page number that ends the file name, unless the date ``dated`` ends it: the ``-27`` of
    ``2024-11-27.txt`` is the day of the month, not page 27."""
    stem_end = len(name) - len(PurePosixPath(name).suffix)
    return 0 if dated.end() >= stem_end else page_from_name(name)


def from_header(text: str) -> Dating | None:
    """The date on the page header (报头: a full date followed by the weekday), with its 第N版."""
    head = "\n".join(text.splitlines()[:HEADER_LINES])
    match = _HEADER.search(head)
    if match is None:
        return None
    found = _day(match["y"], match["m"], match["d"])
    if found is None:
        return None
    edition = _EDITION.search(head, match.end())
    return Dating(found, DatedBy.HEADER, int(edition["p"]) if edition else 0)


def _month_day(text: str, articles: Sequence[Article]) -> tuple[int, int] | None:
    """The most common dateline month-day, else the most common ``M月D日`` phrase of the text."""
    datelines = Counter(a.date for a in articles if a.date and _DATELINE.match(a.date))
    if datelines:
        month, day = datelines.most_common(1)[0][0].split("-")
        return int(month), int(day)
    phrases = Counter(
        (int(m["m"]), int(m["d"])) for m in _MONTH_DAY.finditer(text) if _day(2000, m["m"], m["d"])
    )
    return phrases.most_common(1)[0][0] if phrases else None


def _year_near_phrases(text: str) -> list[date]:
    """Dated phrases whose year is written next to them: ``2024年11月25日``, ``11月25日，2024年度``."""
    found = []
    for match in _MONTH_DAY.finditer(text):
        before = _YEAR_BEFORE.search(text[max(match.start() - NEAR, 0) : match.start()])
        after = _YEAR_AFTER.search(text[match.end() : match.end() + NEAR])
        year = before or after
        if year is not None:
            day = _day(year["y"], match["m"], match["d"])
            if day is not None:
                found.append(day)
    return found


def _year_for(month: int, day: int, text: str, latest: date) -> int | None:
    """The year of the page's month-day, as the text writes it (None when the text names none)."""
    anchored = [d for d in _year_near_phrases(text) if d <= latest]
    if anchored:
        # The issue is on or shortly after the dated phrases it reports.
        votes = Counter(_on_or_after(anchor, month, day).year for anchor in anchored)
        return votes.most_common(1)[0][0]
    years = [int(m["y"]) for m in _YEAR.finditer(text) if int(m["y"]) <= latest.year]
    if not years:
        return None
    year = max(years)
    candidate = _day(year, month, day)
    return year if candidate is not None else None


def _on_or_after(anchor: date, month: int, day: int) -> date:
    """The first ``month``-``day`` on or after ``anchor`` (29 February searched for up to 8 years)."""
    for year in range(anchor.year, anchor.year + 9):
        candidate = _day(year, month, day)
        if candidate is not None and candidate >= anchor:
            return candidate
    return anchor


def _latest_year(month: int, day: int, latest: date) -> date | None:
    """The latest ``month``-``day`` not after ``latest`` (eight years back always reaches a leap year)."""
    for year in range(latest.year, latest.year - 9, -1):
        candidate = _day(year, month, day)
        if candidate is not None and candidate <= latest:
            return candidate
    return None


def from_text(text: str, articles: Sequence[Article], mtime: datetime, tz: ZoneInfo) -> Dating | None:
    """The date the text gives: its datelines or dated phrases, with the year written in it."""
    found = _month_day(text, articles)
    if found is None:
        return None
    month, day = found
    # A page may be exported the evening before its date: one day of slack.
    latest = mtime.astimezone(tz).date() + timedelta(days=1)
    year = _year_for(month, day, text, latest)
    if year is not None:
        written = _day(year, month, day)
        if written is not None:
            return Dating(written, DatedBy.TEXT)
    guessed = _latest_year(month, day, latest)
    return Dating(guessed, DatedBy.TEXT_GUESSED_YEAR) if guessed else None


def date_page(
    name: str, text: str, articles: Sequence[Article], mtime: datetime, tz: ZoneInfo, rules: DatingRules
) -> Dating:
    """A page's issue date from the strongest evidence it offers (see the module docstring)."""
    by_name = from_name(name, rules)
    header = from_header(text)
    # A name that dates the page has had its page number read with the date (``from_name``).
    page = (by_name.page if by_name else 0) or (header.page if header else 0)
    page = page or (0 if by_name else page_from_name(name))
    best = by_name or header or from_text(text, articles, mtime, tz)
    if best is None:
        best = Dating(mtime.astimezone(tz).date(), DatedBy.MTIME)
    return Dating(best.day, best.by, page)


def keep_or_replace(previous: Dating | None, fresh: Dating) -> Dating:
    """The date a re-read page keeps: a date once given is never re-derived from a file time.

    An unsure fresh date (file time) never replaces one the page already has;
    a sure one from the text does, as the text is then the better evidence.
    """
    if previous is None or not fresh.unsure:
        return fresh
    return Dating(previous.day, previous.by, fresh.page or previous.page)
