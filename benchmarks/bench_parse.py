"""Parse throughput on a large generated corpus, one core.

    python benchmarks/bench_parse.py [--megabytes 20]

Prints MB/s of page text (UTF-8 bytes) and articles/s.  The issue's aim is at
least 2 MB/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import pages

from digest.paper.parse import parse_page


def measure(megabytes: float = 20.0, repeat: int = 3) -> dict[str, float]:
    """Parse a generated corpus of about ``megabytes`` MB ``repeat`` times; the best pass counts."""
    corpus: list[str] = []
    size = 0
    for text in pages(seed=1, count=10**9):
        corpus.append(text)
        size += len(text.encode("utf-8"))
        if size >= megabytes * 1e6:
            break
    best = cpu = float("inf")
    articles = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        articles = sum(len(parse_page(text).articles) for text in corpus)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return {
        "pages": len(corpus),
        "megabytes": size / 1e6,
        "articles": articles,
        "mb_per_s": size / 1e6 / best,
        # CPU time of this process: the figure for one core when others share the machine.
        "cpu_mb_per_s": size / 1e6 / cpu,
        "articles_per_s": articles / best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=20.0, help="size of the generated corpus")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    args = parser.parse_args()
    result = measure(args.megabytes, args.repeat)
    print(f"corpus      {result['pages']} pages, {result['megabytes']:.1f} MB, {result['articles']} articles")
    print(
        f"parse       {result['mb_per_s']:.2f} MB/s  "
        f"({result['articles_per_s']:,.0f} articles/s, best of {args.repeat})"
    )
    print(f"cpu time    {result['cpu_mb_per_s']:.2f} MB/s  (this process's CPU time, for a shared machine)")


if __name__ == "__main__":
    main()
