"""Marking the searched words on one page of results, as ``/search`` does for each of its 20.

    python benchmarks/bench_highlight.py            # median and p90 of a page, in ms
    python benchmarks/bench_highlight.py --runs 50 --json

Twenty articles of the synthetic paper (``corpus``: 6 to 12 paragraphs each) get their headline
and byline marked and a snippet of the body made, for a two-character word of the vocabulary
(``社区``), a one-character word (``和``, added to the text) and two words at once.  The first
page after a start pays for loading the dictionary; the figures are of the pages after it, in
process CPU time (the figure to read when other work loads the machine) and wall clock.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import _paragraph

from digest.store.segment import words
from digest.web.highlight import mark, snippet

PAGE_SIZE = 20
QUERIES = ("社区", "和", "渔港 夜班公交")


def results(seed: int = 1) -> list[tuple[str, str, str]]:
    """A page of (headline, byline, body), the body's paragraphs one a line as stored."""
    rng = random.Random(seed)
    page = []
    for number in range(PAGE_SIZE):
        paras = [_paragraph(rng).replace("\n\n", "") for _ in range(rng.randint(6, 12))]
        paras[rng.randrange(len(paras))] += "城东和河西两个片区的社区联手。"
        page.append((f"第{number}条 社区服务和夜班公交", "记者 林小河 周远", "\n\n".join(paras)))
    return page


def one_page(page: list[tuple[str, str, str]], found: list[str]) -> None:
    """What ``/search`` does to the page's results for the query's words."""
    for headline, byline, body in page:
        mark(headline, found)
        mark(byline, found)
        snippet(body, found)


def main() -> None:
    """Time ``one_page`` for each query and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    page = results()
    chars = sum(len(body) for _, _, body in page)
    figures = {}
    for query in QUERIES:
        found = words(query)
        one_page(page, found)  # warm-up: the dictionary and the caches
        cpu, wall = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            one_page(page, found)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        figures[query] = {
            "cpu_ms_median": round(statistics.median(cpu), 2),
            "wall_ms_median": round(statistics.median(wall), 2),
            "wall_ms_p90": round(statistics.quantiles(wall, n=10)[-1], 2),
        }
    if args.json:
        print(json.dumps({"body_chars": chars, "queries": figures}, ensure_ascii=False))
        return
    print(f"a page of {PAGE_SIZE} results, {chars} body characters in all")
    for query, figure in figures.items():
        print(f"  {query:<12} cpu {figure['cpu_ms_median']:6.2f} ms  wall {figure['wall_ms_median']:6.2f} ms")


if __name__ == "__main__":
    main()
