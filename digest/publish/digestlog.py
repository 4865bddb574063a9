"""The digest feed and pages: digests are a log like the article feeds, each digest its own issue."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import date

from digest.config import Config
from digest.publish.catalog import Catalog
from digest.publish.digests import build_digest
from digest.publish.feeds import FORMATS, LogWriter, RenderDocument, plan_feed
from digest.publish.items import (
    FeedItem,
    digests_spec,
)
from digest.store.records import DigestRecord
from digest.types import Digest, Entry, FeedKey, feed_key


def _kept(keep: Callable[[str], bool], name: str, number: int) -> bool:
    """Whether archive page ``number`` of feed ``name`` stays as it stands: in every format, or it
    is drawn again (a page frozen before a format existed gets its twin)."""
    return all(keep(fmt.archive_path(name, number)) for fmt in FORMATS)


def _latest(records: Sequence[DigestRecord]) -> tuple[date, int] | None:
    """The (day, article count) of the newest of ``records``."""
    newest = max(records, key=lambda r: r.day, default=None)
    return (newest.day, newest.count) if newest else None


def shown_digests(catalog: Catalog, records: Sequence[DigestRecord], config: Config) -> list[DigestRecord]:
    """The digests of ``records`` the site and the digest feed show: the same ones, so no entry,
    list or front page links to a page that is not there.

    A day without new articles is shown only with ``digest.empty_days =
    "notice"``, where the subscribers were told so; with "skip" they got no
    email, and a feed entry or page saying nothing would be the email they
    were spared.  A digest in a full archive page of the feed stays, whatever
    its count: that page is frozen and links to it.
    """
    if config.digest.empty_days == "notice":
        return list(records)
    frozen = catalog.feed_archives(digests_spec(config).name)
    return [r for r in records if r.count > 0 or (frozen and _digest_key(r) <= frozen[-1])]


def _digest_key(record: DigestRecord) -> FeedKey:
    """A digest's place in the digest feed: when its window ended (a remade one comes again)."""
    return feed_key(int(record.until.timestamp()), record.day, 0, "")


def _digest_feed(
    catalog: Catalog,
    records: Sequence[DigestRecord],
    config: Config,
    render: RenderDocument,
    keep: Callable[[str], bool] | None,
    item_of: Callable[[DigestRecord], FeedItem],
) -> list[tuple[int, FeedKey]]:
    """The documents of the digest feed, a log like the article feeds (``feeds.FeedPlan``);
    returns the archive pages it froze.  Digests in kept frozen pages are not drawn at all."""
    spec = digests_spec(config)
    ordered = sorted(records, key=_digest_key)
    frozen = catalog.feed_archives(spec.name)
    after = frozen[-1] if frozen else None
    live = sum(1 for record in ordered if after is None or _digest_key(record) > after)
    kept = frozenset(
        number for number in range(1, len(frozen) + 1) if keep is not None and _kept(keep, spec.name, number)
    )
    # Every digest but the newest may be archived: it is its own "issue".
    plan = plan_feed(spec.name, frozen, kept, live, max(live - 1, 0), config.feeds.size)
    writer = LogWriter(spec, plan, config, render)
    for record in ordered:
        key = _digest_key(record)
        if plan.page_of(key) not in plan.keep:
            writer.add(key, item_of(record))
    writer.close()
    return writer.new_pages


def _dirty_digests(
    records: Sequence[DigestRecord], made: Sequence[DigestRecord], entries: Sequence[Entry]
) -> list[DigestRecord]:
    """Digests to render again: the newly made ones, and those whose window holds a changed entry."""
    seen = sorted(entry.first_seen for entry in entries)
    fresh = {record.day for record in made}
    return [
        record
        for record in records
        if record.day in fresh
        or bisect.bisect_left(seen, record.since) < bisect.bisect_left(seen, record.until)
    ]


def _digest(catalog: Catalog, record: DigestRecord, config: Config) -> Digest:
    found = catalog.entries_first_seen(record.since, record.until)
    return build_digest(found, record.day, record.since, record.until, config.digest.backfill_days)
