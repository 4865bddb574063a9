"""What each site template receives as ``page``: plain values, so the templates hold no logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from digest.publish.chrome import Chrome, Link
from digest.publish.layout import (
    Line,
    Story,
)
from digest.types import Section


@dataclass(frozen=True)
class SectionGroup:
    """One section's stories in paper order; ``href`` leads to the section page."""

    section: Section
    href: str
    stories: tuple[Story, ...]

    @property
    def title(self) -> str:
        """The group's heading."""
        return self.section.name


@dataclass(frozen=True)
class PageGroup:
    """One printed page's stories on the front page (``title`` ``第1版 要闻``, ``href`` into the issue)."""

    title: str
    href: str
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class IssueSection:
    """One printed page of an issue page: its label, anchor (``p3``) and articles in paper order."""

    label: str
    anchor: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class DayGroup:
    """One issue's stories of a section, in paper order."""

    day: date
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class DigestLink:
    """One digest (or issue) in a list: its day, how many articles it holds, and its page."""

    day: date
    count: int
    href: str


@dataclass(frozen=True)
class IndexPage:
    """``index.html``: the latest issue page by page (``issue_date`` ``None`` before anything was
    published), led by the ways in that must show on a phone without scrolling: the latest digest
    (``None`` before the first), the sign-up page and the back issues."""

    chrome: Chrome
    issue_date: date | None
    issue_href: str
    groups: tuple[PageGroup, ...]
    digest: DigestLink | None
    subscribe_href: str
    issues_href: str


@dataclass(frozen=True)
class IssuePage:
    """``issues/<date>/index.html``: one issue in paper order, page by page, with the issues
    before and after it (``None`` at either end)."""

    chrome: Chrome
    day: date
    count: int
    pages: tuple[IssueSection, ...]
    previous: Link | None
    next: Link | None
    issues_href: str


@dataclass(frozen=True)
class CalendarDay:
    """One cell of a month grid: the day's number (0 outside the month), its issue page ("" when
    there is no issue that day) and how many articles the issue holds."""

    day: int
    href: str
    count: int


@dataclass(frozen=True)
class CalendarMonth:
    """One month of the issue list: ``2024年11月``, its weeks from Monday, and its issues."""

    title: str
    anchor: str
    weeks: tuple[tuple[CalendarDay, ...], ...]
    issues: tuple[DigestLink, ...]


@dataclass(frozen=True)
class IssuesPage:
    """``issues/index.html``: every issue by month, newest first, each month as a calendar."""

    chrome: Chrome
    months: tuple[CalendarMonth, ...]
    count: int


@dataclass(frozen=True)
class NotFoundPage:
    """``404.html``: what any unknown URL answers, with the ways back into the site.

    Another page (search) will add its box here: the template keeps a ``search`` block for it.
    """

    chrome: Chrome
    index_href: str
    issues_href: str


@dataclass(frozen=True)
class SectionPage:
    """``sections/<slug>.html``: a section's newest articles, newest issue first.

    ``older`` leads to the back issues, whose pages list every older
    article ("" when the page shows them all), and ``older_feed`` to the
    section's feed archive: a page listing every article ever would grow
    without end and be rewritten on every new one.
    """

    chrome: Chrome
    section: Section
    days: tuple[DayGroup, ...]
    older: str
    older_feed: str
    feed: str  # the section's Atom feed, for the "订阅本版" button


@dataclass(frozen=True)
class ArticlePage:
    """``articles/<date>/<uid>.html``: one article in full, with its issue and page and the
    articles read before and after it in the issue (``None`` at either end).

    ``kicker``, ``standfirst`` and ``body`` are the article's text drawn as its feed entry draws
    it (``publish.markup``); the page adds the headline, the dateline and the links around them.
    """

    chrome: Chrome
    story: Story
    kicker: Markup
    standfirst: Markup
    body: Markup
    section_href: str
    issue_href: str
    page_href: str
    page_label: str  # ``第3版``; "" when the page number is unknown
    previous: Link | None
    next: Link | None


@dataclass(frozen=True)
class DigestPage:
    """``digests/<date>.html``: one day's digest, grouped by section."""

    chrome: Chrome
    day: date
    count: int
    groups: tuple[SectionGroup, ...]


@dataclass(frozen=True)
class DigestsPage:
    """``digests/index.html``: every digest, newest first."""

    chrome: Chrome
    digests: tuple[DigestLink, ...]


@dataclass(frozen=True)
class SubscribePage:
    """``subscribe.html``: the email sign-up form (``action`` relative to the page) and every feed."""

    chrome: Chrome
    action: str
    feeds: tuple[Link, ...]


@dataclass(frozen=True)
class FeedChoice:
    """One feed offered on the feeds page: what it holds, its links, and its address to copy."""

    label: str
    href: str  # the Atom feed, relative to the page
    json_href: str  # its JSON Feed twin, relative
    url: str  # the Atom feed's absolute address, which a reader pastes
    field: str  # the id of the address field (for its label)


@dataclass(frozen=True)
class FeedsPage:
    """``feeds/index.html``: how to follow the site, with each feed's address to copy.

    ``main`` holds the all-articles and digest feeds, ``sections`` one per
    section; the OPML links and the email sign-up page are relative.
    """

    chrome: Chrome
    main: tuple[FeedChoice, ...]
    sections: tuple[FeedChoice, ...]
    opml: str
    opml_sections: str
    subscribe: str


@dataclass(frozen=True)
class MovedPage:
    """``articles/<date>/<uid>.html`` of an article merged into another by a re-read of its page
    (``publish.moved``): a refresh and a link to ``successor``, whose page ``href`` is (relative)."""

    chrome: Chrome
    story: Story
    successor: Story
    href: str
    section_href: str
    refresh: Markup  # the ``<meta http-equiv="refresh">`` leading to ``href`` (``moved.refresh_tag``)
