"""What publishing reads: the ``Catalog`` protocol, and an in-memory catalog for small builds.

``digest.store.database.Store`` is the catalog of a running service: every method is
a bounded or streamed SQL query, so publishing never loads the archive.
``MemoryCatalog`` answers the same questions from lists, for building a
site from entries at hand (tests, previews) without a database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import partial
from typing import Protocol

from digest.publish.layout import feed_order
from digest.store.records import DigestRecord
from digest.types import Digest, Entry, FeedKey, Head, Listed, Section


class Catalog(Protocol):
    """The queries a full publish needs (``digest.store.database.Store`` answers them in SQL)."""

    def feed_sections(self) -> list[Section]:
        """Each section once, in order of its first entry in feed order: those the navigation lists."""
        ...

    def emptied_sections(self) -> list[Section]:
        """Sections no article is filed under any more: their feeds and page stay, listed nowhere."""
        ...

    def feed_count(self, section: str | None = None) -> int:
        """How many entries the feed of ``section`` (None: every article) holds."""
        ...

    def feed_stream(
        self, section: str | None = None, batch: int = 500, after: FeedKey | None = None
    ) -> Iterator[Entry]:
        """Every entry of a feed in feed order (``output.feed_order``), after ``after``, streamed."""
        ...

    def feed_listing(self) -> Iterator[Listed]:
        """Every entry of the feed of every article, in feed order, as ``Listed`` (streamed)."""
        ...

    def feed_live(self, section: str | None, after: FeedKey | None) -> tuple[int, int]:
        """How many entries come after ``after``, and how many of those before the newest issue's."""
        ...

    def feed_archives(self, name: str) -> list[FeedKey]:
        """The last feed key of each full archive page of feed ``name``."""
        ...

    def latest_issue(self) -> list[Entry]:
        """The entries of the newest issue date."""
        ...

    def issues(self) -> list[tuple[date, int]]:
        """Every issue date with live entries and how many it holds, oldest first."""
        ...

    def issue_entries(self, day: date) -> list[Entry]:
        """The live entries of one issue, by position."""
        ...

    def issue_heads(self, day: date) -> list[Head]:
        """The heads of the live entries of one issue, by position (``types.Head``)."""
        ...

    def section_latest(self, slug: str, limit: int) -> list[Entry]:
        """The ``limit`` newest entries of one section in paper order."""
        ...

    def digests(self, before: None = None) -> list[DigestRecord]:
        """Every digest made, newest first."""
        ...

    def retracted_entries(self, section: str | None = None, limit: int | None = None) -> list[Entry]:
        """Withdrawn entries (of one section), the latest withdrawn first."""
        ...

    def entries_first_seen(self, since: datetime, until: datetime) -> list[Entry]:
        """Entries first seen in ``[since, until)``."""
        ...

    def entries_by_uid(self, uids: Sequence[str]) -> dict[str, Entry]:
        """The entries ``uids`` held, withdrawn or not, by uid."""
        ...


class MemoryCatalog:
    """A ``Catalog`` over entries and digests held in memory.

    A digest counts by its day and window only (the latest-made one per day
    wins): its entries are those first seen in the window, as in the store.
    """

    def __init__(self, entries: Sequence[Entry], digests: Sequence[Digest] = ()) -> None:
        self._by_uid = {e.uid: e for e in entries}
        self._entries = feed_order(e for e in entries if e.retracted is None)
        self._gone = sorted(
            (e for e in entries if e.retracted is not None),
            key=lambda e: (-(e.retracted_at or e.updated).timestamp(), e.uid),
        )
        latest: dict[object, Digest] = {}
        for digest in sorted(digests, key=lambda d: (d.day, d.until)):
            latest[digest.day] = digest
        self._digests = [
            DigestRecord(d.day, d.since, d.until, d.until, len(self.entries_first_seen(d.since, d.until)))
            for d in latest.values()
        ]

    def _feed(self, section: str | None) -> list[Entry]:
        return [e for e in self._entries if section is None or e.section.slug == section]

    def feed_sections(self) -> list[Section]:
        seen: dict[str, Section] = {}
        for entry in feed_order([*self._entries, *self._gone]):
            seen.setdefault(entry.section.slug, entry.section)
        return list(seen.values())

    def emptied_sections(self) -> list[Section]:
        return []  # entries at hand know no section they left

    def feed_count(self, section: str | None = None) -> int:
        return len(self._feed(section))

    def feed_stream(
        self, section: str | None = None, batch: int = 500, after: FeedKey | None = None
    ) -> Iterator[Entry]:
        return iter([e for e in self._feed(section) if after is None or e.feed_key > after])

    def feed_listing(self) -> Iterator[Listed]:
        return iter([Listed(e.feed_key, e.section.slug, partial(_held, e)) for e in self._feed(None)])

    def feed_live(self, section: str | None, after: FeedKey | None) -> tuple[int, int]:
        live = list(self.feed_stream(section, after=after))
        newest = max((e.issue_date for e in live), default=None)
        first = next((i for i, e in enumerate(live) if e.issue_date == newest), len(live))
        return len(live), first

    def feed_archives(self, name: str) -> list[FeedKey]:
        return []  # nothing frozen yet: a build from memory draws every page

    def latest_issue(self) -> list[Entry]:
        latest = max((e.issue_date for e in self._entries), default=None)
        return [e for e in self._entries if e.issue_date == latest]

    def issues(self) -> list[tuple[date, int]]:
        return sorted(Counter(e.issue_date for e in self._entries).items())

    def issue_entries(self, day: date) -> list[Entry]:
        return sorted((e for e in self._entries if e.issue_date == day), key=lambda e: (e.position, e.uid))

    def issue_heads(self, day: date) -> list[Head]:
        return [Head.of(entry) for entry in self.issue_entries(day)]

    def section_latest(self, slug: str, limit: int) -> list[Entry]:
        paper = sorted(self._feed(slug), key=lambda e: (-e.issue_date.toordinal(), e.position, e.uid))
        return paper[:limit]

    def digests(self, before: None = None) -> list[DigestRecord]:
        return sorted(self._digests, key=lambda r: r.day, reverse=True)

    def entries_first_seen(self, since: datetime, until: datetime) -> list[Entry]:
        return [e for e in self._entries if since <= e.first_seen < until]

    def entries_by_uid(self, uids: Sequence[str]) -> dict[str, Entry]:
        return {uid: self._by_uid[uid] for uid in uids if uid in self._by_uid}

    def retracted_entries(self, section: str | None = None, limit: int | None = None) -> list[Entry]:
        mine = [e for e in self._gone if section is None or e.section.slug == section]
        return mine[:limit]


def _held(entry: Entry) -> Entry:
    """The ``load`` of an entry held already (``MemoryCatalog.feed_listing``)."""
    return entry
