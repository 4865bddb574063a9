"""The HTML site: front page, issue pages, section pages, article pages, digest pages, the 404 page.
Pure apart from reading templates.

Each template receives exactly one variable, ``page``: a frozen dataclass
documented below, so what a template may use is declared in one place
(tests check no template reaches for anything else).  Jinja2 runs with
autoescape and StrictUndefined: hostile article text stays inert and a typo
in a template fails the build instead of printing nothing.

Every link is relative (``page.chrome.root`` leads back to the site root), so
the site works behind any base URL or path prefix; the 404 page alone, served
for any path, links from the base URL's path (``/`` or ``/prefix/``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from functools import partial
from itertools import groupby
from urllib.parse import urlsplit

from markupsafe import Markup

from digest.config import Config
from digest.language import fixed_source, fixed_words
from digest.publish.chrome import ICON_SVG, Chrome, Link, make_chrome, share_tags, site_nav
from digest.publish.feeds import ATOM, JSON_FEED
from digest.publish.issues import Place, months, neighbours, paper_pages
from digest.publish.items import FeedSpec, all_spec, digests_spec, section_spec
from digest.publish.layout import (
    DIGESTS_INDEX,
    FAVICON,
    FEEDS_PAGE,
    GONE_SUFFIX,
    ICON,
    INDEX,
    ISSUES_INDEX,
    NOT_FOUND,
    OPML,
    OPML_SECTIONS,
    STYLESHEET,
    STYLESHEET_FEED,
    SUBSCRIBE,
    TOUCH_ICON,
    Line,
    Story,
    absolute_url,
    digest_path,
    feed_path,
    issue_path,
    one_line,
    page_anchor,
    present,
    root_prefix,
    section_path,
)
from digest.publish.markup import body_html, kicker_html, standfirst_html
from digest.publish.moved import refresh_tag
from digest.publish.pages import (
    ArticlePage,
    CalendarDay,
    CalendarMonth,
    DayGroup,
    DigestLink,
    DigestPage,
    DigestsPage,
    FeedChoice,
    FeedsPage,
    IndexPage,
    IssuePage,
    IssueSection,
    IssuesPage,
    MovedPage,
    NotFoundPage,
    PageGroup,
    SectionGroup,
    SectionPage,
    SubscribePage,
)
from digest.publish.templates import TEMPLATES, cn_date, render
from digest.types import Digest, Section

# Articles listed on a section page; the section feed's archive holds the rest.
SECTION_PAGE_SIZE = 100
CSS = ("style.css", "feed.css")  # templates/static's stylesheets: they name fonts


def _folder_url(path: str) -> str:
    """The URL a page is known by: a folder's ``index.html`` by the folder (``issues/2024-11-27/``)."""
    return path.removesuffix(INDEX) if path == INDEX or path.endswith("/" + INDEX) else path


def _line_link(root: str, line: Line | None) -> Link | None:
    return Link(line.headline, root + line.path) if line else None


