"""The service's safety-net rescan over a big source folder: the first full scan, then idle rescans.

    python benchmarks/bench_rescan.py [--files 13000] [--rounds 7] [--database-url URL]

Writes ``--files`` small page files (three years of a 12-page daily, in one folder
per day) and runs ``Runner.rescan`` of ``digest serve`` on them, with the store on
SQLite (or ``--database-url``).  Prints:

- the first scan: every file read, parsed and stored;
- a rescan after an upgrade from a version that kept no stamps: every file read
  and hashed once (nothing parsed), its stamp kept;
- the median (and worst) of ``--rounds`` rescans with nothing changed: one
  listing, one ``stat`` per file, one query, no file opened.  The promise is
  0.2 s for 13k files.  Also its CPU time (this process): the figure that holds
  when other work shares the machine and stretches the wall clock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.config_checks import load_config
from digest.ingest import scan
from digest.mail.transports import OutboxMailer
from digest.service.metrics import Metrics
from digest.service.runner import Runner
from digest.store.database import Store
from digest.store.schema import sources

PAGE = "● 要闻\n\n# {day}第{page}版的标题\n\n本报讯 {day}，第{page}版的正文。\n"


def write_pages(folder: Path, count: int) -> None:
    """``count`` page files, 12 a day, one folder per day, going back from 2026-01-01."""
    day = date(2026, 1, 1)
    for number in range(count):
        page = number % 12 + 1
        if page == 1:
            day -= timedelta(days=1)
        where = folder / day.isoformat()
        where.mkdir(exist_ok=True)
        (where / f"{day.isoformat()}_{page:02d}.txt").write_text(
            PAGE.format(day=day.isoformat(), page=page), encoding="utf-8"
        )


def main() -> None:
    form = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=form)
    parser.add_argument("--files", type=int, default=13_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rescan-") as work:
        root = Path(work)
        (root / "pages").mkdir()
        write_pages(root / "pages", args.files)
        overrides: dict[str, object] = {
            "paths.source": root / "pages",
            "paths.data": root / "data",
            "paths.output": root / "output",
            "ingest.settle_seconds": 0.5,
        }
        if args.database_url:
            overrides["database.url"] = args.database_url
        config = load_config(None, overrides, {})
        # Out of the settle time and of the "racily clean" window, as files in service are.
        time.sleep(max(config.ingest.settle_seconds, scan.RACY_NS / 1e9) + 0.2)
        now = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
        with Store.open(config.database_url) as store:
            runner = Runner(config, store, OutboxMailer(root / "outbox"), Metrics(), clock=lambda: now)
            started = time.perf_counter()
            runner.rescan()
            first = time.perf_counter() - started
            articles = store.status().articles

            with store._begin() as conn:  # what a database from before stamps holds
                conn.execute(sa.update(sources).values(stamp=None))
            started = time.perf_counter()
            runner.rescan()
            upgrade = time.perf_counter() - started

            idle, cpu = [], []
            for _ in range(args.rounds):
                started, used = time.perf_counter(), time.process_time()
                runner.rescan()
                idle.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
            changed, listed = scan.changed_files(store, config.paths.source, config.ingest.encoding)
    database = config.database_url.split(":")[0]
    print(f"files: {len(listed):,} page files, {articles:,} articles; database {database}")
    print(f"first scan (read, parse, store everything): {first:.2f} s")
    print(f"rescan after an upgrade (read and hash everything once, nothing parsed): {upgrade:.2f} s")
    print(
        f"rescan with nothing changed, {args.rounds} rounds (promise: <= 0.2 s for 13k files):"
        f" median {statistics.median(idle):.3f} s, worst {max(idle):.3f} s;"
        f" CPU time median {statistics.median(cpu):.3f} s; files it would read now: {len(changed)}"
    )


if __name__ == "__main__":
    main()
