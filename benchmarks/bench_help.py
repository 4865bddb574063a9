"""How long ``digest --help`` takes, interpreter start and imports included: the median of many runs.

    python benchmarks/bench_help.py [--runs 21] [-- ARGS...]

The aim is at most 0.15 s: every command pays this before its work, and a
command that only prints its help should load nothing it does not show.
Prints the median, the fastest and the slowest run, the median CPU seconds, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DIGEST = Path(sys.executable).parent / "digest"


def run_times(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` runs of ``argv``, one after the other.

    The CPU seconds say what the command costs when the machine is shared: its wall time then
    includes the time it waited for a core.
    """
    seconds, cpu = [], []
    for _ in range(runs):
        before = os.times()
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
        after = os.times()
        cpu.append(
            after.children_user - before.children_user + after.children_system - before.children_system
        )
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="how many runs (the median is reported)")
    parser.add_argument("args", nargs="*", default=["--help"], help="the digest command line to time")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    seconds, cpu = run_times([str(DIGEST), *args.args], args.runs)
    figures = {
        "command": ["digest", *args.args],
        "median_seconds": round(statistics.median(seconds), 4),
        "min_seconds": round(min(seconds), 4),
        "max_seconds": round(max(seconds), 4),
        "median_cpu_seconds": round(statistics.median(cpu), 4),
        "runs": args.runs,
        "load_average": round(load, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
