"""The full build, ours against Hugo's, with and without the worker pool, on a quiet or a busy machine.

    python benchmarks/bench_build.py --sizes 1000 10000 --rounds 3 --work /dev/shm/bb
    python benchmarks/bench_build.py --sizes 10000 --hog 1      # one core kept busy by another process

Each round runs, one after the other (interleaved, so every contender meets
the same drift in the machine's load): our full build as the two commands
an operator types (``digest ingest``, then ``digest publish --full``, each
its own process, interpreter start included), the same two commands pinned
to one core (``taskset -c 0``: no pool can help, none is started), the
same two with a pool of two workers whatever the free cores say
(``pooled``: what the pool gives when the guard would say no), ``digest
build`` (both in one process), ``digest publish --full`` alone from a
database ingested already (``publish``: Hugo's job, as Hugo's articles
come split already), Hugo building the same articles
(``bench_hugo``), Pelican building them (``bench_pelican``, its cache
cleared), and the write floor: C tools (coreutils) reading and hashing
every page file and copying a finished output folder of ours, the same
files and bytes, into an empty one; no build can write its output faster.
``libraries`` is the floor of a build in Python with our libraries: the
interpreter starting and importing the third-party packages that ``digest
build`` imported on the same pages, and doing nothing else.
Every figure is wall seconds, CPU seconds of the child processes, the
one-minute load average when the run began, and the CPU seconds the
hypervisor stole from this VM during the run (``steal`` in /proc/stat);
the summary is the median of the rounds.  ``--hog N`` keeps N more
processes spinning on the CPU meanwhile: the pool must then stay off, so
the build is never slower than in one process.  Our package's bytecode is
compiled first, as installing it does, whatever ``PYTHONDONTWRITEBYTECODE`` says.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_hugo
import bench_pelican
from bench_archive import WORK, folders
from bench_pelican import export
from corpus import write_archive

DIGEST = Path(sys.executable).parent / "digest"


def timed(argvs: list[list[str]], cwd: Path, extra: dict[str, str] | None = None) -> dict[str, float]:
    """Run the commands one after the other (``extra`` added to their environment): wall seconds,
    CPU seconds (theirs and their children's), and the one-minute load average before the first."""
    # Outside the checkout, whose config.toml would otherwise apply; and no DIGEST_* from the caller.
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env.update(extra or {})
    load = os.getloadavg()[0]
    before = os.times()
    stolen = _stolen()
    started = time.perf_counter()
    for argv in argvs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    stolen = _stolen() - stolen
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "load": round(load, 2),
        "steal": round(stolen, 2),
    }


def _stolen() -> float:
    """CPU seconds the hypervisor has given other guests while this VM wanted them (the ``steal``
    column of /proc/stat, all CPUs), so far: on a shared host it explains a slow round that the
    load average, which counts only this machine's tasks, does not.  0.0 where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def ours(pages_dir: Path, run: Path, how: str) -> dict[str, float]:
    """One full build from nothing: ``commands``, ``pinned`` (the commands on core 0), ``pooled``
    (the commands with two workers whatever the free cores) or ``build``."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    common = ["--source", str(pages_dir), "--data", str(run / "data"), "--output", str(run / "out")]
    pin = ["taskset", "-c", "0"] if how == "pinned" else []
    if how == "build":
        argvs = [[str(DIGEST), "build", *common]]
    else:
        argvs = [[*pin, str(DIGEST), "ingest", *common], [*pin, str(DIGEST), "publish", "--full", *common]]
    try:
        return timed(argvs, run, {"DIGEST_BUILD_WORKERS": "2"} if how == "pooled" else None)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def hugo(root: Path) -> dict[str, float]:
    """Hugo's full build of the same articles into an empty folder."""
    shutil.rmtree(root / "public", ignore_errors=True)
    shutil.rmtree(root / "resources", ignore_errors=True)
    return timed([[bench_hugo.ensure_hugo(), "--quiet"]], root)


def pelican(site: Path) -> dict[str, float]:
    """Pelican's full build of the same articles from nothing (no output, no cache)."""
    shutil.rmtree(site / "output", ignore_errors=True)
    shutil.rmtree(site / "cache", ignore_errors=True)
    command = [str(bench_pelican.pelican_bin()), "content", "-o", "output", "-s", "pelicanconf.py", "-q"]
    return timed([command], site)


