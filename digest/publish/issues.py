"""An issue in paper order (``order.paper_order``): its printed pages, each article's neighbours,
and the calendar of issues.  Pure functions over what the store keeps."""

from __future__ import annotations

import bisect
import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Generic, TypeVar

from digest.publish.layout import Line
from digest.publish.order import P, paper_order
from digest.types import page_number

T = TypeVar("T")


@dataclass(frozen=True)
class PaperPage(Generic[T]):
    """One printed page of an issue: ``第3版 经济`` (``number`` 0: a page of unknown number)."""

    number: int
    name: str
    items: tuple[T, ...]

    @property
    def label(self) -> str:
        """``第3版 经济``, or the section name alone for a page of unknown number."""
        return f"第{self.number}版 {self.name}" if self.number else self.name


def paper_pages(items: Sequence[P]) -> tuple[PaperPage[P], ...]:
    """An issue's ``items`` (any order) grouped by printed page, in paper order.

    A page is named after the section of its first article (a page file holds one section, 版面).
    """
    ordered = paper_order(items)

    def page_key(item: P) -> tuple[int, str]:
        number = page_number(item.position)
        return number, "" if number else item.section.slug

    pages = []
    for (number, _), group in groupby(ordered, key=page_key):
        members = tuple(group)
        pages.append(PaperPage(number, members[0].section.name, members))
    return tuple(pages)


@dataclass(frozen=True)
class Place:
    """Where an article stands in its issue: its page and the articles read before and after it."""

    page: int
    page_label: str
    previous: Line | None
    next: Line | None


def places(lines: Sequence[Line]) -> dict[str, Place]:
    """The place of every article of one issue (``lines`` in any order), by uid."""
    found: dict[str, Place] = {}
    pages = paper_pages(lines)
    ordered = [(page, line) for page in pages for line in page.items]
    for index, (page, line) in enumerate(ordered):
        before = ordered[index - 1][1] if index else None
        after = ordered[index + 1][1] if index + 1 < len(ordered) else None
        found[line.uid] = Place(page.number, page.label, before, after)
    return found


@dataclass(frozen=True)
class Month:
    """One month of the issue calendar: weeks from Monday, each day 0 (outside the month) or its
    number, with whether an issue of that day exists."""

    year: int
    month: int
    weeks: tuple[tuple[tuple[int, bool], ...], ...]
    issues: tuple[date, ...]  # its issues, newest first


def months(days: Sequence[date]) -> tuple[Month, ...]:
    """The calendar of ``days`` (issue dates, any order), newest month first."""
    have = set(days)
    shown = []
    for (year, month), group in groupby(sorted(have, reverse=True), key=lambda d: (d.year, d.month)):
        weeks = tuple(
            tuple((n, n != 0 and date(year, month, n) in have) for n in week)
            for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month)
        )
        shown.append(Month(year, month, weeks, tuple(group)))
    return tuple(shown)


def neighbours(days: Sequence[date], day: date) -> tuple[date | None, date | None]:
    """The issues before and after ``day`` among ``days`` (sorted oldest first)."""
    left = bisect.bisect_left(days, day)
    right = bisect.bisect_right(days, day)
    return (days[left - 1] if left else None), (days[right] if right < len(days) else None)
