"""The incremental publish: whether what changed can be published by itself, and rendering only that.

``build.publish_store`` decides between this and a full build; here are the pages, sections, issues,
feed tails and digests that a set of changed articles and new digests touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from digest.config import Config
from digest.publish.articlefeeds import Frozen, feed_plan, feed_specs, render_into, tombstones
from digest.publish.digestlog import _digest, _digest_feed, _dirty_digests, _latest, shown_digests
from digest.publish.drawing import Put
from digest.publish.feeds import LogWriter
from digest.publish.issues import neighbours, places
from digest.publish.items import FeedItem, digest_item
from digest.publish.kept import feed_items, story
from digest.publish.layout import DIGESTS_FEED, article_path, gone_path, line
from digest.publish.moved import moved_location
from digest.publish.site import SECTION_PAGE_SIZE, Site
from digest.publish.staging import Stager
from digest.store.database import Store
from digest.store.records import DigestRecord
from digest.types import Entry, Head, Section

# Past this many changed articles one streaming rebuild is cheaper than per-article rank queries.
INCREMENTAL_LIMIT = 2000


def fits_incremental(
    changes: Sequence[tuple[Entry, str | None]], known: Sequence[Section], output_dir: Path
) -> bool:
    """Whether ``changes`` can be published by themselves: few enough, none moved to another
    section or issue, none in a section (or under a section name) the navigation does not list
    yet, none withdrawn or restored (rare, and they reshape every feed they were in)."""
    listed = set(known)
    return len(changes) <= INCREMENTAL_LIMIT and all(
        old in (None, entry.section.slug)
        and entry.section in listed
        and entry.retracted is None
        and not (output_dir / gone_path(entry)).exists()
        and not _moved_away(output_dir / article_path(entry))
        # A published article's page is foldered by issue date: not there, its issue date moved (a
        # page dropped again with its dateline corrected), and its old issue still lists it.
        and (old is None or (output_dir / article_path(entry)).exists())
        for entry, old in changes
    )


def _moved_away(page: Path) -> bool:
    """Whether the published page at ``page`` leads to another article (``publish.moved``): its
    article is back (a re-read found it again), which reshapes its feeds like a restore."""
    try:
        with page.open("rb") as handle:
            return moved_location(handle.read(_HEAD_BYTES)) is not None
    except OSError:
        return False


# A moved page's head, and its refresh, lie well within this many bytes.
_HEAD_BYTES = 4096


def render_changes(
    store: Store,
    config: Config,
    sections: Sequence[Section],
    changes: Sequence[tuple[Entry, str | None]],
    made: Sequence[DigestRecord],
    stager: Stager,
) -> tuple[list[Entry], list[DigestRecord], Frozen]:
    """Render what ``changes`` (new or changed entries, in feed order) and ``made`` touch.

    Returns the entries and digests brought up to date (a digest the site
    leaves out too), for the store to mark published, and the archive pages
    frozen, for the store to record.
    """
    site = Site(config, sections)
    entries = [entry for entry, _ in changes]
    render = render_into(stager.put)

    made_ever = store.digests()
    # Every digest made or touched is marked published, one the site leaves out (``shown_digests``) too.
    dirty = _dirty_digests(made_ever, made, entries)
    records = shown_digests(store, made_ever, config)
    shown = {record.day for record in records}
    drawn = [record for record in dirty if record.day in shown]
    if entries or drawn:
        stager.put(*site.index([story(e, config.tz) for e in store.latest_issue()], _latest(records)))
    if entries:
        _render_issues(store, config, site, {entry.issue_date for entry in entries}, stager.put)
    touched = {entry.section.slug for entry in entries}
    for section in sections:
        if section.slug in touched:
            latest = store.section_latest(section.slug, SECTION_PAGE_SIZE + 1)
            stager.put(*site.section(section, [story(e, config.tz) for e in latest]))
    frozen: Frozen = {}
    for spec, slug in feed_specs(config, sections):
        if not any(slug is None or entry.section.slug == slug for entry in entries):
            continue
        # Only what follows the full archive pages is drawn: a few pages' worth however long the feed.
        plan = feed_plan(store, spec.name, slug, config, lambda path: True)
        after = plan.frozen[-1] if plan.frozen else None
        writer = LogWriter(spec, plan, config, render, tombstones(store, slug, config))
        # A few pages' worth at most: what follows the full archive pages.
        logged = list(store.feed_stream(slug, after=after))
        for entry, item in zip(logged, feed_items(logged, config), strict=True):
            writer.add(entry.feed_key, item)
        writer.close()
        frozen[spec.name] = writer.new_pages

    if drawn:
        stager.put(*site.digests([(r.day, r.count) for r in records]))
        for digest in (_digest(store, r, config) for r in drawn):
            stager.put(*site.digest(digest))

        def item_of(record: DigestRecord) -> FeedItem:
            return digest_item(_digest(store, record, config), config)

        # The digests after the feed's full archive pages, and any page they fill now.
        frozen[DIGESTS_FEED] = _digest_feed(store, records, config, render, lambda path: True, item_of)
    return entries, dirty, frozen


def _render_issues(store: Store, config: Config, site: Site, touched: set[date], put: Put) -> None:
    """The issue list, the pages of the ``touched`` issues and of the issues on either side (whose
    next or previous issue may be new), and every article page of a touched issue: a new or changed
    article changes its neighbours' links.  Unchanged bytes are not rewritten (``staging``)."""
    counts = store.issues()
    days = [day for day, _ in counts]
    put(*site.issues(counts))
    beside = {found for day in touched for found in neighbours(days, day) if found is not None}
    for day in sorted((touched | beside) & set(days)):
        entries = store.issue_entries(day)
        lines = [line(Head.of(entry)) for entry in entries]
        put(*site.issue(day, lines, days))
        if day in touched:
            where = places(lines)
            for entry in entries:
                put(*site.article(story(entry, config.tz), where[entry.uid]))