def floor(pages_dir: Path, built: Path, run: Path) -> dict[str, float]:
    """The write floor: hash every page file and copy ``built`` (a finished output of ours) into
    an empty folder, with coreutils."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    hashing = f"find {pages_dir} -type f -print0 | xargs -0 cat | sha256sum >/dev/null"
    try:
        return timed([["sh", "-c", hashing], ["cp", "-r", str(built), str(run / "out")]], run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def publish_only(built: Path, run: Path) -> dict[str, float]:
    """``digest publish --full`` alone into an empty folder, from a copy of the database of
    ``built`` (ingested already): the part of our build that does Hugo's job, whose articles
    come split already, where ours are parsed from the page text first."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    shutil.copytree(built.parent / "data", run / "data")
    common = ["--source", str(built.parent), "--data", str(run / "data"), "--output", str(run / "out")]
    try:
        return timed([[str(DIGEST), "publish", "--full", *common]], run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def libraries(packages: list[str], run: Path) -> dict[str, float]:
    """The interpreter starting and importing ``packages``, nothing else."""
    run.mkdir(parents=True, exist_ok=True)
    try:
        return timed([[sys.executable, "-c", f"import {', '.join(packages)}"]], run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _packages_of_ours(pages_dir: Path, run: Path) -> list[str]:
    """The third-party packages ``digest build`` imports on ``pages_dir`` (from ``-X importtime``)."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    common = ["--source", str(pages_dir), "--data", str(run / "data"), "--output", str(run / "out")]
    argv = [sys.executable, "-X", "importtime", "-m", "digest.cli", "build", *common]
    try:
        done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=run)
    finally:
        shutil.rmtree(run, ignore_errors=True)
    found = {
        line.rpartition("|")[2].strip().partition(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.rpartition("|")[2].strip() != "imported package"
    }
    return sorted(name for name in found if _installed(name))


def _installed(name: str) -> bool:
    """Whether ``name`` is a package installed beside ours (not the standard library's, not ours,
    not an installer's hook such as an editable install's finder)."""
    if name == "digest" or name.startswith("_"):
        return False
    spec = importlib.util.find_spec(name)
    places = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    origin = spec.origin if spec is not None and spec.origin else ""
    return any(origin.startswith(place + os.sep) for place in places)


def _output_of_ours(pages_dir: Path, run: Path) -> Path:
    """A finished output folder of ours for ``pages_dir`` (the floor copies it), built once."""
    out = run.with_name(run.name + "-floor-source")
    if not (out / "out" / "index.html").is_file():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        common = ["--source", str(pages_dir), "--data", str(out / "data"), "--output", str(out / "out")]
        subprocess.run([str(DIGEST), "build", *common], check=True, stdout=subprocess.DEVNULL, cwd=out)
    return out / "out"


def _spin() -> None:
    while True:
        pass


def measure(sizes: list[int], rounds: int, work: Path, hog: int, contenders: list[str]) -> dict[str, Any]:
    """Every contender at every size, ``rounds`` interleaved rounds; medians and every round."""
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(hog)]
    for process in hogs:
        process.start()
    results: dict[str, Any] = {"hog": hog, "rounds": rounds, "sizes": {}, "libraries": {}}
    try:
        for size in sizes:
            pages_dir, run = folders(size, work)
            write_archive(pages_dir, size)
            root = work / f"hugo-{size}"
            if "hugo" in contenders:
                shutil.rmtree(root / "content", ignore_errors=True)
                export(pages_dir, root / "content", bench_hugo.markdown)
                bench_hugo.site(root)
            site = work / f"pelican-{size}"
            if "pelican" in contenders:
                export(pages_dir, site / "content")
                (site / "pelicanconf.py").write_text(bench_pelican.SETTINGS)
                shutil.rmtree(site / "content" / "new", ignore_errors=True)
            built = _output_of_ours(pages_dir, run) if {"floor", "publish"} & set(contenders) else run
            packages = _packages_of_ours(pages_dir, run) if "libraries" in contenders else []
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
            for _ in range(rounds):
                for name in contenders:
                    if name == "hugo":
                        runs[name].append(hugo(root))
                    elif name == "pelican":
                        runs[name].append(pelican(site))
                    elif name == "floor":
                        runs[name].append(floor(pages_dir, built, run))
                    elif name == "publish":
                        runs[name].append(publish_only(built, run))
                    elif name == "libraries":
                        runs[name].append(libraries(packages, run))
                    else:
                        runs[name].append(ours(pages_dir, run, name))
            results["libraries"][size] = packages
            results["sizes"][size] = {
                name: {
                    "seconds": statistics.median(r["seconds"] for r in done),
                    "cpu_seconds": statistics.median(r["cpu_seconds"] for r in done),
                    "load": [r["load"] for r in done],
                    "steal": [r["steal"] for r in done],
                    "rounds": done,
                }
                for name, done in runs.items()
            }
    finally:
        for process in hogs:
            process.kill()
    return results


def table(results: dict[str, Any]) -> str:
    """The medians as a Markdown table."""
    lines = [
        "| articles | contender | wall s | CPU s | load (1 min) per round | stolen CPU s per round |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size, figures in results["sizes"].items():
        for name, f in figures.items():
            load = ", ".join(f"{value:.1f}" for value in f["load"])
            steal = ", ".join(f"{value:.2f}" for value in f["steal"])
            lines.append(
                f"| {int(size):,} | {name} | {f['seconds']:.2f} | {f['cpu_seconds']:.2f} | {load} | {steal} |"
            )
    for size, packages in results.get("libraries", {}).items():
        if packages:
            lines.append(f"\nlibraries at {int(size):,}: {', '.join(packages)}")
    return "\n".join(lines)


def compiled() -> None:
    """Write the bytecode of our package where it is missing, as installing it does (pip compiles
    it): a checkout run with ``PYTHONDONTWRITEBYTECODE`` set (as in our container image) would
    otherwise compile every module of ours in every command, 0.1 s of CPU each time."""
    spec = importlib.util.find_spec("digest")
    if spec is None or spec.origin is None:
        raise SystemExit("the digest package is not importable from this interpreter")
    compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000], help="archive sizes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument(
        "--work", type=Path, default=WORK, help="where pages and outputs go (a tmpfs is best)"
    )
    parser.add_argument("--hog", type=int, default=0, help="processes spinning on the CPU meanwhile")
    parser.add_argument(
        "--contenders",
        nargs="+",
        default=["commands", "pinned", "build", "hugo"],
        choices=["commands", "pinned", "pooled", "build", "publish", "hugo", "pelican", "floor", "libraries"],
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    compiled()
    results = measure(args.sizes, args.rounds, args.work, args.hog, args.contenders)
    results["cores"] = os.cpu_count()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
