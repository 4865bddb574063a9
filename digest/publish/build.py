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

import bisect
import hashlib
import json
import logging
import os
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from digest import __version__, workers
from digest.config import Config
from digest.faults import crash_point
from digest.progress import LogProgress, Progress
from digest.publish.atom import with_atom
from digest.publish.catalog import Catalog, MemoryCatalog
from digest.publish.digests import build_digest
from digest.publish.feeds import FORMATS, FeedPlan, LogWriter, RenderDocument, opml, plan_feed
from digest.publish.issues import Place, neighbours, places
from digest.publish.items import (
    FeedItem,
    FeedKey,
    FeedSpec,
    Tombstone,
    all_spec,
    digest_item,
    digests_spec,
    section_spec,
    story_item,
    tombstone,
)
from digest.publish.layout import (
    DIGESTS_FEED,
    OPML,
    OPML_SECTIONS,
    Line,
    Story,
    absolute_url,
    gone_path,
    line,
    page_number,
    present,
)
from digest.publish.site import SECTION_PAGE_SIZE, Site
from digest.publish.staging import Committed, Stager
from digest.publish.templates import TEMPLATES
from digest.store.database import Store
from digest.store.records import DigestRecord
from digest.types import Digest, Entry, Head, Section

log = logging.getLogger(__name__)

Put = Callable[[str, bytes], None]
T = TypeVar("T")

# Hidden (the server never serves dot files); holds the token of the build the folder is from.
MARKER = ".digest-publish"
# Past this many changed articles one streaming rebuild is cheaper than per-article rank queries.
INCREMENTAL_LIMIT = 2000
# A full build of this many articles draws on every core: it repays starting the workers.
POOL_MIN_ARTICLES = 500
# Articles a worker draws per task; documents being drawn at once (each holds its entries).
ARTICLE_BATCH = 50
DOCUMENTS_IN_FLIGHT = 8

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
                full = not _incremental(changes, known, output_dir)
                if not full:
                    made = store.unpublished_digests()
                    entries, dirty, frozen = _render_changes(store, config, known, changes, made, stager)
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
                    sections, frozen = render_all(store, config, stager.put, True, stager.keep, meter)
                except BrokenProcessPool as exc:
                    # A worker killed (out of memory?) or never started: what was staged is put again, here.
                    log.warning("page render processes failed (%s); rendering the full build here", exc)
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


def _incremental(
    changes: Sequence[tuple[Entry, str | None]], known: Sequence[Section], output_dir: Path
) -> bool:
    """Whether ``changes`` can be published by themselves: few enough, none moved to another
    section, none in a section (or under a section name) the navigation does not list yet,
    none withdrawn or restored (rare, and they reshape every feed they were in)."""
    listed = set(known)
    return len(changes) <= INCREMENTAL_LIMIT and all(
        old in (None, entry.section.slug)
        and entry.section in listed
        and entry.retracted is None
        and not (output_dir / gone_path(entry)).exists()
        for entry, old in changes
    )


# Full archive pages each feed froze in one publish: (number, last feed key), by feed name.
Frozen = dict[str, list[tuple[int, FeedKey]]]


