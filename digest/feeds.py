"""Atom feeds (RFC 4287) with full history (RFC 5005), and the OPML list of them.  Pure: no I/O.

Each logical feed (everything, one per section, the daily digests) is a
subscription document holding the newest ``feeds.size`` entries plus
archive documents of ``ARCHIVE_PAGE_SIZE`` entries, numbered from the oldest
so that a full page never changes again (its ETag stays valid forever); see
``Layout``.  Documents link ``prev-archive`` and ``current``.

Every timestamp comes from the data, never from the clock, so an unchanged
store yields byte-identical documents (feedgen would otherwise stamp *now*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from markupsafe import Markup, escape

from digest import __version__
from digest.config import Config
from digest.output import (
    ALL_FEED,
    DIGESTS_FEED,
    DIGESTS_INDEX,
    ICON,
    INDEX,
    Story,
    absolute_url,
    archive_path,
    clean,
    digest_path,
    feed_path,
    one_line,
    open_archive_path,
    present,
    section_path,
)
from digest.types import Digest, Section

ARCHIVE_PAGE_SIZE = 100
FH_NS = "http://purl.org/syndication/history/1.0"
AT_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
ATOM_TYPE = "application/atom+xml"
# An empty feed has no data to date it by; a wall-clock stamp would change its bytes on every build.
_NO_DATA = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedSpec:
    """One logical feed: file name, Chinese title and subtitle, and the HTML page it mirrors."""

    name: str
    title: str
    subtitle: str
    page: str


@dataclass(frozen=True)
class FeedItem:
    """One Atom entry, whether it comes from an article or a digest."""

    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    content: str  # HTML, published escaped (type="html"); CDATA would make invalid Atom
    summary: str


@dataclass(frozen=True)
class Tombstone:
    """A withdrawn entry (RFC 6721 ``at:deleted-entry``): its id, when it went, and its old page."""

    ref: str
    when: datetime
    link: str


def tombstone(story: Story, when: datetime, config: Config) -> Tombstone:
    """The tombstone of a withdrawn article."""
    return Tombstone(story.tag, when.astimezone(config.tz), absolute_url(config.site.base_url, story.path))


@dataclass(frozen=True)
class History:
    """RFC 5005 position of one document: archive flag, the previous archive page, the live feed."""

    archive: bool = False
    prev: str = ""
    current: str = ""


def all_spec(config: Config) -> FeedSpec:
    """The feed of every article."""
    title = one_line(config.site.title)
    return FeedSpec(ALL_FEED, title, one_line(config.site.subtitle) or f"{title}：全部文章", INDEX)


def section_spec(config: Config, section: Section) -> FeedSpec:
    """The feed of one section's articles."""
    site = one_line(config.site.title)
    name = one_line(section.name)
    # A section slugged "all" or "digests" must not overwrite those feeds.
    file = f"section-{section.slug}" if section.slug in (ALL_FEED, DIGESTS_FEED) else section.slug
    return FeedSpec(file, f"{site} · {name}", f"{site}「{name}」版块的文章", section_path(section))


def digests_spec(config: Config) -> FeedSpec:
    """The feed of daily digests."""
    site = one_line(config.site.title)
    return FeedSpec(DIGESTS_FEED, f"{site} · 每日摘要", f"{site}每天的新文章，按版块汇总", DIGESTS_INDEX)


