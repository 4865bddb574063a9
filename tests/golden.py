"""Golden outputs: folders of expected bytes under ``tests/golden/``, compared byte for byte.

A test hands ``Golden.check`` every file it produced, keyed by a relative
path.  Normally each is compared with ``tests/golden/<name>/<path>``: a
missing, extra or changed file fails the test with a unified diff of what
changed.  ``pytest --update-golden`` rewrites the folder instead (files no
longer produced are deleted), so a change to the output is committed as a
diff a reviewer reads, in the manner of Pelican's functional tests.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"

_DIFF_FILES = 3  # changed files shown in full diff; the rest are only named
_DIFF_LINES = 60  # diff lines shown per file


@dataclass(frozen=True)
class Golden:
    """Compares produced files with ``tests/golden/``, or rewrites it when ``update`` is set."""

    update: bool
    root: Path = GOLDEN

    def check(self, name: str, files: Mapping[str, bytes]) -> None:
        """Compare ``files`` (relative path → bytes) with the golden folder ``name``."""
        folder = self.root / name
        if self.update:
            shutil.rmtree(folder, ignore_errors=True)
            for relative, data in files.items():
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return
        expected = read_tree(folder)
        if not expected:
            pytest.fail(
                f"no golden output in {folder}: run `pytest --update-golden` and review the new files"
            )
        problem = compare(expected, files)
        if problem:
            pytest.fail(
                f"output differs from {folder}/ "
                f"(if the change is intended, run `pytest --update-golden` and commit the diff):\n{problem}",
                pytrace=False,
            )


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included), keyed by its POSIX path relative to it."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def compare(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> str:
    """A report of the files missing, extra and changed (with diffs), or ``""`` when equal."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    lines = [f"missing: {path}" for path in missing] + [f"extra: {path}" for path in extra]
    for number, path in enumerate(changed):
        if number >= _DIFF_FILES:
            lines.append(f"changed: {path}")
            continue
        diff = list(
            difflib.unified_diff(
                _lines(expected[path]), _lines(actual[path]), f"golden/{path}", f"output/{path}", lineterm=""
            )
        )
        more = [f"... {len(diff) - _DIFF_LINES} more diff lines"] if len(diff) > _DIFF_LINES else []
        lines += [f"changed: {path}", *diff[:_DIFF_LINES], *more]
    return "\n".join(lines)


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="backslashreplace")
    return text.splitlines() or [""]
