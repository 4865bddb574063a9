"""Atom documents (RFC 4287) with RFC 5005 history and RFC 6721 tombstones, written by feedgen.

Each entry's XML is drawn once by feedgen (``with_atom``) and spliced into every document that holds
it; a document's own elements still come from feedgen, so feedgen stays the writer of record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from markupsafe import escape

from digest.config import Config
from digest.publish.items import (
    _NO_DATA,
    FeedDocument,
    FeedItem,
    History,
    Tombstone,
)
from digest.publish.layout import (
    ATOM_TYPE,
    ICON,
    STYLESHEET_FEED,
    absolute_url,
    clean,
    one_line,
    root_prefix,
)

FH_NS = "http://purl.org/syndication/history/1.0"


AT_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721


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
            comment.text = gone.comment
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


def render_document(document: FeedDocument, config: Config) -> bytes:
    """One Atom document, with its tombstones for withdrawn entries.

    Items drawn already (``with_atom``) are spliced in as they are; the others are drawn here.
    """
    spec, items, history, self_path, tombstones = (
        document.spec,
        document.items,
        document.history,
        document.path,
        document.tombstones,
    )
    base = config.site.base_url
    fg = FeedGenerator()
    fg.register_extension("digest", _FeedLinks, _EntryLinks)
    fg.digest.history = history
    fg.digest.tombstones = tombstones
    fg.id(f"tag:{config.site.tag_authority}:feed/{spec.name}")
    fg.title(clean(spec.title))
    fg.subtitle(clean(spec.subtitle))
    fg.language(config.site.language)
    fg.author({"name": one_line(config.site.feed_author)})
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
    data = _with_stylesheet(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True), self_path)
    if drawn:
        # One join: the entries are most of the bytes, copied once.
        return b"".join((data[: -len(_FEED_END)], *(item.atom for item in items), _FEED_END))
    return data


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
