"""Watching the source folder: inotify events (watchfiles), settling, and surviving a vanished folder.

A page file is handed on only once it has *settled*: its size, times and
content hash stayed the same for ``quiet`` seconds (``ingest.settle_seconds``,
5 by default: a writer may stall for a second or two mid-page).  The safe and
fast way to deliver a page is to write it under a hidden name (``.x.txt.part``)
and rename it into place: it then appears whole, and a deployment where every
writer does so can lower the settle time to half a second.  Editorial systems and
file shares write pages in pieces; reading one between two pieces would
publish half an article.  Settling is measured on the monotonic clock, not on
file times, so a share with a skewed clock or coarse timestamps cannot fool it,
and the change time (which no program can set back) is part of the stamp, so
``cp -p`` or ``rsync -t`` writing old mtimes is still seen as writing.

The folder itself may disappear (an unmounted share) or be replaced (a
``mv pages pages.old && mkdir pages`` rotation).  inotify then goes silent
without an error, so the watcher compares the folder's identity (device and
inode) on every tick, says in one line what happened, waits for the folder
to come back and watches the new one.

Files written while no watch was in place raise no event: before the first
one (``digest serve`` starts watching after its start-up publish), and
between a folder coming back or being replaced and its new watch.  So each
watch, once in place, has the folder read again (``on_rescan``); a file
written after that read raises an event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import watchfiles
from watchfiles import Change
from watchfiles._rust_notify import WatchfilesRustInternalError

from digest.config import IngestConfig
from digest.ingest.scan import is_page_file, scan

log = logging.getLogger(__name__)

# Seconds a page file must stay unchanged before it is read (``ingest.settle_seconds`` sets it):
# longer than any pause of the program writing it, or half a page is read.
SETTLE_SECONDS = IngestConfig().settle_seconds
# How often (ms) the watcher wakes without events: to re-check waiting files and the folder.
TICK_MS = 100
# While events keep coming, hand them on at least this often (ms).
DEBOUNCE_MS = 300
# What watchfiles says of a file name that is not UTF-8 (``scan.name_problem``).
UNDECODABLE = "Unable to decode path"
# How long (s) to wait before looking again for a source folder that is gone.
RETRY_SECONDS = 1.0
# How long (s) to wait before watching again after a job the watcher ran failed: each new watch reads
# the folder again, which a bug could fail every time.
JOB_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class Stamp:
    """What must stay the same while a file settles."""

    size: int
    mtime_ns: int
    ctime_ns: int
    sha256: str


def stamp(path: Path) -> Stamp | None:
    """The file's current stamp, or ``None`` when it is gone or cannot be read (ingest will say why)."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None
    return Stamp(info.st_size, info.st_mtime_ns, info.st_ctime_ns, digest)


def quiet_for(path: Path, seconds: float, wall: Callable[[], float] = time.time) -> bool:
    """Whether ``path`` was last written (or had its metadata changed) ``seconds`` ago or more.

    The cheap test the periodic rescan uses: a stat, no read.  Any write moves
    the change time forward, and no program can set it back.
    """
    try:
        info = path.stat()
    except OSError:
        return True  # let ingest meet the error and report it
    return wall() - max(info.st_mtime, info.st_ctime) >= seconds


