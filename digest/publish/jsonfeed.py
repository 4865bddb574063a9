"""JSON Feed 1.1 documents, the twins of the Atom ones: same ids, titles, dates, content and paging.

Like Atom entries, each item's JSON is written once (``with_json``) and spliced into every document
that holds it.  Documents are compact JSON with one item a line: a reader parses them alike, they
are smaller on the wire, a diff shows which items changed, and only the compact form has
``json``'s C encoder (an indented dump runs in Python, a tenth of a full build)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from digest.config import Config
from digest.publish.items import (
    FeedDocument,
    FeedItem,
)
from digest.publish.layout import (
    FAVICON,
    TOUCH_ICON,
    absolute_url,
    clean,
    one_line,
)

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_json(document: FeedDocument, config: Config) -> bytes:
    """One JSON Feed 1.1 document, the twin of ``atom.render_document``.

    JSON Feed pages with ``next_url`` (towards older items), which is RFC 5005's
    ``prev-archive``; it has no tombstones, so a withdrawn item simply leaves.
    """
    spec, items, history, self_path = document.spec, document.items, document.history, document.path
    base = config.site.base_url
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": clean(spec.title),
        "home_page_url": absolute_url(base, spec.page),
        "feed_url": absolute_url(base, self_path),
        "description": clean(spec.subtitle),
        "icon": absolute_url(base, TOUCH_ICON),
        "favicon": absolute_url(base, FAVICON),
        "authors": [{"name": one_line(config.site.feed_author)}],
        "language": config.site.language,
    }
    if history.prev:
        feed["next_url"] = history.prev
    if not history.archive and config.feeds.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in config.feeds.hubs]
    # The document with no items, then the items where its empty list stands, one a line (JSON
    # strings hold no raw newline, so each item is one line).
    head = _compact({**feed, "items": []}).encode()
    if not items:
        return head + b"\n"
    drawn = b",\n".join(item.json or _json_item(item) for item in items)
    return b"".join((head[: -len(_NO_ITEMS)], b"[\n", drawn, b"\n]}\n"))


_NO_ITEMS = b"[]}"  # how a document with no items ends
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_item(item: FeedItem) -> bytes:
    """One item as it stands in any document: one line, in UTF-8 (encoded once for every document)."""
    fields = {
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
    return _compact(fields).encode()


def with_json(items: Sequence[FeedItem]) -> list[FeedItem]:
    """``items`` with each one's JSON written once, for every document that holds it."""
    return [replace(item, json=_json_item(item)) for item in items]