def story_html(story: Story) -> str:
    """An article's full text as an HTML fragment: kicker, subtitle, byline, dateline, body, notes, jumps."""
    # Plain escape and f-strings: Markup.format costs more than the rest of an entry (full rebuilds).
    parts: list[str] = []
    if story.kicker:
        parts.append(f'<p class="kicker">{escape(story.kicker)}</p>')
    if story.subtitle:
        parts.append(f"<p><strong>{escape(story.subtitle)}</strong></p>")
    meta = "　".join(p for p in (story.byline, story.dateline) if p)
    if meta:
        parts.append(f'<p class="byline">{escape(meta)}</p>')
    parts.extend(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    parts.extend(f"<blockquote><p>{escape(n)}</p></blockquote>" for n in story.notes)
    if story.jumps:
        parts.append(f"<p><small>{escape('　'.join(story.jumps))}</small></p>")
    return "\n".join(parts)


def story_item(story: Story, config: Config) -> FeedItem:
    """The Atom entry of one article."""
    extra = (story.kicker, story.place)
    categories = tuple(dict.fromkeys(c for c in (story.section.name, *extra) if c))
    return FeedItem(
        id=story.tag,
        title=story.headline,
        link=absolute_url(config.site.base_url, story.path),
        published=story.published,
        updated=story.updated,
        authors=story.authors or (one_line(config.site.author),),
        categories=categories,
        content=story_html(story),
        summary=story.summary,
    )


def digest_item(digest: Digest, config: Config) -> FeedItem:
    """The Atom entry of one daily digest: headlines with links, grouped by section."""
    base = config.site.base_url
    parts: list[Markup] = []
    for section, entries in digest.groups:
        parts.append(Markup("<h3>{}</h3>").format(one_line(section.name)))
        items = []
        for story in (present(entry, config.tz) for entry in entries):
            link = absolute_url(base, story.path)
            items.append(
                Markup('<li><a href="{}">{}</a>{}</li>').format(
                    link, story.headline, f"：{story.summary}" if story.summary else ""
                )
            )
        parts.append(Markup("<ul>{}</ul>").format(Markup("").join(items)))
    sections = tuple(dict.fromkeys(one_line(s.name) for s, _ in digest.groups))
    day = f"{digest.day.month}月{digest.day.day}日"
    return FeedItem(
        id=f"tag:{config.site.tag_authority}:digest/{digest.day.isoformat()}",
        title=f"{one_line(config.site.title)} {day}摘要（{digest.count}篇）",
        link=absolute_url(base, digest_path(digest.day)),
        published=digest.until.astimezone(config.tz),
        updated=digest.until.astimezone(config.tz),
        authors=(one_line(config.site.author),),
        categories=sections,
        content=str(Markup("\n").join(parts)),
        summary=f"{day}共{digest.count}篇新文章：{'、'.join(sections)}" if sections else f"{day}没有新文章。",
    )


class _FeedLinks(BaseExtension):  # type: ignore[misc]
    """Adds RFC 5005 markup; feedgen knows neither ``fh:archive`` nor ``rel="current"``."""

    def __init__(self) -> None:
        self.history = History()
        self.tombstones: Sequence[Tombstone] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS, "at": AT_NS}

    def extend_atom(self, feed: Any) -> Any:
        for gone in self.tombstones:
            # RFC 6721 §2: ref is the entry's atom:id, when the instant it was withdrawn.
            mark = feed.makeelement(
                f"{{{AT_NS}}}deleted-entry", {"ref": gone.ref, "when": gone.when.isoformat()}
            )
            mark.append(
                mark.makeelement("link", {"rel": "alternate", "type": "text/html", "href": gone.link})
            )
            comment = mark.makeelement(f"{{{AT_NS}}}comment", {})
            comment.text = "此文已撤回"
            mark.append(comment)
            feed.append(mark)
        # feedgen hands us lxml elements; makeelement spares a direct (untyped) lxml import.
        if self.history.archive:
            feed.append(feed.makeelement(f"{{{FH_NS}}}archive", {}))
        for rel, href in (("prev-archive", self.history.prev), ("current", self.history.current)):
            if href:
                # Unqualified like feedgen's own children: the root declares Atom as the default namespace.
                feed.append(feed.makeelement("link", {"rel": rel, "type": ATOM_TYPE, "href": href}))
        return feed


class _EntryLinks(BaseEntryExtension):  # type: ignore[misc]
    """Writes the entry's alternate link; feedgen 1.0.0 drops ``rel`` and ``type`` (python-feedgen#135)."""

    def __init__(self) -> None:
        self.href = ""

    def extend_atom(self, entry: Any) -> Any:
        entry.append(entry.makeelement("link", {"rel": "alternate", "type": "text/html", "href": self.href}))
        return entry


def render_document(
    spec: FeedSpec,
    items: Sequence[FeedItem],
    history: History,
    self_path: str,
    config: Config,
    tombstones: Sequence[Tombstone] = (),
) -> bytes:
    """One Atom document of ``items`` (given newest first), with ``tombstones`` for withdrawn entries."""
    base = config.site.base_url
    fg = FeedGenerator()
    fg.register_extension("digest", _FeedLinks, _EntryLinks)
    fg.digest.history = history
    fg.digest.tombstones = tombstones
    fg.id(f"tag:{config.site.tag_authority}:feed/{spec.name}")
    fg.title(clean(spec.title))
    fg.subtitle(clean(spec.subtitle))
    fg.language("zh-CN")
    fg.author({"name": one_line(config.site.author)})
    fg.icon(absolute_url(base, ICON))
    fg.generator("digest", version=__version__)
    fg.link(href=absolute_url(base, self_path), rel="self", type=ATOM_TYPE)
    fg.link(href=absolute_url(base, spec.page), rel="alternate", type="text/html")
    if not history.archive:
        for hub in config.feeds.hubs:
            fg.link(href=hub, rel="hub")
    stamps = [*(item.updated for item in items), *(gone.when for gone in tombstones)]
    fg.updated(max(stamps, default=_NO_DATA))
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.title(item.title)
        fe.updated(item.updated)
        fe.published(item.published)
        for author in item.authors:
            fe.author({"name": author})
        for term in item.categories:
            fe.category({"term": term})
        fe.content(item.content, type="html")
        if item.summary:
            fe.summary(item.summary)
        fe.digest.href = item.link
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


