"""The configuration's folders and files: the source folder readable, the data and output folders
writable (or creatable), the DKIM key readable.

The filesystem half of the checks (``config_checks`` judges the values): ``digest check`` lists
these problems too, and ``load_config`` stops at the first; ``digest check`` judges writability
without writing, and a command that only reads creates nothing.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from digest.config import Config
from digest.errors import ConfigError


def _writable_folder(key: str, folder: Path, create: bool) -> ConfigError | None:
    """``folder`` made when missing (``create``) and written to; else, for ``digest check``, judged
    without writing: the folder, or the nearest folder above that exists, must be writable."""
    option = "--" + key.split(".")[1]
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        else:
            _could_write(folder)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        # No chmod makes a read-only mount writable: its permissions were never the problem.
        fix = "remount it read-write" if exc.errno == errno.EROFS else "fix its permissions"
        return ConfigError(
            key,
            f"folder {folder} is not writable ({reason})",
            f"{fix} or point {key} (or {option}) at a writable folder",
        )
    return None


def _could_write(folder: Path) -> None:
    """``OSError`` when ``folder`` could not be written to, or made where missing, by this user; nothing
    is made (a mistyped ``--data`` checked is not left behind as an empty folder)."""
    nearest = next(path for path in (folder, *folder.parents) if path.exists())
    if not nearest.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(nearest))
    # access(2) also refuses on a read-only mount, which a mode bit does not show; it answers only
    # yes or no, so the mount's flags tell that case from a permission (root writes past modes).
    if not os.access(nearest, os.W_OK | os.X_OK):
        code = errno.EROFS if os.statvfs(nearest).f_flag & os.ST_RDONLY else errno.EACCES
        raise OSError(code, os.strerror(code), str(nearest))


def folders_to_create(config: Config) -> list[str]:
    """``digest check``'s notes on the data and output folders not there yet: the first command that
    writes makes them, which is right for a first run and wrong for a typo."""
    return [
        f"{key}: folder {folder} does not exist yet; the first command that writes creates it"
        " (check the spelling if it should be there)"
        for key, folder in (("paths.data", config.paths.data), ("paths.output", config.paths.output))
        if not folder.exists()
    ]


def _readable_folder(key: str, folder: Path) -> ConfigError | None:
    # A folder not there holds nothing to read: the database (PostgreSQL, or a SQLite file not
    # found) says what there is.
    if not folder.exists():
        return None
    if not folder.is_dir():
        option = "--" + key.split(".")[1]
        return ConfigError(key, f"{folder} is not a folder", f"point {key} (or {option}) at the data folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        return ConfigError(key, f"folder {folder} is not readable", "fix its permissions")
    return None


def path_problems(config: Config, writes: bool = True, create: bool = True) -> list[ConfigError]:
    """The source folder must exist; the data and output folders must be creatable and writable.

    ``writes`` False (a command that only reads: ``status``, ``backup``): the data folder, when
    there, must be readable, and neither folder is created or written to, so they still work on a
    disk gone read-only and a mistyped ``--data`` creates nothing.  ``create`` False (``digest
    check``): writability is judged without creating or writing anything (``_could_write``).
    """
    problems: list[ConfigError] = []
    source = config.paths.source
    if not source.is_dir():
        what = "is not a folder" if source.exists() else "does not exist"
        problems.append(
            ConfigError(
                "paths.source",
                f"folder {source} {what}",
                "create it or point paths.source (or --source) at the folder the pages are dropped into",
            )
        )
    elif not os.access(source, os.R_OK | os.X_OK):
        problems.append(
            ConfigError("paths.source", f"folder {source} is not readable", "fix its permissions")
        )
    if not writes:
        problems.extend(p for p in [_readable_folder("paths.data", config.paths.data)] if p)
    # A command refused for its source folder leaves no new folders behind (a mistyped --source).
    create = create and not problems
    for key in ("paths.data", "paths.output") if writes else ():
        problem = _writable_folder(key, getattr(config.paths, key.split(".")[1]), create)
        if problem:
            problems.append(problem)
    key_file = config.dkim.key_file
    if key_file is not None and not (key_file.is_file() and os.access(key_file, os.R_OK)):
        problems.append(
            ConfigError(
                "dkim.key_file",
                f"{key_file} is not a readable file",
                "point it at the PEM private key (openssl genpkey -algorithm RSA -out dkim.pem)",
            )
        )
    return problems
