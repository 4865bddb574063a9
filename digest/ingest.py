"""Source folder → store: scan, skip what was seen, decode, parse, date, upsert.

One bad file is logged once with its name and reason, recorded in
``sources.last_error`` and skipped; the rest go on.  A file is read again
only when its bytes change (content hash), so a fixed file is retried and an
unchanged one costs a stat and a hash.  An entry that cannot be read at all
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
import re
import stat as filemode
import time as clock
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import identity, workers
from digest.config import Config
from digest.conventions import MAINLAND, Conventions, conventions_for
from digest.decode import decode_page
from digest.errors import SourceError
from digest.faults import crash_point
from digest.parse import parse_page
from digest.slugs import slugify
from digest.store import SourceRecord, Store
from digest.types import Article, Entry, Page, Section

log = logging.getLogger(__name__)

DEFAULT_SECTION = "其他"
# A fixed morning instant stands for the newspaper date: the paper is out by then.
PUBLISHED_AT = time(6, 0)
# Articles on one page get positions below this; the page number multiplies it.
PAGE_SPAN = 1000
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

_DASHED_DATE = re.compile(r"(?<!\d)(20\d\d)[-_.](\d\d)[-_.](\d\d)(?!\d)")
_COMPACT_DATE = re.compile(r"(?<![0-9A-Za-z])(20\d\d)(\d\d)(\d\d)(?![0-9A-Za-z])")
_PAGE_NUMBER = re.compile(r"[-_ ](\d{1,3})$")
_DATELINE = re.compile(r"^(\d{1,2})-(\d{1,2})$")


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
    errors: tuple[tuple[str, str], ...] = ()  # (file, reason) for each failed file
    ms: int = 0

    @property
    def touched(self) -> bool:
        """Whether the store changed, so a publish is worth running."""
        return bool(self.new or self.changed)


def is_page_file(path: Path) -> bool:
    """``*.txt`` files, leaving out hidden files and editors' temporary copies."""
    return path.suffix.lower() == ".txt" and not path.name.startswith((".", "~", "#"))


