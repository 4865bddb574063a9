"""The HTML site: front page, section pages, article pages, digest pages.  Pure apart from reading templates.

Each template receives exactly one variable, ``page``: a frozen dataclass
documented below, so what a template may use is declared in one place
(tests check no template reaches for anything else).  Jinja2 runs with
autoescape and StrictUndefined: hostile article text stays inert and a typo
in a template fails the build instead of printing nothing.

Every link is relative (``page.chrome.root`` leads back to the site root), so
the site works behind any base URL or path prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest.config import Config
from digest.publish.feeds import ATOM, JSON_FEED, FeedSpec, all_spec, digests_spec, section_spec
from digest.publish.layout import (
    ATOM_TYPE,
    DIGESTS_INDEX,
    FAVICON,
    FEEDS_PAGE,
    GONE_SUFFIX,
    ICON,
    INDEX,
    JSON_FEED_TYPE,
    OPML,
    OPML_SECTIONS,
    STYLESHEET,
    STYLESHEET_FEED,
    SUBSCRIBE,
    TOUCH_ICON,
    Story,
    absolute_url,
    digest_path,
    feed_path,
    one_line,
    present,
    root_prefix,
    section_path,
)
from digest.types import Digest, Section


def _templates_folder() -> Path:
    """The top-level ``templates/`` folder: beside the package in a checkout (and an editable
    install), inside it in an installed wheel, where pyproject.toml ships it as ``digest/templates``."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


TEMPLATES = _templates_folder()
# Articles listed on a section page; the section feed's archive holds the rest.
SECTION_PAGE_SIZE = 100

# A square icon for feed readers (RFC 4287 atom:icon); drawn, not lettered, so it needs no font.
ICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    b'<rect width="64" height="64" rx="10" fill="#8b1a1a"/>'
    b'<rect x="14" y="14" width="36" height="6" fill="#fff"/>'
    b'<rect x="14" y="26" width="16" height="24" fill="#fff"/>'
    b'<rect x="34" y="26" width="16" height="4" fill="#fff"/>'
    b'<rect x="34" y="36" width="16" height="4" fill="#fff"/>'
    b'<rect x="34" y="46" width="16" height="4" fill="#fff"/>'
    b"</svg>\n"
)


@dataclass(frozen=True)
class Link:
    """A labelled link, ``href`` already relative to the page holding it."""

    label: str
    href: str


@dataclass(frozen=True)
class Frame:
    """What the chrome of a page is drawn from (the macros of ``_chrome.html``)."""

    site_title: str
    root: str
    nav: tuple[Link, ...]
    current: int  # the page's own entry in ``nav`` (marked aria-current), -1 for none
    feeds: tuple[Link, ...]  # <link rel="alternate" type="application/atom+xml">
    json_feeds: tuple[Link, ...] = ()  # the same feeds as JSON Feed (application/feed+json)


@dataclass(frozen=True)
class Chrome:
    """What every page shares: titles, the way back to the root, and the drawn head links,
    masthead (navigation) and colophon (feeds); make it with ``make_chrome``."""

    site_title: str
    page_title: str
    root: str
    head: Markup
    masthead: Markup
    colophon: Markup


def make_chrome(
    site_title: str,
    title: str,
    root: str,
    nav: tuple[Link, ...],
    feeds: tuple[Link, ...],
    json_feeds: tuple[Link, ...] = (),
) -> Chrome:
    """The chrome of a page titled ``title`` ("" for the front page) at ``root`` from the site root.

    Thousands of article pages share a handful of navigation and feed sets,
    so each set is drawn once and the pages share the HTML: drawing the
    navigation per page was a third of a full build.
    """
    page_title = f"{title} · {site_title}" if title else site_title
    # The front page's own entry is the first; any other page's is the one its title names.
    current = next((i for i, link in enumerate(nav) if link.label == title), -1) if title else 0
    head, masthead, colophon = _draw(Frame(site_title, root, nav, current, feeds, json_feeds))
    return Chrome(site_title, page_title, root, head, masthead, colophon)


@lru_cache(maxsize=1024)
def _draw(frame: Frame) -> tuple[Markup, Markup, Markup]:
    macros = environment().get_template("_chrome.html").module
    return Markup(macros.head(frame)), Markup(macros.masthead(frame)), Markup(macros.colophon(frame))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SectionGroup:
    """One section's stories in paper order; ``href`` leads to the section page."""

    section: Section
    href: str
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class DayGroup:
    """One issue's stories of a section, in paper order."""

    day: date
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class IndexPage:
    """``index.html``: the latest issue (``None`` before anything was published)."""

    chrome: Chrome
    issue_date: date | None
    groups: tuple[SectionGroup, ...]


