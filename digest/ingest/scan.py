"""Finding page files and knowing unchanged ones without reading them: the folder walk, and a
stat stamp (inode, size, mtime and ctime) per file."""

from __future__ import annotations

import os
from pathlib import Path

from digest.paper.parse import PARSER_VERSION
from digest.store.database import Store

# A file changed this recently may change again within the same timestamp tick (coarse on some
# filesystems, 2 s on FAT) and keep its stamp: its stamp is not kept, so the next scan hashes it
# again (git's "racily clean" entries).
RACY_NS = 3_000_000_000


def source_key(relative: str) -> str:
    """The name a page file is known by in the store, the log and ``digest status``: its path below
    the source folder.  The bytes of a name that is not UTF-8 (GBK, from a Windows share or zip) are
    written as ``\\xNN``: Python hands them over as lone surrogates, which no database, log line or
    JSON answer can hold."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def name_problem(relative: str) -> str | None:
    """Why a page file's path below the source folder cannot be its name, or None."""
    if relative == source_key(relative):
        return None
    raw = relative.encode("utf-8", "surrogateescape")
    try:
        guess = f" (as GBK it reads {raw.decode('gb18030')}: a name from a Windows share or zip?)"
    except UnicodeDecodeError:
        guess = ""
    name = os.path.basename(relative)
    what = "its folder's name" if name == source_key(name) else "its name"
    return f"{what} is not UTF-8{guess}; rename it in UTF-8, e.g. `convmv -f gbk -t utf-8 --notest -r PATH`"


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
                    found.append((source_key(prefix + entry.name), entry.path))
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


def stamp_of(path: str) -> str | None:
    """The ``file_stamp`` of the file at ``path`` now; None when it cannot be stat'ed."""
    try:
        return file_stamp(os.stat(path))
    except OSError:
        return None  # ingest meets the error and reports it


def changed_files(store: Store, folder: Path, encoding: str) -> tuple[list[Path], set[str]]:
    """The page files below ``folder`` that may have changed since they were read, and the names
    (relative to ``folder``) of every page file there: one listing, one ``stat`` per file and one
    query, no file opened.

    New files, files another parser version read, files refused for their
    encoding under another ``ingest.encoding`` than ``encoding``, files whose
    stamp differs or was not kept, and entries that cannot be stat'ed are "changed".
    """
    stamps = store.source_stamps(PARSER_VERSION, encoding)
    listed = walk(folder)
    changed = sorted(Path(path) for name, path in listed if (stamps.get(name) or "?") != stamp_of(path))
    return changed, {name for name, _ in listed}
