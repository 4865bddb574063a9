"""What a response to a published file is: the kind of document its path names, and what the request asks.

A path's name gives its content type, whether gzip pays off, how long it may be cached and whether
any origin may read it (``kind_of``); the request's ``Accept``, ``Accept-Encoding`` and conditional
headers pick gzip, an Atom document's type for browsers, and 304 (RFC 9110 §12, §13).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache

from digest.publish.layout import ATOM_TYPE, JSON_FEED_TYPE
from digest.web.http import PAGE_POLICY

# Content types we publish, with whether gzip pays off for them.
_TYPES: dict[str, tuple[str, bool]] = {
    ".atom": (f"{ATOM_TYPE}; charset=utf-8", True),
    ".opml": ("text/x-opml; charset=utf-8", True),
    ".html": ("text/html; charset=utf-8", True),
    ".css": ("text/css; charset=utf-8", True),
    ".js": ("text/javascript; charset=utf-8", True),
    ".json": ("application/json", True),
    ".xml": ("application/xml; charset=utf-8", True),
    ".txt": ("text/plain; charset=utf-8", True),
    ".svg": ("image/svg+xml", True),
    ".png": ("image/png", False),
    ".jpg": ("image/jpeg", False),
    ".ico": ("image/x-icon", False),
    ".woff2": ("font/woff2", False),
}
_DEFAULT_TYPE = ("application/octet-stream", False)
# JSON Feed's own media type (jsonfeed.org/version/1.1), for the feeds beside the Atom ones.
_JSON_FEED_TYPE = JSON_FEED_TYPE.encode()
# What a browser gets for an Atom document when it asks for a page (``prefers_html``): Chromium
# shows application/atom+xml as plain text, raw XML, but renders XML with its xml-stylesheet.
ATOM_FOR_BROWSERS = b"application/xml; charset=utf-8"
_ATOM_MEDIA_TYPES = (ATOM_TYPE, "application/xml", "text/xml")
FRESH = b"public, max-age=300"
# RFC 5005 archive documents are written once full and never change (``feeds.FeedPlan``).
_IMMUTABLE = b"public, max-age=31536000, immutable"
_ARCHIVE_PREFIX = "/feeds/archive/"
_ARTICLES_PREFIX = "/articles/"
_ETAG = re.compile(r'(?:W/)?"([^"]*)"')


@dataclass(frozen=True)
class Kind:
    """What a URL path's name says about its responses."""

    content_type: bytes
    compressible: bool  # whether gzip pays off
    cache_control: bytes
    live_feed: bool  # a feed that changes, so it announces WebSub hubs (archive pages do not)
    feed: bool = False  # a feed (Atom, JSON Feed) or feed list (OPML): any origin may read it (CORS)
    atom: bool = False  # an Atom document, shown to browsers as XML (``prefers_html``)
    article: bool = False  # an article's page, which a merge may have made a moved page
    # An HTML page's ``PAGE_POLICY``.  Not its Referrer-Policy: a published form (subscribe.html)
    # is checked by its Origin, which ``no-referrer`` would make ``null``.
    policy: tuple[tuple[bytes, bytes], ...] = ()


@lru_cache(maxsize=4096)  # worked out once per path, not per request
def kind_of(path: str) -> Kind:
    """What the responses for URL ``path`` are: its content type, caching, gzip and CORS."""
    name = path + "index.html" if path.endswith("/") else path
    suffix = os.path.splitext(name)[1].lower()
    content_type, compressible = _TYPES.get(suffix, _DEFAULT_TYPE)
    # A full RFC 5005 archive page never changes and can be cached forever (``feeds.FeedPlan``).
    full_archive = path.startswith(_ARCHIVE_PREFIX)
    json_feed = suffix == ".json" and path.startswith("/feeds/")
    feed = suffix in (".atom", ".opml") or json_feed
    return Kind(
        content_type=_JSON_FEED_TYPE if json_feed else content_type.encode(),
        compressible=compressible,
        cache_control=_IMMUTABLE if full_archive else FRESH,
        live_feed=suffix in (".atom", ".json") and path.startswith("/feeds/") and not full_archive,
        feed=feed,
        atom=suffix == ".atom",
        article=suffix == ".html" and path.startswith(_ARTICLES_PREFIX),
        policy=tuple(PAGE_POLICY) if suffix == ".html" else (),
    )


@lru_cache(maxsize=256)
def http_date(mtime: float) -> bytes:
    """``mtime`` as an HTTP date (RFC 9110 §5.6.7), the value of Last-Modified."""
    return formatdate(mtime, usegmt=True).encode()


def _weights(header: str) -> dict[str, float]:
    """The quality of each name in an ``Accept``-style header (RFC 9110 §12.4.2), 1 when unsaid."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([^\s;,]*)", params)
        if match:
            try:
                quality = float(match[1])
            except ValueError:
                quality = 0.0
        weights[name.strip().lower()] = quality
    return weights


@lru_cache(maxsize=256)  # clients send a handful of distinct values, over and over
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3), ``q=0`` meaning "not this"."""
    weights = _weights(accept_encoding)
    return weights.get("gzip", weights.get("*", 0.0)) > 0


@lru_cache(maxsize=256)
def prefers_html(accept: str) -> bool:
    """Whether ``Accept`` rates ``text/html`` above every XML type an Atom document could be sent as.

    A browser opening a feed sends ``text/html,...,application/xml;q=0.9``; feed readers name
    ``application/atom+xml`` (feedparser) or send ``*/*`` or nothing, and keep the Atom type.
    """
    weights = _weights(accept)
    html = weights.get("text/html", 0.0)
    return html > 0 and all(weights.get(kind, 0.0) < html for kind in _ATOM_MEDIA_TYPES)


def not_modified(request: Mapping[str, str], etag: str, mtime: float) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison, as §13.1.2 asks for If-None-Match; the usual single tag needs no regex.
        if if_none_match == f'"{etag}"':
            return True
        return if_none_match.strip() == "*" or etag in _ETAG.findall(if_none_match)
    if_modified_since = request.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:  # "-0000": HTTP dates are UTC anyway (RFC 9110 §5.6.7)
            since = since.replace(tzinfo=UTC)
        # HTTP dates have whole seconds, so the file's own time is truncated to match.
        return int(mtime) <= since.timestamp()
    return False