@dataclass(frozen=True)
class Layout:
    """Where each entry of a feed of ``total`` entries lives (RFC 5005).

    The newest ``size`` are in the subscription document; the older ones fill
    archive pages of ``ARCHIVE_PAGE_SIZE`` from the oldest, so a full page
    never changes again and is served as immutable.  The entries that do not
    fill a page yet sit in the *open* page, under a name of its own
    (``open.atom``) that is cached briefly; when it fills it becomes the next
    numbered page.  Ranks count from 0 = oldest.
    """

    name: str
    total: int
    size: int

    @property
    def archived(self) -> int:
        """How many entries live in archive pages."""
        return max(self.total - self.size, 0)

    @property
    def full_pages(self) -> int:
        """How many archive pages are full (and immutable)."""
        return self.archived // ARCHIVE_PAGE_SIZE

    @property
    def pages(self) -> int:
        """How many archive pages there are, the open one included."""
        return -(-self.archived // ARCHIVE_PAGE_SIZE)

    @property
    def has_open_page(self) -> bool:
        """Whether some archived entries do not fill a page yet."""
        return self.pages > self.full_pages

    def page_of(self, rank: int) -> int:
        """The archive page (1 = oldest) holding the entry of ``rank``, if it is archived."""
        return rank // ARCHIVE_PAGE_SIZE + 1

    def bounds(self, number: int) -> tuple[int, int]:
        """The ranks ``[start, stop)`` of archive page ``number``."""
        start = (number - 1) * ARCHIVE_PAGE_SIZE
        return start, min(start + ARCHIVE_PAGE_SIZE, self.archived)

    def path(self, number: int) -> str:
        """The output path of archive page ``number``."""
        return archive_path(self.name, number) if number <= self.full_pages else open_archive_path(self.name)


def archive_document(
    spec: FeedSpec, layout: Layout, number: int, items: Sequence[FeedItem], config: Config
) -> tuple[str, bytes]:
    """Archive page ``number`` of a feed; ``items`` are its entries, oldest first.

    It links back (``prev-archive``) and to the subscription document
    (``current``) but not forward: a ``next-archive`` link would change a full
    page's bytes when the next page appears, and readers walk backwards.
    """
    base = config.site.base_url
    history = History(
        archive=True,
        prev=absolute_url(base, layout.path(number - 1)) if number > 1 else "",
        current=absolute_url(base, feed_path(spec.name)),
    )
    path = layout.path(number)
    return path, render_document(spec, items[::-1], history, path, config)


def subscription_document(
    spec: FeedSpec,
    layout: Layout,
    items: Sequence[FeedItem],
    config: Config,
    tombstones: Sequence[Tombstone] = (),
) -> tuple[str, bytes]:
    """The subscription document of a feed: its newest entries (given oldest first), and the
    tombstones of its latest withdrawn entries (RFC 6721), so readers drop what they hold."""
    newest = absolute_url(config.site.base_url, layout.path(layout.pages)) if layout.pages else ""
    path = feed_path(spec.name)
    return path, render_document(spec, items[::-1], History(prev=newest), path, config, tombstones)


# Puts ``document(*args)``, a (path, bytes) pair: at once, or once a worker process has drawn it.
RenderDocument = Callable[..., None]


class FeedWriter:
    """Builds every document of one feed from its items in feed order, a page at a time.

    ``add`` items oldest first; each archive page is rendered as soon as it
    is complete, so memory holds one page plus the subscription document's
    entries however long the feed.  Items beyond ``layout.total`` (rows that
    arrived while a rebuild ran) are left for the next publish.
    """

    def __init__(
        self,
        spec: FeedSpec,
        layout: Layout,
        config: Config,
        render: RenderDocument,
        tombstones: Sequence[Tombstone] = (),
    ) -> None:
        self.spec = spec
        self.tombstones = tombstones
        self.layout = layout
        self.config = config
        self.render = render
        self._number = 1
        self._count = 0
        self._buffer: list[FeedItem] = []

    def add(self, item: FeedItem) -> None:
        """Take the next item; renders the archive page it completes."""
        if self._count >= self.layout.total:
            return
        self._count += 1
        self._buffer.append(item)
        if self._number <= self.layout.pages:
            start, stop = self.layout.bounds(self._number)
            if len(self._buffer) == stop - start:
                self.render(archive_document, self.spec, self.layout, self._number, self._buffer, self.config)
                self._number += 1
                self._buffer = []

    def close(self) -> None:
        """Render the subscription document from the newest items."""
        self.render(subscription_document, self.spec, self.layout, self._buffer, self.config, self.tombstones)


def opml(specs: Sequence[FeedSpec], config: Config) -> bytes:
    """An OPML 2.0 list of the subscription feeds, for importing them all at once."""
    base = config.site.base_url
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = clean(config.site.title)
    body = ElementTree.SubElement(root, "body")
    for spec in specs:
        ElementTree.SubElement(
            body,
            "outline",
            type="rss",  # the OPML 2.0 value for any syndication feed, Atom included
            text=clean(spec.title),
            title=clean(spec.title),
            xmlUrl=absolute_url(base, feed_path(spec.name)),
            htmlUrl=absolute_url(base, spec.page),
        )
    ElementTree.indent(root)
    data: bytes = ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data
