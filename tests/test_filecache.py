"""The file cache on real files: a kept version stands only while a stat shows the same file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from digest.web.filecache import DIRECTORY, FileCache, FileVersion


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    (folder / "feeds").mkdir(parents=True)
    (folder / "feeds" / "all.atom").write_bytes(b"<feed>one</feed>")
    (folder / "index.html").write_bytes(b"<p>home</p>")
    return folder


def settled(root: Path, **limits: int) -> FileCache:
    """A cache that keeps files however recently they changed (the tests' files are seconds old)."""
    return FileCache(root, settle_ns=0, **limits)


def load(cache: FileCache, path: str) -> FileVersion:
    found = cache.load(path)
    assert isinstance(found, FileVersion)
    return found


def replace(target: Path, body: bytes, *, like: Path | None = None) -> None:
    """What the publisher does: a temporary file renamed over the old one (optionally with its mtime)."""
    temp = target.with_name("." + target.name + ".tmp")
    temp.write_bytes(body)
    if like is not None:
        info = like.stat()
        os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.replace(temp, target)


def test_a_kept_version_is_served_from_memory_until_the_file_changes(root: Path) -> None:
    cache = settled(root)
    assert cache.get("/feeds/all.atom") is None
    version = load(cache, "/feeds/all.atom")
    assert version.body == b"<feed>one</feed>"
    assert cache.get("/feeds/all.atom") is version
    assert cache.get("/feeds/all.atom") is version
    # Same size and the same mtime to the nanosecond, but a new inode: not the kept version.
    target = root / "feeds" / "all.atom"
    replace(target, b"<feed>two</feed>", like=target)
    assert cache.get("/feeds/all.atom") is None
    fresh = load(cache, "/feeds/all.atom")
    assert fresh.body == b"<feed>two</feed>"
    assert fresh.digest != version.digest


def test_a_write_in_place_with_the_old_mtime_is_noticed(root: Path) -> None:
    cache = settled(root)
    target = root / "feeds" / "all.atom"
    before = target.stat()
    load(cache, "/feeds/all.atom")
    with open(target, "r+b") as handle:  # same inode, same size
        handle.write(b"<FEED>")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert cache.get("/feeds/all.atom") is None  # ctime moved
    assert load(cache, "/feeds/all.atom").body == b"<FEED>one</feed>"


def test_identical_bytes_rewritten_keep_the_digest(root: Path) -> None:
    cache = settled(root)
    first = load(cache, "/feeds/all.atom")
    replace(root / "feeds" / "all.atom", b"<feed>one</feed>")
    assert cache.get("/feeds/all.atom") is None
    assert load(cache, "/feeds/all.atom").digest == first.digest


def test_a_file_changed_moments_ago_is_served_but_not_kept(root: Path) -> None:
    cache = FileCache(root)  # the default settling time: these files were just written
    assert load(cache, "/feeds/all.atom").body == b"<feed>one</feed>"
    assert cache.get("/feeds/all.atom") is None


def test_removed_files_and_retargeted_symlinks_are_not_served_from_memory(root: Path, tmp_path: Path) -> None:
    cache = settled(root)
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    (root / "alias.html").symlink_to(root / "index.html")
    assert load(cache, "/alias.html").body == b"<p>home</p>"
    (root / "alias.html").unlink()
    (root / "alias.html").symlink_to(tmp_path / "secret.txt")
    assert cache.get("/alias.html") is None
    assert cache.load("/alias.html") is None  # outside the root
    load(cache, "/index.html")
    (root / "index.html").unlink()
    assert cache.get("/index.html") is None
    assert cache.load("/index.html") is None


def test_folders_and_refused_paths(root: Path) -> None:
    cache = settled(root)
    (root / "sections").mkdir()
    (root / "sections" / "index.html").write_bytes(b"<p>sections</p>")
    assert cache.load("/sections") is DIRECTORY
    assert load(cache, "/sections/").body == b"<p>sections</p>"
    assert cache.load("/feeds") is None  # a folder without index.html
    for path in ("/../x", "/feeds/../index.html", "/.hidden", "//etc/passwd", "relative"):
        assert cache.load(path) is None, path


def test_the_byte_budget_drops_the_least_recently_used(root: Path) -> None:
    for n in range(4):
        (root / f"{n}.html").write_bytes(bytes(100))
    cache = settled(root, max_bytes=300)
    for n in range(3):
        load(cache, f"/{n}.html")
    assert cache.get("/0.html") is not None  # now the most recently used
    load(cache, "/3.html")
    assert cache.get("/1.html") is None
    assert all(cache.get(f"/{n}.html") is not None for n in (0, 2, 3))


def test_a_file_over_the_size_limit_is_read_each_time(root: Path) -> None:
    (root / "big.html").write_bytes(bytes(1000))
    cache = settled(root, max_file=999)
    assert len(load(cache, "/big.html").body) == 1000
    assert cache.get("/big.html") is None


def test_the_gzip_variant_is_kept_with_its_version_only(root: Path) -> None:
    cache = settled(root)
    version = load(cache, "/feeds/all.atom")
    assert cache.gzipped("/feeds/all.atom", version) is None
    compressed = cache.compress("/feeds/all.atom", version)
    assert gzip.decompress(compressed) == version.body
    assert cache.gzipped("/feeds/all.atom", version) is compressed
    replace(root / "feeds" / "all.atom", b"<feed>three</feed>")
    assert cache.get("/feeds/all.atom") is None
    newer = load(cache, "/feeds/all.atom")
    assert cache.gzipped("/feeds/all.atom", newer) is None
    assert cache.gzipped("/feeds/all.atom", version) is None
