"""Offline JSON Feed 1.1 validation for tests: the rules of https://jsonfeed.org/version/1.1.

No validator for JSON Feed ships on PyPI or Debian, and feedparser 6.0 reads
no JSON Feed (its support is unreleased), so ``check_json_feed`` checks what
the specification requires: the version URL, a title, an ``items`` array;
every item with a unique non-empty string ``id`` and ``content_html`` or
``content_text``; RFC 3339 dates; absolute URLs; authors as objects with a
name, url or avatar; tags as strings; hubs with a type and url; and no key the
version does not define unless it starts with ``_`` (an extension).
"""

from __future__ import annotations

import json
import re
from typing import Any

VERSION = "https://jsonfeed.org/version/1.1"
_FEED_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url", "icon",
    "favicon", "authors", "author", "language", "expired", "hubs", "items",
}  # fmt: skip
_ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "author", "tags", "language",
    "attachments",
}  # fmt: skip
_URL_KEYS = ("home_page_url", "feed_url", "next_url", "icon", "favicon", "url", "external_url")
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def _check_urls(thing: dict[str, Any], where: str) -> None:
    for key in _URL_KEYS:
        if key in thing:
            assert re.match(r"https?://[^\s]+$", thing[key]), f"{where}: {key} {thing[key]!r} is not a URL"


def _check_authors(thing: dict[str, Any], where: str) -> None:
    authors = thing.get("authors", [])
    assert isinstance(authors, list), f"{where}: authors is not an array"
    for author in authors:
        assert isinstance(author, dict) and {"name", "url", "avatar"} & set(author), f"{where}: {author!r}"


def _extra(keys: set[str], known: set[str]) -> set[str]:
    return {key for key in keys - known if not key.startswith("_")}


def check_json_feed(data: bytes) -> dict[str, Any]:
    """Assert ``data`` is a valid JSON Feed 1.1 document (UTF-8 JSON); returns it parsed."""
    feed = json.loads(data.decode("utf-8"))
    assert isinstance(feed, dict)
    assert feed.get("version") == VERSION, f"version {feed.get('version')!r}"
    assert isinstance(feed.get("title"), str) and feed["title"], "no title"
    assert not _extra(set(feed), _FEED_KEYS), f"unknown keys {_extra(set(feed), _FEED_KEYS)}"
    _check_urls(feed, "feed")
    _check_authors(feed, "feed")
    for hub in feed.get("hubs", []):
        assert set(hub) >= {"type", "url"}, f"hub {hub!r}"
    items = feed.get("items")
    assert isinstance(items, list), "items is not an array"
    ids = []
    for item in items:
        ident = item.get("id")
        assert isinstance(ident, str) and ident, f"item id {ident!r}"
        ids.append(ident)
        assert not _extra(set(item), _ITEM_KEYS), f"{ident}: unknown keys {_extra(set(item), _ITEM_KEYS)}"
        assert "content_html" in item or "content_text" in item, f"{ident}: no content"
        for key in ("date_published", "date_modified"):
            if key in item:
                assert _DATE.fullmatch(item[key]), f"{ident}: {key} {item[key]!r} is not RFC 3339"
        assert all(isinstance(tag, str) for tag in item.get("tags", [])), f"{ident}: tags"
        _check_urls(item, ident)
        _check_authors(item, ident)
    assert len(ids) == len(set(ids)), "duplicate item ids"
    return feed
