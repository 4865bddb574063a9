"""Search on a large archive: query time by kind of query, and what the index costs ingest.

    python benchmarks/bench_search.py                 # 100k articles (the issue's bar: median <= 100 ms)
    python benchmarks/bench_search.py --size 10000 --json

Articles are the synthetic paper of ``bench_publish`` (text from
``corpus.pages``, 100 articles an issue), written into a fresh SQLite store
through ``Store.upsert_entries``, which keeps the index as ingest does.  Our
own marker words are added to a known share of articles, so each query kind
has a known number of matches:

- two-char word: ``医保`` in 2 % of the articles;
- rare word: ``乌兰牧骑`` in 0.05 %;
- common word: ``社区``, a word of the corpus vocabulary, in most articles;
- multi-word: ``渔港 夜班公交``, two vocabulary words, both required.

Each query runs ``--runs`` times as ``/search`` runs it (the query cut into
words, then ``Store.search`` for the first page of 20 with the total), after
one warm-up; the median and p90 are printed, of the wall clock and of the
process's CPU time (the figure to read when other work loads the machine).  The ingest cost is the time to
store ``--ingest-size`` articles with the index kept and with the index's hook
turned off, in two fresh stores, and the database's size with and without it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_publish import entries, make_config

from digest.store import search_index
from digest.store.database import Store
from digest.store.segment import words
from digest.types import Entry
from digest.web.search import PAGE_SIZE

WORK = Path(__file__).resolve().parent / ".work" / "search"
BATCH = 5000
# (kind, query, one article in every N holds the marker word; 0: the corpus's own words)
QUERIES = (
    ("two-char word", "医保", 50),
    ("rare word", "乌兰牧骑", 2000),
    ("common word", "社区", 0),
    ("multi-word", "渔港 夜班公交", 0),
)
_MARKERS = {every: query for _, query, every in QUERIES if every}


def marked(batch: list[Entry], start: int) -> list[Entry]:
    """``batch`` (articles ``start``...) with the marker words added to their share of articles."""
    out = []
    for number, entry in enumerate(batch, start=start):
        extra = "".join(f"本报关注{word}工作。" for every, word in _MARKERS.items() if number % every == 0)
        if extra:
            entry = replace(entry, article=replace(entry.article, body=entry.article.body + "\n\n" + extra))
        out.append(entry)
    return out


def fill(folder: Path, size: int) -> float:
    """A fresh SQLite store of ``size`` articles under ``folder``; returns the seconds it took."""
    shutil.rmtree(folder, ignore_errors=True)
    config = make_config(folder)
    started = time.perf_counter()
    with Store.open(config.database_url) as store:
        for start in range(0, size, BATCH):
            store.upsert_entries(marked(entries(start, min(BATCH, size - start), config), start))
    return time.perf_counter() - started


def database_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in (folder / "data").glob("digest.sqlite3*")) / 1e6


def timings(run: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each of ``runs`` calls: CPU time is the one-core figure
    when other work shares the machine (SQLite answers in this process)."""
    run()  # warm-up: the first query pays for loading the dictionary and the pages
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


def queries(folder: Path, runs: int) -> list[dict[str, Any]]:
    """Median and p90 milliseconds of each query kind on the store under ``folder``."""
    config = make_config(folder)
    rows = []
    with Store.open(config.database_url) as store:
        for kind, query, _ in QUERIES:
            total = store.search(words(query), PAGE_SIZE, 0)[0]
            wall, cpu = timings(lambda q=query: store.search(words(q), PAGE_SIZE, 0), runs)
            rows.append(
                {
                    "kind": kind,
                    "query": query,
                    "matches": total,
                    "median_ms": round(statistics.median(wall), 1),
                    "p90_ms": round(statistics.quantiles(wall, n=10)[8], 1),
                    "cpu_median_ms": round(statistics.median(cpu), 1),
                    "cpu_p90_ms": round(statistics.quantiles(cpu, n=10)[8], 1),
                }
            )
    return rows


def ingest_cost(work: Path, size: int) -> dict[str, Any]:
    """Seconds and megabytes for ``size`` articles with the index kept and without it."""
    with_index = fill(work / "ingest-indexed", size)
    indexed_mb = database_mb(work / "ingest-indexed")
    kept = search_index.refresh
    search_index.refresh = lambda conn, uids: None  # the hook off: what ingest cost before search
    try:
        without = fill(work / "ingest-plain", size)
    finally:
        search_index.refresh = kept
    return {
        "articles": size,
        "with_index_s": round(with_index, 2),
        "without_index_s": round(without, 2),
        "index_ms_per_article": round((with_index - without) * 1000 / size, 3),
        "with_index_mb": round(indexed_mb, 1),
        "without_index_mb": round(database_mb(work / "ingest-plain"), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="articles in the archive searched")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--ingest-size", type=int, default=10_000, help="articles stored to time the index")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    archive = args.work / f"size-{args.size}"
    built = fill(archive, args.size)
    figures = {
        "archive": {"articles": args.size, "build_s": round(built, 1), "mb": round(database_mb(archive), 1)},
        "queries": queries(archive, args.runs),
        "ingest": ingest_cost(args.work, args.ingest_size),
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print(f"archive: {args.size} articles, built in {built:.1f} s, {figures['archive']['mb']} MB (SQLite)")
    print(
        f"{'query kind':<14} {'query':<8} {'matches':>8} {'median ms':>10} {'p90 ms':>7} "
        f"{'CPU median':>11} {'CPU p90':>8}"
    )
    for row in figures["queries"]:
        print(
            f"{row['kind']:<14} {row['query']:<8} {row['matches']:>8} {row['median_ms']:>10} "
            f"{row['p90_ms']:>7} {row['cpu_median_ms']:>11} {row['cpu_p90_ms']:>8}"
        )
    cost = figures["ingest"]
    print(
        f"ingest of {cost['articles']} articles: {cost['with_index_s']} s with the index, "
        f"{cost['without_index_s']} s without ({cost['index_ms_per_article']} ms an article); "
        f"database {cost['with_index_mb']} MB with, {cost['without_index_mb']} MB without"
    )


if __name__ == "__main__":
    main()
