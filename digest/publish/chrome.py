"""What every page shares: the drawn head links, masthead (navigation) and colophon (feeds),
and the share tags a link shows when it is passed around."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from digest.language import DEFAULT_LANGUAGE, fixed_words, og_locale
from digest.publish.layout import DIGESTS_INDEX, FEEDS_PAGE, INDEX, ISSUES_INDEX, one_line, section_path
from digest.publish.templates import environment
from digest.types import Section

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
    language: str = DEFAULT_LANGUAGE  # site.language: the macros' own words are written its way


def site_nav(
    root: str, sections: Sequence[Section] = (), language: str = DEFAULT_LANGUAGE
) -> tuple[Link, ...]:
    """The navigation of every page, ``root`` being the way back to the site root: the front page,
    each section, back issues, the digests, and how to follow the site; the fixed labels written as
    ``language`` writes them, the sections' names as printed.

    Every page, the subscription forms included, draws its masthead from here, so a label or a
    target changes for all of them at once; 订阅 leads to ``FEEDS_PAGE``, which offers the email
    sign-up beside the feeds.
    """
    return (
        Link(fixed_words("首页", language), root + INDEX),
        *(Link(one_line(s.name), root + section_path(s)) for s in sections),
        Link(fixed_words("往期", language), root + ISSUES_INDEX),
        Link(fixed_words("每日摘要", language), root + DIGESTS_INDEX),
        Link(fixed_words("订阅", language), root + FEEDS_PAGE),
    )


# No share tags (the subscription pages: one-time links nobody should share).
NO_TAGS = Markup("")


@dataclass(frozen=True)
class Chrome:
    """What every page shares: titles, the way back to the root, and the drawn head links,
    masthead (navigation) and colophon (feeds); make it with ``make_chrome``.

    ``share`` holds the meta description, the canonical link and the Open
    Graph / Twitter card a shared link shows (``share_tags``).
    """

    site_title: str
    page_title: str
    root: str
    head: Markup
    masthead: Markup
    colophon: Markup
    share: Markup = NO_TAGS
    language: str = DEFAULT_LANGUAGE  # site.language: what the page declares and its words are written in


def make_chrome(
    site_title: str,
    title: str,
    root: str,
    nav: tuple[Link, ...],
    feeds: tuple[Link, ...],
    json_feeds: tuple[Link, ...] = (),
    share: Markup = NO_TAGS,
    language: str = DEFAULT_LANGUAGE,
) -> Chrome:
    """The chrome of a page titled ``title`` ("" for the front page) at ``root`` from the site root.

    Thousands of article pages share a handful of navigation and feed sets,
    so each set is drawn once and the pages share the HTML: drawing the
    navigation per page was a third of a full build.
    """
    page_title = f"{title} · {site_title}" if title else site_title
    # The front page's own entry is the first; any other page's is the one its title names.
    current = next((i for i, link in enumerate(nav) if link.label == title), -1) if title else 0
    head, masthead, colophon = _draw(Frame(site_title, root, nav, current, feeds, json_feeds, language))
    return Chrome(site_title, page_title, root, head, masthead, colophon, share, language)


def share_tags(
    site_title: str,
    page_title: str,
    description: str,
    canonical: str,
    og_type: str,
    language: str = DEFAULT_LANGUAGE,
) -> Markup:
    """The meta description, canonical link and Open Graph / Twitter card of a page ("" leaves the
    description or the URL out).  Drawn here, each value escaped once, rather than by the template:
    every article page has them, and escaping each twice there was a tenth of a full build."""
    title, text, url = escape(page_title), escape(description), escape(canonical)
    tags = []
    if description:
        tags.append(f'<meta name="description" content="{text}">')
    if canonical:
        tags.append(f'<link rel="canonical" href="{url}">\n<meta property="og:url" content="{url}">')
    tags.append(
        f'<meta property="og:type" content="{og_type}">\n'
        f'<meta property="og:site_name" content="{escape(site_title)}">\n'
        f'<meta property="og:title" content="{title}">'
    )
    if description:
        tags.append(f'<meta property="og:description" content="{text}">')
    locale = og_locale(language)
    tags.append(
        f'<meta property="og:locale" content="{locale}">\n<meta name="twitter:card" content="summary">'
    )
    return Markup("\n".join(tags))


@lru_cache(maxsize=1024)
def _draw(frame: Frame) -> tuple[Markup, Markup, Markup]:
    macros = environment(frame.language).get_template("_chrome.html").module
    return Markup(macros.head(frame)), Markup(macros.masthead(frame)), Markup(macros.colophon(frame))  # type: ignore[attr-defined]
