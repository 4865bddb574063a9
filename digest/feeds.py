"""Atom feeds (RFC 4287) with full history (RFC 5005), and the OPML list of them.  Pure: no I/O.

Each logical feed (everything, one per section, the daily digests) is a
subscription document holding the newest ``feeds.size`` entries plus
complete archive documents of ``ARCHIVE_PAGE_SIZE`` entries, numbered from
the oldest so that a full page never changes again (its ETag stays valid
forever).  Documents link ``prev-archive``/``next-archive``/``current``.

Every timestamp comes from the data, never from the clock, so an unchanged
store yields byte-identical documents (feedgen would otherwise stamp *now*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from markupsafe import Markup

from digest import __version__
from digest.config import Config
from digest.output import (
    ALL_FEED,
    DIGESTS_FEED,
    DIGESTS_INDEX,
    ICON,
    INDEX,
    OPML,
    Story,
    absolute_url,
    archive_path,
    clean,
    digest_path,
    feed_path,
    one_line,
    present,
    section_path,
)
from digest.types import Digest, Section

ARCHIVE_PAGE_SIZE = 100
FH_NS = "http://purl.org/syndication/history/1.0"
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
class History:
    """RFC 5005 position of one document: archive flag and neighbour URLs."""

    archive: bool = False
    prev: str = ""
    next: str = ""
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
    parts: list[Markup] = []
    if story.kicker:
        parts.append(Markup('<p class="kicker">{}</p>').format(story.kicker))
    if story.subtitle:
        parts.append(Markup("<p><strong>{}</strong></p>").format(story.subtitle))
    meta = "　".join(p for p in (story.byline, story.dateline) if p)
    if meta:
        parts.append(Markup('<p class="byline">{}</p>').format(meta))
    parts.extend(Markup("<p>{}</p>").format(p) for p in story.paragraphs)
    parts.extend(Markup("<blockquote><p>{}</p></blockquote>").format(n) for n in story.notes)
    if story.jumps:
        parts.append(Markup("<p><small>{}</small></p>").format("　".join(story.jumps)))
    return str(Markup("\n").join(parts))


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
        for story in map(present, entries):
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
        published=digest.until,
        updated=digest.until,
        authors=(one_line(config.site.author),),
        categories=sections,
        content=str(Markup("\n").join(parts)),
        summary=f"{day}共{digest.count}篇新文章：{'、'.join(sections)}" if sections else f"{day}没有新文章。",
    )


class _FeedLinks(BaseExtension):  # type: ignore[misc]
    """Adds RFC 5005 markup; feedgen knows neither ``fh:archive`` nor ``rel="current"``."""

    def __init__(self) -> None:
        self.history = History()

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS}

    def extend_atom(self, feed: Any) -> Any:
        # feedgen hands us lxml elements; makeelement spares a direct (untyped) lxml import.
        if self.history.archive:
            feed.append(feed.makeelement(f"{{{FH_NS}}}archive", {}))
        links = (("prev-archive", self.history.prev), ("next-archive", self.history.next))
        for rel, href in (*links, ("current", self.history.current)):
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
    spec: FeedSpec, items: Sequence[FeedItem], history: History, self_path: str, config: Config
) -> bytes:
    """One Atom document of ``items`` (given newest first)."""
    base = config.site.base_url
    fg = FeedGenerator()
    fg.register_extension("digest", _FeedLinks, _EntryLinks)
    fg.digest.history = history
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
    fg.updated(max((item.updated for item in items), default=_NO_DATA))
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


def feed_documents(spec: FeedSpec, items: Sequence[FeedItem], config: Config) -> dict[str, bytes]:
    """The subscription document and archive pages of one feed; ``items`` oldest first."""
    base = config.site.base_url
    split = max(len(items) - config.feeds.size, 0)
    archived, live = items[:split], items[split:]
    pages = [archived[i : i + ARCHIVE_PAGE_SIZE] for i in range(0, len(archived), ARCHIVE_PAGE_SIZE)]
    current = absolute_url(base, feed_path(spec.name))
    docs: dict[str, bytes] = {}
    for number, page in enumerate(pages, start=1):
        path = archive_path(spec.name, number)
        history = History(
            archive=True,
            prev=absolute_url(base, archive_path(spec.name, number - 1)) if number > 1 else "",
            next=absolute_url(base, archive_path(spec.name, number + 1)) if number < len(pages) else "",
            current=current,
        )
        docs[path] = render_document(spec, page[::-1], history, path, config)
    newest_archive = absolute_url(base, archive_path(spec.name, len(pages))) if pages else ""
    path = feed_path(spec.name)
    docs[path] = render_document(spec, live[::-1], History(prev=newest_archive), path, config)
    return docs


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


def build_feeds(
    stories: Sequence[Story], sections: Sequence[Section], digests: Sequence[Digest], config: Config
) -> dict[str, bytes]:
    """Every feed document and the OPML list, by output path.

    ``stories`` come oldest first (``output.feed_order``); ``sections`` in navigation order.
    """
    specs: list[FeedSpec] = [all_spec(config)]
    items = [story_item(s, config) for s in stories]
    docs = feed_documents(specs[0], items, config)
    for section in sections:
        spec = section_spec(config, section)
        specs.append(spec)
        mine = [item for item, s in zip(items, stories, strict=True) if s.section.slug == section.slug]
        docs.update(feed_documents(spec, mine, config))
    spec = digests_spec(config)
    specs.append(spec)
    ordered = sorted(digests, key=lambda d: (d.until, d.day))
    docs.update(feed_documents(spec, [digest_item(d, config) for d in ordered], config))
    docs[OPML] = opml(specs, config)
    return docs