def render_all(
    catalog: Catalog,
    config: Config,
    put: Put,
    parallel: bool = False,
    keep: Callable[[str], bool] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Section], Frozen]:
    """Render every document from ``catalog`` into ``put(path, bytes)``, streaming the entries;
    returns the sections, in the navigation's order, and the archive pages it froze.

    ``parallel``: a big archive's article pages and feed documents are drawn
    in worker processes, one per free core (``workers.pool``; ``put`` still runs in this process).
    ``keep(path)`` leaves a frozen archive page as it stands in the output
    folder (True when it is there); one holding a withdrawn article is drawn
    again without it.  ``progress`` hears how many articles are drawn.
    """
    sections = catalog.feed_sections()
    site = Site(config, sections)
    for path, data in site.static().items():
        put(path, data)
    records = catalog.digests()
    put(*site.index(_stories(catalog.latest_issue(), config), _latest(records)))
    put(*site.subscribe())
    put(*site.feeds_page())
    put(*site.not_found())
    counts = catalog.issues()
    put(*site.issues(counts))
    for section in sections:
        put(
            *site.section(
                section, _stories(catalog.section_latest(section.slug, SECTION_PAGE_SIZE + 1), config)
            )
        )
    specs = _feed_specs(config, sections)
    pool = None
    total = catalog.feed_count()
    if progress is not None:
        progress.start(total)
    if parallel and total >= POOL_MIN_ARTICLES:
        pool = workers.pool(["digest.publish.build"], _start_worker, (config, sections), config.build.workers)
    try:
        days = [day for day, _ in counts]
        draw = _Drawing(site, config, put, pool)
        book = _IssueBook(catalog, days, lambda day, lines: draw.issue(day, lines, days))
        draw.place = book.place
        gone = catalog.retracted_entries()
        writers = {
            slug: LogWriter(
                spec,
                _plan(catalog, spec.name, slug, config, keep, gone),
                config,
                draw.document,
                _tombstones(catalog, slug, config),
            )
            for spec, slug in specs
        }
        # One pass over the archive feeds every article feed and writes the article pages on the way.
        for drawn, (entry, item) in enumerate(draw.articles(catalog.feed_stream()), 1):
            writers[None].add(entry.feed_key, item)
            writers[entry.section.slug].add(entry.feed_key, item)
            if progress is not None:
                progress.update(drawn)
        for writer in writers.values():
            writer.close()
        book.finish()
        for entry in gone:
            put(*site.gone(present(entry, config.tz)))
        put(*site.digests([(r.day, r.count) for r in records]))
        items: dict[date, FeedItem] = {}
        for record in records:
            digest = _digest(catalog, record, config)
            put(*site.digest(digest))
            items[record.day] = digest_item(digest, config)
        frozen = _digest_feed(catalog, records, config, draw.document, keep, lambda r: items[r.day])
        draw.finish()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if progress is not None:
            progress.close()
    put(OPML, opml([all_spec(config), digests_spec(config)], config))
    # Apart from the all-articles feed: subscribing to both would bring every article twice.
    put(OPML_SECTIONS, opml([spec for spec, slug in specs if slug is not None], config, "版块"))
    articles = {writer.spec.name: writer.new_pages for writer in writers.values()}
    return sections, {DIGESTS_FEED: frozen, **articles}


def _plan(
    catalog: Catalog,
    name: str,
    slug: str | None,
    config: Config,
    keep: Callable[[str], bool] | None,
    gone: Sequence[Entry] = (),
) -> FeedPlan:
    """Where the entries of feed ``name`` go in this publish (``feeds.plan_feed``)."""
    frozen = catalog.feed_archives(name)
    live, before_newest = catalog.feed_live(slug, frozen[-1] if frozen else None)
    plan = FeedPlan(name, tuple(frozen))
    # Withdrawn text must leave the archive too: the one exception to a frozen page's bytes.
    withdrawn = {plan.page_of(e.feed_key) for e in gone if slug is None or e.section.slug == slug}
    kept = frozenset(
        number
        for number in range(1, len(frozen) + 1)
        if number not in withdrawn and keep is not None and _kept(keep, name, number)
    )
    return plan_feed(name, frozen, kept, live, before_newest, config.feeds.size)


def _kept(keep: Callable[[str], bool], name: str, number: int) -> bool:
    """Whether archive page ``number`` of feed ``name`` stays as it stands: in every format, or it
    is drawn again (a page frozen before a format existed gets its twin)."""
    return all(keep(fmt.archive_path(name, number)) for fmt in FORMATS)


def _freeze(store: Store, frozen: Frozen) -> None:
    """Record the archive pages a publish froze, once they are in the output folder."""
    for name, pages in frozen.items():
        store.add_feed_archives(name, pages)


def _tombstones(catalog: Catalog, slug: str | None, config: Config) -> list[Tombstone]:
    """Tombstones of a feed's latest withdrawn entries, as many as its subscription document holds."""
    gone = catalog.retracted_entries(slug, config.feeds.size)
    return [tombstone(present(e, config.tz), e.retracted_at or e.updated, config) for e in gone]


def _articles(
    site: Site, config: Config, entries: Sequence[tuple[Entry, Place]]
) -> list[tuple[str, bytes, FeedItem]]:
    """The page and the feed entry of each article (with its place in its issue): pure, so a
    worker process can draw them."""
    pages, items = [], []
    for entry, place in entries:
        story = present(entry, config.tz)
        pages.append(site.article(story, place))
        items.append(story_item(story, config))
    # Each entry's XML once here, spliced into every feed document that holds it.
    return [(path, page, item) for (path, page), item in zip(pages, with_atom(items), strict=True)]


