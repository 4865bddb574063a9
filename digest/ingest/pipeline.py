"""Source folder → store: scan, skip what was seen, decode, parse, date, upsert.

One bad file is logged once with its name and reason, recorded in
``sources.last_error`` and skipped; the rest go on.  A file is read again
only when its bytes change (content hash), so a fixed file is retried.  An
unchanged one costs one ``stat``: the store keeps each file's stamp (inode,
size, mtime and ctime in nanoseconds) from when its bytes were read, and a file
with the same stamp is not opened (``file_stamp``; a rename over it brings a new
inode, any write a new mtime and ctime).  An entry that cannot be read at all
(a folder or a symlink loop named like a page, no read permission, far too
large) is recorded by its ``lstat`` instead, so it too is reported once and
retried when anything about it changes (a ``chmod`` moves its change time).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time as clock
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from digest.config import Config
from digest.errors import SourceError
from digest.faults import crash_point
from digest.ingest import identity, renamed
from digest.ingest.read import (
    Parsed,
    Parsers,
    Refused,
    as_known,
    build_entries,
    decode_and_parse,
    read_batches,
    read_file,
    section_names,
    source_name,
)
from digest.ingest.scan import (
    scan,
)
from digest.language import traditional
from digest.paper import dating
from digest.paper.parse import PARSER_VERSION
from digest.paper.slugs import slugify
from digest.paper.variants import script_first, simplified
from digest.progress import LogProgress, Progress
from digest.store.database import Store
from digest.store.records import SourceRecord
from digest.types import DatedBy, Entry, Retraction

log = logging.getLogger(__name__)


# More page files than this (and than half of them) gone in one scan is taken for a lost folder.
MASS_VANISH = 20


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did."""

    files: int = 0  # page files looked at
    read: int = 0  # files decoded and parsed (new or changed bytes)
    unchanged: int = 0  # files skipped because their bytes were seen before
    failed: int = 0  # files that could not be read (see ``errors``)
    articles: int = 0  # articles found in the files read
    new: int = 0
    changed: int = 0
    retracted: int = 0  # articles withdrawn: gone from a re-read page, or their page file gone
    errors: tuple[tuple[str, str], ...] = ()  # (file, reason) for each failed file
    ms: int = 0

    @property
    def touched(self) -> bool:
        """Whether the store changed, so a publish is worth running."""
        return bool(self.new or self.changed or self.retracted)


def _previous_dating(record: SourceRecord) -> dating.Dating | None:
    """The page facts a file's earlier read recorded (None for a new file or an old record)."""
    if record.issue_date is None or record.dated_by is None:
        return None
    return dating.Dating(record.issue_date, DatedBy(record.dated_by), record.page or 0)


def _alike_datings(store: Store, new: Sequence[SourceRecord]) -> dict[str, dating.Dating]:
    """The page each of the ``new`` files holds by its bytes alone: that of the other files read with
    the same bytes, by hash, where they all hold one page (``_kept_dating``).

    A page file renamed so that its name lost its date (``2024-11-27_03.txt`` → ``yaowen.txt``) was
    dated again from its text and file time: another day, page 0, so its articles were new ones and
    the old ones were retracted, every story twice in a feed reader.  Its bytes are the old file's,
    so it is that page.  Files of one content that hold different pages (one page saved under two
    days' names) leave it undecided: the new file is dated by its own evidence, as before.
    """
    found = store.sources_alike(sorted({record.content_hash for record in new})) if new else {}
    pages: dict[str, dating.Dating] = {}
    for content, records in found.items():
        held = {dated for record in records if (dated := _previous_dating(record)) is not None}
        if len(held) == 1:
            pages[content] = held.pop()
    return pages


def _kept_dating(
    record: SourceRecord, fresh: dating.Dating, alike: Mapping[str, dating.Dating]
) -> dating.Dating:
    """The page a file read holds: what it held before (``dating.keep_or_replace``); for a file never
    read, the page its bytes held under another name (``_alike_datings``) unless its own name dates it."""
    previous = _previous_dating(record)
    if previous is not None:
        return dating.keep_or_replace(previous, fresh)
    before = alike.get(record.content_hash)
    if before is None or fresh.by is DatedBy.NAME:
        return fresh  # a new name that dates the page is the operator's word on it
    if (before.day, before.page) != (fresh.day, fresh.page):
        log.info(
            "page file %s has the bytes of a page read before: read as that page (%s, page %d), not as "
            "its own name and text would date it (%s, page %d)",
            record.path,
            before.day,
            before.page,
            fresh.day,
            fresh.page,
        )
    return before


