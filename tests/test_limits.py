"""Connection limits: clients that trickle their headers cannot take every descriptor of ``digest serve``.

The service runs under ``prlimit --nofile=1024`` (systemd's default ``LimitNOFILE``) while this test
opens 1,100 connections that each send half a request and then nothing.  Before the limits, uvicorn
accepted until the process ran out of descriptors: every feed request failed and the ingest job died
with "Too many open files".
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_service import free_port, page, wait_for

from digest.web.limits import HEADER_SECONDS, connection_limit, limited_protocol

ROOT = Path(__file__).resolve().parents[1]
SLOW_CLIENTS = 1100
PRLIMIT = ["prlimit", "--nofile=1024:1024"]  # systemd's default LimitNOFILE


def _half_requests(port: int, count: int) -> list[socket.socket]:
    """``count`` connections, each with a request line and one header but never the blank line."""
    opened: list[socket.socket] = []
    for _ in range(count):
        client = socket.socket()
        client.settimeout(2)
        try:
            client.connect(("127.0.0.1", port))
            client.sendall(b"GET /feeds/all.atom HTTP/1.1\r\nHost: slow.example\r\n")
        except OSError:
            client.close()
            continue
        opened.append(client)
    return opened


def _closed_by_server(client: socket.socket) -> bool:
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
def test_1100_slow_header_clients_under_1024_descriptors_stop_neither_feeds_nor_ingest(
    tmp_path: Path,
) -> None:
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < SLOW_CLIENTS + 200:
        pytest.skip(f"this test needs {SLOW_CLIENTS + 200} descriptors of its own; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, SLOW_CLIENTS + 200), hard))
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ |= {"DIGEST_SITE_BASE_URL": url, "DIGEST_INGEST_SETTLE_SECONDS": "0.5"}
    folders = ["--source", str(pages), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PRLIMIT, sys.executable, "-m", "digest.cli", "serve", *folders, "--port", str(port)],
            cwd=tmp_path,
            env=environ,
            stdout=output,
            stderr=output,
        )
    slow: list[socket.socket] = []
    try:
        with httpx.Client(base_url=url, timeout=10) as http:

            def up() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    return http.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(up, 60, "digest serve to answer /healthz")
            slow = _half_requests(port, SLOW_CLIENTS)
            assert len(slow) >= SLOW_CLIENTS * 0.9, f"only {len(slow)} slow clients connected"
            # Feeds are served while the slow clients hold (or held) their connections.
            for _ in range(5):
                assert http.get("/feeds/all.atom").status_code == 200
            # And ingest still has descriptors: a new page reaches the feed.
            temporary = pages / ".2024-12-01_01.txt.part"
            temporary.write_text(page("慢连接期间到达的稿件"), encoding="utf-8")
            temporary.replace(pages / "2024-12-01_01.txt")
            wait_for(lambda: "慢连接期间到达的稿件" in http.get("/feeds/all.atom").text, 20, "the new page")
            assert http.get("/healthz").json()["status"] == "ok"
            # Every slow client is closed by the header timeout at the latest.
            time.sleep(HEADER_SECONDS + 1)
            still_open = [client for client in slow if not _closed_by_server(client)]
            assert not still_open, f"{len(still_open)} half requests still held open"
    finally:
        for client in slow:
            client.close()
        process.terminate()
        code = process.wait(60)
    text = log.read_text()
    assert code == 0, text
    assert "Too many open files" not in text and "Traceback" not in text, text


def test_the_limit_is_half_the_descriptors_and_never_below_the_floor() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_limit() == (32768 if soft == resource.RLIM_INFINITY else max(64, soft // 2))
    assert issubclass(limited_protocol(10), object)
