"""Publish cost against archive size: full rebuild, one new page on top, peak memory; and the seed figures.

    python benchmarks/bench_publish.py --sizes 1000,10000,100000
    python benchmarks/bench_publish.py --seeds

For each size, articles are written straight into a fresh SQLite store (a
daily paper of 100 articles an issue, six sections; text from
``corpus.pages``), then three child processes each measure one thing with
its own peak RSS: a full publish into an empty output folder, a no-op
publish, and an incremental publish after one new page of 8 articles (the
issue's aim: at most 1 s at 100k articles, memory flat as the archive grows).

``--seeds`` ingests ``../shared/seeds`` and prints what a subscriber gets:
entries per feed, bytes per subscription document, and the time of a full
republish.  Figures are printed as a table; ``--json`` prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import pages

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.identity import article_uid, tag_uri
from digest.ingest.pipeline import ingest
from digest.paper.slugs import slugify
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Article, Entry, Section

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / ".work" / "publish"
SEEDS = ROOT.parent / "shared" / "seeds"
PER_ISSUE = 100
NEW_PAGE = 8
SECTIONS = ("要闻", "经济", "社会", "文化", "体育", "评论")
FIRST_DAY = date(2000, 1, 1)


def peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_config(folder: Path, **extra: object) -> Config:
    overrides: dict[str, object] = {
        "paths.source": folder / "pages",
        "paths.data": folder / "data",
        "paths.output": folder / "output",
        **extra,
    }
    (folder / "pages").mkdir(parents=True, exist_ok=True)
    return load_config(None, overrides, {})


def entries(start: int, count: int, config: Config) -> list[Entry]:
    """Articles ``start`` .. ``start + count - 1`` of the generated paper, PER_ISSUE an issue day."""
    made = []
    rng = random.Random(start)
    for number, text in enumerate(pages(seed=start + 1, count=count, articles_per_page=1), start=start):
        day = FIRST_DAY + timedelta(days=number // PER_ISSUE)
        section = SECTIONS[rng.randrange(len(SECTIONS))]
        article = Article(title=f"第{number}号稿件", body=text, section=section)
        uid = article_uid(day, article)
        seen = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=number % PER_ISSUE)
        made.append(
            Entry(
                uid=uid,
                tag=tag_uri(config.site.tag_authority, day, uid),
                article=article,
                section=Section(section, slugify(section)),
                issue_date=day,
                published=datetime.combine(day, datetime.min.time(), tzinfo=config.tz),
                updated=seen,
                first_seen=seen,
                source=f"{day}/page.txt",
                position=number % PER_ISSUE,
            )
        )
    return made


def stage(name: str, size: int, folder: Path) -> dict[str, Any]:
    """One measurement, run in this (child) process."""
    config = make_config(folder)
    with Store.open(config.database_url) as store:
        if name == "build":
            shutil.rmtree(config.paths.output, ignore_errors=True)
            for start in range(0, size, 5000):
                store.upsert_entries(entries(start, min(5000, size - start), config))
            return {"articles": store.feed_count()}
        if name == "new-page":
            store.upsert_entries(entries(store.feed_count(), NEW_PAGE, config))  # the next page, every run
        started = time.perf_counter()
        report = run_publish(config, store, full=name == "full")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "written": report.written_count, "full": report.full, "peak_mb": peak_mb()}


def child(name: str, size: int, folder: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--stage", name, "--sizes", str(size), "--work", str(folder)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} at {size} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(size: int, work: Path) -> dict[str, Any]:
    """Build a store of ``size`` articles, then time a full, a no-op and a one-page publish on it."""
    folder = work / f"size-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    child("build", size, folder)
    figures = {name: child(name, size, folder) for name in ("full", "noop", "new-page")}
    return {"articles": size, **figures}


def seeds(work: Path) -> dict[str, Any]:
    """What the seed pages publish: entries per feed, bytes per subscription document, full republish time."""
    folder = work / "seeds"
    shutil.rmtree(folder, ignore_errors=True)
    config = make_config(folder)
    for page in sorted(SEEDS.glob("*.txt")):
        shutil.copyfile(page, config.paths.source / page.name)
    with Store.open(config.database_url) as store:
        ingest(config, store, datetime(2024, 11, 27, tzinfo=UTC))
        run_publish(config, store)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run_publish(config, store, full=True)
            times.append(time.perf_counter() - started)
    feeds = {}
    for path in sorted((config.paths.output / "feeds").glob("*.atom")):
        data = path.read_bytes()
        feeds[path.name] = {"entries": data.count(b"<entry>"), "bytes": len(data)}
    return {
        "feeds": feeds,
        "full_republish_seconds": min(times),
        "articles": sum(1 for _ in SEEDS.glob("*.txt")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="archive sizes, comma-separated")
    parser.add_argument("--seeds", action="store_true", help="the seed pages' feed figures instead")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch folder")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # internal: one measurement in a child
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, int(args.sizes), args.work)))
        return
    if args.seeds:
        result = seeds(args.work)
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=2))
            return
        print(f"{'feed':<28}{'entries':>8}{'bytes':>10}")
        for name, figures in result["feeds"].items():
            print(f"{name:<28}{figures['entries']:>8}{figures['bytes']:>10,}")
        print(f"full republish of the seeds: {result['full_republish_seconds'] * 1000:.0f} ms (best of 5)")
        return
    rows = [measure(int(size), args.work) for size in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    heads = ("articles", "full s", "full MB", "no-op s", "1 page s", "1 page MB", "written")
    print(" ".join(f"{head:>9}" for head in heads))
    for row in rows:
        full, noop, new = row["full"], row["noop"], row["new-page"]
        print(
            f"{row['articles']:>9,} {full['seconds']:>9.2f} {full['peak_mb']:>9.0f} {noop['seconds']:>9.3f} "
            f"{new['seconds']:>9.3f} {new['peak_mb']:>9.0f} {new['written']:>9}"
        )


if __name__ == "__main__":
    main()