@dataclass(frozen=True)
class SectionPage:
    """``sections/<slug>.html``: a section's newest articles, newest issue first.

    ``older`` leads to the section's feed, whose archive holds every older
    article ("" when the page shows them all): a page listing every article
    ever would grow without end and be rewritten on every new one.
    """

    chrome: Chrome
    section: Section
    days: tuple[DayGroup, ...]
    older: str
    feed: str  # the section's Atom feed, for the "订阅本版" button


@dataclass(frozen=True)
class ArticlePage:
    """``articles/<date>/<uid>.html``: one article in full."""

    chrome: Chrome
    story: Story
    section_href: str


@dataclass(frozen=True)
class DigestPage:
    """``digests/<date>.html``: one day's digest, grouped by section."""

    chrome: Chrome
    day: date
    count: int
    groups: tuple[SectionGroup, ...]


@dataclass(frozen=True)
class DigestLink:
    """One digest in the list: its day, how many articles it holds, and its page."""

    day: date
    count: int
    href: str


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


def cn_date(day: date) -> str:
    """``2024年11月27日``."""
    return f"{day.year}年{day.month}月{day.day}日"


@cache
def environment() -> Environment:
    """The Jinja2 environment over the repository's ``templates/`` folder."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates change only with a new release (and a new release rebuilds everything); checking
        # their mtimes on every page was a stat per page.
        auto_reload=False,
    )
    env.filters["cn_date"] = cn_date
    # The feeds' media types, from the one place that knows them (``<link rel="alternate">``).
    env.globals.update(atom_type=ATOM_TYPE, json_feed_type=JSON_FEED_TYPE)
    return env


def render(template: str, page: Any) -> bytes:
    """One page's HTML as UTF-8 bytes; ``page`` is the template's context dataclass."""
    return environment().get_template(template).render(page=page).encode("utf-8")


def _by_section(stories: Sequence[Story]) -> list[tuple[Section, list[Story]]]:
    """Stories grouped by section slug, sections in order of first appearance, stories kept in order."""
    groups: dict[str, tuple[Section, list[Story]]] = {}
    for story in stories:
        groups.setdefault(story.section.slug, (story.section, []))[1].append(story)
    return list(groups.values())


class Site:
    """Renders each page of the site; every method returns ``(path, bytes)``.

    ``sections`` (navigation order) appear on every page, so a new section
    means a full rebuild; otherwise each page can be rendered on its own.
    """

    def __init__(self, config: Config, sections: Sequence[Section]) -> None:
        self.config = config
        self.site_title = one_line(config.site.title)
        self.sections = tuple(sections)
        # Every article page of a folder shares its navigation and nearly its feed links: built once.
        self._navs: dict[str, tuple[Link, ...]] = {}
        # Atom and JSON Feed links of each feed set, by folder.
        self._feeds: dict[tuple[str, tuple[FeedSpec, ...]], tuple[tuple[Link, ...], ...]] = {}

    def chrome(self, path: str, title: str, feeds: Sequence[FeedSpec]) -> Chrome:
        """What ``path`` shares with every page; ``feeds`` are announced besides the all-articles feed."""
        root = root_prefix(path)
        nav = self._navs.get(root)
        if nav is None:
            nav = self._navs[root] = (
                Link("首页", root + INDEX),
                *(Link(one_line(s.name), root + section_path(s)) for s in self.sections),
                Link("每日摘要", root + DIGESTS_INDEX),
                Link("订阅", root + FEEDS_PAGE),
            )
        key = (root, tuple(feeds))
        links = self._feeds.get(key)
        if links is None:
            specs = dict.fromkeys((all_spec(self.config), *feeds))
            links = self._feeds[key] = tuple(
                tuple(Link(spec.title, root + fmt.feed_path(spec.name)) for spec in specs)
                for fmt in (ATOM, JSON_FEED)
            )
        atom, json_feed = links
        return make_chrome(self.site_title, title, root, nav, atom, json_feed)

    def group(self, path: str, section: Section, stories: Sequence[Story]) -> SectionGroup:
        """One section's stories as shown on the page at ``path``."""
        clean = Section(one_line(section.name), section.slug)
        return SectionGroup(clean, root_prefix(path) + section_path(section), tuple(stories))

    def static(self) -> dict[str, bytes]:
        """The stylesheets (pages, feeds) and the icons."""
        static = TEMPLATES / "static"
        return {
            STYLESHEET: (static / "style.css").read_bytes(),
            STYLESHEET_FEED: (static / "feed.css").read_bytes(),
            ICON: ICON_SVG,
            # PNG drawings of ICON_SVG, made once and committed (tests/icons.py draws and checks them).
            FAVICON: (static / "favicon.ico").read_bytes(),
            TOUCH_ICON: (static / "apple-touch-icon.png").read_bytes(),
        }

    def index(self, issue: Sequence[Story]) -> tuple[str, bytes]:
        """The front page: ``issue`` holds the stories of the latest issue, in any order."""
        latest = max((s.issue_date for s in issue), default=None)
        ordered = sorted(issue, key=lambda s: (s.position, s.uid))
        page = IndexPage(
            chrome=self.chrome(INDEX, "", [digests_spec(self.config)]),
            issue_date=latest,
            groups=tuple(self.group(INDEX, sec, group) for sec, group in _by_section(ordered)),
        )
        return INDEX, render("index.html", page)

    def section(self, section: Section, newest: Sequence[Story]) -> tuple[str, bytes]:
        """A section page: its newest ``SECTION_PAGE_SIZE`` stories (``newest`` may hold one more,
        which only tells that older ones exist), newest issue first."""
        path = section_path(section)
        spec = section_spec(self.config, section)
        section = Section(one_line(section.name), section.slug)
        mine = sorted(newest, key=lambda s: (-s.issue_date.toordinal(), s.position, s.uid))
        shown = mine[:SECTION_PAGE_SIZE]
        days = tuple(DayGroup(day, tuple(group)) for day, group in groupby(shown, key=lambda s: s.issue_date))
        feed = root_prefix(path) + feed_path(spec.name)
        older = feed if len(mine) > SECTION_PAGE_SIZE else ""
        chrome = self.chrome(path, one_line(section.name), [spec])
        return path, render("section.html", SectionPage(chrome, section, days, older, feed))

    def article(self, story: Story) -> tuple[str, bytes]:
        """One article page."""
        chrome = self.chrome(story.path, story.headline, [section_spec(self.config, story.section)])
        section_href = root_prefix(story.path) + section_path(story.section)
        return story.path, render("article.html", ArticlePage(chrome, story, section_href))

    def gone(self, story: Story) -> tuple[str, bytes]:
        """The notice a withdrawn article's URL answers with, under 410 Gone (``output.gone_path``)."""
        chrome = self.chrome(story.path, story.headline, [section_spec(self.config, story.section)])
        section_href = root_prefix(story.path) + section_path(story.section)
        return story.path + GONE_SUFFIX, render("gone.html", ArticlePage(chrome, story, section_href))

    def digest(self, digest: Digest) -> tuple[str, bytes]:
        """The page of one day's digest."""
        path = digest_path(digest.day)
        tz = self.config.tz
        groups = tuple(
            self.group(path, sec, [present(e, tz) for e in entries]) for sec, entries in digest.groups
        )
        chrome = self.chrome(path, f"{cn_date(digest.day)}摘要", [digests_spec(self.config)])
        return path, render("digest.html", DigestPage(chrome, digest.day, digest.count, groups))

    def digests(self, made: Sequence[tuple[date, int]]) -> tuple[str, bytes]:
        """The list of digests: ``made`` holds (day, article count) of each, in any order."""
        root = root_prefix(DIGESTS_INDEX)
        links = tuple(
            DigestLink(day, count, root + digest_path(day)) for day, count in sorted(made, reverse=True)
        )
        chrome = self.chrome(DIGESTS_INDEX, "每日摘要", [digests_spec(self.config)])
        return DIGESTS_INDEX, render("digests.html", DigestsPage(chrome, links))

    def subscribe(self) -> tuple[str, bytes]:
        """The sign-up page, listing every feed."""
        config = self.config
        specs = [all_spec(config), *(section_spec(config, s) for s in self.sections), digests_spec(config)]
        feed_links = tuple(Link(spec.title, feed_path(spec.name)) for spec in specs)
        chrome = self.chrome(SUBSCRIBE, "订阅", [digests_spec(config)])
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
            chrome=self.chrome(FEEDS_PAGE, "订阅", [digests_spec(config)]),
            main=(choice(all_spec(config), "全部文章"), choice(digests_spec(config), "每日摘要")),
            sections=tuple(choice(section_spec(config, s), one_line(s.name)) for s in self.sections),
            opml=root + OPML,
            opml_sections=root + OPML_SECTIONS,
            subscribe=root + SUBSCRIBE,
        )
        return FEEDS_PAGE, render("feeds.html", page)
