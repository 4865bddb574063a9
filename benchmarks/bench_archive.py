"""Ingest and publish an archive of generated pages; one stage per process, so peak memory is its own.

    python benchmarks/bench_archive.py --articles 10000 [--stage all|ingest|publish] [--database URL]

``ingest`` reads the archive into a fresh database (articles/s, peak memory).
``publish`` then renders it: a full build into an empty output folder, a
no-op publish, and the latency of one new page on top of the archive
(ingest of that page + incremental publish; the aim is at most 1 s at 100k
articles).  ``all`` runs the two stages as child processes and prints both,
then times the same full build as two ``digest`` commands (interpreter start
included, the way Pelican's build is timed).
Figures are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import PAGES_PER_ISSUE, page_count, page_name, pages, write_archive

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.service.jobs import run_publish
from digest.store.database import Store

WORK = Path(__file__).resolve().parent / ".work"
# Every article is first seen at one instant after the archive; the new page an hour later.
INGESTED = datetime(2030, 1, 1, tzinfo=UTC)


def peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folders(articles: int, work: Path) -> tuple[Path, Path]:
    """The archive's page folder (kept between runs) and this size's run folder."""
    return work / f"pages-{articles}", work / f"run-{articles}"


def make_config(articles: int, work: Path, database: str | None) -> Config:
    pages_dir, run = folders(articles, work)
    overrides: dict[str, object] = {
        "paths.source": pages_dir,
        "paths.data": run / "data",
        "paths.output": run / "output",
    }
    if database:
        overrides["database.url"] = database
    return load_config(None, overrides, {})


def stage_ingest(articles: int, work: Path, database: str | None) -> dict[str, Any]:
    """A fresh database and output folder, then one ingest of the whole archive."""
    pages_dir, run = folders(articles, work)
    shutil.rmtree(run, ignore_errors=True)
    config = make_config(articles, work, database)
    size = sum(path.stat().st_size for path in pages_dir.rglob("*.txt"))
    base = peak_mb()
    with Store.open(config.database_url) as store:
        started = time.perf_counter()
        report = ingest(config, store, INGESTED)
        seconds = time.perf_counter() - started
    return {
        "files": report.files,
        "articles": report.new,
        "megabytes": size / 1e6,
        "seconds": seconds,
        "articles_per_s": report.new / seconds,
        "base_mb": base,
        "peak_mb": peak_mb(),
    }


def stage_publish(articles: int, work: Path, database: str | None) -> dict[str, Any]:
    """Full build, no-op publish, then one new page: its ingest plus the incremental publish."""
    _, run = folders(articles, work)
    config = make_config(articles, work, database)
    shutil.rmtree(config.paths.output, ignore_errors=True)
    base = peak_mb()
    with Store.open(config.database_url) as store:
        started = time.perf_counter()
        full = run_publish(config, store, full=True)
        full_seconds = time.perf_counter() - started
        full_peak = peak_mb()
        started = time.perf_counter()
        run_publish(config, store)
        noop_seconds = time.perf_counter() - started
        count = store.status().articles
        # The next pages of the paper, each one issue after the one before.  The first new page
        # after start also loads the word segmenter's and pinyin's tables (a service pays that
        # once); the second is the steady state the aim is about.
        first_page = _new_page(config, store, run, articles, 1)
        ingested, one_page, added, incremental = _new_page(config, store, run, articles, 2)
    files = sum(1 for path in config.paths.output.rglob("*") if path.is_file())
    return {
        "articles": count,
        "output_files": files,
        "full_seconds": full_seconds,
        "full_written": full.written_count,
        "noop_seconds": noop_seconds,
        "first_new_page_seconds": first_page[1],
        "new_page_articles": added.new,
        "new_page_ingest_seconds": ingested,
        "new_page_seconds": one_page,
        "new_page_written": incremental.written_count,
        "base_mb": base,
        "peak_mb": full_peak,
    }


def _new_page(
    config: Config, store: Store, run: Path, articles: int, number: int
) -> tuple[float, float, Any, Any]:
    """Ingest and publish the ``number``-th page issue after the archive's last: seconds to ingest
    it, seconds to ingest and publish it, and the two reports."""
    extra = run / "new" / page_name(page_count(articles) + PAGES_PER_ISSUE * number)
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_text(next(pages(seed=1 + number, count=1)), encoding="utf-8")
    started = time.perf_counter()
    added = ingest(config, store, INGESTED + timedelta(hours=number), [extra])
    ingested = time.perf_counter() - started
    incremental = run_publish(config, store)
    return ingested, time.perf_counter() - started, added, incremental


def stage_commands(articles: int, work: Path) -> dict[str, Any]:
    """The same full build as the ``digest`` commands an operator runs, each its own process
    (interpreter start and imports included, as Pelican's build is timed): ``digest ingest``
    into a fresh SQLite database, then ``digest publish --full`` into an empty folder."""
    pages_dir, run = folders(articles, work)
    commands = run / "commands"
    shutil.rmtree(commands, ignore_errors=True)
    digest = Path(sys.executable).parent / "digest"
    common = ["--source", str(pages_dir), "--data", str(commands / "data"), "--output", str(commands / "out")]
    # Outside the checkout, whose config.toml would otherwise apply; and no DIGEST_* from the caller.
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    commands.mkdir(parents=True)
    seconds = {}
    for name, argv in (("ingest", ["ingest"]), ("publish", ["publish", "--full"])):
        started = time.perf_counter()
        subprocess.run([digest, *argv, *common], check=True, stdout=subprocess.DEVNULL, env=env, cwd=commands)
        seconds[name] = time.perf_counter() - started
    shutil.rmtree(commands, ignore_errors=True)
    return {"ingest_seconds": seconds["ingest"], "publish_seconds": seconds["publish"]}


def run_stage(stage: str, articles: int, work: Path, database: str | None) -> dict[str, Any]:
    """Run one stage in a child process (its own peak memory) and return its figures."""
    argv = [sys.executable, __file__, "--stage", stage, "--articles", str(articles), "--work", str(work)]
    if database:
        argv += ["--database", database]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench_archive {stage} {articles} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(articles: int, work: Path = WORK, database: str | None = None) -> dict[str, Any]:
    """Write the archive (once), then ingest and publish it, each stage in its own process."""
    pages_dir, _ = folders(articles, work)
    write_archive(pages_dir, articles)
    return {
        "ingest": run_stage("ingest", articles, work, database),
        "publish": run_stage("publish", articles, work, database),
        "commands": stage_commands(articles, work),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="archive size")
    parser.add_argument("--stage", choices=("all", "ingest", "publish"), default="all")
    parser.add_argument("--work", type=Path, default=WORK, help="where pages and output go")
    parser.add_argument("--database", help="database URL (default: SQLite in the run folder)")
    args = parser.parse_args()
    if args.stage == "ingest":
        result = stage_ingest(args.articles, args.work, args.database)
    elif args.stage == "publish":
        result = stage_publish(args.articles, args.work, args.database)
    else:
        result = measure(args.articles, args.work, args.database)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
