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
import errno
import functools
import hashlib
import logging
import os
import stat as filemode
import time as clock
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from digest import workers
from digest.config import Config
from digest.errors import SourceError
from digest.faults import crash_point
from digest.ingest import identity
from digest.paper import dating
from digest.paper.conventions import conventions_for
from digest.paper.decode import decode_page
from digest.paper.parse import PARSER_VERSION, parse_page
from digest.paper.slugs import slugify
from digest.progress import LogProgress, Progress
from digest.store.database import Store
from digest.store.records import PAGE_SPAN, SourceRecord
from digest.types import DEFAULT_SECTION, DatedBy, Entry, Page, Retraction, Section

log = logging.getLogger(__name__)

# A fixed morning instant stands for the newspaper date: the paper is out by then.
PUBLISHED_AT = time(6, 0)
# Page files read per store transaction, and the most bytes of them held at once.
BATCH_FILES = 200
BATCH_BYTES = 20_000_000
# Parsing a batch this big in worker processes repays starting them (about 0.1 s).
POOL_MIN_FILES = 50
# Pages sent to a worker process at a time: fewer round trips, still an even spread.
POOL_CHUNK = 4
# A page's text is tens of kilobytes.  Far beyond that a file is no page (a log, a dump, a
# runaway export), and one giant article would bloat every feed and email it reached.
MAX_PAGE_BYTES = 5_000_000
MAX_PAGE_LINES = 100_000
# More page files than this (and than half of them) gone in one scan is taken for a lost folder.
MASS_VANISH = 20
# A file changed this recently may change again within the same timestamp tick (coarse on some
# filesystems, 2 s on FAT) and keep its stamp: its stamp is not kept, so the next scan hashes it
# again (git's "racily clean" entries).
RACY_NS = 3_000_000_000


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


def is_page_file(path: Path) -> bool:
    """``*.txt`` files, leaving out hidden files and editors' temporary copies."""
    return _is_page_name(path.name)


def _is_page_name(name: str) -> bool:
    return name.lower().endswith(".txt") and not name.startswith((".", "~", "#"))


def scan(folder: Path) -> list[Path]:
    """Every page file below ``folder``, hidden folders skipped, in name order (page order).

    Anything named like a page is listed, not only regular files: a folder, a
    pipe or a symlink loop called ``01.txt`` is then reported (once) by ingest
    instead of being passed over in silence.
    """
    return [Path(path) for _, path in sorted(walk(folder), key=lambda item: item[0].split("/"))]


def walk(folder: Path) -> list[tuple[str, str]]:
    """``scan`` as (name relative to ``folder``, path) strings, in no order: a rescan of 13k files
    lists them in tens of milliseconds (``os.scandir``; ``Path.rglob`` took 0.2 s).  Symbolic links
    to folders are not followed, and subfolders that cannot be listed are passed over, as by
    ``rglob``; ``OSError`` only when ``folder`` itself cannot be listed."""
    found: list[tuple[str, str]] = []
    pending = [(str(folder), "")]
    while pending:
        where, prefix = pending.pop()
        try:
            listing = os.scandir(where)
        except OSError:
            if not prefix:
                raise
            continue
        with listing as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
                if _is_page_name(entry.name):
                    found.append((prefix + entry.name, entry.path))
    return found


def file_stamp(info: os.stat_result, wall_ns: int | None = None) -> str | None:
    """What changes whenever a file's bytes may have: inode (a rename over it), size, mtime and
    ctime (which no program can set back, so ``touch -d`` or ``rsync -t`` are still seen).

    With ``wall_ns`` (the time the bytes are read): None for a file changed within ``RACY_NS``
    of it, whose next change could keep the same stamp.
    """
    if wall_ns is not None and max(info.st_mtime_ns, info.st_ctime_ns) > wall_ns - RACY_NS:
        return None
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _stamp_of(path: str) -> str | None:
    try:
        return file_stamp(os.stat(path))
    except OSError:
        return None  # ingest meets the error and reports it


def changed_files(store: Store, folder: Path) -> tuple[list[Path], int]:
    """The page files below ``folder`` that may have changed since they were read, and how many
    page files there are: one listing, one ``stat`` per file and one query, no file opened.

    New files, files another parser version read, files whose stamp differs or
    was not kept, and entries that cannot be stat'ed are "changed".
    """
    stamps = store.source_stamps(PARSER_VERSION)
    listed = walk(folder)
    changed = sorted(Path(path) for name, path in listed if (stamps.get(name) or "?") != _stamp_of(path))
    return changed, len(listed)


@dataclass(frozen=True)
class Parsed:
    """A page file read: its articles and the issue date its own evidence gives."""

    page: Page
    dating: dating.Dating