def _pages(
    store: Store, config: Config, read: Sequence[tuple[SourceRecord, Parsed]], now: datetime
) -> tuple[list[Entry], dict[str, str | None], list[SourceRecord], set[str]]:
    """The entries of a batch of read pages, the uids they dropped (each with its successor's, if
    any: ``build_entries``), the file records to keep, and those to forget: of gone files a new one
    was renamed from (``renamed.find``), whose articles it took over.

    The stored facts every page needs (its previous articles, the uids taken,
    its sections' slugs) are read for the whole batch at once: a few queries
    per batch, not per page.
    """
    alike = _alike_datings(store, [record for record, _ in read if _previous_dating(record) is None])
    reading = {record.path for record, _ in read}
    unplaced = [
        (record, parsed)
        for record, parsed in read
        if _previous_dating(record) is None and record.content_hash not in alike
    ]
    moved = renamed.find(store, config, unplaced, reading)
    dated = [
        (record, Parsed(parsed.page, moved[record.path].dating))
        if record.path in moved
        else (record, Parsed(parsed.page, _kept_dating(record, parsed.dating, alike)))
        for record, parsed in read
    ]
    previous = store.page_entries([(p.dating.day, p.dating.page, record.path) for record, p in dated])
    fresh = [
        identity.article_uid(p.dating.day, article, p.dating.page)
        for _, p in dated
        for article in p.page.articles
    ]
    taken = store.taken_uids(fresh)
    names = [name for _, p in dated for name in section_names(p)]
    # Of two forms of a new section's name met at once, the site's script names the section.
    names = script_first(names, traditional(config.site.language))
    filed = store.filed_sections(names, slugify, simplified)
    entries: list[Entry] = []
    dropped: dict[str, str | None] = {}
    records: list[SourceRecord] = []
    # Which of the files the pages' previous articles were last read from are still in the folder.
    sources = {entry.source for before in previous for entry in before}
    elsewhere = {source for source in sources if (config.paths.source / source).exists()}
    for (record, parsed), before in zip(dated, previous, strict=True):
        former: frozenset[str] = frozenset()
        if (move := moved.get(record.path)) is not None:
            former = move.paths
            mine = {entry.uid for entry in before}
            before = [*before, *(entry for entry in move.entries if entry.uid not in mine)]
        page_entries, page_dropped = build_entries(
            parsed, record.path, before, taken, filed, config, now, elsewhere, former
        )
        if page_dropped:
            own = {record.path, *former}
            kept = _held_by_a_copy(store, config, parsed.dating, own, before, page_dropped, reading)
            page_entries.extend(kept)
            stays = {entry.uid for entry in kept}
            page_dropped = {uid: heir for uid, heir in page_dropped.items() if uid not in stays}
        entries.extend(page_entries)
        dropped.update(page_dropped)
        records.append(
            dataclasses.replace(
                record,
                issue_date=parsed.dating.day,
                dated_by=parsed.dating.by.value,
                page=parsed.dating.page,
                parser_version=PARSER_VERSION,
                missing_since=None,
            )
        )
    return entries, dropped, records, {path for move in moved.values() for path in move.paths}


def _held_by_a_copy(
    store: Store,
    config: Config,
    page: dating.Dating,
    names: Set[str],
    before: Sequence[Entry],
    dropped: Mapping[str, str | None],
    reading: Set[str],
) -> list[Entry]:
    """The articles of ``dropped`` (uids a re-read of the file of ``names`` no longer holds; its
    former names too, when it was renamed) that another file of the same page still in the folder
    holds: kept, under that file, rather than withdrawn.

    Two files alike in every story are one page's two copies (a duplicate export, a corrected
    copy): the one read last took the stories over (``read._held_elsewhere``), so the other held
    none.  Edited to drop a story, the copy read last withdrew it, though the other file still
    held it: a story went from the feeds while a page in the folder printed it.  Other files of
    the batch (``reading``) are being read now and take back what they hold themselves.
    """
    gone = [entry for entry in before if entry.uid in dropped and entry.source in names]
    if not gone:
        return []
    root = os.path.realpath(config.paths.source)
    kept: list[Entry] = []
    for sibling in store.page_sources(page.day, page.page):
        if sibling.path in names or sibling.path in reading or not gone:
            continue
        try:
            data, _ = read_file(config.paths.source / sibling.path, sibling.path, root)
        except SourceError:
            continue  # gone or unreadable now: the next scan says so, and it holds nothing here
        parsed = decode_and_parse(sibling.path, data, sibling.mtime, config)
        if isinstance(parsed, Refused):
            continue
        found = identity.match([as_known(entry) for entry in gone], parsed.page.articles)
        held = [entry for entry in gone if entry.uid in {uid for uid in found if uid is not None}]
        if held:
            log.info(
                "%s still holds %d stories a re-read of %s dropped: kept, under it",
                sibling.path,
                len(held),
                " / ".join(sorted(names)),
            )
        kept.extend(dataclasses.replace(entry, source=sibling.path) for entry in held)
        gone = [entry for entry in gone if entry not in held]
    return kept


