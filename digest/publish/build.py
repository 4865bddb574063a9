"""Publish: render feeds and pages into the output folder, doing work in proportion to what changed.

A *full* build renders every document from a ``Catalog``, streaming entries
a batch at a time (``render_all``).  An *incremental* publish from the store
(``publish_store``) asks what changed since the last publish and renders only
that: the pages of new or changed articles; the front page and the touched
sections' pages (bounded queries); the subscription documents of the touched
article feeds (what follows their last full archive page) and the archive
pages they fill now (``feeds.FeedPlan``); digest pages for new digests or
digests holding a changed article.  Full archive pages of article feeds are
frozen (``feed_archives``): never drawn again, not even by a full rebuild
that finds them in place, except to take out a withdrawn article.  So a
publish on a 100k-article archive costs about what it costs on a small one.

Every write to ``articles`` takes a step of the store's change sequence;
the publish state keeps the step the output folder reflects, so "what
changed" is an indexed range (``Store.unpublished``), and every read of
one publish comes from one database snapshot (``Store.snapshot``), so a
writer committing meanwhile cannot shift a feed between its count and its
pages.  ``published_entries`` keeps the section each article was published
under.  The output folder holds a marker whose token the store also keeps,
so a wiped output folder, a rebuilt database, new code, templates, settings
or sections all make the next publish a full one, as does ``digest publish
--full``.  Writing goes through ``staging.Stager``:
everything is staged before the first rename, unchanged bytes are not
rewritten, and a failure leaves the previous output whole.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence

# The base of BrokenProcessPool: catching that needs concurrent.futures.process (with multiprocessing)
# loaded in every command, where only a started pool can break.
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from digest import workers
from digest.config import Config
from digest.faults import crash_point
from digest.progress import LogProgress, Progress
from digest.publish.articlefeeds import Frozen, feed_plan, feed_specs, render_into, tombstones
from digest.publish.catalog import Catalog, MemoryCatalog
from digest.publish.digestlog import _digest, _digest_feed, _latest, shown_digests
from digest.publish.drawing import (
    Put,
    _Drawing,
    _IssueBook,
    _stories,
    start_worker,
)
from digest.publish.feeds import LogWriter, opml
from digest.publish.incremental import INCREMENTAL_LIMIT, fits_incremental, render_changes
from digest.publish.items import (
    FeedItem,
    all_spec,
    digest_item,
    digests_spec,
    section_spec,
)
from digest.publish.layout import (
    DIGESTS_FEED,
    OPML,
    OPML_SECTIONS,
    absolute_url,
    present,
)
from digest.publish.moved import successors
from digest.publish.site import SECTION_PAGE_SIZE, Site
from digest.publish.staging import Committed, Stager
from digest.publish.stamp import _read_marker, _stamp, _write_marker
from digest.store.database import Store
from digest.types import Digest, Entry, Section

log = logging.getLogger(__name__)


# A full build of this many articles draws on every core: it repays starting the workers.  Once the
# main process no longer made the entries it sends, one process was as fast at 1,000 articles (a
# pool 1.02 times as long) and a pool paid from 2,000 (0.92 times; docs/performance.md).
POOL_MIN_ARTICLES = 1500


@dataclass(frozen=True)
class PublishReport:
    """What one publish did to the output folder."""

    written: tuple[str, ...]  # relative paths (re)written: every one, or the first staging.REPORTED_PATHS
    unchanged: int  # files rendered whose bytes were identical, left untouched (mtime kept)
    changed_feeds: tuple[str, ...]  # absolute URLs of subscription documents that changed (WebSub topics)
    removed: tuple[str, ...] = ()  # relative paths that no longer belong
    full: bool = True  # every document was rendered (False: only what changed)
    written_count: int = 0  # how many files were (re)written


def build_plan(entries: Sequence[Entry], digests: Sequence[Digest], config: Config) -> dict[str, bytes]:
    """Every file the output folder should hold for ``entries`` and ``digests``, by relative path.

    In memory, for tests and small builds; a digest counts by its day and window.
    """
    plan: dict[str, bytes] = {}
    render_all(MemoryCatalog(entries, digests), config, plan.__setitem__)
    return plan


def publish(
    entries: Sequence[Entry], digests: Sequence[Digest], config: Config, output_dir: Path
) -> PublishReport:
    """Render every feed and page for ``entries`` and ``digests`` into ``output_dir`` (a full build).

    Only files whose bytes change are written; files that no longer belong are
    removed.  On failure raises ``PublishError`` and the files in place stay whole.
    """
    started = time.monotonic()
    with Stager(output_dir) as stager:
        render_all(MemoryCatalog(entries, digests), config, stager.put)
        committed, removed = stager.commit()
        removed += stager.prune()
    return _report(config, stager, committed, removed, True, started)


def publish_store(
    store: Store, config: Config, output_dir: Path, full: bool = False, progress: Progress | None = None
) -> PublishReport:
    """Bring ``output_dir`` up to date with the store: only what changed, or everything when
    ``full`` is asked or the folder cannot be trusted to match (see the module docstring).

    ``progress`` hears how many articles a full build has drawn (default: a log
    line every ten seconds of a long build); an incremental publish is short."""
    started = time.monotonic()
    # Under the Stager's lock on the folder: one publisher at a time reads and writes the state.
    with Stager(output_dir) as stager:
        state = store.publish_state()
        known = _known_sections(state)
        trusted = bool(state.get("token")) and _read_marker(output_dir) == state["token"]
        full = full or not trusted or known is None or state.get("stamp") != _stamp(config, known)
        if not full and known is not None:
            with store.snapshot() as seq:
                # One more than the limit tells that it is over the limit.
                changes = store.unpublished(int(state["seq"]), INCREMENTAL_LIMIT + 1)
                full = not fits_incremental(changes, known, output_dir)
                if not full:
                    made = store.unpublished_digests()
                    entries, dirty, frozen = render_changes(store, config, known, changes, made, stager)
            if not full:
                crash_point("publish.after_stage")
                committed, removed = stager.commit()
                crash_point("publish.before_mark_published")
                _freeze(store, frozen)
                store.mark_published(entries, dirty, seq)
        if full:
            # Until this build is in place the folder matches nothing: a failure means full again.
            store.set_publish_state({"token": ""})
            seq = store.mark_all_published()
            crash_point("publish.full_after_reset")
            meter = progress or LogProgress("publish", "articles")
            with store.snapshot():
                try:
                    sections, frozen = render_all(store, config, stager.put, True, stager.keep, meter, stager)
                except BrokenExecutor as exc:
                    # A worker killed (out of memory?) or never started: the build starts again, here.
                    log.warning("page render processes failed (%s); rendering the full build here", exc)
                    stager.restart()
                    sections, frozen = render_all(store, config, stager.put, keep=stager.keep, progress=meter)
            crash_point("publish.after_stage")
            committed, removed = stager.commit()
            removed += stager.prune()
            _freeze(store, frozen)
            crash_point("publish.before_marker")
            token = secrets.token_hex(16)
            _write_marker(output_dir, token)
            crash_point("publish.before_state")
            listed = json.dumps([[s.name, s.slug] for s in sections], ensure_ascii=False)
            stamp = _stamp(config, sections)
            store.set_publish_state({"token": token, "stamp": stamp, "seq": str(seq), "sections": listed})
    return _report(config, stager, committed, removed, full, started)


def _known_sections(state: dict[str, str]) -> list[Section] | None:
    """The section list the output folder was built with (None: a state without one)."""
    if "seq" not in state or "sections" not in state:
        return None
    return [Section(name, slug) for name, slug in json.loads(state["sections"])]


def render_all(
    catalog: Catalog,
    config: Config,
    put: Put,
    parallel: bool = False,
    keep: Callable[[str], bool] | None = None,
    progress: Progress | None = None,
    stager: Stager | None = None,
) -> tuple[list[Section], Frozen]:
    """Render every document from ``catalog`` into ``put(path, bytes)``, streaming the entries;
    returns the sections, in the navigation's order, and the archive pages it froze.

    A section no article is filed under any more (``Catalog.emptied_sections``) keeps its feeds
    and its page, for those who follow it, but is not among the sections returned and listed.

    ``parallel``: a big archive's article pages and issue pages are drawn
    in worker processes, one per free core (``workers.pool``; ``put`` still runs in this process),
    which stage the article pages into ``stager`` themselves when it is given (``Stager.staging``).
    ``keep(path)`` leaves a frozen archive page as it stands in the output
    folder (True when it is there); one holding a withdrawn article is drawn
    again without it.  ``progress`` hears how many articles are drawn.
    """
    sections = catalog.feed_sections()
    emptied = catalog.emptied_sections()
    site = Site(config, sections)
    for path, data in site.static().items():
        put(path, data)
    records = shown_digests(catalog, catalog.digests(), config)
    put(*site.index(_stories(catalog.latest_issue(), config), _latest(records)))
    put(*site.subscribe())
    put(*site.feeds_page())
    put(*site.not_found())
    counts = catalog.issues()
    put(*site.issues(counts))
    for section in (*sections, *emptied):
        put(
            *site.section(
                section, _stories(catalog.section_latest(section.slug, SECTION_PAGE_SIZE + 1), config)
            )
        )
    specs = feed_specs(config, [*sections, *emptied])
    pool = None
    total = catalog.feed_count()
    if progress is not None:
        progress.start(total)
    if parallel and total >= POOL_MIN_ARTICLES:
        staging = stager.staging if stager is not None else None
        pool = workers.pool(
            ["digest.publish.build"], start_worker, (config, sections, staging), config.build.workers
        )
    try:
        days = [day for day, _ in counts]
        render = render_into(put)
        draw = _Drawing(site, config, put, pool, stager.record if stager is not None else None)
        book = _IssueBook(catalog, days, lambda day, lines: draw.issue(day, lines, days))
        draw.place = book.place
        gone = catalog.retracted_entries()
        writers = {
            slug: LogWriter(
                spec,
                feed_plan(catalog, spec.name, slug, config, keep, gone),
                config,
                render,
                tombstones(catalog, slug, config),
            )
            for spec, slug in specs
        }
        # One pass over the archive feeds every article feed and writes the article pages on the way.
        for drawn, (listed, item) in enumerate(draw.articles(catalog.feed_listing()), 1):
            writers[None].add(listed.feed_key, item)
            writers[listed.section_slug].add(listed.feed_key, item)
            if progress is not None:
                progress.update(drawn)
        for writer in writers.values():
            writer.close()
        book.finish()
        heirs = successors(catalog, gone)
        for entry in gone:
            heir = heirs.get(entry.uid)
            if heir is None:
                put(*site.gone(present(entry, config.tz)))
            else:
                put(*site.moved(present(entry, config.tz), present(heir, config.tz)))
        put(*site.digests([(r.day, r.count) for r in records]))
        items: dict[date, FeedItem] = {}
        for record in records:
            digest = _digest(catalog, record, config)
            put(*site.digest(digest))
            items[record.day] = digest_item(digest, config)
        frozen = _digest_feed(catalog, records, config, render, keep, lambda r: items[r.day])
        draw.finish()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if progress is not None:
            progress.close()
    put(OPML, opml([all_spec(config), digests_spec(config)], config))
    # Apart from the all-articles feed: subscribing to both would bring every article twice.
    put(OPML_SECTIONS, opml([section_spec(config, s) for s in sections], config, "版块"))
    articles = {writer.spec.name: writer.new_pages for writer in writers.values()}
    return sections, {DIGESTS_FEED: frozen, **articles}


def _freeze(store: Store, frozen: Frozen) -> None:
    """Record the archive pages a publish froze, once they are in the output folder."""
    for name, pages in frozen.items():
        store.add_feed_archives(name, pages)


def _report(
    config: Config, stager: Stager, written: Committed, removed: list[str], full: bool, started: float
) -> PublishReport:
    changed = tuple(absolute_url(config.site.base_url, path) for path in written.subscriptions)
    log.info(
        "published mode=%s rendered=%d written=%d unchanged=%d removed=%d feeds_changed=%d ms=%d",
        "full" if full else "incremental",
        written.count + stager.unchanged,
        written.count,
        stager.unchanged,
        len(removed),
        len(changed),
        (time.monotonic() - started) * 1000,
    )
    return PublishReport(written.paths, stager.unchanged, changed, tuple(removed), full, written.count)
