"""What a process keeps for good is out of the garbage collector's scans, and nothing else is lost."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

from digest import longlived

ROOT = Path(__file__).resolve().parents[1]


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settle_collects_the_garbage_it_finds_before_freezing_what_is_alive() -> None:
    # A cycle dropped before ``settle`` is garbage: frozen, it would never be freed.
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    kept = _Node()
    frozen = gc.get_freeze_count()
    try:
        longlived.settle()
        assert gone() is None
        assert gc.get_freeze_count() > frozen
        # What is alive is frozen: out of every generation the collector scans.
        assert not any(seen is kept for seen in gc.get_objects())
    finally:
        gc.unfreeze()


def _fresh(code: str) -> str:
    """What ``code`` prints, run in a new interpreter (this one's collector state is the tests')."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout.strip()


def test_the_pinyin_tables_are_frozen_when_a_slug_first_needs_them() -> None:
    counts = _fresh(
        "import gc\n"
        "from digest.paper.slugs import slugify\n"
        "before = gc.get_freeze_count()\n"
        "assert slugify('社会速评') == 'she-hui-su-ping'\n"
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    before, frozen, scanned = map(int, counts.split())
    assert before == 0
    # pypinyin's phrase table (some 190,000 objects) is frozen with the rest: what the collector
    # still scans is the little made since.
    assert frozen > 150_000
    assert scanned < frozen // 20


def test_a_command_settles_its_modules_once_it_has_its_configuration(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    counts = _fresh(
        "import gc, sys\n"
        "from digest.cli import main\n"
        f"options = ['--source', {str(tmp_path / 'pages')!r}, '--data', {str(tmp_path / 'data')!r}]\n"
        "assert main(['ingest', *options]) == 0\n"
        "once = gc.get_freeze_count()\n"
        "assert main(['ingest', *options]) == 0\n"
        "print(once, gc.get_freeze_count())\n"
    )
    once, twice = map(int, counts.splitlines()[-1].split())
    assert once > 10_000  # the command's modules
    # A second command in the same process settles nothing more (a settle would freeze thousands).
    assert twice - once < 100


def test_a_command_collects_its_young_generation_less_often() -> None:
    thresholds = _fresh(
        "import gc\n"
        "from digest import longlived\n"
        "before = gc.get_threshold()\n"
        "longlived.settle()\n"
        "print(*before, *gc.get_threshold())\n"
    )
    young, middle, old, now_young, now_middle, now_old = map(int, thresholds.split())
    assert young < longlived.YOUNG_THRESHOLD == now_young
    assert (now_middle, now_old) == (middle, old)
