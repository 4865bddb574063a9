"""Putting files into the output folder: staged first, renamed into place together, never half written.

Each file goes to a temporary name in its own folder (same filesystem, so
``os.replace`` is atomic) and is renamed over the old one only once every
file of the publish is staged: a full disk, a bad permission or a render
error stops the publish with the previous output intact.  Files whose bytes
are already right are not touched, so their mtime and ETag survive a no-op
republish.  Files that did not exist are renamed first, then those that
replace one, so whatever readers could already reach links only to files in
place at every moment, even when the publish is killed between two renames;
within each group pages go first and subscription feeds last, so a feed
never links to a page that is not there yet; OPML last of all.

Staged bytes live in the temporary files and the names of the files put
in a temporary SQLite file (``_Ledger``), not in memory: a full rebuild of a
large archive streams through here.  Worker processes drawing a full build
stage their pages themselves (``Staging``, ``stage``) and send back only
what they did, which the publish records (``Stager.record``): page bytes never
cross a process pipe.

No fsync: the guarantee sought is "never half a file" for readers, which the
rename gives; after a power loss the next publish rewrites whatever differs.

A process killed mid-publish leaves its temporary files behind (hidden, so
never served).  Each publish holds an flock on the output folder itself (one
publisher per folder at a time) and, while it stages, an empty journal file
whose name carries its temporary-file suffix; the next publish finds a
journal left by a dead one and deletes that publish's temporary files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from digest import workers
from digest.errors import PublishError
from digest.faults import crash_point
from digest.publish.layout import OWNED_FOLDERS

# Paths a commit reports by name; past this it counts them (a full rebuild writes one per article).
REPORTED_PATHS = 1000
FIX = "check that paths.output names a folder this user can write, on a disk with free space"
JOURNAL = ".digest-staging"  # + the publish's temporary-file suffix
# How long a publish waits for another one on the same folder: a full build of a large archive
# takes minutes; past this the wait is an error, never a hang.
LOCK_WAIT_SECONDS = 600.0
LOCK_POLL_SECONDS = 0.1


def is_subscription(path: str) -> bool:
    """A subscription document (a WebSub topic), Atom or JSON Feed, lives right in ``feeds/``;
    archive pages below it are not."""
    return path.startswith("feeds/") and path.endswith((".atom", ".json")) and path.count("/") == 1


# Files that did not exist are renamed before any that replace one (``_Ledger.add``): only a replaced
# file can be linked from what readers already see, so every file it may link to is in place first.
_REPLACED = 3


def _write_order(path: str) -> tuple[int, str]:
    """Pages and archives before subscription feeds, which announce them; OPML last of all."""
    if is_subscription(path):
        return (1, path)
    if path.endswith(".opml"):
        return (2, path)
    return (0, path)


def target(output_dir: Path, path: str) -> Path:
    """``output_dir/path``, refusing anything that would land outside the folder."""
    return Path(_target(str(output_dir), path))


def _target(output_dir: str, path: str) -> str:
    # Plain strings: pathlib's parsing was a tenth of a full rebuild's time in this module.
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/") or ".." in parts or not parts:
        raise PublishError(f"refusing to write {path!r} outside the output folder {output_dir}")
    return os.path.join(output_dir, *parts)


def _in_place(where: str, data: bytes) -> tuple[bool, bool]:
    """Whether a file (or link) stands at ``where``, and whether it holds ``data``; a folder in the
    way is an error, found now rather than at rename time so the failure comes before any file is
    replaced.  One ``lstat`` answers both for the common cases (a full build finds no file at any
    path); only a symbolic link is followed, to compare what it points at."""
    try:
        found = os.lstat(where)
    except (FileNotFoundError, NotADirectoryError):
        return False, False
    if stat.S_ISLNK(found.st_mode):
        try:
            found = os.stat(where)
        except (FileNotFoundError, NotADirectoryError):
            return True, False  # a dangling link: the path is taken, its bytes are not ours
    if stat.S_ISDIR(found.st_mode):
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way", where)
    if found.st_size != len(data):
        return True, False
    with open(where, "rb") as handle:
        return True, handle.read() == data


@dataclass(frozen=True)
class Staging:
    """Where one publish stages its files: all a worker process needs to stage pages itself."""

    root: str
    suffix: str

    def temp(self, where: str) -> str:
        """The temporary file staging ``where``: hidden, beside it, named after this publish."""
        folder, name = os.path.split(where)
        return os.path.join(folder, f".{name}{self.suffix}")


@dataclass(frozen=True)
class Staged:
    """What ``stage`` did with one file: wrote a temporary file for it (``staged``) or found its
    bytes in place; ``new`` when no file stands at its path yet."""

    staged: bool
    new: bool = False


def stage(staging: Staging, path: str, data: bytes, folders: set[str]) -> Staged:
    """Write ``data`` to ``path``'s temporary file unless the file in place holds exactly these
    bytes; ``folders`` are the folders known to exist (the caller's, grown here)."""
    where = _target(staging.root, path)
    exists, same = _in_place(where, data)
    if same:
        return Staged(staged=False)
    folder = os.path.dirname(where)
    if folder not in folders:
        os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    temp = staging.temp(where)  # put before in this publish: overwritten
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
    except BaseException:
        Path(temp).unlink(missing_ok=True)  # half written (a full disk): not staged, so delete it here
        raise
    return Staged(staged=True, new=not exists)


@dataclass(frozen=True)
class Committed:
    """What ``Stager.commit`` renamed into place (a count: a full rebuild renames every file)."""

    count: int
    paths: tuple[str, ...]  # the first REPORTED_PATHS of them, in write order
    subscriptions: tuple[str, ...]  # every subscription document among them (the WebSub topics)


class _Ledger:
    """The paths one publish put, and which of them it staged, kept in a temporary SQLite file.

    A full rebuild puts one file per article; holding their names in memory
    made its peak grow with the archive (docs/performance.md).  Rows are
    written ``BATCH`` at a time, in one statement: each statement lets the
    other threads of a pooled build (its pipes to the workers) take the
    interpreter lock, and one per path took 0.18 s at 10k articles
    where batches take 0.04 s.  Every read writes what is pending first.
    """

    BATCH = 256

    def __init__(self) -> None:
        handle, self._file = tempfile.mkstemp(prefix="digest-staging-", suffix=".sqlite3")
        os.close(handle)
        # No journal and no fsync: the file lives only as long as this publish.
        self._db = sqlite3.connect(self._file, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE put (path TEXT PRIMARY KEY, staged INTEGER NOT NULL, rank INTEGER)")
        self._db.execute("BEGIN")
        self._pending: list[str | int | None] = []  # the values of rows not written yet, flat

    def add(self, path: str, staged: bool, new: bool = False) -> None:
        """Record that ``path`` was put, staged (new bytes) or not (unchanged); ``new``: no file there yet."""
        rank = _write_order(path)[0] + (0 if new else _REPLACED) if staged else None
        self._pending += (path, int(staged), rank)
        if len(self._pending) >= 3 * self.BATCH:
            self._write()

    def _write(self) -> None:
        # One statement: SQLite takes its rows in order, so a path met twice keeps its later row.
        if self._pending:
            rows = ", ".join(["(?, ?, ?)"] * (len(self._pending) // 3))
            self._db.execute(f"INSERT OR REPLACE INTO put VALUES {rows}", self._pending)
            self._pending = []

    def missing(self, paths: Sequence[str]) -> list[str]:
        """Those of ``paths`` never put, in their order (a few queries for a folder's files)."""
        self._write()
        found: set[str] = set()
        for at in range(0, len(paths), self.BATCH):
            some = paths[at : at + self.BATCH]
            marks = ", ".join("?" * len(some))
            query = f"SELECT path FROM put WHERE path IN ({marks})"
            found.update(path for (path,) in self._db.execute(query, some))
        return [path for path in paths if path not in found]

    def is_staged(self, path: str) -> bool:
        """Whether ``path`` has a temporary file of this publish waiting."""
        self._write()
        return self._db.execute("SELECT 1 FROM put WHERE path = ? AND staged", (path,)).fetchone() is not None

    def staged(self) -> Iterator[str]:
        """Every staged path in write order (``_write_order``), streamed."""
        self._write()
        query = "SELECT path FROM put WHERE staged ORDER BY rank, path"
        return (path for (path,) in self._db.execute(query))

    def close(self) -> None:
        """Delete the file."""
        self._db.close()
        os.unlink(self._file)


class Stager:
    """Collects one publish's files as temporary files, then renames them into place (``commit``).

    Use as a context manager: leaving it with an exception discards every
    temporary file; ``OSError`` becomes a ``PublishError`` naming the folder.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._root = str(output_dir)
        self.unchanged = 0
        # Every path put, changed or not (what a full build keeps), on disk; the temporary name
        # of a staged path follows from the path.
        self._ledger: _Ledger  # made on entering
        self._folders: set[str] = set()  # folders known to exist
        self._removals: list[str] = []
        # One suffix per publish: temporary names never collide and a crash's leftovers are findable.
        self._suffix = f".{secrets.token_hex(4)}.tmp"
        self._staging = Staging(self._root, self._suffix)
        self._shared = False  # whether worker processes were told where to stage (``staging``)
        self._lock: int | None = None

    def __enter__(self) -> Stager:
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise PublishError(f"the output folder {self.output_dir} is a file; set paths.output to a folder")
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self.output_dir, os.O_RDONLY | os.O_DIRECTORY)
            workers.keep_from_workers(self._lock)
            try:
                _wait_for_lock(self._lock, self.output_dir)  # another publisher of this folder
            except OSError as exc:
                # Some network filesystems lock no folders; one leader publishes there anyway.
                if exc.errno not in (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
            self._sweep()
            (self.output_dir / f"{JOURNAL}{self._suffix}").touch()
        except OSError as exc:
            self._release()
            raise _failure(self.output_dir, exc) from exc
        self._ledger = _Ledger()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        if value is not None:
            self._discard()
        self._ledger.close()
        self._release()
        if isinstance(value, OSError):
            raise _failure(self.output_dir, value) from value

    @property
    def staging(self) -> Staging:
        """Where this publish stages, for worker processes staging pages themselves (``stage``);
        what they stage is ``record``-ed here."""
        self._shared = True
        return self._staging

    def restart(self) -> None:
        """Forget everything put so far and delete its temporary files: the build starts again
        (its worker processes died, leaving files staged that this process never heard of)."""
        self._discard()
        self._ledger.close()
        self._ledger = _Ledger()
        self.unchanged = 0

    def _discard(self) -> None:
        """Delete this publish's temporary files (those renamed already are gone)."""
        if self._shared:
            # Workers may have staged files whose news never arrived: found by the suffix.
            self._delete_staged(self._suffix)
            return
        for path in self._ledger.staged():
            Path(self._temp(_target(self._root, path))).unlink(missing_ok=True)

    def _delete_staged(self, suffix: str, journal: str = "") -> None:
        """Delete every temporary file named with ``suffix`` in the output folder (but ``journal``)."""
        for dirpath, _dirnames, filenames in os.walk(self.output_dir):
            for name in filenames:
                if name.startswith(".") and name.endswith(suffix) and name != journal:
                    os.unlink(os.path.join(dirpath, name))

    def _sweep(self) -> None:
        """Delete the temporary files of publishes that died mid-way (their journals are left)."""
        for journal in self.output_dir.glob(f"{JOURNAL}.*.tmp"):
            self._delete_staged(journal.name.removeprefix(JOURNAL), journal.name)
            journal.unlink()

    def _release(self) -> None:
        if self._lock is None:
            return
        # A journal that cannot be deleted (the disk went read-only) only costs the next publish a sweep.
        with contextlib.suppress(OSError):
            (self.output_dir / f"{JOURNAL}{self._suffix}").unlink(missing_ok=True)
        workers.release_to_workers(self._lock)
        os.close(self._lock)  # closing drops the flock
        self._lock = None

    def put(self, path: str, data: bytes) -> None:
        """Stage ``data`` for ``path`` unless the file already holds exactly these bytes."""
        self.record(path, stage(self._staging, path, data, self._folders))

    def record(self, path: str, done: Staged) -> None:
        """Take note of what ``stage`` did for ``path``, here or in a worker process."""
        if not done.staged:
            if self._ledger.is_staged(path):  # put before in this publish, with other bytes
                Path(self._temp(_target(self._root, path))).unlink(missing_ok=True)
            self._ledger.add(path, staged=False)
            self.unchanged += 1
            return
        self._ledger.add(path, staged=True, new=done.new)
        crash_point("staging.after_put")

    def keep(self, path: str) -> bool:
        """Leave ``path`` as it stands (a frozen archive page, never drawn again); False when the
        output folder does not hold it, so it must be drawn."""
        if not os.path.isfile(_target(self._root, path)):
            return False
        self._ledger.add(path, staged=False)
        return True

    def _temp(self, where: str) -> str:
        return self._staging.temp(where)

    def remove(self, path: str) -> None:
        """Delete ``path`` at commit time (a document that no longer belongs)."""
        self._removals.append(path)

    def commit(self) -> tuple[Committed, list[str]]:
        """Rename every staged file into place, then delete the removals; returns what was
        written and the paths removed."""
        count = 0
        paths: list[str] = []
        subscriptions: list[str] = []
        for path in self._ledger.staged():
            where = _target(self._root, path)
            temp = self._temp(where)
            # Public documents a separate web server may serve, whatever the umask says.
            os.chmod(temp, 0o644)
            os.replace(temp, where)
            count += 1
            if len(paths) < REPORTED_PATHS:
                paths.append(path)
            if is_subscription(path):
                subscriptions.append(path)
            crash_point("staging.after_rename")
        crash_point("staging.before_removals")
        removed = []
        for path in self._removals:
            gone = target(self.output_dir, path)
            if gone.is_file():
                gone.unlink()
                removed.append(path)
        return Committed(count, tuple(paths), tuple(subscriptions)), removed

    def prune(self) -> list[str]:
        """Remove files in the owned folders that this publish did not put (and folders left empty)."""
        removed: list[str] = []
        for folder in OWNED_FOLDERS:
            top = self.output_dir / folder
            if not top.is_dir():
                continue
            for dirpath, _dirnames, filenames in os.walk(top, topdown=False):
                # Plain strings: a full build walks a file per article here.
                folder = os.path.relpath(dirpath, self._root).replace(os.sep, "/")
                for path in self._ledger.missing([f"{folder}/{name}" for name in filenames]):
                    os.unlink(_target(self._root, path))
                    removed.append(path)
                if dirpath != str(top) and not os.listdir(dirpath):
                    os.rmdir(dirpath)
        return removed


def _wait_for_lock(fd: int, output_dir: Path, seconds: float | None = None) -> None:
    """Take the folder's flock, waiting at most ``seconds`` (``LOCK_WAIT_SECONDS``) for another
    publisher; then a ``PublishError`` (which ``/healthz`` reports) instead of waiting for ever."""
    deadline = time.monotonic() + (LOCK_WAIT_SECONDS if seconds is None else seconds)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise PublishError(
                    f"another publish has held the output folder {output_dir} for "
                    f"{LOCK_WAIT_SECONDS if seconds is None else seconds:g} s; if no digest command is "
                    f"publishing, a leftover process holds it (find it with: fuser -v {output_dir}) "
                    "and must be stopped"
                ) from None
            time.sleep(LOCK_POLL_SECONDS)


def _failure(output_dir: Path, exc: OSError) -> PublishError:
    where = exc.filename or output_dir
    return PublishError(f"cannot write {where} in the output folder {output_dir}: {exc.strerror}; {FIX}")