class Site:
    """Renders each page of the site; every method returns ``(path, bytes)``.

    ``sections`` (navigation order) appear on every page, so a new section
    means a full rebuild; otherwise each page can be rendered on its own.
    """

    def __init__(self, config: Config, sections: Sequence[Section]) -> None:
        self.config = config
        self.site_title = one_line(config.site.title)
        self.language = config.site.language
        # The site's own fixed words (never a paper's text) as site.language writes them.
        self.words = partial(fixed_words, tag=self.language)
        self.sections = tuple(sections)
        # Every article page of a folder shares its navigation and nearly its feed links: built once.
        self._navs: dict[str, tuple[Link, ...]] = {}
        # Atom and JSON Feed links of each feed set, by folder.
        self._feeds: dict[tuple[str, tuple[FeedSpec, ...]], tuple[tuple[Link, ...], ...]] = {}

    def chrome(
        self,
        path: str,
        title: str,
        feeds: Sequence[FeedSpec],
        description: str = "",
        og_type: str = "website",
        absolute_root: str = "",
    ) -> Chrome:
        """What ``path`` shares with every page; ``feeds`` are announced besides the all-articles feed.

        ``absolute_root`` replaces the relative way back to the site root: the 404 page's, from
        the base URL's path; that page stands for no one URL, so it has no canonical link.
        """
        root = absolute_root or root_prefix(path)
        nav = self._navs.get(root)
        if nav is None:
            nav = self._navs[root] = site_nav(root, self.sections, self.language)
        key = (root, tuple(feeds))
        links = self._feeds.get(key)
        if links is None:
            specs = dict.fromkeys((all_spec(self.config), *feeds))
            links = self._feeds[key] = tuple(
                tuple(Link(spec.title, root + fmt.feed_path(spec.name)) for spec in specs)
                for fmt in (ATOM, JSON_FEED)
            )
        atom, json_feed = links
        canonical = "" if absolute_root else absolute_url(self.config.site.base_url, _folder_url(path))
        page_title = f"{title} · {self.site_title}" if title else self.site_title
        share = share_tags(self.site_title, page_title, description, canonical, og_type, self.language)
        return make_chrome(self.site_title, title, root, nav, atom, json_feed, share, self.language)

    def group(self, path: str, section: Section, stories: Sequence[Story]) -> SectionGroup:
        """One section's stories as shown on the page at ``path``."""
        clean = Section(one_line(section.name), section.slug)
        return SectionGroup(clean, root_prefix(path) + section_path(section), tuple(stories))

    def static(self) -> dict[str, bytes]:
        """The stylesheets (pages, feeds), their fonts and words those of ``site.language``, and the icons."""
        static = TEMPLATES / "static"
        css = {name: fixed_source((static / name).read_text("utf-8"), self.language).encode() for name in CSS}
        return {
            STYLESHEET: css["style.css"],
            STYLESHEET_FEED: css["feed.css"],
            ICON: ICON_SVG,
            # PNG drawings of ICON_SVG, made once and committed (tests/icons.py draws and checks them).
            FAVICON: (static / "favicon.ico").read_bytes(),
            TOUCH_ICON: (static / "apple-touch-icon.png").read_bytes(),
        }

    def index(self, issue: Sequence[Story], digest: tuple[date, int] | None = None) -> tuple[str, bytes]:
        """The front page: ``issue`` holds the stories of the latest issue, in any order, shown
        page by page; ``digest`` is the (day, article count) of the latest digest, if any."""
        latest = max((s.issue_date for s in issue), default=None)
        issue_href = issue_path(latest) if latest else ISSUES_INDEX
        groups = tuple(
            PageGroup(page.label, f"{issue_href}#{page_anchor(page.number)}", page.items)
            for page in paper_pages(issue)
        )
        lead = groups[0].stories[0] if groups else None
        page = IndexPage(
            chrome=self.chrome(
                INDEX,
                "",
                [digests_spec(self.config)],
                lead.summary if lead else one_line(self.config.site.subtitle),
            ),
            issue_date=latest,
            issue_href=issue_href,
            groups=groups,
            digest=DigestLink(digest[0], digest[1], digest_path(digest[0])) if digest else None,
            subscribe_href=SUBSCRIBE,
            issues_href=ISSUES_INDEX,
        )
        return INDEX, render("index.html", page)

    def issue(self, day: date, lines: Sequence[Line], days: Sequence[date]) -> tuple[str, bytes]:
        """The page of the issue of ``day``: ``lines`` are its articles in any order, ``days`` every
        issue date, oldest first (for the links to the issues before and after it)."""
        path = issue_path(day)
        root = root_prefix(path)
        before, after = neighbours(days, day)
        pages = tuple(
            IssueSection(page.label, page_anchor(page.number), page.items) for page in paper_pages(lines)
        )
        description = "；".join(p.label for p in pages)
        page = IssuePage(
            chrome=self.chrome(
                path, cn_date(day), [], self.words(f"{cn_date(day)}，共 {len(lines)} 篇：") + description
            ),
            day=day,
            count=len(lines),
            pages=pages,
            previous=Link(cn_date(before), root + issue_path(before)) if before else None,
            next=Link(cn_date(after), root + issue_path(after)) if after else None,
            issues_href=root + ISSUES_INDEX,
        )
        return path, render("issue.html", page)

    def issues(self, counts: Sequence[tuple[date, int]]) -> tuple[str, bytes]:
        """The list of back issues: ``counts`` holds (issue date, article count) of each, any order."""
        root = root_prefix(ISSUES_INDEX)
        count_of = dict(counts)

        def href(day: date) -> str:
            return root + issue_path(day)

        def cell(day: date) -> CalendarDay:
            return CalendarDay(day.day, href(day), count_of[day])

        shown = tuple(
            CalendarMonth(
                title=f"{month.year}年{month.month}月",
                anchor=f"m{month.year}-{month.month:02d}",
                weeks=tuple(
                    tuple(
                        cell(date(month.year, month.month, n)) if has else CalendarDay(n, "", 0)
                        for n, has in week
                    )
                    for week in month.weeks
                ),
                issues=tuple(DigestLink(d, count_of[d], href(d)) for d in month.issues),
            )
            for month in months(list(count_of))
        )
        chrome = self.chrome(
            ISSUES_INDEX, self.words("往期"), [], self.words(f"{len(count_of)} 期报纸，按月份排列。")
        )
        return ISSUES_INDEX, render("issues.html", IssuesPage(chrome, shown, len(count_of)))

    def section(self, section: Section, newest: Sequence[Story]) -> tuple[str, bytes]:
        """A section page: its newest ``SECTION_PAGE_SIZE`` stories (``newest`` may hold one more,
        which only tells that older ones exist), newest issue first."""
        path = section_path(section)
        spec = section_spec(self.config, section)
        section = Section(one_line(section.name), section.slug)
        mine = sorted(newest, key=lambda s: (-s.issue_date.toordinal(), s.position, s.uid))
        shown = mine[:SECTION_PAGE_SIZE]
        days = tuple(DayGroup(day, tuple(group)) for day, group in groupby(shown, key=lambda s: s.issue_date))
        more = len(mine) > SECTION_PAGE_SIZE
        older = root_prefix(path) + ISSUES_INDEX if more else ""
        feed = root_prefix(path) + feed_path(spec.name)
        older_feed = feed if more else ""
        chrome = self.chrome(
            path,
            one_line(section.name),
            [spec],
            self.words("{}「{}」版块的文章。").format(self.site_title, section.name),
        )
        page = SectionPage(chrome, section, days, older, older_feed, feed)
        return path, render("section.html", page)

    def article(self, story: Story, place: Place | None = None) -> tuple[str, bytes]:
        """One article page; ``place`` tells its page and neighbours in the issue (``issues.places``)."""
        root = root_prefix(story.path)
        chrome = self.chrome(
            story.path, story.headline, [section_spec(self.config, story.section)], story.summary, "article"
        )
        issue_href = root + issue_path(story.issue_date)
        number = place.page if place else 0
        page = ArticlePage(
            chrome=chrome,
            story=story,
            kicker=Markup(kicker_html(story)),
            standfirst=Markup(standfirst_html(story)),
            body=Markup(body_html(story)),
            section_href=root + section_path(story.section),
            issue_href=issue_href,
            page_href=f"{issue_href}#{page_anchor(number)}",
            page_label=self.words(f"第{number}版") if number else "",
            previous=_line_link(root, place.previous) if place else None,
            next=_line_link(root, place.next) if place else None,
        )
        return story.path, render("article.html", page)

    def gone(self, story: Story) -> tuple[str, bytes]:
        """The notice a withdrawn article's URL answers with, under 410 Gone (``output.gone_path``)."""
        chrome = self.chrome(story.path, story.headline, [section_spec(self.config, story.section)])
        return story.path + GONE_SUFFIX, render("gone.html", self._plain(story, chrome))

    def moved(self, story: Story, successor: Story) -> tuple[str, bytes]:
        """The page of an article a re-read merged into ``successor``: it leads there (``publish.moved``)."""
        root = root_prefix(story.path)
        chrome = self.chrome(story.path, story.headline, [section_spec(self.config, story.section)])
        # Shared or indexed, the page stands for the article that holds its text now.
        canonical = absolute_url(self.config.site.base_url, successor.path)
        share = share_tags(self.site_title, chrome.page_title, "", canonical, "website", self.language)
        page = MovedPage(
            dataclasses.replace(chrome, share=share),
            story,
            successor,
            root + successor.path,
            root + section_path(successor.section),
            refresh_tag(root + successor.path),
        )
        return story.path, render("moved.html", page)

    def digest(self, digest: Digest) -> tuple[str, bytes]:
        """The page of one day's digest."""
        path = digest_path(digest.day)
        tz = self.config.tz
        groups = tuple(
            self.group(path, sec, [present(e, tz) for e in entries]) for sec, entries in digest.groups
        )
        chrome = self.chrome(
            path,
            self.words(f"{cn_date(digest.day)}摘要"),
            [digests_spec(self.config)],
            self.words(f"{cn_date(digest.day)}摘要：共 {digest.count} 篇新文章。"),
        )
        return path, render("digest.html", DigestPage(chrome, digest.day, digest.count, groups))

    def digests(self, made: Sequence[tuple[date, int]]) -> tuple[str, bytes]:
        """The list of digests: ``made`` holds (day, article count) of each, in any order."""
        root = root_prefix(DIGESTS_INDEX)
        links = tuple(
            DigestLink(day, count, root + digest_path(day)) for day, count in sorted(made, reverse=True)
        )
        chrome = self.chrome(
            DIGESTS_INDEX,
            self.words("每日摘要"),
            [digests_spec(self.config)],
            self.words("每天的新文章，按版块汇总。"),
        )
        return DIGESTS_INDEX, render("digests.html", DigestsPage(chrome, links))

    def _plain(self, story: Story, chrome: Chrome) -> ArticlePage:
        """An article page's context without its place in the issue (the withdrawal notice)."""
        root = root_prefix(story.path)
        issue_href = root + issue_path(story.issue_date)
        links = (root + section_path(story.section), issue_href, issue_href)  # section, issue, page in it
        blank = Markup()  # the notice shows none of the text
        return ArticlePage(chrome, story, blank, blank, blank, *links, story.section.name, None, None)

    def not_found(self) -> tuple[str, bytes]:
        """The 404 page, served for any path: its links start at the base URL's path."""
        root = urlsplit(self.config.site.base_url).path.rstrip("/") + "/"
        chrome = self.chrome(NOT_FOUND, self.words("找不到这个页面"), [], absolute_root=root)
        page = NotFoundPage(chrome, root + INDEX, root + ISSUES_INDEX)
        return NOT_FOUND, render("404.html", page)

    def subscribe(self) -> tuple[str, bytes]:
        """The sign-up page, listing every feed."""
        config = self.config
        specs = [all_spec(config), *(section_spec(config, s) for s in self.sections), digests_spec(config)]
        feed_links = tuple(Link(spec.title, feed_path(spec.name)) for spec in specs)
        chrome = self.chrome(
            SUBSCRIBE,
            self.words("订阅"),
            [digests_spec(config)],
            self.words("每天早上用邮件收到摘要，或用阅读器订阅各版块。"),
        )
        return SUBSCRIBE, render("subscribe.html", SubscribePage(chrome, "subscribe", feed_links))

    def feeds_page(self) -> tuple[str, bytes]:
        """The page on following the site: feed readers (every feed, OPML) and email."""
        config = self.config
        root = root_prefix(FEEDS_PAGE)

        def choice(spec: FeedSpec, label: str) -> FeedChoice:
            atom = feed_path(spec.name)
            return FeedChoice(
                label=label,
                href=root + atom,
                json_href=root + JSON_FEED.feed_path(spec.name),
                url=absolute_url(config.site.base_url, atom),
                field=f"feed-{spec.name}",
            )

        page = FeedsPage(
            chrome=self.chrome(FEEDS_PAGE, self.words("订阅"), [digests_spec(config)]),
            main=(
                choice(all_spec(config), self.words("全部文章")),
                choice(digests_spec(config), self.words("每日摘要")),
            ),
            sections=tuple(choice(section_spec(config, s), one_line(s.name)) for s in self.sections),
            opml=root + OPML,
            opml_sections=root + OPML_SECTIONS,
            subscribe=root + SUBSCRIBE,
        )
        return FEEDS_PAGE, render("feeds.html", page)