def build_entries(
    parsed: Parsed, name: str, previous: Sequence[Entry], taken: set[str], config: Config, now: datetime
) -> tuple[list[Entry], list[str]]:
    """Entries for one page's articles, and the uids of ``previous`` articles of this file it dropped.

    Each article that ``identity.match`` finds among the page's ``previous``
    articles keeps that one's uid and tag; another gets a new uid, made
    distinct from ``taken`` (uids stored already) and from its page mates.
    A first version's ``updated`` is its ``published``: the output then
    follows from the page files alone.
    """
    day, page_number = parsed.dating.day, parsed.dating.page
    published = datetime.combine(day, PUBLISHED_AT, tzinfo=config.tz)
    known = [
        identity.Known(e.uid, e.article.title, e.article.printed_body(), e.position % PAGE_SPAN)
        for e in previous
    ]
    matched = identity.match(known, parsed.page.articles)
    tags = {entry.uid: entry.tag for entry in previous}
    used = set(taken) | {entry.uid for entry in previous}
    entries = []
    for index, (article, uid) in enumerate(zip(parsed.page.articles, matched, strict=True)):
        if uid is None:
            uid = identity.article_uid(day, article, page_number)
            first, copy = uid, 1
            while uid in used:
                # Same headline twice (say, two 图片新闻), or a stored one's: the page order tells them apart.
                copy += 1
                uid = hashlib.sha256(f"{first}#{copy}".encode()).hexdigest()[:20]
        used.add(uid)
        section_name = article.section or DEFAULT_SECTION
        entries.append(
            Entry(
                uid=uid,
                tag=tags.get(uid) or identity.tag_uri(config.site.tag_authority, day, uid),
                article=dataclasses.replace(article, section=section_name),
                section=Section(section_name, slugify(section_name)),
                issue_date=day,
                published=published,
                updated=published,
                first_seen=now,
                source=name,
                position=page_number * PAGE_SPAN + index,
                dated_by=parsed.dating.by,
            )
        )
    kept = {entry.uid for entry in entries}
    dropped = [e.uid for e in previous if e.source == name and e.uid not in kept and e.retracted is None]
    return entries, dropped