def _issue_in_worker(day: date, lines: Sequence[Line], days: Sequence[date]) -> tuple[str, bytes]:
    if _worker_site is None:
        raise RuntimeError("a render worker was started without its site")
    return _worker_site.issue(day, lines, days)


def _nowhere(entry: Entry) -> Place:
    """The place of an entry whose issue is not looked up: its page, no neighbours."""
    return Place(page_number(entry.position), entry.section.name, None, None)


class _IssueBook:
    """Where each article of a full build stands in its issue, read an issue at a time.

    The feed stream comes in feed order, which follows the paper's order of
    arrival: the last few issues read are kept (``KEPT``), so each issue is
    read about once, and its page is drawn the first time it is read; memory
    stays flat however many issues the archive holds.
    """

    KEPT = 8

    def __init__(
        self, catalog: Catalog, days: Sequence[date], draw: Callable[[date, list[Line]], None]
    ) -> None:
        self._catalog = catalog
        self._days = list(days)
        self._draw = draw
        self._kept: OrderedDict[date, dict[str, Place]] = OrderedDict()
        self._drawn: set[date] = set()

    def place(self, entry: Entry) -> Place:
        """``entry``'s place in its issue."""
        day = entry.issue_date
        places = self._kept.get(day)
        if places is None:
            places = self._kept[day] = self._read(day)
            if len(self._kept) > self.KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(day)
        return places.get(entry.uid) or _nowhere(entry)

    def finish(self) -> None:
        """Draw the page of every issue the stream did not reach (none, unless the store changed
        between the issue list and the stream)."""
        for day in self._days:
            if day not in self._drawn:
                self._read(day)

    def _read(self, day: date) -> dict[str, Place]:
        lines = [line(entry) for entry in self._catalog.issue_heads(day)]
        if day not in self._drawn:
            self._draw(day, lines)
            self._drawn.add(day)
        return places(lines)


# What a worker process draws with: the site of the build it serves (set as the worker starts).
_worker_site: Site | None = None


def _start_worker(config: Config, sections: Sequence[Section]) -> None:
    global _worker_site
    _worker_site = Site(config, sections)


def _articles_in_worker(entries: Sequence[tuple[Entry, Place]]) -> list[tuple[str, bytes, FeedItem]]:
    if _worker_site is None:
        raise RuntimeError("a render worker was started without its site")
    return _articles(_worker_site, _worker_site.config, entries)


class _Drawing:
    """Draws the article pages and feed documents of a full build, here or in worker processes.

    Whatever is drawn is handed to ``put`` in this process only (the staging
    is not shared), and at most a few batches wait at any time: memory stays
    flat however big the archive.
    """

    def __init__(self, site: Site, config: Config, put: Put, pool: workers.Workers | None) -> None:
        self._site = site
        self._config = config
        self._put = put
        self._pool = pool
        # Where an entry stands in its issue (``_IssueBook.place``), asked as its batch is sent.
        self.place: Callable[[Entry], Place] = _nowhere
        self._documents: deque[Future[tuple[str, bytes]]] = deque()

    def articles(self, entries: Iterable[Entry]) -> Iterator[tuple[Entry, FeedItem]]:
        """Put each entry's page; yields the entry and its feed item, in the order of ``entries``."""
        sent: deque[list[Entry]] = deque()

        def batches() -> Iterator[list[tuple[Entry, Place]]]:
            for batch in _batches(entries, ARTICLE_BATCH):
                sent.append(batch)
                yield [(entry, self.place(entry)) for entry in batch]

        drawn: Iterator[list[tuple[str, bytes, FeedItem]]]
        if self._pool is None:
            drawn = (_articles(self._site, self._config, batch) for batch in batches())
        else:
            drawn = workers.ordered(self._pool, _articles_in_worker, batches(), 2 * workers.cpu_count())
        for pages in drawn:
            for entry, (path, page, item) in zip(sent.popleft(), pages, strict=True):
                self._put(path, page)
                yield entry, item
            self._collect(DOCUMENTS_IN_FLIGHT)

    def issue(self, day: date, lines: Sequence[Line], days: Sequence[date]) -> None:
        """Put the page of the issue of ``day`` (``Site.issue``)."""
        if self._pool is None:
            self._put(*self._site.issue(day, lines, days))
        else:
            self.document(_issue_in_worker, day, lines, days)

    def document(self, draw: Callable[..., tuple[str, bytes]], *args: Any) -> None:
        """Put ``draw(*args)``, a feed document's path and bytes."""
        if self._pool is None:
            self._put(*draw(*args))
            return
        self._documents.append(self._pool.submit(draw, *args))
        self._collect(DOCUMENTS_IN_FLIGHT)

    def finish(self) -> None:
        """Put every document still being drawn."""
        self._collect(0)

    def _collect(self, limit: int) -> None:
        """Put the documents drawn so far, waiting for the oldest while more than ``limit`` wait."""
        while self._documents and (self._documents[0].done() or len(self._documents) > limit):
            self._put(*self._documents.popleft().result())


