"""Feeds with full history (RFC 5005), in two formats, and the OPML lists of them.  Pure: no I/O.

Every feed comes as Atom (RFC 4287) and as JSON Feed 1.1 beside it
(``all.atom`` and ``all.json``, archive pages alike).  The documents are
planned and paged once; a ``FeedFormat`` only turns one document (its
items, its place in the history, its own path) into bytes, so the two
formats cannot disagree on ids, order or paging.

An article feed (everything, one per section) is a log in feed order
(``output.feed_order``): a new entry, or a new version of a corrected one,
comes at its end.  Its oldest entries fill archive documents of
``ARCHIVE_PAGE_SIZE``, numbered from the oldest; once a page is full it is
frozen: never drawn again, so its bytes and ETag stay valid forever, and a
corrected entry it holds is republished in the subscription document
instead (RFC 5005 §4.1).  Everything not in a full page is in the
subscription document, which holds at least ``feeds.size`` entries and the
whole newest issue (``FeedPlan``).  The digest feed is the same kind of log,
a digest being its own issue.  Archive documents link ``prev-archive``,
``next-archive`` and ``current``.

Every timestamp comes from the data, never from the clock, so an unchanged
store yields byte-identical documents (feedgen would otherwise stamp *now*).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from markupsafe import Markup, escape

from digest.config import Config
from digest.publish.layout import (
    ALL_FEED,
    ATOM_TYPE,
    DIGESTS_FEED,
    DIGESTS_INDEX,
    FAVICON,
    ICON,
    INDEX,
    JSON_FEED_TYPE,
    STYLESHEET_FEED,
    TOUCH_ICON,
    Story,
    absolute_url,
    archive_path,
    caption_line,
    clean,
    digest_path,
    feed_path,
    one_line,
    present,
    root_prefix,
    section_path,
)
from digest.types import Digest, Section

FeedKey = tuple[int, date, int, str]  # ``Entry.feed_key``

ARCHIVE_PAGE_SIZE = 100
FH_NS = "http://purl.org/syndication/history/1.0"
AT_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
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
    atom: bytes = b""  # the entry as feedgen writes it in a document, once written (``with_atom``)


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
    """RFC 5005 position of one document: archive flag, the previous archive page, the live feed
    (absolute URLs of documents in the same format)."""

    archive: bool = False
    prev: str = ""
    current: str = ""
    next: str = ""


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
    """An article's full text as an HTML fragment: kicker, subtitle, byline, dateline, body, captions,
    notes, jumps."""
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
    if story.captions:
        # Marked in words as well: feed readers drop class attributes.
        parts.append("<p><small><strong>图片说明</strong></small></p>")
        parts.extend(f"<p><small>{escape(caption_line(c))}</small></p>" for c in story.captions)
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
        links = (
            ("prev-archive", self.history.prev),
            ("next-archive", self.history.next),
            ("current", self.history.current),
        )
        for rel, href in links:
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


def _add_entries(fg: FeedGenerator, items: Sequence[FeedItem]) -> None:
    """Hand ``items`` to feedgen, the writer of record of every entry, in the order given."""
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
            # As HTML (escaped plain text is valid HTML): a reader choosing between a text summary and
            # HTML content takes the text one, and rss2email's defaults would mail just that sentence.
            fe.summary(str(escape(item.summary)), type="html")
        fe.digest.href = item.link


# feedgen writes the entries last, each on its own lines at one level of indentation (pretty printing).
_ENTRY_START = b"  <entry>\n"
_FEED_END = b"</feed>\n"


def with_atom(items: Sequence[FeedItem]) -> list[FeedItem]:
    """``items`` with each entry's XML as feedgen writes it in any document, drawn once for all.

    An article is in several documents (every article, its section, an
    archive page); drawing its entry once and splicing the bytes into each is
    a fifth of a full build saved.  The bytes are cut from one feedgen
    document of all ``items``: its entries follow every feed-level element,
    and element text is escaped, so ``<entry>`` at the start of a line is
    always an entry's start tag (tests/test_feeds.py holds the two ways
    byte-identical on hostile text).
    """
    if not items:
        return []
    fg = FeedGenerator()
    fg.register_extension("digest", _FeedLinks, _EntryLinks)
    fg.id("tag:entries")
    fg.title("entries")
    fg.updated(_NO_DATA)
    _add_entries(fg, items)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=False)
    body = data[data.index(_ENTRY_START) : -len(_FEED_END)]
    entries = [_ENTRY_START + part for part in body.split(_ENTRY_START)[1:]]
    if len(entries) != len(items):
        raise RuntimeError(f"{len(items)} entries drawn, {len(entries)} found in feedgen's document")
    return [replace(item, atom=entry) for item, entry in zip(items, entries, strict=True)]


def render_document(
    spec: FeedSpec,
    items: Sequence[FeedItem],
    history: History,
    self_path: str,
    config: Config,
    tombstones: Sequence[Tombstone] = (),
) -> bytes:
    """One Atom document of ``items`` (given newest first), with ``tombstones`` for withdrawn entries.

    Items drawn already (``with_atom``) are spliced in as they are; the others are drawn here.
    """
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
    # No version: an archive page must not change when the software does.
    fg.generator("digest")
    fg.link(href=absolute_url(base, self_path), rel="self", type=ATOM_TYPE)
    fg.link(href=absolute_url(base, spec.page), rel="alternate", type="text/html")
    if not history.archive:
        for hub in config.feeds.hubs:
            fg.link(href=hub, rel="hub")
    stamps = [*(item.updated for item in items), *(gone.when for gone in tombstones)]
    fg.updated(max(stamps, default=_NO_DATA))
    drawn = bool(items) and all(item.atom for item in items)
    if not drawn:
        _add_entries(fg, items)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    if drawn:
        data = data[: -len(_FEED_END)] + b"".join(item.atom for item in items) + _FEED_END
    return _with_stylesheet(data, self_path)


def _with_stylesheet(data: bytes, self_path: str) -> bytes:
    """``data`` with an ``xml-stylesheet`` processing instruction after the XML declaration, so a
    browser opening the feed shows a readable page.

    CSS rather than XSLT: Chromium 156 still runs XSLT but covers the page with a red banner saying
    XSLT is about to be removed (chromestatus.com/feature/4709671889534976), and Firefox and Safari
    plan the same; CSS on XML works everywhere and has no such plans.  The link is relative, so
    it holds behind any base URL.
    """
    declaration, newline, rest = data.partition(b"\n")
    if not declaration.startswith(b"<?xml "):
        raise ValueError("feedgen wrote no XML declaration")  # a bug: the PI must come after it
    href = escape(root_prefix(self_path) + STYLESHEET_FEED)
    instruction = f'<?xml-stylesheet type="text/css" href="{href}"?>'.encode()
    return declaration + newline + instruction + newline + rest


def render_json(
    spec: FeedSpec,
    items: Sequence[FeedItem],
    history: History,
    self_path: str,
    config: Config,
    tombstones: Sequence[Tombstone] = (),
) -> bytes:
    """One JSON Feed 1.1 document of ``items`` (given newest first), the twin of ``render_document``.

    JSON Feed pages with ``next_url`` (towards older items), which is RFC 5005's
    ``prev-archive``; it has no tombstones, so a withdrawn item simply leaves.
    """
    base = config.site.base_url
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": clean(spec.title),
        "home_page_url": absolute_url(base, spec.page),
        "feed_url": absolute_url(base, self_path),
        "description": clean(spec.subtitle),
        "icon": absolute_url(base, TOUCH_ICON),
        "favicon": absolute_url(base, FAVICON),
        "authors": [{"name": one_line(config.site.author)}],
        "language": "zh-CN",
    }
    if history.prev:
        feed["next_url"] = history.prev
    if not history.archive and config.feeds.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in config.feeds.hubs]
    feed["items"] = [
        {
            "id": item.id,
            "url": item.link,
            "title": item.title,
            "content_html": item.content,
            **({"summary": item.summary} if item.summary else {}),
            "date_published": item.published.isoformat(),
            "date_modified": item.updated.isoformat(),
            "authors": [{"name": author} for author in item.authors],
            "tags": list(item.categories),
        }
        for item in items
    ]
    return json.dumps(feed, ensure_ascii=False, indent=1).encode() + b"\n"


# Renders one document: (spec, items newest first, history, its own path, config, tombstones) -> bytes.
Renderer = Callable[[FeedSpec, Sequence[FeedItem], History, str, Config, Sequence[Tombstone]], bytes]


@dataclass(frozen=True)
class FeedFormat:
    """One way of writing a feed document: its file suffix, media type and renderer.

    Everything else (which items, which page, RFC 5005 paging) is decided once
    for every format.  Module-level functions only, so it pickles to a worker.
    """

    suffix: str
    media_type: str
    render: Renderer

    def feed_path(self, name: str) -> str:
        """The subscription document of feed ``name`` in this format."""
        return feed_path(name, self.suffix)

    def archive_path(self, name: str, number: int) -> str:
        """Archive page ``number`` of feed ``name`` in this format."""
        return archive_path(name, number, self.suffix)


ATOM = FeedFormat(".atom", ATOM_TYPE, render_document)
JSON_FEED = FeedFormat(".json", JSON_FEED_TYPE, render_json)
FORMATS = (ATOM, JSON_FEED)


# Puts ``document(*args)``, a (path, bytes) pair: at once, or once a worker process has drawn it.
RenderDocument = Callable[..., None]


@dataclass(frozen=True)
class FeedPlan:
    """Where each entry of an article feed goes (RFC 5005, see the module docstring).

    ``frozen`` holds the last feed key of each full archive page (page 1
    first); ``keep`` the frozen pages whose files stay as they are (the others,
    say after the output folder was lost, are drawn again from what they
    hold); ``freeze`` how many of the entries after the frozen pages fill new
    pages now.
    """

    name: str
    frozen: tuple[FeedKey, ...] = ()
    keep: frozenset[int] = frozenset()
    freeze: int = 0

    @property
    def pages(self) -> int:
        """How many full archive pages the feed has once this plan is carried out."""
        return len(self.frozen) + self.freeze // ARCHIVE_PAGE_SIZE

    def page_of(self, key: FeedKey) -> int:
        """The frozen page holding the entry of ``key``, or 0 when it is after them all."""
        number = bisect.bisect_left(self.frozen, key) + 1
        return number if number <= len(self.frozen) else 0


def plan_feed(
    name: str, frozen: Sequence[FeedKey], keep: frozenset[int], live: int, before_newest: int, size: int
) -> FeedPlan:
    """The plan of a feed with ``live`` entries after its frozen pages, ``before_newest`` of
    them before the first entry of its newest issue: whole pages are frozen while the
    subscription document keeps ``size`` entries and every entry of the newest issue."""
    room = max(min(live - size, before_newest), 0)
    return FeedPlan(name, tuple(frozen), keep, room - room % ARCHIVE_PAGE_SIZE)


def shown(items: Sequence[tuple[FeedKey, FeedItem]]) -> list[FeedItem]:
    """A document's items as listed, newest first: the latest change first, and within one change
    (a whole issue read at once) the newest issue first, in paper order, page 1 first."""
    ordered = sorted(items, key=lambda pair: (-pair[0][0], -pair[0][1].toordinal(), pair[0][2], pair[0][3]))
    return [item for _, item in ordered]


def log_archive_document(
    fmt: FeedFormat,
    spec: FeedSpec,
    number: int,
    pages: int,
    items: Sequence[tuple[FeedKey, FeedItem]],
    config: Config,
) -> tuple[str, bytes]:
    """Full archive page ``number`` of an article feed that has ``pages`` of them, in format
    ``fmt``: frozen once drawn.

    Its ``next-archive`` names page ``number + 1`` only when that page is full
    too (drawn in the same build or before); the newest full page names the
    subscription document instead (RFC 5005 §4 lets it), since its bytes never
    change again and a link to a page still filling would answer 404.
    """
    base = config.site.base_url
    current = absolute_url(base, fmt.feed_path(spec.name))
    history = History(
        archive=True,
        prev=absolute_url(base, fmt.archive_path(spec.name, number - 1)) if number > 1 else "",
        current=current,
        next=absolute_url(base, fmt.archive_path(spec.name, number + 1)) if number < pages else current,
    )
    path = fmt.archive_path(spec.name, number)
    return path, fmt.render(spec, shown(items), history, path, config, ())


def log_subscription_document(
    fmt: FeedFormat,
    spec: FeedSpec,
    pages: int,
    items: Sequence[tuple[FeedKey, FeedItem]],
    config: Config,
    tombstones: Sequence[Tombstone] = (),
) -> tuple[str, bytes]:
    """The subscription document of a feed in format ``fmt``: every entry after its full archive
    pages, and the tombstones of its latest withdrawn entries (RFC 6721)."""
    prev = absolute_url(config.site.base_url, fmt.archive_path(spec.name, pages)) if pages else ""
    path = fmt.feed_path(spec.name)
    return path, fmt.render(spec, shown(items), History(prev=prev), path, config, tombstones)


@dataclass
class LogWriter:
    """Builds the documents of one article feed from its entries in feed order, a page at a time.

    ``add`` each entry's key and item, oldest first; entries of kept frozen
    pages are passed over, every other page is rendered as soon as it is
    complete, in every format of ``formats``.  ``new_pages`` lists the pages
    this build froze: (number, last key).
    """

    spec: FeedSpec
    plan: FeedPlan
    config: Config
    render: RenderDocument
    tombstones: Sequence[Tombstone] = ()
    formats: Sequence[FeedFormat] = FORMATS
    new_pages: list[tuple[int, FeedKey]] = field(default_factory=list)
    _page: int = 0
    _live: int = 0
    _buffer: list[tuple[FeedKey, FeedItem]] = field(default_factory=list)
    _newest: list[tuple[FeedKey, FeedItem]] = field(default_factory=list)

    def add(self, key: FeedKey, item: FeedItem) -> None:
        """Take the next entry."""
        frozen = self.plan.page_of(key)
        if frozen:
            if frozen not in self.plan.keep:
                self._into(frozen, key, item)
            return
        if self._live < self.plan.freeze:
            self._into(len(self.plan.frozen) + self._live // ARCHIVE_PAGE_SIZE + 1, key, item)
            self._live += 1
            if len(self._buffer) == ARCHIVE_PAGE_SIZE:
                self.new_pages.append((self._page, key))
                self._flush()
            return
        self._flush()
        self._newest.append((key, item))

    def _into(self, number: int, key: FeedKey, item: FeedItem) -> None:
        if number != self._page:
            self._flush()
            self._page = number
        self._buffer.append((key, item))

    def _flush(self) -> None:
        if self._buffer:
            for fmt in self.formats:
                page, pages = self._page, self.plan.pages
                self.render(log_archive_document, fmt, self.spec, page, pages, self._buffer, self.config)
            self._buffer = []

    def close(self) -> None:
        """Render what is pending and the subscription documents."""
        self._flush()
        for fmt in self.formats:
            self.render(
                log_subscription_document,
                fmt,
                self.spec,
                self.plan.pages,
                self._newest,
                self.config,
                self.tombstones,
            )


def opml(specs: Sequence[FeedSpec], config: Config, folder: str = "") -> bytes:
    """An OPML 2.0 list of the Atom subscription feeds of ``specs``, for importing them at once;
    with ``folder``, inside one outline of that name, which readers import as a folder."""
    base = config.site.base_url
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = clean(config.site.title)
    body = ElementTree.SubElement(root, "body")
    if folder:
        body = ElementTree.SubElement(body, "outline", text=clean(folder), title=clean(folder))
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