class Settler:
    """Holds changed files until each has kept one stamp (size, times, hash) for ``quiet`` seconds, so
    across at least two looks.  Thread-safe."""

    def __init__(self, quiet: float = SETTLE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._quiet = quiet
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[Path, tuple[Stamp | None, float]] = {}

    def note(self, paths: Iterable[Path]) -> None:
        """These files changed: (re)start their quiet period."""
        now = self._clock()
        with self._lock:
            for path in paths:
                self._pending[path] = (stamp(path), now)

    def take(self) -> list[Path]:
        """The files that have settled (in name order), no longer held; files that vanished are dropped."""
        now = self._clock()
        ready: list[Path] = []
        with self._lock:
            for path, (seen, since) in list(self._pending.items()):
                current = stamp(path)
                # lexists: a symbolic link loop or a broken link is still an entry, which ingest names
                # as such; only an entry gone from the folder is dropped.
                if current is None and not os.path.lexists(path):
                    del self._pending[path]
                elif current != seen:
                    self._pending[path] = (current, now)
                elif now - since >= self._quiet:
                    del self._pending[path]
                    ready.append(path)
        return sorted(ready)

    @property
    def waiting(self) -> int:
        """How many files are changing or settling."""
        with self._lock:
            return len(self._pending)


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of ``folder``, or ``None`` when it is not there as a folder."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if folder.is_dir() else None


def _page_change(change: Change, path: str) -> bool:
    # New folders too: files written into one before its inotify watch exists raise no event.
    return change != Change.deleted and (is_page_file(Path(path)) or os.path.isdir(path))


def _pages(changes: Iterable[tuple[Change, str]]) -> list[Path]:
    """The page files a batch of changes names, new folders searched."""
    found: list[Path] = []
    for _change, name in changes:
        path = Path(name)
        found.extend(scan(path) if path.is_dir() else [path])
    return found


class Watcher:
    """Feeds settled page files under ``source`` to ``on_settled``; calls ``on_rescan`` once each watch
    of the folder is in place (at start, when the folder comes back or was replaced), since files
    dropped into it while nobody watched raised no events.

    ``run`` blocks until ``stop`` is set; a job the callbacks run finishes first.
    """

    def __init__(
        self,
        source: Path,
        stop: threading.Event,
        on_settled: Callable[[Sequence[Path]], None],
        on_rescan: Callable[[], None],
        settler: Settler | None = None,
    ) -> None:
        self._source = source
        self._stop = stop
        self._on_settled = on_settled
        self._on_rescan = on_rescan
        self.settler = settler or Settler()

    def run(self) -> None:
        """Watch until stopped, through disappearances and replacements of the folder."""
        identity = folder_identity(self._source)
        failure = ""
        while not self._stop.is_set():
            if identity is None:
                identity = self._wait_for_folder()
                if identity is None:
                    return
            try:
                self._watch(identity)
            except (OSError, WatchfilesRustInternalError) as exc:
                # Said once per distinct cause (say, the inotify watch limit), not once a second.
                if str(exc) != failure and UNDECODABLE in str(exc):
                    # watchfiles drops the batch of events naming such a file; the new watch reads the folder.
                    log.warning(
                        "a file name in %s is not UTF-8 (%s); ingest lists it as unreadable",
                        self._source,
                        exc,
                    )
                elif str(exc) != failure:
                    log.warning("watching %s failed (%s); the rescan still runs, retrying", self._source, exc)
                failure = str(exc)
                self._stop.wait(RETRY_SECONDS)
            except Exception as exc:
                # A bug in the job a callback ran: this thread must not die of it, leaving pages to wait
                # for the next rescan for the rest of the process's life with nothing saying why.
                if repr(exc) != failure:
                    log.exception("a job the watcher ran failed; watching again, the folder read again")
                failure = repr(exc)
                self._stop.wait(JOB_RETRY_SECONDS)
            if self._stop.is_set():
                return
            now = folder_identity(self._source)
            if now is not None and now != identity:
                log.warning("source folder %s was replaced; watching the new one", self._source)
            identity = now

    def _wait_for_folder(self) -> tuple[int, int] | None:
        log.warning("source folder %s is missing; waiting for it to come back", self._source)
        while not self._stop.wait(RETRY_SECONDS):
            identity = folder_identity(self._source)
            if identity is not None:
                log.warning("source folder %s is back; reading what it holds", self._source)
                return identity
        return None

    def _watch(self, identity: tuple[int, int]) -> None:
        """One inotify session on the folder ``identity`` names, the folder read again once it watches
        (at its first batch, within ``DEBOUNCE_MS``); returns when the folder is gone or replaced."""
        watching = False
        for changes in watchfiles.watch(
            self._source,
            watch_filter=_page_change,
            debounce=DEBOUNCE_MS,
            step=50,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            if not watching:
                # Before this, a file written after the rescan read the folder could raise no event.
                watching = True
                self._on_rescan()
            self.settler.note(_pages(changes))
            ready = self.settler.take()
            if ready:
                self._on_settled(ready)
            if folder_identity(self._source) != identity:
                return