def retract_vanished(config: Config, store: Store, present: set[str], now: datetime) -> int:
    """Retract the articles of page files gone from the source folder for ``ingest.settle_seconds``.

    A file missing from one scan is only noted; one that comes back (an
    editor's save replaces it) is forgiven.  A scan that finds no page at all,
    or most of them gone at once, retracts nothing (a lost folder, not a
    newsroom's decision).  Returns how many articles went.
    """
    known = store.source_paths()
    # Only the files a scan had missed are written: a rescan of a big folder, unchanged, writes nothing.
    store.mark_missing([path for path, missed in known.items() if missed and path in present], None)
    gone = [path for path in known if path not in present]
    if not gone:
        return 0
    if not present or len(gone) > max(MASS_VANISH, len(known) // 2):
        # An unmounted share or a folder swapped for an empty one looks like every page deleted.
        log.warning(
            "%d of %d page files are gone at once: not retracting their articles (an unmounted share?); "
            "put them back, or withdraw articles by hand with `digest retract`",
            len(gone),
            len(known),
        )
        return 0
    records = store.sources(gone)
    store.mark_missing([path for path in gone if records[path].missing_since is None], now)
    settle = timedelta(seconds=config.ingest.settle_seconds)
    expired = [
        path for path in gone if (since := records[path].missing_since) is not None and since + settle <= now
    ]
    if not expired:
        return 0
    _reclaim(config, store, {records[path].issue_date for path in expired}, present, known, now)
    held = store.source_uids(expired)
    uids = [uid for found in held.values() for uid in found]
    count = store.retract(uids, Retraction.FILE_GONE, now) if uids else 0
    store.forget_sources(expired)
    for path in expired:
        if held.get(path):
            log.info("page file %s is gone: retracted %d of its articles", path, len(held[path]))
        elif records[path].last_error is not None:
            log.info("page file %s is gone; it could not be read, so it held no articles", path)
        else:
            # A file moved or renamed was read at its new place first, which took its articles over.
            log.info("page file %s is gone; nothing retracted: its articles live on in another file", path)
    return count


def _reclaim(
    config: Config,
    store: Store,
    days: set[date | None],
    present: set[str],
    known: Iterable[str],
    now: datetime,
) -> None:
    """Read again the page files still in the folder of the issues ``days`` of files gone for good.

    An article is stored with the file it was last read from: a copy of a page read after it (a
    duplicate export, a corrected copy ingested from elsewhere) took its articles over, and the
    copy deleted would withdraw articles the original still holds.  Read again, the original
    takes back whatever it holds (``identity.match``), and only what no remaining file holds goes.
    """
    issues = {day for day in days if day is not None}
    if not issues:
        return
    records = store.sources([path for path in known if path in present])
    siblings = sorted(path for path, record in records.items() if record.issue_date in issues)
    if siblings:
        ingest(
            config, store, now, [config.paths.source / path for path in siblings], reparse=True, inner=True
        )


def _announce_upgrade(store: Store, files: Sequence[Path], folder: Path, reparse: bool) -> None:
    """Say in one line why a run after an upgrade reads stored pages again, before it does: on a
    big archive that run (the service's start-up) takes minutes, and its summary line alone
    would not tell an operator why nothing was skipped.

    Counted among the ``files`` this run picks: a stored page whose file is gone (deleted, its
    share unmounted) is never read again, so it is neither counted nor, run after run, announced;
    and a run on the few files ``digest serve`` saw change names those, not the whole archive.
    Once read, a page carries the new version, so the same pages are never announced twice.
    """
    if reparse:
        return
    older = store.older_parser_versions(PARSER_VERSION)
    if not older:
        return
    picked = Counter(older[name] for name in {source_name(f, folder) for f in files} if name in older)
    if picked:
        log.info(
            "parser upgraded to version %s: reading again, once, the %d stored page files an older "
            "version read (%s); articles keep their ids and first-seen times, and only those whose "
            "text changes are republished",
            PARSER_VERSION,
            picked.total(),
            ", ".join(f"version {name}: {count}" for name, count in sorted(picked.items())),
        )


def ingest(
    config: Config,
    store: Store,
    now: datetime,
    paths: Sequence[Path] | None = None,
    reparse: bool = False,
    progress: Progress | None = None,
    present: set[str] | None = None,
    inner: bool = False,
) -> IngestReport:
    """Ingest the source folder (or just ``paths``, files or folders) into the store.

    ``reparse``: read every file again, even those whose bytes and parser
    version were seen before.  A scan of the whole folder also retracts the
    articles of files gone for good (``retract_vanished``), and so does a run
    given ``present``, the names of every page file a listing of the folder
    found (the service's rescan reads only the files that changed), counted
    in the report and its summary line.  ``progress`` hears
    how many files are done (default: a log line every ten seconds of a long run).
    The summary line is logged at INFO when anything was read, failed or
    changed, else at DEBUG: an idle rescan leaves the log alone.  ``inner``: a
    run inside a retraction (``_reclaim``), whose summary goes to DEBUG as
    ``reread``: at INFO its ``retracted=0``, just before the line saying what
    the retraction withdrew, read as a contradiction of it.
    """
    started = clock.monotonic()
    folder = config.paths.source
    files: list[Path] = []
    for target in paths if paths is not None else [folder]:
        files.extend(scan(target) if target.is_dir() else [target])
    errors: list[tuple[str, str]] = []
    read = articles = new = changed = retracted = 0
    _announce_upgrade(store, files, folder, reparse)

    def store_batch(todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[Parsed | Refused]) -> None:
        nonlocal read, articles, new, changed, retracted
        good: list[tuple[SourceRecord, Parsed]] = []
        for (record, _), found in zip(todo, parsers.results(todo, parsed), strict=True):
            if isinstance(found, Refused):
                store.record_source(
                    dataclasses.replace(
                        record,
                        last_error=found.reason,
                        refused_encoding=found.encoding,
                        parser_version=PARSER_VERSION,
                    )
                )
                log.warning("skipped page %s: %s", record.path, found.reason)
                errors.append((record.path, found.reason))
                continue
            good.append((record, found))
        entries, dropped, records, forgotten = _pages(store, config, good, now)
        crash_point("ingest.before_upsert")
        cut: dict[str, str] = {}
        for _, parsed_page in good:
            cut.update(parsed_page.cut)
        upserted = store.upsert_entries(entries, now, cut)
        if dropped:
            heirs = {uid: heir for uid, heir in dropped.items() if heir is not None}
            retracted += store.retract(list(dropped), Retraction.DROPPED, now, heirs)
        crash_point("ingest.after_upsert")
        # Only once the articles are stored is a file "seen": a failed upsert leaves it to be read again.
        store.record_sources(records)
        store.forget_sources(sorted(forgotten))
        crash_point("ingest.after_record_sources")
        read, articles = read + len(records), articles + len(entries)
        new, changed = new + upserted.new, changed + upserted.changed

    # A batch at a time: memory stays flat on any archive, and the store gets one transaction per
    # batch instead of one per article.  While one batch is stored the next one is being parsed.
    parsers = Parsers(config)
    meter = progress or LogProgress("ingest", "files")
    meter.start(len(files))
    try:
        pending: tuple[list[tuple[SourceRecord, bytes]], Iterator[Parsed | Refused]] | None = None
        stored_upto = upto = 0
        for todo, upto in read_batches(files, folder, store, now, errors, config.ingest.encoding, reparse):
            parsed = parsers.map(todo)
            if pending is not None:
                store_batch(*pending)
                meter.update(stored_upto)
            pending, stored_upto = (todo, parsed), upto
        if pending is not None:
            store_batch(*pending)
        meter.update(len(files))
    finally:
        parsers.close()
        meter.close()
    if paths is None:
        present = {source_name(f, folder) for f in files}
    if present is not None:
        retracted += retract_vanished(config, store, present, now)
    report = IngestReport(
        files=len(files),
        read=read,
        unchanged=len(files) - read - len(errors),
        failed=len(errors),
        articles=articles,
        new=new,
        changed=changed,
        retracted=retracted,
        errors=tuple(errors),
        ms=round((clock.monotonic() - started) * 1000),
    )
    busy = (report.read or report.failed or report.touched) and not inner
    log.log(
        logging.INFO if busy else logging.DEBUG,
        "%s files=%d read=%d unchanged=%d failed=%d articles=%d new=%d changed=%d retracted=%d ms=%d",
        "reread" if inner else "ingested",
        report.files,
        report.read,
        report.unchanged,
        report.failed,
        report.articles,
        report.new,
        report.changed,
        report.retracted,
        report.ms,
    )
    return report
