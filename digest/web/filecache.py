"""The output folder's files in memory, each checked against the disk by one ``stat`` per request.

A served file is kept with the stat key of the descriptor its bytes came
from: device, inode, size, mtime and ctime.  The publisher replaces files
with ``os.replace`` (a new inode), and any write in place moves mtime and
ctime, so while a ``stat`` of the path gives the same key, the bytes in
memory are the file's bytes: a 304 costs a ``stat``, a 200 no read and no
hash.

Timestamps have a coarse granularity (a kernel tick, more on some
filesystems), so two changes within one tick could leave the same key.  As
git does with "racily clean" index entries, a version whose ctime is not
well before the moment we started reading it is served but not kept: any
later change then has a later ctime, and so another key.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

StatKey = tuple[int, int, int, int, int]

# Longer than any filesystem's timestamp granularity we expect (FAT's 2 s included).
SETTLE_NS = 3_000_000_000
_MAX_BYTES = 64 * 1024 * 1024  # bodies and gzip variants kept, all files together
_MAX_FILE = 8 * 1024 * 1024  # a larger file is read per request, never kept
_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class FileVersion:
    """One consistent version of a file: its bytes and the stat of the descriptor they came from."""

    key: StatKey
    body: bytes
    digest: str  # content hash, the base of the ETag
    mtime: float


class Directory:
    """Marker: the path names a folder holding an index.html, so the client should add a slash."""


DIRECTORY = Directory()


@dataclass
class _Entry:
    local: str  # the URL's file joined to the root, symlinks not resolved: what a hit stats
    version: FileVersion
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.version.body) + len(self.gzipped or b"")


class FileCache:
    """Recently served files of one folder, by URL path, within a byte budget (least recently used go)."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = _MAX_BYTES,
        max_file: int = _MAX_FILE,
        settle_ns: int = SETTLE_NS,
    ) -> None:
        self._root = root
        self._max_bytes = max_bytes
        self._max_file = max_file
        self._settle_ns = settle_ns
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        # Hits come from the event loop, loads from worker threads.
        self._lock = threading.Lock()

    def get(self, path: str) -> FileVersion | None:
        """The kept version of URL ``path`` if one ``stat`` shows the file is still it; never reads."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        try:
            current = stat_key(os.stat(entry.local))
        except OSError:
            current = None
        with self._lock:
            if current != entry.version.key:
                self._drop(path, entry)
                return None
            if path in self._entries:
                self._entries.move_to_end(path)
        return entry.version

    def load(self, path: str) -> FileVersion | Directory | None:
        """Read URL ``path`` from disk and keep it when settled; ``None`` when it may not be served.

        Blocking: call it in a worker thread.
        """
        located = locate(self._root, path)
        if located is None:
            return None
        local, target = located
        started = time.time_ns()
        found = read(target)
        if (
            isinstance(found, FileVersion)
            and len(found.body) <= self._max_file
            and found.key[4] < started - self._settle_ns
        ):
            with self._lock:
                self._put(path, _Entry(local, found))
        return found

    def gzipped(self, path: str, version: FileVersion) -> bytes | None:
        """The kept gzip bytes of ``version``, if compressed before."""
        entry = self._entries.get(path)
        return entry.gzipped if entry is not None and entry.version is version else None

    def compress(self, path: str, version: FileVersion) -> bytes:
        """Gzip ``version`` and keep the result with it.  Blocking: call it in a worker thread."""
        # mtime=0 keeps the gzip bytes (and so the ETag's promise) identical on every build.
        compressed = gzip.compress(version.body, compresslevel=6, mtime=0)
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None and entry.version is version and entry.gzipped is None:
                self._drop(path, entry)
                entry.gzipped = compressed
                self._put(path, entry)
        return compressed

    def _put(self, path: str, entry: _Entry) -> None:
        old = self._entries.pop(path, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[path] = entry
        self._bytes += entry.size
        while self._bytes > self._max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def _drop(self, path: str, entry: _Entry) -> None:
        if self._entries.get(path) is entry:
            del self._entries[path]
            self._bytes -= entry.size


def stat_key(info: os.stat_result) -> StatKey:
    """What changes whenever the file at a path does: a new inode, or new times or size."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def locate(root: Path, path: str) -> tuple[str, Path] | None:
    """The file a URL path names inside ``root`` (as joined, and resolved), or ``None``.

    Refuses empty, dot and dot-dot segments (``%2e%2e`` arrives decoded), hidden
    names (the publisher's temporary files start with a dot), backslashes and
    NULs, and anything whose real path, symlinks followed, leaves ``root``.
    """
    segments = path.split("/")
    if segments[0] != "":
        return None
    segments = segments[1:]
    if segments[-1] == "":
        segments[-1] = "index.html"
    if any(not s or s.startswith(".") or "\\" in s or "\x00" in s for s in segments):
        return None
    real_root = root.resolve()
    target = real_root.joinpath(*segments).resolve()
    if not target.is_relative_to(real_root) or target == real_root:
        return None
    return os.path.join(root, *segments), target


def read(target: Path) -> FileVersion | Directory | None:
    """Read ``target`` whole from one descriptor; ``None`` when it is missing or not a plain file.

    The descriptor is stat'ed before and after the read: a file written in
    place meanwhile (the publisher never does) is read again rather than
    served torn.
    """
    try:
        # O_NONBLOCK: opening a FIFO someone left in the folder must not hang a worker.
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return DIRECTORY if (target / "index.html").is_file() else None
        if not stat.S_ISREG(info.st_mode):
            return None
        for _ in range(_READ_ATTEMPTS):
            body = os.pread(fd, info.st_size + 1, 0)
            after = os.fstat(fd)
            if stat_key(after) == stat_key(info) and len(body) == info.st_size:
                break
            info = after
    finally:
        os.close(fd)
    return FileVersion(
        key=stat_key(info),
        body=body,
        digest=hashlib.blake2b(body, digest_size=12).hexdigest(),
        mtime=info.st_mtime,
    )