def _source_name(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.as_posix()


def _why(exc: OSError) -> str:
    """Why a page-named entry could not be opened, in words an operator can act on."""
    if exc.errno == errno.ELOOP:
        return "is a symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "vanished before it could be read (deleted, or a broken symbolic link)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied; let the service's user read it"
    return f"cannot read ({exc.strerror})"


def _read(path: Path, name: str) -> tuple[bytes, os.stat_result]:
    """The bytes and stat of a page file; ``SourceError`` when the entry cannot be one."""
    try:
        info = path.stat()
        if filemode.S_ISDIR(info.st_mode):
            raise SourceError(name, "is a folder, not a page file")
        if not filemode.S_ISREG(info.st_mode):
            # Never opened: reading a named pipe would block ingest for good.
            raise SourceError(name, "is not a regular file (a pipe or a device?)")
        with path.open("rb") as handle:
            data = handle.read(MAX_PAGE_BYTES + 1)  # bounded: a file may grow after the stat
    except OSError as exc:
        raise SourceError(name, _why(exc)) from exc
    if max(info.st_size, len(data)) > MAX_PAGE_BYTES:
        size = max(info.st_size, len(data)) / 1e6
        limit = MAX_PAGE_BYTES / 1e6
        raise SourceError(name, f"is {size:.1f} MB, more than a page can be ({limit:g} MB); split it")
    crash_point("ingest.after_read")
    return data, info


def _failure_record(path: Path, name: str, reason: str, now: datetime) -> SourceRecord | None:
    """A record of an entry that could not be read, keyed by its ``lstat`` (None when it is gone)."""
    try:
        info = path.lstat()
    except OSError:
        return None
    stamp = f"{info.st_ino}:{info.st_mode}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    mtime = datetime.fromtimestamp(info.st_mtime, UTC)
    return SourceRecord(name, hashlib.sha256(stamp.encode()).hexdigest(), info.st_size, mtime, reason, now)


def _decode_and_parse(name: str, data: bytes, mtime: datetime, config: Config) -> Parsed | str:
    """One page file's bytes → its articles and issue date, or why it cannot be read.

    Pure, so a worker process can run it: the reason comes back as a string
    rather than a raised ``SourceError``.
    """
    try:
        text = decode_page(data, name)
    except SourceError as exc:
        return exc.reason
    lines = text.count("\n")
    if lines > MAX_PAGE_LINES:
        return f"has {lines:,} lines, more than a page can have ({MAX_PAGE_LINES:,})"
    page = parse_page(text, name, conventions_for(config.parser))
    return Parsed(page, dating.date_page(name, text, page.articles, mtime, config.tz, config.dating))


def _page_entries(record: SourceRecord, data: bytes, config: Config) -> Parsed | str:
    """One page file read (pure: a worker process may run it)."""
    return _decode_and_parse(record.path, data, record.mtime, config)


class _Parsers:
    """Parses pages in this process, or on every core once a batch is big enough to repay starting them.

    Parsing is most of an ingest's time and each page is independent, so a
    whole archive parses on all cores; a page dropped into the folder, or a
    rescan that finds nothing new, never starts a process.
    """

    def __init__(self, config: Config) -> None:
        self._pool: workers.Workers | None = None
        self._broken = False
        self._work = functools.partial(_page_entries, config=config)
        self._asked = config.build.workers

    def map(self, todo: Sequence[tuple[SourceRecord, bytes]]) -> Iterator[Parsed | str]:
        """Each page's entries, in order; the work starts now, results arrive as they are taken."""
        records, blobs = [record for record, _ in todo], [data for _, data in todo]
        wanted = not self._broken and len(todo) >= POOL_MIN_FILES
        if self._pool is None and wanted:
            self._pool = workers.pool(["digest.ingest.pipeline"], asked=self._asked)
        if self._pool is not None:
            try:
                return self._pool.map(self._work, records, blobs, chunksize=POOL_CHUNK)
            except BrokenProcessPool as exc:
                self._give_up(exc)
        return map(self._work, records, blobs)

    def results(
        self, todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[Parsed | str]
    ) -> list[Parsed | str]:
        """All of ``parsed``; if a worker died (killed, out of memory), the batch parsed here instead."""
        try:
            return list(parsed)
        except BrokenProcessPool as exc:
            self._give_up(exc)
            return [self._work(record, data) for record, data in todo]

    def _give_up(self, why: BrokenProcessPool) -> None:
        log.warning("page parser processes failed (%s); parsing in this process from now on", why)
        self._broken = True
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _read_batches(
    files: Sequence[Path],
    folder: Path,
    store: Store,
    now: datetime,
    errors: list[tuple[str, str]],
    reparse: bool = False,
) -> Iterator[tuple[list[tuple[SourceRecord, bytes]], int]]:
    """The files whose bytes were not seen before or that another parser version read (every
    file with ``reparse``), in batches bounded by count and size, each with how many of
    ``files`` were looked at by then.  Each record carries the page facts (issue date,
    evidence, number) of the file's previous read, if any.

    A file whose stamp is the one recorded is not opened; one whose bytes turn
    out to be known has its new stamp recorded, so the next scan skips it.
    A file that cannot be read is logged, added to ``errors`` and recorded by
    its ``lstat``, unless that same failure was recorded before (it was
    reported when it first happened).
    """
    for at in range(0, len(files), BATCH_FILES):
        chunk = [(path, _source_name(path, folder)) for path in files[at : at + BATCH_FILES]]
        seen = store.sources([name for _, name in chunk])
        todo: list[tuple[SourceRecord, bytes]] = []
        restamped: dict[str, str | None] = {}
        size = 0
        for index, (path, name) in enumerate(chunk):
            before = seen.get(name)
            current = before is not None and before.parser_version == PARSER_VERSION and not reparse
            stamped = before.stamp if current and before is not None else None
            if stamped is not None and stamped == _stamp_of(str(path)):
                continue
            try:
                read_at = clock.time_ns()
                data, info = _read(path, name)
            except SourceError as exc:
                failure = _failure_record(path, name, exc.reason, now)
                if failure is None or before is None or before.content_hash != failure.content_hash:
                    if failure is not None:
                        store.record_source(failure)
                    log.warning("skipped page %s: %s", name, exc.reason)
                    errors.append((name, exc.reason))
                continue
            digest = hashlib.sha256(data).hexdigest()
            stamp = file_stamp(info, read_at)
            if current and before is not None and before.content_hash == digest:
                if stamp != before.stamp:
                    restamped[name] = stamp
                continue
            mtime = datetime.fromtimestamp(info.st_mtime, UTC)
            record = SourceRecord(name, digest, len(data), mtime, None, now, stamp=stamp)
            if before is not None:
                record = dataclasses.replace(
                    record, issue_date=before.issue_date, dated_by=before.dated_by, page=before.page
                )
            todo.append((record, data))
            size += len(data)
            if size >= BATCH_BYTES:
                yield todo, at + index + 1
                todo, size = [], 0
        store.set_source_stamps(restamped)
        if todo:
            yield todo, at + len(chunk)


def _previous_dating(record: SourceRecord) -> dating.Dating | None:
    """The page facts a file's earlier read recorded (None for a new file or an old record)."""
    if record.issue_date is None or record.dated_by is None:
        return None
    return dating.Dating(record.issue_date, DatedBy(record.dated_by), record.page or 0)


def _pages(
    store: Store, config: Config, read: Sequence[tuple[SourceRecord, Parsed]], now: datetime
) -> tuple[list[Entry], list[str], list[SourceRecord]]:
    """The entries of a batch of read pages, the uids they dropped, and the file records to keep.

    The stored facts every page needs (its previous articles, the uids taken)
    are read for the whole batch at once: a few queries per batch, not per page.
    """
    dated = [
        (record, Parsed(parsed.page, dating.keep_or_replace(_previous_dating(record), parsed.dating)))
        for record, parsed in read
    ]
    previous = store.page_entries([(p.dating.day, p.dating.page, record.path) for record, p in dated])
    fresh = [
        identity.article_uid(p.dating.day, article, p.dating.page)
        for _, p in dated
        for article in p.page.articles
    ]
    taken = store.taken_uids(fresh)
    entries: list[Entry] = []
    dropped: list[str] = []
    records: list[SourceRecord] = []
    for (record, parsed), before in zip(dated, previous, strict=True):
        page_entries, page_dropped = build_entries(parsed, record.path, before, taken, config, now)
        entries.extend(page_entries)
        dropped.extend(page_dropped)
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
    return entries, dropped, records


def retract_vanished(config: Config, store: Store, present: set[str], now: datetime) -> int:
    """Retract the articles of page files gone from the source folder for ``ingest.settle_seconds``.

    A file missing from one scan is only noted; one that comes back (an
    editor's save replaces it) is forgiven.  A scan that finds no page at all,
    or most of them gone at once, retracts nothing (a lost folder, not a
    newsroom's decision).  Returns how many articles went.
    """
    known = store.source_paths()
    back = [path for path in known if path in present]
    store.mark_missing(back, None)
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
    uids = [uid for found in store.source_uids(expired).values() for uid in found]
    count = store.retract(uids, Retraction.FILE_GONE, now) if uids else 0
    store.forget_sources(expired)
    for path in expired:
        log.info("page file %s is gone: its articles are retracted", path)
    return count


def ingest(
    config: Config,
    store: Store,
    now: datetime,
    paths: Sequence[Path] | None = None,
    reparse: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the source folder (or just ``paths``, files or folders) into the store.

    ``reparse``: read every file again, even those whose bytes and parser
    version were seen before.  A scan of the whole folder also retracts the
    articles of files gone for good (``retract_vanished``).  ``progress`` hears
    how many files are done (default: a log line every ten seconds of a long run).
    The summary line is logged at INFO when anything was read, failed or
    changed, else at DEBUG: an idle rescan leaves the log alone.
    """
    started = clock.monotonic()
    folder = config.paths.source
    files: list[Path] = []
    for target in paths if paths is not None else [folder]:
        files.extend(scan(target) if target.is_dir() else [target])
    errors: list[tuple[str, str]] = []
    read = articles = new = changed = retracted = 0

    def store_batch(todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[Parsed | str]) -> None:
        nonlocal read, articles, new, changed, retracted
        good: list[tuple[SourceRecord, Parsed]] = []
        for (record, _), found in zip(todo, parsers.results(todo, parsed), strict=True):
            if isinstance(found, str):
                store.record_source(
                    dataclasses.replace(record, last_error=found, parser_version=PARSER_VERSION)
                )
                log.warning("skipped page %s: %s", record.path, found)
                errors.append((record.path, found))
                continue
            good.append((record, found))
        entries, dropped, records = _pages(store, config, good, now)
        crash_point("ingest.before_upsert")
        upserted = store.upsert_entries(entries, now)
        if dropped:
            retracted += store.retract(dropped, Retraction.DROPPED, now)
        crash_point("ingest.after_upsert")
        # Only once the articles are stored is a file "seen": a failed upsert leaves it to be read again.
        store.record_sources(records)
        crash_point("ingest.after_record_sources")
        read, articles = read + len(records), articles + len(entries)
        new, changed = new + upserted.new, changed + upserted.changed

    # A batch at a time: memory stays flat on any archive, and the store gets one transaction per
    # batch instead of one per article.  While one batch is stored the next one is being parsed.
    parsers = _Parsers(config)
    meter = progress or LogProgress("ingest", "files")
    meter.start(len(files))
    try:
        pending: tuple[list[tuple[SourceRecord, bytes]], Iterator[Parsed | str]] | None = None
        stored_upto = upto = 0
        for todo, upto in _read_batches(files, folder, store, now, errors, reparse):
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
        retracted += retract_vanished(config, store, {_source_name(f, folder) for f in files}, now)
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
    busy = report.read or report.failed or report.touched
    log.log(
        logging.INFO if busy else logging.DEBUG,
        "ingested files=%d read=%d unchanged=%d failed=%d articles=%d new=%d changed=%d retracted=%d ms=%d",
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
