"""What ``stage`` finds in place before it writes a file: the same bytes (nothing to write), a new
path, or a path already taken, also by a symbolic link an operator put there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.publish.staging import Staging, stage


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    return Staging(root=str(tmp_path), suffix=".tmp-test")


def test_a_file_holding_the_same_bytes_is_not_written_again(staging: Staging, tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"<p>same</p>")
    done = stage(staging, "a.html", b"<p>same</p>", set())
    assert (done.staged, done.new) == (False, False)
    assert not (tmp_path / ".a.html.tmp-test").exists()


def test_a_path_with_nothing_there_is_new(staging: Staging, tmp_path: Path) -> None:
    done = stage(staging, "sub/b.html", b"<p>b</p>", set())
    assert (done.staged, done.new) == (True, True)
    assert (tmp_path / "sub" / ".b.html.tmp-test").read_bytes() == b"<p>b</p>"


def test_a_changed_file_is_staged_and_not_new(staging: Staging, tmp_path: Path) -> None:
    (tmp_path / "c.html").write_bytes(b"<p>old</p>")
    done = stage(staging, "c.html", b"<p>new!</p>", set())
    assert (done.staged, done.new) == (True, False)


def test_a_link_to_the_same_bytes_counts_as_in_place(staging: Staging, tmp_path: Path) -> None:
    (tmp_path / "kept.html").write_bytes(b"<p>kept</p>")
    os.symlink("kept.html", tmp_path / "alias.html")
    done = stage(staging, "alias.html", b"<p>kept</p>", set())
    assert (done.staged, done.new) == (False, False)


def test_a_dangling_link_takes_its_path(staging: Staging, tmp_path: Path) -> None:
    os.symlink("gone.html", tmp_path / "d.html")
    done = stage(staging, "d.html", b"<p>d</p>", set())
    assert (done.staged, done.new) == (True, False)


def test_a_folder_in_the_way_is_refused_before_anything_is_written(staging: Staging, tmp_path: Path) -> None:
    (tmp_path / "e.html").mkdir()
    with pytest.raises(IsADirectoryError):
        stage(staging, "e.html", b"<p>e</p>", set())
    assert not (tmp_path / ".e.html.tmp-test").exists()