def _render_changes(
    store: Store,
    config: Config,
    sections: Sequence[Section],
    changes: Sequence[tuple[Entry, str | None]],
    made: Sequence[DigestRecord],
    stager: Stager,
) -> tuple[list[Entry], list[DigestRecord], Frozen]:
    """Render what ``changes`` (new or changed entries, in feed order) and ``made`` touch.

    Returns the entries and digests rendered, for the store to mark published,
    and the archive pages frozen, for the store to record.
    """
    site = Site(config, sections)
    entries = [entry for entry, _ in changes]

    def render(draw: Callable[..., tuple[str, bytes]], *args: Any) -> None:
        stager.put(*draw(*args))

    records = store.digests()
    dirty = _dirty_digests(records, made, entries)
    if entries or dirty:
        stager.put(*site.index(_stories(store.latest_issue(), config), _latest(records)))
    if entries:
        _render_issues(store, config, site, {entry.issue_date for entry in entries}, stager.put)
    touched = {entry.section.slug for entry in entries}
    for section in sections:
        if section.slug in touched:
            stager.put(
                *site.section(
                    section, _stories(store.section_latest(section.slug, SECTION_PAGE_SIZE + 1), config)
                )
            )
    frozen: Frozen = {}
    for spec, slug in _feed_specs(config, sections):
        if not any(slug is None or entry.section.slug == slug for entry in entries):
            continue
        # Only what follows the full archive pages is drawn: a few pages' worth however long the feed.
        plan = _plan(store, spec.name, slug, config, lambda path: True)
        after = plan.frozen[-1] if plan.frozen else None
        writer = LogWriter(spec, plan, config, render, _tombstones(store, slug, config))
        for entry in store.feed_stream(slug, after=after):
            writer.add(entry.feed_key, story_item(present(entry, config.tz), config))
        writer.close()
        frozen[spec.name] = writer.new_pages

    if dirty:
        stager.put(*site.digests([(r.day, r.count) for r in records]))
        for digest in (_digest(store, r, config) for r in dirty):
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
                put(*site.article(present(entry, config.tz), where[entry.uid]))


def _latest(records: Sequence[DigestRecord]) -> tuple[date, int] | None:
    """The (day, article count) of the newest of ``records``."""
    newest = max(records, key=lambda r: r.day, default=None)
    return (newest.day, newest.count) if newest else None


def _digest_key(record: DigestRecord) -> FeedKey:
    """A digest's place in the digest feed: when its window ended (a remade one comes again)."""
    return (int(record.until.timestamp()), record.day, 0, "")


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


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _stories(entries: Iterable[Entry], config: Config) -> list[Story]:
    return [present(entry, config.tz) for entry in entries]


def _feed_specs(config: Config, sections: Sequence[Section]) -> list[tuple[FeedSpec, str | None]]:
    """The article feeds with the section each filters on (None: every article)."""
    return [(all_spec(config), None), *((section_spec(config, s), s.slug) for s in sections)]


@cache
def _code_stamp() -> str:
    """A fingerprint of the rendering code and the templates."""
    digest = hashlib.sha256(__version__.encode())
    # Every module of this package renders or decides what is rendered; hashing them all means a new
    # module cannot be forgotten (a forgotten one would serve stale output after an upgrade).
    for path in (
        *sorted(Path(__file__).parent.glob("*.py")),
        *sorted(p for p in TEMPLATES.rglob("*") if p.is_file()),
    ):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamp(config: Config, sections: Sequence[Section]) -> str:
    """What every page depends on: code, templates, the site and feed settings, the section list."""
    facts = [_code_stamp(), repr(config.site), repr(config.feeds), [(s.name, s.slug) for s in sections]]
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()


def _read_marker(output_dir: Path) -> str:
    try:
        return (output_dir / MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _write_marker(output_dir: Path, token: str) -> None:
    temp = output_dir / f"{MARKER}.tmp"
    temp.write_text(token + "\n", encoding="ascii")
    os.replace(temp, output_dir / MARKER)


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
