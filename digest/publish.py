"""Publish: build every output file in memory, then write the changed ones atomically.

Each file goes to a temporary name in its own folder and is renamed over the
old one (``os.replace``), so a reader or the HTTP server never sees half a
feed.  Files whose bytes are already right are not touched, so their mtime
and ETag survive a no-op republish.  All temporary files are written before
the first rename: a full disk or a bad permission stops the publish with the
previous output intact.  Renames go pages first and subscription feeds last,
so a feed never links to an article page that is not there yet.  Files that
no longer belong are removed last, and only inside the folders we own.

No fsync: the guarantee sought is "never half a file" for readers, which the
rename gives; after a power loss the next publish rewrites whatever differs.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from digest.config import Config
from digest.errors import PublishError
from digest.feeds import build_feeds
from digest.output import OWNED_FOLDERS, absolute_url, feed_order, present, sections_of
from digest.site import build_site
from digest.types import Digest, Entry

log = logging.getLogger(__name__)

_FIX = "check that paths.output names a folder this user can write, on a disk with free space"


@dataclass(frozen=True)
class PublishReport:
    """What one publish did to the output folder."""

    written: tuple[str, ...]  # relative paths whose bytes changed and were (re)written
    unchanged: int  # files whose bytes were identical, left untouched (mtime kept)
    changed_feeds: tuple[str, ...]  # absolute feed URLs that changed (for WebSub pings)


def one_per_day(digests: Sequence[Digest]) -> list[Digest]:
    """The latest-made digest of each day, oldest day first (a day has one page and one Atom id)."""
    latest: dict[object, Digest] = {}
    for digest in sorted(digests, key=lambda d: (d.day, d.until)):
        latest[digest.day] = digest
    return list(latest.values())


def build_plan(entries: Sequence[Entry], digests: Sequence[Digest], config: Config) -> dict[str, bytes]:
    """Every file the output folder should hold, by relative path.  Pure: no I/O beyond templates."""
    stories = [present(entry) for entry in feed_order(entries)]
    sections = sections_of(stories)
    days = one_per_day(digests)
    plan = build_site(stories, sections, days, config)
    plan.update(build_feeds(stories, sections, days, config))
    return plan


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


def _target(output_dir: Path, path: str) -> Path:
    """``output_dir/path``, refusing anything that would land outside the folder."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise PublishError(f"refusing to write {path!r} outside the output folder {output_dir}")
    return output_dir.joinpath(*pure.parts)


def _same_bytes(target: Path, data: bytes) -> bool:
    try:
        return target.stat().st_size == len(data) and target.read_bytes() == data
    except (FileNotFoundError, NotADirectoryError):
        return False


def _stage(target: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh temporary file beside ``target`` (same filesystem, so rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes 0600; the files are public documents a separate web server may serve.
        os.chmod(name, 0o644)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _discard(staged: Sequence[tuple[Path, Path]]) -> None:
    for temp, _ in staged:
        temp.unlink(missing_ok=True)


def write_plan(plan: Mapping[str, bytes], output_dir: Path) -> tuple[list[str], int]:
    """Put ``plan`` into ``output_dir``; returns (paths written, count unchanged).

    Raises ``PublishError`` naming the folder when it cannot be written.
    """
    written: list[str] = []
    unchanged = 0
    staged: list[tuple[Path, Path]] = []
    try:
        for path in sorted(plan, key=_write_order):
            target = _target(output_dir, path)
            if target.is_dir():
                # Found now, not at rename time, so the failure comes before any file is replaced.
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(target))
            if _same_bytes(target, plan[path]):
                unchanged += 1
                continue
            staged.append((_stage(target, plan[path]), target))
            written.append(path)
        for index, (temp, target) in enumerate(staged):
            try:
                os.replace(temp, target)
            except OSError:
                _discard(staged[index:])
                raise
    except OSError as exc:
        _discard(staged)
        where = exc.filename or output_dir
        raise PublishError(
            f"cannot write {where} in the output folder {output_dir}: {exc.strerror}; {_FIX}"
        ) from exc
    return written, unchanged


def prune(plan: Mapping[str, bytes], output_dir: Path) -> list[str]:
    """Remove files in the owned folders that the plan no longer holds (and folders left empty)."""
    keep = {_target(output_dir, path) for path in plan}
    removed: list[str] = []
    try:
        for folder in OWNED_FOLDERS:
            top = output_dir / folder
            if not top.is_dir():
                continue
            for dirpath, _dirnames, filenames in os.walk(top, topdown=False):
                here = Path(dirpath)
                for name in filenames:
                    if here / name not in keep:
                        (here / name).unlink()
                        removed.append((here / name).relative_to(output_dir).as_posix())
                if here != top and not any(here.iterdir()):
                    here.rmdir()
    except OSError as exc:
        raise PublishError(
            f"cannot remove {exc.filename} from the output folder {output_dir}: {exc.strerror}; {_FIX}"
        ) from exc
    return removed


def publish(
    entries: Sequence[Entry], digests: Sequence[Digest], config: Config, output_dir: Path
) -> PublishReport:
    """Render every feed and page for ``entries`` and ``digests`` into ``output_dir``.

    Only files whose bytes change are written.  On failure raises ``PublishError``
    and the files already in place stay whole.
    """
    started = time.monotonic()
    plan = build_plan(entries, digests, config)
    if output_dir.exists() and not output_dir.is_dir():
        raise PublishError(f"the output folder {output_dir} is a file; set paths.output to a folder")
    written, unchanged = write_plan(plan, output_dir)
    removed = prune(plan, output_dir)
    changed = tuple(absolute_url(config.site.base_url, path) for path in written if is_subscription(path))
    log.info(
        "published files=%d written=%d unchanged=%d removed=%d feeds_changed=%d ms=%d",
        len(plan),
        len(written),
        unchanged,
        len(removed),
        len(changed),
        (time.monotonic() - started) * 1000,
    )
    return PublishReport(written=tuple(written), unchanged=unchanged, changed_feeds=changed)
