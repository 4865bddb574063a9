"""benchmarks/parse_remix.py: new pages of the development articles, with keys as sound as the set's own.

The articles and the builder live in ../shared/dev/build (beside the clone) and
are read when the script runs; nothing of them is copied into the project.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "parse_remix.py"

pytestmark = pytest.mark.skipif(
    not (SHARED / "dev" / "build" / "build.py").is_file(), reason=f"no development set under {SHARED}/dev"
)


def _run(*args: str, hash_seed: str = "0") -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), *args],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _squash(text: str) -> str:
    """The scorer's whitespace-free, width-folded form."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def test_a_seed_gives_the_same_pages_and_keys_whatever_the_hash_seed(tmp_path: Path) -> None:
    first = _run("--pages", "4", "--seed", "7", "--no-parse", "--out", str(tmp_path / "a"), hash_seed="1")
    _run("--pages", "4", "--seed", "7", "--no-parse", "--out", str(tmp_path / "b"), hash_seed="2")
    assert "a prediction written from them scores 1.000" in first
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    pages = sorted((tmp_path / "a" / "pages").glob("*.txt"))
    assert len(pages) == 4
    for page in pages:
        raw = page.read_text(encoding="utf-8")
        lines = re.sub(r"\n+", "¶", re.sub(r"[ \t\u3000\xa0]+", "", unicodedata.normalize("NFKC", raw)))
        gold = json.loads((tmp_path / "a" / "gold" / f"{page.stem}.json").read_text(encoding="utf-8"))
        for article in gold["articles"]:
            for snippet in (article["body_start"], article["body_end"]):
                assert _squash(raw).count(_squash(snippet)) == 1, (page.name, snippet)
            for join in article["joins"]:
                assert _squash(join) not in lines, (page.name, join)  # broken on the raw page


def test_laid_out_as_the_development_pages_they_are_those_pages(tmp_path: Path) -> None:
    out = _run("--as-dev", "--no-parse", "--out", str(tmp_path))
    assert "10 of 10 pages and keys identical" in out


def test_a_page_set_is_parsed_and_scored_per_convention(tmp_path: Path) -> None:
    out = _run("--pages", "2", "--out", str(tmp_path))
    assert re.search(r"score: [01]\.\d{3}", out)
    assert re.search(r"^headline: (before|after) story +\d+ +[01]\.\d{3}$", out, re.M)
