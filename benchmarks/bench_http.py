"""Requests/s for a feed answered 200 and 304: our ASGI server against Debian's nginx, same folder.

    python benchmarks/bench_http.py --output benchmarks/.work/run-1000/output [--seconds 5]

Each server runs one process (uvicorn as ``digest serve`` runs it; nginx
with one worker, no daemon, a temporary config) on a loopback port; all serve
the same output folder.  wrk loads each with the same connections and
duration: a plain GET of ``/feeds/all.atom`` (200) and a conditional GET
with the server's own ETag (304).  A third server, ``asgi_floor.py``, is an
ASGI app under the same uvicorn that answers with that feed's bytes and does
nothing else: the most any Python app under uvicorn answers on the machine.
The servers stay up and are loaded in turn, ``--rounds`` times, and each
figure is the median of its rounds: on a shared machine the load of other
work drifts, and alternating puts every server under the same drift.  Needs
``nginx`` and ``wrk`` (``apt-get install nginx wrk``); a figure is left out
when one is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FEED = "/feeds/all.atom"
CONNECTIONS = 32
ROUNDS = 3

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/atom+xml atom; }}
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def running(argv: list[str], url: str) -> Iterator[int]:
    """Run a server process until the block ends; yields its pid."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(url, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ours(output: Path, port: int) -> list[str]:
    """``digest``'s ASGI app over ``output`` under uvicorn, configured as ``digest serve`` does."""
    code = (
        "import sys, uvicorn; from pathlib import Path; from digest.web.server import create_app; "
        "uvicorn.run(create_app(Path(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), "
        "log_config=None, access_log=False)"
    )
    return [sys.executable, "-c", code, str(output), str(port)]


def floor(output: Path, port: int) -> list[str]:
    """``asgi_floor.py`` answering with the feed's bytes, under uvicorn as ``ours`` runs."""
    script = Path(__file__).with_name("asgi_floor.py")
    return [sys.executable, str(script), str(output / FEED.lstrip("/")), str(port)]


def nginx(output: Path, port: int, tmp: Path) -> list[str]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=output.resolve()))
    return ["nginx", "-c", str(conf), "-e", str(tmp / "error.log")]


def etag(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        value: str = response.headers["ETag"]
        return value


def wrk(url: str, seconds: float, headers: dict[str, str]) -> float:
    """Requests/s from one wrk thread holding ``CONNECTIONS`` keep-alive connections."""
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=True)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"{url}: {errors[1]} responses were errors")
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no rate:\n{done.stdout}{done.stderr}")
    return float(match[1])


def measure(output: Path, seconds: float = 5.0, rounds: int = ROUNDS) -> dict[str, Any]:
    """Load our server, the ASGI floor and nginx in turn; figures are median requests/s
    (a reason instead when not run)."""
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    if not (output / FEED.lstrip("/")).is_file():
        raise FileNotFoundError(f"{output} holds no {FEED}: publish an archive first")
    result: dict[str, Any] = {"connections": CONNECTIONS, "seconds": seconds, "rounds": rounds}
    with ExitStack() as stack:
        servers = {"digest": f"http://127.0.0.1:{free_port()}", "floor": f"http://127.0.0.1:{free_port()}"}
        stack.enter_context(running(ours(output, _port(servers["digest"])), servers["digest"] + FEED))
        stack.enter_context(running(floor(output, _port(servers["floor"])), servers["floor"] + FEED))
        if shutil.which("nginx") is None:
            result["nginx"] = {"skipped": "nginx is not installed (apt-get install nginx)"}
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-nginx-")))
            servers["nginx"] = f"http://127.0.0.1:{free_port()}"
            stack.enter_context(running(nginx(output, _port(servers["nginx"]), tmp), servers["nginx"] + FEED))
        # The 304 run sends each server its own ETag.
        requests = {
            name: {"200": {}, "304": {"If-None-Match": etag(base + FEED)}} for name, base in servers.items()
        }
        samples: dict[str, dict[str, list[float]]] = {name: {"200": [], "304": []} for name in servers}
        for _ in range(rounds):
            for code in ("200", "304"):
                for name, base in servers.items():
                    samples[name][code].append(wrk(base + FEED, seconds, requests[name][code]))
    for name, codes in samples.items():
        result[name] = {code: statistics.median(rates) for code, rates in codes.items()}
    result["samples"] = samples
    if "nginx" in servers:
        result["ratio_304"] = result["digest"]["304"] / result["nginx"]["304"]
        result["ratio_200"] = result["digest"]["200"] / result["nginx"]["200"]
        result["floor_ratio_304"] = result["floor"]["304"] / result["nginx"]["304"]
    return result


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="a published output folder")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load run")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="load runs per server and status")
    args = parser.parse_args()
    print(json.dumps(measure(args.output, args.seconds, args.rounds), indent=2))


if __name__ == "__main__":
    main()
