"""The parser on the five real seed pages, scored by the shared answer key.

The pages and the key live in ../shared (beside the clone); nothing of them is
copied into the project.  The bar here is below the one the parser reaches so
that a regression fails, not a rounding difference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from digest.parse import parse_page
from digest.parse_report import page_json, render_page

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
MIN_SCORE = 0.95

pytestmark = pytest.mark.skipif(not SEEDS, reason=f"seed pages not found under {SHARED}/seeds")


def test_seed_pages_score_at_least_the_bar(tmp_path: Path) -> None:
    pred = tmp_path / "pred.jsonl"
    with pred.open("w", encoding="utf-8") as out:
        for path in SEEDS:
            page = parse_page(path.read_text(encoding="utf-8"), path.name)
            out.write(json.dumps(page_json(page), ensure_ascii=False) + "\n")
    result = subprocess.run(
        [sys.executable, str(SHARED / "eval" / "score_parse.py"), "--gold", str(SHARED / "gold"),
         "--pred", str(pred), "--json", "--quiet"],
        capture_output=True, text=True, check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["score"] >= MIN_SCORE, figures
    for key in ("recall", "precision", "title"):
        assert figures[key] >= MIN_SCORE, figures


def test_readable_view_names_every_article() -> None:
    for path in SEEDS:
        page = parse_page(path.read_text(encoding="utf-8"), path.name)
        view = render_page(page)
        assert view.startswith(f"{path.name}: {len(page.articles)} articles")
        for article in page.articles:
            assert (article.title or "(no headline)") in view
