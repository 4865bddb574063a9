"""Every performance figure in one run: prints a table and writes JSON.

    python benchmarks/run_all.py                    # 1k, 10k and 100k articles; peers up to 10k
    python benchmarks/run_all.py --quick            # 1k and 10k, shorter runs: checks the harness
    python benchmarks/run_all.py --sizes 1000 --pelican-sizes 1000 --json /tmp/figures.json

Figures: parse MB/s; per archive size, ingest articles/s, full publish time,
no-op publish time, the latency of one new page (its ingest + the
incremental publish), peak memory of the ingest and publish processes;
HTTP requests/s for a feed answered 200 and 304, ours and nginx's; the
digest send rate (``bench_send.py``); Pelican's and Hugo's full and
incremental builds of the same archive, interleaved with ours round by round.
Generated pages, outputs and the Pelican environment live under
``benchmarks/.work`` and ``benchmarks/.peers`` (not in git); Hugo is Debian's.

nginx and wrk come from Debian; when missing and this runs as root they are
installed with apt-get, otherwise the HTTP figures say why they are absent.
Absolute figures depend on the machine: run on a quiet one (see
docs/performance.md for the last table and the machine it came from).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_archive
import bench_http
import bench_hugo
import bench_parse
import bench_pelican

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        memory_kb = int(re.findall(r"MemTotal:\s+(\d+)", info.read())[0])
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024**2, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": os.getloadavg(),
    }


def ensure_debian_tools() -> None:
    """apt-get install nginx and wrk when missing and we may (root, apt-get present)."""
    missing = [name for name in ("nginx", "wrk") if shutil.which(name) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=environ)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=environ)


def send_rate(quick: bool) -> dict[str, Any]:
    """Run ``bench_send.py`` when it exists; its last "N emails/s"-like figure is the rate."""
    script = HERE / "bench_send.py"
    if not script.is_file():
        return {"skipped": "benchmarks/bench_send.py is not there yet"}
    done = subprocess.run(
        [sys.executable, str(script), *(["--quick"] if quick else [])], capture_output=True, text=True
    )
    if done.returncode != 0 and quick:  # an older bench_send without --quick
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    rates = re.findall(r"([\d,.]+)\s*(?:emails|messages|mails)/s", done.stdout)
    return {
        "emails_per_s": float(rates[-1].replace(",", "")) if rates else None,
        "output": done.stdout.strip().splitlines()[-5:],
        "returncode": done.returncode,
    }


def timed(label: str, work: Any, *args: Any) -> Any:
    """Run one benchmark, saying what runs (large sizes take minutes)."""
    print(f"… {label}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = work(*args)
    print(f"  {label}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def run(sizes: list[int], pelican_sizes: list[int], quick: bool, work: Path, rounds: int) -> dict[str, Any]:
    """Every figure, as one JSON-able dictionary."""
    figures: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S%z")}
    figures["work"] = str(work)
    figures["parse"] = timed("parse", bench_parse.measure, 5.0 if quick else 20.0, 3)
    figures["archive"], figures["pelican"], figures["hugo"], figures["rounds"] = {}, {}, {}, {}
    for size in sizes:
        # Ours, Pelican's and Hugo's in turn, so all ride the same drift of a shared machine.
        ours: list[dict[str, Any]] = []
        pelican: list[dict[str, Any]] = []
        hugo: list[dict[str, Any]] = []
        for number in range(1, (rounds if size in pelican_sizes else 1) + 1):
            label = f"{size:,} round {number}"
            ours.append(timed(f"ingest + publish {label}", bench_archive.measure, size, work))
            if size in pelican_sizes:
                pelican.append(timed(f"pelican {label}", bench_pelican.measure, size, work))
                hugo.append(timed(f"hugo {label}", bench_hugo.measure, size, work))
        figures["archive"][str(size)] = ours[0]
        if pelican:
            figures["pelican"][str(size)] = pelican[0]
            figures["hugo"][str(size)] = hugo[0]
            figures["rounds"][str(size)] = [_round(*trio) for trio in zip(ours, pelican, hugo, strict=True)]
    ensure_debian_tools()
    output = bench_archive.folders(min(sizes), work)[1] / "output"
    figures["http"] = timed("http", bench_http.measure, output, 3.0 if quick else 10.0)
    figures["send"] = timed("send", send_rate, quick)
    return figures


def _round(ours: dict[str, Any], pelican: dict[str, Any], hugo: dict[str, Any]) -> dict[str, Any]:
    """One interleaved round: the full builds, each peer's over ours (in process and as commands),
    and the load average the round ran under."""
    in_process = ours["ingest"]["seconds"] + ours["publish"]["full_seconds"]
    commands = ours["commands"]["ingest_seconds"] + ours["commands"]["publish_seconds"]
    return {
        "ours_seconds": in_process,
        "ours_commands_seconds": commands,
        "pelican_seconds": pelican["full_seconds"],
        "hugo_seconds": hugo["full_seconds"],
        "hugo_cpu_seconds": hugo["full_cpu_seconds"],
        "ratio": pelican["full_seconds"] / in_process,
        "ratio_commands": pelican["full_seconds"] / commands,
        "hugo_ratio_commands": hugo["full_seconds"] / commands,
        "load_average": hugo["load_average"],
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table (docs/performance.md holds the last one)."""
    sizes = list(figures["archive"])
    rows: list[tuple[str, ...]] = [("figure", *(f"{int(s):,} articles" for s in sizes), "aim")]

    def row(label: str, value: Any, aim: str = "") -> None:
        rows.append((label, *(value(s) for s in sizes), aim))

    def stage(name: str, key: str, fmt: str) -> Any:
        return lambda size: format(figures["archive"][size][name][key], fmt)

    parse = figures["parse"]
    rows.append(("parse (one core)", f"{parse['mb_per_s']:.2f} MB/s", *[""] * (len(sizes) - 1), "≥ 2 MB/s"))
    row("ingest, articles/s", stage("ingest", "articles_per_s", ",.0f"))
    row("ingest peak memory, MB", stage("ingest", "peak_mb", ".0f"), "flat")
    row("full publish, s", stage("publish", "full_seconds", ".2f"))
    row("publish peak memory, MB", stage("publish", "peak_mb", ".0f"), "flat")
    row("no-op publish, s", stage("publish", "noop_seconds", ".3f"))
    row("one new page (ingest + publish), s", stage("publish", "new_page_seconds", ".3f"), "≤ 1 s at 100k")
    row("output files", stage("publish", "output_files", ","))

    def peer(name: str, key: str) -> Any:
        return lambda size: format(figures[name][size][key], ".2f") if size in figures[name] else "–"

    def ours_commands(size: str) -> str:
        commands = figures["archive"][size]["commands"]
        return f"{commands['ingest_seconds'] + commands['publish_seconds']:.2f}"

    def speedup(key: str) -> Any:
        def ratio(size: str) -> str:
            rounds = figures["rounds"].get(size)
            if not rounds:
                return "–"
            ratios = sorted(r[key] for r in rounds)
            spread = f" ({ratios[0]:.1f}–{ratios[-1]:.1f})" if len(ratios) > 1 else ""
            return f"{statistics.median(ratios):.1f}×{spread}"

        return ratio

    row("full build as `digest ingest` + `digest publish --full`, s", ours_commands)
    row("Pelican full build, s", peer("pelican", "full_seconds"))
    row("Pelican one new article page, s", peer("pelican", "new_page_seconds"))
    row("Hugo full build, s", peer("hugo", "full_seconds"))
    row("Hugo full build, CPU s", peer("hugo", "full_cpu_seconds"))
    row("Hugo one new page, s", peer("hugo", "new_page_seconds"))
    count = max((len(r) for r in figures["rounds"].values()), default=0)
    row(f"Pelican full ÷ ours (ingest + full publish), median of {count}", speedup("ratio"), "≥ 5×")
    row(f"Pelican full ÷ ours (the two commands), median of {count}", speedup("ratio_commands"))
    row(f"Hugo full ÷ ours (the two commands), median of {count}", speedup("hugo_ratio_commands"), "> 1×")
    lines = [_markdown_row(cells) for cells in rows]
    lines.insert(1, _markdown_row(tuple("---" for _ in rows[0])))
    http = figures["http"]
    lines.append("")
    if "skipped" in http:
        lines.append(f"HTTP: not measured ({http['skipped']}).")
    else:
        head = ("feed `/feeds/all.atom`, req/s", "digest", "ASGI floor", "nginx", "digest ÷ nginx", "aim")
        lines.append(_markdown_row(head))
        lines.append("| --- | --- | --- | --- | --- | --- |")
        nginx = http["nginx"]
        for code in ("200", "304"):
            ours, floor = http["digest"][code], http["floor"][code]
            if "skipped" in nginx:
                lines.append(f"| {code} | {ours:,.0f} | {floor:,.0f} | – | – | |")
            else:
                ratio = http[f"ratio_{code}"]
                aim = "≥ 0.3" if code == "304" else ""
                cells = (code, f"{ours:,.0f}", f"{floor:,.0f}", f"{nginx[code]:,.0f}", f"{ratio:.2f}", aim)
                lines.append(_markdown_row(cells))
    send = figures["send"]
    lines.append("")
    if send.get("emails_per_s") is not None:
        lines.append(f"Digest send rate: {send['emails_per_s']:,.0f} emails/s (benchmarks/bench_send.py).")
    else:
        lines.append(f"Digest send rate: not measured ({send.get('skipped') or send.get('output')}).")
    return "\n".join(lines)


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k articles, short load runs")
    parser.add_argument("--sizes", type=int, nargs="+", help="archive sizes (default 1000 10000 100000)")
    parser.add_argument(
        "--pelican-sizes", type=int, nargs="*", help="sizes Pelican and Hugo build (default ≤ 10k)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write (default {RESULTS})")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of ours, Pelican and Hugo per size (default 3)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=bench_archive.WORK,
        help="where pages and outputs go, ours and Pelican's (e.g. a tmpfs, to take the disk out)",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([1000, 10_000] if args.quick else [1000, 10_000, 100_000])
    pelican_sizes = (
        args.pelican_sizes if args.pelican_sizes is not None else [s for s in sizes if s <= 10_000]
    )
    figures = run(sizes, pelican_sizes, args.quick, args.work, 1 if args.quick else args.rounds)
    args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(table(figures))
    print(f"\nJSON: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
