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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree

from digest.config import Config
from digest.language import fixed_words
from digest.publish.atom import render_document, with_atom
from digest.publish.items import (
    FeedDocument,
    FeedItem,
    FeedSpec,
    History,
    Tombstone,
)
from digest.publish.jsonfeed import render_json, with_json
from digest.publish.layout import (
    ATOM_TYPE,
    JSON_FEED_TYPE,
    absolute_url,
    archive_path,
    clean,
    feed_path,
)
from digest.types import FeedKey, newest_first

ARCHIVE_PAGE_SIZE = 100


# Renders one document in a format.
Renderer = Callable[[FeedDocument, Config], bytes]
# Writes each item's part of a document once, for every document that holds the item.
Drawer = Callable[[Sequence[FeedItem]], list[FeedItem]]


@dataclass(frozen=True)
class FeedFormat:
    """One way of writing a feed document: its file suffix, media type, renderer, and the drawer of
    the items' parts (an article is in several documents: written once, spliced into each).

    Everything else (which items, which page, RFC 5005 paging) is decided once
    for every format.  Module-level functions only, so it pickles to a worker.
    """

    suffix: str
    media_type: str
    render: Renderer
    draw: Drawer

    def feed_path(self, name: str) -> str:
        """The subscription document of feed ``name`` in this format."""
        return feed_path(name, self.suffix)

    def archive_path(self, name: str, number: int) -> str:
        """Archive page ``number`` of feed ``name`` in this format."""
        return archive_path(name, number, self.suffix)


ATOM = FeedFormat(".atom", ATOM_TYPE, render_document, with_atom)
JSON_FEED = FeedFormat(".json", JSON_FEED_TYPE, render_json, with_json)
FORMATS = (ATOM, JSON_FEED)


def drawn(items: Sequence[FeedItem]) -> list[FeedItem]:
    """``items`` with their part of a document written once in every format."""
    done = list(items)
    for fmt in FORMATS:
        done = fmt.draw(done)
    return done


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
    ordered = sorted(items, key=lambda pair: newest_first(pair[0]))
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
    return path, fmt.render(FeedDocument(spec, shown(items), history, path), config)


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
    return path, fmt.render(FeedDocument(spec, shown(items), History(prev=prev), path, tombstones), config)


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
        folder = fixed_words(folder, config.site.language)  # one of the site's own words
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
