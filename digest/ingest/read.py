"""Reading pages: decode, parse and date each file (in worker processes for a big batch), and the
entries its articles become, with the identities they had before."""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import logging
import os
import stat as filemode
import time as clock
from collections.abc import Iterator, Mapping, Sequence, Set

# The base of BrokenProcessPool: catching that needs concurrent.futures.process (with multiprocessing)
# loaded in every command, where only a started pool can break.
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from digest import workers
from digest.config import Config
from digest.errors import EncodingError, SourceError
from digest.faults import crash_point
from digest.ingest import identity
from digest.ingest.scan import (
    file_stamp,
    name_problem,
    source_key,
    stamp_of,
)
from digest.paper import dating
from digest.paper.conventions import conventions_for
from digest.paper.decode import decode_page
from digest.paper.parse import PARSER_VERSION, parse_page
from digest.store import search_index
from digest.store.database import Store
from digest.store.records import SourceRecord
from digest.store.segment import index_text
from digest.types import DEFAULT_SECTION, PAGE_SPAN, Article, Entry, Page, Section

if TYPE_CHECKING:
    from digest.workerpool import Workers

log = logging.getLogger(__name__)


# A fixed morning instant stands for the newspaper date: the paper is out by then.
PUBLISHED_AT = time(6, 0)


# Page files read per store transaction, and the most bytes of them held at once.
BATCH_FILES = 200


BATCH_BYTES = 20_000_000


# Parsing a batch this big in worker processes repays starting them, and each worker loading the
# word segmenter's dictionary: on two cores 125 pages (1k articles) were 6 % slower with workers
# than in one process, 375 pages 16 % faster (docs/performance.md).
POOL_MIN_FILES = 200


# Pages sent to a worker process at a time: fewer round trips, still an even spread.
POOL_CHUNK = 4


# A page's text is tens of kilobytes.  Far beyond that a file is no page (a log, a dump, a
# runaway export), and one giant article would bloat every feed and email it reached.
MAX_PAGE_BYTES = 5_000_000


MAX_PAGE_LINES = 100_000


# A paragraph is a line: the longest in the seed pages is under 500 characters, a whole page about
# 10,000.  A line far longer is no paragraph (a dump, an export that lost its line breaks), and as the
# first sentence of an article it would be its summary, whole, in every feed and on the front page.
MAX_LINE_CHARS = 20_000


@dataclass(frozen=True)
class Parsed:
    """A page file read: its articles and the issue date its own evidence gives, and (from a worker
    process) its articles' texts already cut into search index words, by text."""

    page: Page
    dating: dating.Dating
    cut: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """Why a page file's bytes cannot be read as a page; ``encoding``: for a file refused for its
    encoding, the ``ingest.encoding`` setting it was refused under (another setting may read it)."""

    reason: str
    encoding: str | None = None


