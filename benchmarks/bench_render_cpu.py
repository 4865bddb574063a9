"""CPU seconds of one full render of a store, in one process: a figure the machine's load does not move.

    python benchmarks/bench_publish.py --sizes 100000 --work /dev/shm/bench   # makes the store
    python benchmarks/bench_render_cpu.py /dev/shm/bench/size-100000/data/digest.sqlite3
    python benchmarks/bench_render_cpu.py STORE --tree /tmp/base   # another checkout's code, same store

``bench_publish.py`` times a full publish by the wall clock, on every core:
on a shared machine its figure moves by half with the neighbours' load.
This draws every document of the same store serially (``render_all`` with
no worker processes) into a sink that only counts bytes, and reports the
process's CPU time, median of ``--rounds``; comparing two checkouts' code
(``--tree``) on one store tells what a change costs a full publish (issue 16:
issue pages must add at most 10 %).  Writing files is left out, so the
ratio is, if anything, larger than a real publish's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(store_file: Path) -> dict[str, float]:
    """One full render of ``store_file`` in this process (the code on ``sys.path`` first)."""
    import digest
    from digest.config_checks import load_config
    from digest.publish.build import render_all
    from digest.store.database import Store

    folder = store_file.parent
    config = load_config(
        None,
        {"paths.source": folder, "paths.data": folder, "paths.output": folder / "unused-output"},
        {},
    )
    written = [0, 0]

    def sink(path: str, data: bytes) -> None:
        written[0] += 1
        written[1] += len(data)

    with Store.open(f"sqlite:///{store_file}") as store, store.snapshot():
        started = time.process_time()
        render_all(store, config, sink)
        cpu = time.process_time() - started
    return {"cpu_seconds": cpu, "files": written[0], "megabytes": written[1] / 1e6, "code": digest.__file__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path, help="a SQLite store (bench_publish.py makes one)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose digest package renders")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # internal: one child
    args = parser.parse_args()
    if args.once:
        sys.path.insert(0, str(args.tree.resolve()))
        print(json.dumps(render(args.store.resolve())))
        return
    runs = []
    for _ in range(args.rounds):
        argv = [sys.executable, __file__, str(args.store), "--tree", str(args.tree), "--once"]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    print(
        f"code {runs[0]['code']}: {runs[0]['files']} files, {runs[0]['megabytes']:.0f} MB, "
        f"CPU s median {cpu:.2f} of {[round(r['cpu_seconds'], 2) for r in runs]}"
    )


if __name__ == "__main__":
    main()