def scan(folder: Path) -> list[Path]:
    """Every page file below ``folder``, hidden folders skipped, in name order (page order).

    Anything named like a page is listed, not only regular files: a folder, a
    pipe or a symlink loop called ``01.txt`` is then reported (once) by ingest
    instead of being passed over in silence.
    """
    return sorted(
        path
        for path in folder.rglob("*")
        if is_page_file(path) and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def date_from_name(name: str) -> date | None:
    """``2024-11-27_01.txt``, ``pages/20241127/a.txt`` → 2024-11-27; None when the path holds no date."""
    for pattern in (_DASHED_DATE, _COMPACT_DATE):
        for match in pattern.finditer(name):
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                continue
    return None


def date_from_datelines(articles: Iterable[Article], latest: date) -> date | None:
    """The most common dateline month-day, in the latest year that does not put it after ``latest``."""
    counts = Counter(article.date for article in articles if article.date and _DATELINE.match(article.date))
    if not counts:
        return None
    month, day = (int(part) for part in counts.most_common(1)[0][0].split("-"))
    # Eight years back always reaches a leap year for 29 February.
    for year in range(latest.year, latest.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= latest:
            return candidate
    return None


def issue_date(name: str, articles: Sequence[Article], mtime: datetime, tz: ZoneInfo) -> date:
    """The newspaper date of a page: from its path, else its datelines, else its file's date."""
    local_day = mtime.astimezone(tz).date()
    # A page may be exported the evening before its date; one day of slack.
    return date_from_name(name) or date_from_datelines(articles, local_day + timedelta(days=1)) or local_day


def page_number(name: str) -> int:
    """``2024-11-27_03.txt`` → 3; 0 when the name carries no page number."""
    match = _PAGE_NUMBER.search(Path(name).stem)
    return int(match[1]) if match else 0


def build_entries(
    articles: Sequence[Article], name: str, day: date, config: Config, now: datetime
) -> list[Entry]:
    """Entries for one page's articles; two articles with one identity on a page get distinct ones."""
    published = datetime.combine(day, PUBLISHED_AT, tzinfo=config.tz)
    base = page_number(name) * PAGE_SPAN
    used: Counter[str] = Counter()
    entries = []
    for index, article in enumerate(articles):
        uid = identity.article_uid(day, article)
        used[uid] += 1
        if used[uid] > 1:
            # Same headline twice on one page (say, two 图片新闻): the page order tells them apart.
            uid = hashlib.sha256(f"{uid}#{used[uid]}".encode()).hexdigest()[:20]
        section_name = article.section or DEFAULT_SECTION
        entries.append(
            Entry(
                uid=uid,
                tag=identity.tag_uri(config.site.tag_authority, day, uid),
                article=dataclasses.replace(article, section=section_name),
                section=Section(section_name, slugify(section_name)),
                issue_date=day,
                published=published,
                updated=now,
                first_seen=now,
                source=name,
                position=base + index,
            )
        )
    return entries


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


def _decode_and_parse(name: str, data: bytes, conventions: Conventions = MAINLAND) -> Page | str:
    """One page file's bytes → its parsed page, or why it cannot be read.

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
    return parse_page(text, name, conventions)


def _page_entries(record: SourceRecord, data: bytes, config: Config, now: datetime) -> list[Entry] | str:
    """One page file's entries, or why it cannot be read (pure: a worker process may run it)."""
    page = _decode_and_parse(record.path, data, conventions_for(config.parser))
    if isinstance(page, str):
        return page
    day = issue_date(record.path, page.articles, record.mtime, config.tz)
    return build_entries(page.articles, record.path, day, config, now)


class _Parsers:
    """Parses pages in this process, or on every core once a batch is big enough to repay starting them.

    Parsing is most of an ingest's time and each page is independent, so a
    whole archive parses on all cores; a page dropped into the folder, or a
    rescan that finds nothing new, never starts a process.
    """

    def __init__(self, config: Config, now: datetime) -> None:
        self._pool: workers.Workers | None = None
        self._broken = False
        self._work = functools.partial(_page_entries, config=config, now=now)

    def map(self, todo: Sequence[tuple[SourceRecord, bytes]]) -> Iterator[list[Entry] | str]:
        """Each page's entries, in order; the work starts now, results arrive as they are taken."""
        records, blobs = [record for record, _ in todo], [data for _, data in todo]
        wanted = not self._broken and len(todo) >= POOL_MIN_FILES
        if self._pool is None and wanted:
            self._pool = workers.pool(["digest.ingest"])
        if self._pool is not None:
            try:
                return self._pool.map(self._work, records, blobs, chunksize=POOL_CHUNK)
            except BrokenProcessPool as exc:
                self._give_up(exc)
        return map(self._work, records, blobs)

    def results(
        self, todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[list[Entry] | str]
    ) -> list[list[Entry] | str]:
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
    files: Sequence[Path], folder: Path, store: Store, now: datetime, errors: list[tuple[str, str]]
) -> Iterator[list[tuple[SourceRecord, bytes]]]:
    """The files whose bytes were not seen before, in batches bounded by count and size.

    A file that cannot be read is logged, added to ``errors`` and recorded by
    its ``lstat``, unless that same failure was recorded before (it was
    reported when it first happened).
    """
    for at in range(0, len(files), BATCH_FILES):
        chunk = [(path, _source_name(path, folder)) for path in files[at : at + BATCH_FILES]]
        seen = store.sources([name for _, name in chunk])
        todo: list[tuple[SourceRecord, bytes]] = []
        size = 0
        for path, name in chunk:
            before = seen.get(name)
            try:
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
            if before is not None and before.content_hash == digest:
                continue
            mtime = datetime.fromtimestamp(info.st_mtime, UTC)
            todo.append((SourceRecord(name, digest, len(data), mtime, None, now), data))
            size += len(data)
            if size >= BATCH_BYTES:
                yield todo
                todo, size = [], 0
        if todo:
            yield todo


def ingest(config: Config, store: Store, now: datetime, paths: Sequence[Path] | None = None) -> IngestReport:
    """Ingest the source folder (or just ``paths``, files or folders) into the store."""
    started = clock.monotonic()
    folder = config.paths.source
    files: list[Path] = []
    for target in paths if paths is not None else [folder]:
        files.extend(scan(target) if target.is_dir() else [target])
    errors: list[tuple[str, str]] = []
    read = articles = new = changed = 0

    def store_batch(todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[list[Entry] | str]) -> None:
        nonlocal read, articles, new, changed
        entries: list[Entry] = []
        records: list[SourceRecord] = []
        for (record, _), found in zip(todo, parsers.results(todo, parsed), strict=True):
            if isinstance(found, str):
                store.record_source(dataclasses.replace(record, last_error=found))
                log.warning("skipped page %s: %s", record.path, found)
                errors.append((record.path, found))
                continue
            entries.extend(found)
            records.append(record)
        crash_point("ingest.before_upsert")
        upserted = store.upsert_entries(entries)
        crash_point("ingest.after_upsert")
        # Only once the articles are stored is a file "seen": a failed upsert leaves it to be read again.
        store.record_sources(records)
        crash_point("ingest.after_record_sources")
        read, articles = read + len(records), articles + len(entries)
        new, changed = new + upserted.new, changed + upserted.changed

    # A batch at a time: memory stays flat on any archive, and the store gets one transaction per
    # batch instead of one per article.  While one batch is stored the next one is being parsed.
    parsers = _Parsers(config, now)
    try:
        pending: tuple[list[tuple[SourceRecord, bytes]], Iterator[list[Entry] | str]] | None = None
        for todo in _read_batches(files, folder, store, now, errors):
            parsed = parsers.map(todo)
            if pending is not None:
                store_batch(*pending)
            pending = (todo, parsed)
        if pending is not None:
            store_batch(*pending)
    finally:
        parsers.close()
    report = IngestReport(
        files=len(files),
        read=read,
        unchanged=len(files) - read - len(errors),
        failed=len(errors),
        articles=articles,
        new=new,
        changed=changed,
        errors=tuple(errors),
        ms=round((clock.monotonic() - started) * 1000),
    )
    log.info(
        "ingested files=%d read=%d unchanged=%d failed=%d articles=%d new=%d changed=%d ms=%d",
        report.files,
        report.read,
        report.unchanged,
        report.failed,
        report.articles,
        report.new,
        report.changed,
        report.ms,
    )
    return report