def build_entries(
    parsed: Parsed,
    name: str,
    previous: Sequence[Entry],
    taken: set[str],
    filed: Mapping[str, Section],
    config: Config,
    now: datetime,
    elsewhere: Set[str] = frozenset(),
    former: Set[str] = frozenset(),
) -> tuple[list[Entry], dict[str, str | None]]:
    """Entries for one page's articles, and the uids of ``previous`` articles of this file it
    dropped, each with the uid of the entry its text now lives in, if any (``identity.successor``).
    ``elsewhere``: the page files still in the folder (or those of them ``previous`` names);
    articles one of them holds are matched only by a copy of its page (``_held_elsewhere``).
    ``former``: the gone files this one was renamed from (``renamed.find``), whose articles it
    drops as it drops its own.

    Each article that ``identity.match`` finds among the page's ``previous``
    articles keeps that one's uid and tag; another gets a new uid, made
    distinct from ``taken`` (uids stored already) and from its page mates.
    ``filed`` holds the section each section name is filed under (``section_names``): an
    article printed under another form of a section's name (經濟 for 经济) carries that section's.
    A first version's ``updated`` is its ``published``: the output then
    follows from the page files alone.
    """
    day, page_number = parsed.dating.day, parsed.dating.page
    published = datetime.combine(day, PUBLISHED_AT, tzinfo=config.tz)
    held = _held_elsewhere(previous, parsed.page.articles, name, elsewhere)
    matched = identity.match([as_known(e) for e in previous if e.uid not in held], parsed.page.articles)
    tags = {entry.uid: entry.tag for entry in previous}
    used = set(taken) | {entry.uid for entry in previous}
    entries = []
    filing = zip(parsed.page.articles, matched, section_names(parsed), strict=True)
    for index, (article, uid, section_name) in enumerate(filing):
        if uid is None:
            uid = identity.article_uid(day, article, page_number)
            first, copy = uid, 1
            while uid in used:
                # Same headline twice (say, two 图片新闻), or a stored one's: the page order tells them apart.
                copy += 1
                uid = hashlib.sha256(f"{first}#{copy}".encode()).hexdigest()[:20]
        used.add(uid)
        entries.append(
            Entry(
                uid=uid,
                tag=tags.get(uid) or identity.tag_uri(config.site.tag_authority, day, uid),
                article=article
                if article.section == filed[section_name].name
                else dataclasses.replace(article, section=filed[section_name].name),
                section=filed[section_name],
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
    dropped: dict[str, str | None] = {}
    for e in previous:
        if (e.source == name or e.source in former) and e.uid not in kept and e.retracted is None:
            heir = identity.successor(e.article.printed_body(), parsed.page.articles)
            dropped[e.uid] = entries[heir].uid if heir is not None else None
    return entries, dropped


def as_known(entry: Entry) -> identity.Known:
    """A stored article as ``identity.match`` compares it: its text and its place on its page."""
    return identity.Known(
        entry.uid, entry.article.title, entry.article.printed_body(), entry.position % PAGE_SPAN
    )


def _held_elsewhere(
    previous: Sequence[Entry], articles: Sequence[Article], name: str, elsewhere: Set[str]
) -> set[str]:
    """The uids of ``previous`` articles that another page file still in the folder holds, when the
    page read (``articles``, of file ``name``) is no copy of that file's page: it holds no more than
    half of that file's articles.

    A copy of a page (a duplicate export, a corrected copy) takes its articles over, as a re-read
    of the page would.  But one story of a page resembling one of another page of the same number
    (or of no number), say two boxes of a recurring column, is two stories: matched, the page read
    last took the other's id, and the other was off the site while its file was still there.
    """
    by_file: dict[str, list[Entry]] = {}
    for entry in previous:
        if entry.source != name and entry.source in elsewhere:
            by_file.setdefault(entry.source, []).append(entry)
    held: set[str] = set()
    for theirs in by_file.values():
        found = identity.match([as_known(e) for e in theirs], articles)
        if 2 * sum(uid is not None for uid in found) <= len(theirs):
            held.update(e.uid for e in theirs)
    return held


def section_names(parsed: Parsed) -> list[str]:
    """The section name each of the page's articles is filed under."""
    return [article.section or DEFAULT_SECTION for article in parsed.page.articles]


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.as_posix()


def source_name(path: Path, folder: Path) -> str:
    """The name ``path`` is known by: its path below ``folder`` (``scan.source_key``)."""
    return source_key(_relative(path, folder))


def _why(exc: OSError, path: Path) -> str:
    """Why a page-named entry could not be opened, in words an operator can act on."""
    if exc.errno == errno.ELOOP:
        return "is a symbolic link loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        # A link whose target went (the export elsewhere was moved) stays; "vanished" would mislead.
        return f"is a symbolic link to {os.readlink(path)}, which is not there; mend or remove the link"
    if exc.errno == errno.ENOENT:
        return "vanished before it could be read (deleted, or a broken symbolic link)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied; let the service's user read it"
    return f"cannot read ({exc.strerror})"


def read_file(path: Path, name: str, root: str | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes and stat of a page file; ``SourceError`` when the entry cannot be one.

    ``root``: the real path of the source folder ``path`` is in; a file there that is a symbolic
    link to one outside it (the service's secret, its database, ``/etc``) is refused, as
    whoever may drop pages into the folder may not read what the service can and publish it.
    """
    try:
        info = path.stat()
        if filemode.S_ISDIR(info.st_mode):
            raise SourceError(name, "is a folder, not a page file")
        if not filemode.S_ISREG(info.st_mode):
            # Never opened: reading a named pipe would block ingest for good.
            raise SourceError(name, "is not a regular file (a pipe or a device?)")
        with path.open("rb") as handle:
            # Checked on the open file, so a link swapped in after a check of the path gains nothing.
            if root is not None and not _inside(_opened_path(handle.fileno(), path), root):
                raise SourceError(name, "is a symbolic link to a file outside the source folder; not read")
            data = handle.read(MAX_PAGE_BYTES + 1)  # bounded: a file may grow after the stat
    except OSError as exc:
        raise SourceError(name, _why(exc, path)) from exc
    if max(info.st_size, len(data)) > MAX_PAGE_BYTES:
        size = f"{max(info.st_size, len(data)) / 1e6:.1f}"
        limit = MAX_PAGE_BYTES / 1e6
        if float(size) <= limit:  # "5.0 MB, more than 5 MB" would read as a bug
            size = f"{max(info.st_size, len(data)):,} bytes"
        else:
            size += " MB"
        raise SourceError(name, f"is {size}, more than a page can be ({limit:g} MB); split it")
    crash_point("ingest.after_read")
    return data, info


def _opened_path(descriptor: int, path: Path) -> str:
    """The real path of the file open at ``descriptor`` (Linux's ``/proc``), else of ``path``."""
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return os.path.realpath(path)


def _inside(real: str, root: str) -> bool:
    return real.startswith(root.rstrip("/") + "/")


def _failure_record(path: Path, name: str, reason: str, now: datetime) -> SourceRecord | None:
    """A record of an entry that could not be read, keyed by its ``lstat`` (None when it is gone)."""
    try:
        info = path.lstat()
    except OSError:
        return None
    stamp = f"{info.st_ino}:{info.st_mode}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    mtime = datetime.fromtimestamp(info.st_mtime, UTC)
    return SourceRecord(name, hashlib.sha256(stamp.encode()).hexdigest(), info.st_size, mtime, reason, now)


def decode_and_parse(name: str, data: bytes, mtime: datetime, config: Config) -> Parsed | Refused:
    """One page file's bytes → its articles and issue date, or why it cannot be read.

    Pure, so a worker process can run it: the reason comes back as a ``Refused``
    rather than a raised ``SourceError``.
    """
    try:
        text = decode_page(data, name, config.ingest.encoding)
    except EncodingError as exc:
        return Refused(exc.reason, config.ingest.encoding)
    except SourceError as exc:
        return Refused(exc.reason)
    lines = text.split("\n")
    if len(lines) - 1 > MAX_PAGE_LINES:
        return Refused(f"has {len(lines) - 1:,} lines, more than a page can have ({MAX_PAGE_LINES:,})")
    longest = max(range(len(lines)), key=lambda at: len(lines[at]))
    if len(lines[longest]) > MAX_LINE_CHARS:
        return Refused(
            f"has a line of {len(lines[longest]):,} characters (line {longest + 1}), more than a paragraph "
            f"can be ({MAX_LINE_CHARS:,}): were its line breaks lost? re-export it"
        )
    page = parse_page(text, name, conventions_for(config.parser))
    return Parsed(page, dating.date_page(name, text, page.articles, mtime, config.tz, config.dating))


def _page_entries(record: SourceRecord, data: bytes, config: Config, cut: bool = False) -> Parsed | Refused:
    """One page file read (pure: a worker process may run it).

    ``cut``: also cut the articles' texts into search index words.  A worker
    does, on a core of its own: storing them is then left to this process,
    which would otherwise spend a fifth of an archive's ingest cutting words
    while the workers wait for it.  Done here, the store cuts what it stores.
    """
    parsed = decode_and_parse(record.path, data, record.mtime, config)
    if not cut or isinstance(parsed, Refused):
        return parsed
    texts = {text for article in parsed.page.articles for text in search_index.article_fields(article)}
    return dataclasses.replace(parsed, cut={text: index_text(text) for text in texts})


class Parsers:
    """Parses pages in this process, or on every core once a batch is big enough to repay starting them.

    Parsing is most of an ingest's time and each page is independent, so a
    whole archive parses on all cores; a page dropped into the folder, or a
    rescan that finds nothing new, never starts a process.
    """

    def __init__(self, config: Config) -> None:
        self._pool: Workers | None = None
        self._broken = False
        self._work = functools.partial(_page_entries, config=config)
        self._in_worker = functools.partial(_page_entries, config=config, cut=True)
        self._asked = config.build.workers

    def map(self, todo: Sequence[tuple[SourceRecord, bytes]]) -> Iterator[Parsed | Refused]:
        """Each page's entries, in order; the work starts now, results arrive as they are taken."""
        records, blobs = [record for record, _ in todo], [data for _, data in todo]
        wanted = not self._broken and len(todo) >= POOL_MIN_FILES
        if self._pool is None and wanted:
            self._pool = workers.pool(["digest.ingest.read"], asked=self._asked)
        if self._pool is not None:
            try:
                return self._pool.map(self._in_worker, records, blobs, chunksize=POOL_CHUNK)
            except BrokenExecutor as exc:
                self._give_up(exc)
        return map(self._work, records, blobs)

    def results(
        self, todo: Sequence[tuple[SourceRecord, bytes]], parsed: Iterator[Parsed | Refused]
    ) -> list[Parsed | Refused]:
        """All of ``parsed``; if a worker died (killed, out of memory), the batch parsed here instead."""
        try:
            return list(parsed)
        except BrokenExecutor as exc:
            self._give_up(exc)
            return [self._work(record, data) for record, data in todo]

    def _give_up(self, why: BrokenExecutor) -> None:
        log.warning("page parser processes failed (%s); parsing in this process from now on", why)
        self._broken = True
        self.close()

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def read_batches(
    files: Sequence[Path],
    folder: Path,
    store: Store,
    now: datetime,
    errors: list[tuple[str, str]],
    encoding: str,
    reparse: bool = False,
) -> Iterator[tuple[list[tuple[SourceRecord, bytes]], int]]:
    """The files whose bytes were not seen before, that another parser version read, or that were
    refused for their encoding under another setting than ``encoding`` (``ingest.encoding``; every
    file with ``reparse``), in batches bounded by count and size, each with how many of
    ``files`` were looked at by then.  Each record carries the page facts (issue date,
    evidence, number) of the file's previous read, if any.

    A file whose stamp is the one recorded is not opened; one whose bytes turn
    out to be known has its new stamp recorded, so the next scan skips it.
    A file that cannot be read is logged, added to ``errors`` and recorded by
    its ``lstat``, unless that same failure was recorded before (it was
    reported when it first happened).
    """
    root, named = os.path.realpath(folder), os.path.abspath(folder)  # as links resolve, as given
    for at in range(0, len(files), BATCH_FILES):
        chunk = [(path, source_name(path, folder)) for path in files[at : at + BATCH_FILES]]
        seen = store.sources([name for _, name in chunk])
        todo: list[tuple[SourceRecord, bytes]] = []
        restamped: dict[str, str | None] = {}
        size = 0
        for index, (path, name) in enumerate(chunk):
            before = seen.get(name)
            current = (
                before is not None
                and before.parser_version == PARSER_VERSION
                and before.refused_encoding in (None, encoding)
                and not reparse
            )
            stamped = before.stamp if current and before is not None else None
            if stamped is not None and stamped == stamp_of(str(path)):
                continue
            try:
                misnamed = name_problem(_relative(path, folder))
                if misnamed is not None:
                    raise SourceError(name, misnamed)
                read_at = clock.time_ns()
                # A file named from outside the folder (``digest ingest PATH``) is the operator's choice.
                where = os.path.abspath(path)
                inside = _inside(where, named) or _inside(where, root)
                data, info = read_file(path, name, root if inside else None)
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
