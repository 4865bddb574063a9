"""Putting files into the output folder: staged first, renamed into place together, never half written.

Each file goes to a temporary name in its own folder (same filesystem, so
``os.replace`` is atomic) and is renamed over the old one only once every
file of the publish is staged: a full disk, a bad permission or a render
error stops the publish with the previous output intact.  Files whose bytes
are already right are not touched, so their mtime and ETag survive a no-op
republish.  Renames go pages first and subscription feeds last, so a feed
never links to a page that is not there yet; OPML last of all.

Staged bytes live in the temporary files, not in memory: a full rebuild of
a large archive streams through here.

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
from pathlib import Path, PurePosixPath

from digest.errors import PublishError
from digest.faults import crash_point
from digest.output import OWNED_FOLDERS

FIX = "check that paths.output names a folder this user can write, on a disk with free space"
JOURNAL = ".digest-staging"  # + the publish's temporary-file suffix


def is_subscription(path: str) -> bool:
    """A subscription document (a WebSub topic) lives right in ``feeds/``; archive pages below it are not."""
    pure = PurePosixPath(path)
    return pure.parent == PurePosixPath("feeds") and pure.suffix == ".atom"


def _write_order(path: str) -> tuple[int, str]:
    """Pages and archives before subscription feeds, which announce them; OPML last of all."""
    if is_subscription(path):
        return (1, path)
    if path.endswith(".opml"):
        return (2, path)
    return (0, path)


def target(output_dir: Path, path: str) -> Path:
    """``output_dir/path``, refusing anything that would land outside the folder."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise PublishError(f"refusing to write {path!r} outside the output folder {output_dir}")
    return output_dir.joinpath(*pure.parts)


def _same_bytes(where: Path, data: bytes) -> bool:
    try:
        return where.stat().st_size == len(data) and where.read_bytes() == data
    except (FileNotFoundError, NotADirectoryError):
        return False


class Stager:
    """Collects one publish's files as temporary files, then renames them into place (``commit``).

    Use as a context manager: leaving it with an exception discards every
    temporary file; ``OSError`` becomes a ``PublishError`` naming the folder.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.unchanged = 0
        self.seen: set[str] = set()  # every path put, changed or not (what a full build keeps)
        # path -> temporary file, as strings: a full rebuild of a large archive stages many files.
        self._staged: dict[str, str] = {}
        self._removals: list[str] = []
        # One suffix per publish: temporary names never collide and a crash's leftovers are findable.
        self._suffix = f".{secrets.token_hex(4)}.tmp"
        self._lock: int | None = None

    def __enter__(self) -> Stager:
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise PublishError(f"the output folder {self.output_dir} is a file; set paths.output to a folder")
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self.output_dir, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # waits for another publisher of this folder
            self._sweep()
            (self.output_dir / f"{JOURNAL}{self._suffix}").touch()
        except OSError as exc:
            self._release()
            raise _failure(self.output_dir, exc) from exc
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        if value is not None:
            for temp in self._staged.values():
                Path(temp).unlink(missing_ok=True)
            self._staged.clear()
        self._release()
        if isinstance(value, OSError):
            raise _failure(self.output_dir, value) from value

    def _sweep(self) -> None:
        """Delete the temporary files of publishes that died mid-way (their journals are left)."""
        for journal in self.output_dir.glob(f"{JOURNAL}.*.tmp"):
            suffix = journal.name.removeprefix(JOURNAL)
            for dirpath, _dirnames, filenames in os.walk(self.output_dir):
                for name in filenames:
                    if name.startswith(".") and name.endswith(suffix) and name != journal.name:
                        os.unlink(os.path.join(dirpath, name))
            journal.unlink()

    def _release(self) -> None:
        if self._lock is None:
            return
        # A journal that cannot be deleted (the disk went read-only) only costs the next publish a sweep.
        with contextlib.suppress(OSError):
            (self.output_dir / f"{JOURNAL}{self._suffix}").unlink(missing_ok=True)
        os.close(self._lock)  # closing drops the flock
        self._lock = None

    def put(self, path: str, data: bytes) -> None:
        """Stage ``data`` for ``path`` unless the file already holds exactly these bytes."""
        where = target(self.output_dir, path)
        self.seen.add(path)
        if where.is_dir():
            # Found now, not at rename time, so the failure comes before any file is replaced.
            raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(where))
        old = self._staged.pop(path, None)
        if old is not None:
            os.unlink(old)
        if _same_bytes(where, data):
            self.unchanged += 1
            return
        where.parent.mkdir(parents=True, exist_ok=True)
        temp = where.with_name(f".{where.name}{self._suffix}")
        try:
            with temp.open("wb") as handle:
                handle.write(data)
        except BaseException:
            temp.unlink(missing_ok=True)  # half written (a full disk): not staged, so delete it here
            raise
        self._staged[path] = str(temp)
        crash_point("staging.after_put")

    def remove(self, path: str) -> None:
        """Delete ``path`` at commit time (a document that no longer belongs)."""
        self._removals.append(path)

    def commit(self) -> tuple[list[str], list[str]]:
        """Rename every staged file into place, then delete the removals; returns (written, removed)."""
        written = sorted(self._staged, key=_write_order)
        for path in written:
            temp = self._staged[path]
            # Public documents a separate web server may serve, whatever the umask says.
            os.chmod(temp, 0o644)
            os.replace(temp, target(self.output_dir, path))
            del self._staged[path]
            crash_point("staging.after_rename")
        crash_point("staging.before_removals")
        removed = []
        for path in self._removals:
            where = target(self.output_dir, path)
            if where.is_file():
                where.unlink()
                removed.append(path)
        return written, removed

    def prune(self) -> list[str]:
        """Remove files in the owned folders that this publish did not put (and folders left empty)."""
        removed: list[str] = []
        for folder in OWNED_FOLDERS:
            top = self.output_dir / folder
            if not top.is_dir():
                continue
            for dirpath, _dirnames, filenames in os.walk(top, topdown=False):
                here = Path(dirpath)
                for name in filenames:
                    path = (here / name).relative_to(self.output_dir).as_posix()
                    if path not in self.seen:
                        (here / name).unlink()
                        removed.append(path)
                if here != top and not any(here.iterdir()):
                    here.rmdir()
        return removed


def _failure(output_dir: Path, exc: OSError) -> PublishError:
    where = exc.filename or output_dir
    return PublishError(f"cannot write {where} in the output folder {output_dir}: {exc.strerror}; {FIX}")
