"""Files that hold subscribers' addresses are the service user's alone, whatever the umask.

A shell's umask is usually 022, so a file made with the default mode is readable by every local
user: the SQLite database, a ``digest backup`` put in ``/var/backups``, a ``subscribers export``,
and the outbox and dry-run folders, whose file names are the recipients' addresses.  The commands run here
as an operator runs them, under umask 022.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_backup import NOTICE, populate
from test_cli import EXAMPLES, digest


@pytest.fixture
def shell_umask() -> Iterator[None]:
    """The umask of a login shell, inherited by the commands run below."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _others_may_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def test_the_database_outbox_backups_and_exports_are_private(tmp_path: Path, shell_umask: None) -> None:
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    populate(tmp_path, options)  # ingest, two subscribers, a digest written to the outbox

    database = data / "digest.sqlite3"
    outbox = data / "outbox"
    assert any(outbox.glob("*a@example.org*.eml"))  # the addresses are in the file names
    assert not _others_may_read(database)
    assert not _others_may_read(outbox)
    dry = digest("send-digest", "--dry-run", "--date", "2024-11-28", *options, cwd=tmp_path, env=NOTICE)
    assert dry.returncode == 0, dry.stderr
    (rehearsal,) = (data / "dry-run").iterdir()
    assert any(rehearsal.glob("*a@example.org*.eml"))
    assert not _others_may_read(rehearsal)

    backups = tmp_path / "backups"
    backups.mkdir()
    backup = backups / "monday.sqlite3"
    assert digest("backup", backup, *options, cwd=tmp_path).returncode == 0
    assert not _others_may_read(backup)

    export = tmp_path / "subscribers.csv"
    assert digest("subscribers", "export", export, *options, cwd=tmp_path).returncode == 0
    assert "a@example.org" in export.read_text(encoding="utf-8")
    assert not _others_may_read(export)

    restored = digest("restore", backup, *options, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    kept = Path(re.search(r"kept as (\S+)", restored.stdout).group(1))  # type: ignore[union-attr]
    assert not _others_may_read(kept)
    assert not _others_may_read(database)
    # What the site publishes stays readable by a separate web server.
    assert stat.S_IMODE((tmp_path / "out" / "index.html").stat().st_mode) == 0o644
