"""No moment in which what readers can reach links to a missing file, even when a publish is killed
between two renames.

A real ``digest publish`` runs over an archive that just grew (new articles, a new section that
every page's navigation links to, more feed archive pages) and kills itself
(``DIGEST_CRASH_AT=staging.after_rename:<n>``) after every few renames, run after run, until one
finishes.  After each kill, every file reachable from the site's
entry points (the home page, the subscription feeds, OPML) is followed link by link: each link must
land on a file.
"""

from __future__ import annotations

import re
import shutil
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from test_orphans import _digest, write_archive

BASE = "http://127.0.0.1:8080/"
LINK = re.compile(rb'(?:href|src)="([^"]+)"')
ENTRY_POINTS = ("index.html", "feeds.opml", "subscribe.html", "digests/index.html")
RENAMES_PER_RUN = 40


def _target(output: Path, page: Path, link: str) -> Path | None:
    """The file ``link`` in ``page`` points to, or None for a link outside the site."""
    link = link.replace("&amp;", "&")
    if link.startswith(BASE):
        return output / unquote(urlsplit(link).path).lstrip("/")
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def broken_links(output: Path) -> list[str]:
    """Links from reachable files to files that are not there, as ``from -> to``."""
    start = [output / name for name in ENTRY_POINTS]
    start += [path for path in (output / "feeds").glob("*.atom")]  # the subscription documents
    todo = deque(path.resolve() for path in start if path.is_file())
    seen = set(todo)
    broken: list[str] = []
    while todo:
        page = todo.popleft()
        if page.suffix not in (".html", ".atom", ".opml"):
            continue
        for match in LINK.finditer(page.read_bytes()):
            found = _target(output, page, match.group(1).decode())
            if found is None:
                continue
            found = found.resolve()
            if found.is_dir():  # a folder's URL (issues/<day>/, the site root) is served as its index
                found = found / "index.html"
            if not found.is_file():
                broken.append(f"{page.relative_to(output.resolve())} -> {match.group(1).decode()}")
            elif found not in seen:
                seen.add(found)
                todo.append(found)
    return broken


@pytest.mark.slow
def test_an_incremental_publish_killed_between_renames_never_leaves_a_broken_link(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    write_archive(archive, 200)
    names = sorted(path.relative_to(archive) for path in archive.rglob("*.txt"))
    pages = tmp_path / "pages"
    for name in names[: len(names) // 2]:  # yesterday's half of the archive, published
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive / name, pages / name)
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n[feeds]\nsize = 10\n', encoding="utf-8"
    )
    log = tmp_path / "digest.log"
    for command in ("ingest", "publish"):
        assert _digest(config, command).wait(timeout=300) == 0, log.read_text()
    assert broken_links(tmp_path / "output") == []
    for name in names[len(names) // 2 :]:  # today's half arrives and is stored, not yet published
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive / name, pages / name)
    # With a section never seen before: every page's navigation gains a link to a new page.
    (pages / "2030-01-01_01.txt").write_text(
        "● 新开栏目\n\n# 新栏目的第一篇稿件\n\n□ 本报记者 林小河\n\n新栏目的正文，一句话。\n",
        encoding="utf-8",
    )
    assert _digest(config, "ingest").wait(timeout=300) == 0, log.read_text()

    kills = 0
    while True:
        code = _digest(config, "publish", crash_at=f"staging.after_rename:{RENAMES_PER_RUN}").wait(
            timeout=300
        )
        assert code in (0, -9), log.read_text()
        assert broken_links(tmp_path / "output") == [], f"after {kills} kills"
        if code == 0:
            break
        kills += 1
        assert kills < 500, "the publish never finished"
    assert kills >= 3  # the publish was cut short several times
