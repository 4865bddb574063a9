"""Requests/s and latency of the subscription forms: the hand-written ASGI app against its Starlette port.

    python benchmarks/bench_forms.py [--seconds 3] [--rounds 5] [--connections 4]

Needs ``pip install starlette python-multipart`` (for the port only: neither is a
dependency of the service; issue 12 kept the hand-written app, docs/performance.md).

Issue 12 asks whether the form app is better on Starlette; the rule is "keep
whichever is simpler at equal speed".  Both apps run the same handlers and
pages (``starlette_subscriptions.py`` inherits them), each mounted beside the
file server as ``digest serve`` mounts it (``server.create_app(routes=...)``,
uvicorn with the same protocol and limits), each in its own process over its
own copy of one SQLite database, on loopback.  A client process of our own
(asyncio, raw HTTP/1.1 keep-alive, ``--connections`` at once; wrk would
need a Lua script to post a new address each time, and checks no status)
loads them in turn with:

- ``GET /subscribe``: the form, two sections;
- ``POST /subscribe`` valid: a new address each time, so a subscriber row, a
  queued notice and a confirmation email (``.eml`` into the outbox) each;
- ``POST /subscribe`` invalid: a refused address, the form again with 422;
- ``GET /confirm/<token>``: a signed link checked and its page rendered.

Besides requests/s and p50/p99 latency, each run reads the server process's
CPU time (/proc/PID/stat) and prints CPU ms per request: on a machine
shared with other work, wall-clock figures swing with the neighbours' load,
CPU time spent per request much less.

Rounds are interleaved (every kind on both apps, then again) and each figure
is the median of its rounds, so drift in the load of other work on a shared
machine falls on both alike; the load average is printed before and after.
Every answer's status is checked, so an app that failed fast would not win.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_http import free_port, running
from bench_send import sample_entries

SECRET = "a-long-random-benchmark-secret-for-the-forms"
APPS = ("handwritten", "starlette")
KINDS = ("GET /subscribe", "POST /subscribe valid", "POST /subscribe invalid", "GET /confirm/<token>")
PENDING = "pending@example.org"


def config_for(home: Path, port: int) -> Any:
    from digest.config_checks import load_config

    overrides = {
        "paths.source": home / "pages",
        "paths.data": home / "data",
        "paths.output": home / "output",
        "site.base_url": f"http://127.0.0.1:{port}",
        "server.secret": SECRET,
        "server.rate_limit": 1_000_000_000,  # the limiter still runs; it never refuses
    }
    return load_config(None, overrides, {})


def seed(home: Path) -> None:
    """Two sections (the form's checkboxes) and one pending subscriber (the confirm link's holder)."""
    from digest.store.database import Store
    from digest.store.records import Subscriber

    for folder in ("pages", "output"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    with Store.open(config_for(home, 0).database_url) as store:
        store.upsert_entries(sample_entries(datetime(2024, 11, 27, tzinfo=UTC), 2))
        store.add_subscriber(Subscriber(PENDING, (), False, datetime.now(UTC)))


def serve(app_name: str, home: Path, port: int) -> None:
    """Run one app as ``digest serve`` mounts it: beside the file server, under the same uvicorn options."""
    import uvicorn

    from digest.mail.transports import OutboxMailer
    from digest.store.database import Store
    from digest.web.limits import server_options
    from digest.web.server import create_app
    from digest.web.subscriptions import create_subscription_app, subscription_routes

    config = config_for(home, port)
    make = create_subscription_app
    if app_name == "starlette":
        from starlette_subscriptions import create_starlette_subscription_app as make  # type: ignore[assignment]
    with Store.open(config.database_url) as store:
        forms = make(config, store, lambda: OutboxMailer(home / "outbox"))
        site = create_app(config.paths.output, routes=subscription_routes(forms))
        options = {"log_config": None, "access_log": False, "proxy_headers": False, **server_options()}
        uvicorn.run(site, host="127.0.0.1", port=port, **options)


def confirm_path(home: Path) -> str:
    from digest.mail.tokens import Purpose, sign
    from digest.store.database import Store

    with Store.open(config_for(home, 0).database_url) as store:
        holder = store.subscriber(PENDING)
        assert holder is not None
        return f"/confirm/{sign(SECRET, Purpose.CONFIRM, holder.key, datetime.now(UTC))}"


def requests(kind: str, port: int, confirm: str, prefix: str) -> tuple[Iterator[bytes], int]:
    """Endless request bytes for ``kind``, and the status each must get."""
    host = f"Host: 127.0.0.1:{port}\r\n"

    def post(form: dict[str, str]) -> bytes:
        body = urlencode(form).encode()
        head = (
            f"POST /subscribe HTTP/1.1\r\n{host}Origin: http://127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def endless() -> Iterator[bytes]:
        n = 0
        while True:
            n += 1
            if kind == "GET /subscribe":
                yield f"GET /subscribe HTTP/1.1\r\n{host}\r\n".encode()
            elif kind == "GET /confirm/<token>":
                yield f"GET {confirm} HTTP/1.1\r\n{host}\r\n".encode()
            elif kind == "POST /subscribe valid":
                yield post({"email": f"{prefix}{n}@example.org", "section": "yao-wen"})
            else:
                yield post({"email": "not an address", "section": "yao-wen"})

    return endless(), 422 if kind.endswith("invalid") else 200


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def load(
    port: int, kind: str, seconds: float, connections: int, confirm: str, prefix: str
) -> list[float]:
    """Latencies (seconds) of every request answered in ``seconds``, ``connections`` at once."""
    made, expected = requests(kind, port, confirm, prefix)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status = await _exchange(reader, writer, next(made))
                latencies.append(time.perf_counter() - started)
                if status != expected:
                    raise RuntimeError(f"{kind} on port {port}: status {status}, expected {expected}")
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process (all its threads) has used so far (proc(5), fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(seconds: float, rounds: int, connections: int) -> dict[str, Any]:
    """Load both apps, kind by kind, in interleaved rounds; median requests/s, p50 and p99 (ms)."""
    result: dict[str, Any] = {
        "seconds": seconds,
        "rounds": rounds,
        "connections": connections,
        "load_before": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    samples: dict[str, dict[str, list[tuple[float, float, float, float]]]] = {
        app: {kind: [] for kind in KINDS} for app in APPS
    }
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-forms-")))
        seed(work / "seed")
        ports, confirms, pids = {}, {}, {}
        for app in APPS:
            home = work / app
            shutil.copytree(work / "seed", home)
            ports[app] = free_port()
            argv = [sys.executable, __file__, "--serve", app, str(home), str(ports[app])]
            pids[app] = stack.enter_context(running(argv, f"http://127.0.0.1:{ports[app]}/subscribe"))
            confirms[app] = confirm_path(home)
        for app in APPS:  # templates compiled, caches and connections warm before anything counts
            for kind in KINDS:
                asyncio.run(load(ports[app], kind, 0.5, connections, confirms[app], f"warm-{app}-"))
        for turn in range(rounds):
            for kind in KINDS:
                # Alternate which app goes first, so neither always follows the other's disk writes.
                for app in APPS if turn % 2 == 0 else tuple(reversed(APPS)):
                    prefix = f"r{turn}-{app}-"
                    run = load(ports[app], kind, seconds, connections, confirms[app], prefix)
                    cpu = cpu_seconds(pids[app])
                    latencies = asyncio.run(run)
                    cpu = cpu_seconds(pids[app]) - cpu
                    rate = len(latencies) / seconds
                    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                    samples[app][kind].append((rate, p50, p99, cpu / len(latencies)))
    result["load_after"] = os.getloadavg()
    for app in APPS:
        result[app] = {
            kind: {
                "requests_per_s": statistics.median(s[0] for s in runs),
                "p50_ms": statistics.median(s[1] for s in runs) * 1000,
                "p99_ms": statistics.median(s[2] for s in runs) * 1000,
                "cpu_ms_per_request": statistics.median(s[3] for s in runs) * 1000,
                "rates": [round(s[0]) for s in runs],
            }
            for kind, runs in samples[app].items()
        }
    result["starlette_vs_handwritten"] = {
        kind: {
            figure: result["starlette"][kind][figure] / result["handwritten"][kind][figure]
            for figure in ("requests_per_s", "cpu_ms_per_request")
        }
        for kind in KINDS
    }
    return result


def print_table(result: dict[str, Any]) -> None:
    load = " ".join(f"{x:.2f}" for x in result["load_before"])
    print(
        f"load average before: {load} on {result['cores']} cores; after: "
        + " ".join(f"{x:.2f}" for x in result["load_after"])
    )
    print(f"{'request':24} {'app':12} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>7}  rounds (req/s)")
    for kind in KINDS:
        for app in APPS:
            row = result[app][kind]
            print(
                f"{kind:24} {app:12} {row['requests_per_s']:7.0f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f}"
                f" {row['cpu_ms_per_request']:7.3f}  {row['rates']}"
            )
        ratio = result["starlette_vs_handwritten"][kind]
        rate, cpu = ratio["requests_per_s"], ratio["cpu_ms_per_request"]
        print(f"{'':24} {'ratio S/H':12} {rate:7.3f} {'':15} {cpu:7.3f}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each load run")
    parser.add_argument("--rounds", type=int, default=5, help="load runs per app and request kind")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections at once")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = measure(args.seconds, args.rounds, args.connections)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
