"""Articles merged into another: where each one's URL leads, and how its page says so.

A re-read of a page that reads two stories as one withdraws the one that
disappeared and records the article its text now lives in (``articles.successor``,
``identity.successor``).  Its page then becomes a small page that leads to that
article: a ``<meta http-equiv="refresh">`` and a link, which any static server
serves as it is, and which ``digest serve`` answers with ``301 Moved
Permanently`` to the same place (``moved_location``).  A successor withdrawn in
turn passes its readers on to its own successor; one withdrawn for any other
reason leaves the merged article's URL with the withdrawal notice (410).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from markupsafe import Markup

from digest.types import Entry

# A chain of merges longer than this (a page re-read that often, each time merging) ends in 410.
_MAX_HOPS = 8
# What a moved page's head holds; the href is relative (``../2024-11-28/<uid>.html``), a path
# that autoescaping leaves as it is.  No other published page has a refresh: article text is escaped.
_REFRESH = re.compile(rb'<meta http-equiv="refresh" content="0; url=([^"<>]+)">')
_HEAD_END = b"</head>"


class Entries(Protocol):
    """What resolving successors reads: a ``Catalog`` or the ``Store``."""

    def entries_by_uid(self, uids: Sequence[str]) -> dict[str, Entry]: ...


def successors(catalog: Entries, gone: Sequence[Entry]) -> dict[str, Entry]:
    """The live article each merged one of ``gone`` leads to, by the merged one's uid (those
    whose successor is withdrawn for good are left out: their notice stays)."""
    found: dict[str, Entry] = {}
    pending = {entry.uid: entry.successor for entry in gone if entry.successor}
    for _ in range(_MAX_HOPS):
        if not pending:
            break
        held = catalog.entries_by_uid(sorted(set(pending.values())))
        following: dict[str, str] = {}
        for uid, heir in pending.items():
            entry = held.get(heir)
            if entry is None:
                continue
            if entry.retracted is None:
                found[uid] = entry
            elif entry.successor:
                following[uid] = entry.successor
        pending = following
    return found


def refresh_tag(href: str) -> Markup:
    """The tag that leads a browser from a moved page to ``href``, drawn here beside the one
    reader of it (``moved_location``), so the two agree."""
    return Markup('<meta http-equiv="refresh" content="0; url={}">').format(href)


def moved_location(body: bytes) -> str | None:
    """Where a published moved page leads (its relative href), or None for any other page."""
    end = body.find(_HEAD_END)
    found = _REFRESH.search(body, 0, end if end >= 0 else 0)
    return found.group(1).decode("ascii", "replace") if found else None
