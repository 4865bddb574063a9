"""Connection limits: clients that trickle their requests cannot take every descriptor of ``digest serve``.

The service runs under ``prlimit --nofile=1024`` (systemd's default ``LimitNOFILE``) while a test
opens 1,100 connections that each send half a request (half its headers, or its headers and one byte
of a 16,000-byte body) and then nothing.  Before the limits, uvicorn accepted until the process ran
out of descriptors: every feed request failed and the ingest job died with "Too many open files".
The other tests run the same protocol under uvicorn in this process, with a small limit and deadline.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from loopback import free_port, wait_for
from test_server import serving
from test_service import page
from test_subscriptions import make_config

from digest.mail.transports import OutboxMailer
from digest.store.database import Store
from digest.web.http import DRAIN_BYTES, ASGIApp, Receive, Scope, Send, respond
from digest.web.limits import (
    KEEP_ALIVE_SECONDS,
    MAX_HEAD_BYTES,
    REQUEST_SECONDS,
    connection_limit,
    limited_protocol,
)
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, subscription_routes

ROOT = Path(__file__).resolve().parents[1]
SLOW_CLIENTS = 1100
PRLIMIT = ["prlimit", "--nofile=1024:1024"]  # systemd's default LimitNOFILE
# Half a request: a request line and one header but never the blank line; or a whole head that
# promises a form's largest body, and one byte of it (naming a host digest serve answers for, so
# the form waits for its body rather than being refused at once: digest.web.hosts).
HALF_HEAD = b"GET /feeds/all.atom HTTP/1.1\r\nHost: slow.example\r\n"
HALF_BODY = (
    b"POST /unsubscribe/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\nL"
)


def _half_requests(port: int, count: int, half: bytes = HALF_HEAD) -> list[socket.socket]:
    """``count`` connections, each having sent ``half`` a request."""
    opened: list[socket.socket] = []
    for _ in range(count):
        client = socket.socket()
        client.settimeout(2)
        try:
            client.connect(("127.0.0.1", port))
            client.sendall(half)
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
@pytest.mark.parametrize("half", [HALF_HEAD, HALF_BODY], ids=["headers", "body"])
def test_1100_slow_clients_under_1024_descriptors_stop_neither_feeds_nor_ingest(
    tmp_path: Path, half: bytes
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
            slow = _half_requests(port, SLOW_CLIENTS, half)
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
            # Every slow client is closed by the request deadline at the latest.
            time.sleep(REQUEST_SECONDS + 1)
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


# --- the same protocol in this process, with a small limit and deadline ---------------------------------


@contextmanager
def limited_site(tmp_path: Path, limit: int, seconds: float, slow: ASGIApp | None = None) -> Iterator[int]:
    """The published site and the subscription forms served with ``limited_protocol(limit, seconds)``
    (``slow`` mounted at ``/slow``); yield the port."""
    config = make_config(tmp_path)
    feed = config.paths.output / "feeds" / "all.atom"
    feed.parent.mkdir(parents=True)
    feed.write_text("<feed/>", encoding="utf-8")
    with Store.open(config.database_url) as store:
        forms = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"))
        routes = subscription_routes(forms) | ({"/slow": slow} if slow else {})
        app = create_app(config.paths.output, routes=routes)
        options = {"http": limited_protocol(limit, seconds), "timeout_keep_alive": KEEP_ALIVE_SECONDS}
        with serving(app, **options) as url:
            yield int(url.rsplit(":", 1)[1])


def _closed_by_server_after_answer(client: socket.socket) -> bool:
    """Whether the server closes ``client`` (within its timeout), whatever it answered first."""
    try:
        while client.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def _open(clients: list[socket.socket]) -> list[socket.socket]:
    """The ``clients`` the server has not closed, each looked at for a tenth of a second."""
    for client in clients:
        client.settimeout(0.1)
    return [client for client in clients if not _closed_by_server(client)]


def test_a_body_trickled_byte_by_byte_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    with limited_site(tmp_path, limit=16, seconds=1.0) as port:
        # The deadline runs from the server's accept, between these two: the bounds hold however
        # long this thread waited in between on a busy machine.
        connecting = time.monotonic()
        (client,) = _half_requests(port, 1, HALF_BODY)
        started = time.monotonic()
        try:
            while _open([client]) and time.monotonic() - started < 5:
                client.sendall(b"x")  # a byte every tenth of a second: never idle, never done
            cut, at_least = time.monotonic() - started, time.monotonic() - connecting
        finally:
            client.close()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/feeds/all.atom").status_code == 200
    assert at_least >= 0.9 and cut < 2.5, f"closed after {cut:.1f} s"


def test_clients_trickling_bodies_hold_no_more_connections_than_the_limit(tmp_path: Path) -> None:
    with limited_site(tmp_path, limit=8, seconds=60) as port:
        slow = _half_requests(port, 20, HALF_BODY)
        try:
            # The longest waiting made room for the newer ones: the limit holds without the deadline.
            # Waited for, not slept for: the server closes them as it accepts the newer ones, which a
            # busy machine can delay past a fixed pause (a 0.6 s pause of its event loop left 10 open).
            wait_for(lambda: len(_open(slow)) <= 8, 10, "the connections past the limit to be closed")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                assert http.get("/feeds/all.atom").status_code == 200
        finally:
            for client in slow:
                client.close()


def test_with_every_connection_answering_a_request_a_newcomer_is_closed(tmp_path: Path) -> None:
    release = threading.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        while not release.is_set():  # an answer that takes a while (a big search, say)
            await asyncio.sleep(0.01)
        await respond(send, HTTPStatus.OK, [], b"done\n")

    with limited_site(tmp_path, limit=4, seconds=60, slow=slow) as port:
        busy = _half_requests(port, 4, b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)
        newcomer = _half_requests(port, 1, b"")
        try:
            newcomer[0].settimeout(1)
            assert _closed_by_server(newcomer[0]), "a connection past the limit was kept open"
            release.set()
            for client in busy:
                assert client.makefile("rb").read().endswith(b"done\n")
        finally:
            release.set()
            for client in busy + newcomer:
                client.close()


def test_a_connection_answered_before_its_body_was_in_is_still_timed_out(tmp_path: Path) -> None:
    head = b"POST /subscribe HTTP/1.1\r\nHost: x\r\nOrigin: https://news.example\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20000\r\n\r\n"
    with limited_site(tmp_path, limit=16, seconds=1.0) as port:
        (client,) = _half_requests(port, 1, head + b"x" * 17000)
        try:
            assert client.recv(100).startswith(b"HTTP/1.1 413 ")  # past the forms' 16 KiB
            client.sendall(b"x" * 3000)  # the rest of the body, then nothing: an idle connection
            time.sleep(0.5)
            started = time.monotonic()
            client.settimeout(5)
            assert _closed_by_server_after_answer(client)
            assert time.monotonic() - started < 2.5
        finally:
            client.close()


def test_a_body_answered_early_is_read_away_only_up_to_the_bound(tmp_path: Path) -> None:
    """A 405 to a POST promising 64 MiB: uvicorn drops the body as it comes, and stops past the bound."""
    promised = 64 * 2**20
    head = f"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\nContent-Length: {promised}\r\n\r\n".encode()
    with limited_site(tmp_path, limit=16, seconds=30) as port:
        (client,) = _half_requests(port, 1, head)
        client.settimeout(10)
        sent = 0
        try:
            assert client.recv(100).startswith(b"HTTP/1.1 405 ")
            while sent < promised:
                client.sendall(b"x" * 2**16)
                sent += 2**16
        except OSError:
            pass  # closed by the server: a reset or a broken pipe
        finally:
            client.close()
    # The bound, plus what the kernel's buffers on both sides took in: far below what was promised.
    assert DRAIN_BYTES <= sent < promised // 4, f"{sent} bytes sent"


def test_a_head_and_a_whole_big_body_in_one_read_are_not_a_head_past_the_cap(tmp_path: Path) -> None:
    body = b"email=" + b"a" * (2 * MAX_HEAD_BYTES)
    head = b"POST /subscribe HTTP/1.1\r\nHost: x\r\nOrigin: https://news.example\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body)
    with limited_site(tmp_path, limit=16, seconds=5) as port:
        (client,) = _half_requests(port, 1, head + body)  # one send: the server reads it in one go
        client.settimeout(5)
        answer = client.makefile("rb").read()
        client.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"431" not in answer


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_head_past_the_cap_that_arrives_whole_in_one_read_is_refused_with_431(
    tmp_path: Path, method: str
) -> None:
    """A head of 40 KB, request and all in one send, so the server reads it in one go.  Before, a read
    that ended a request was never counted as head (only its body should not be), so such a head was
    served: 200 to a GET, the form handled for a POST."""
    body = b"email=reader%40example.org" if method == "POST" else b""
    head = f"{method} /subscribe HTTP/1.1\r\nHost: x\r\nOrigin: https://news.example\r\n".encode()
    head += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
    head += b"X-Big: " + b"a" * (MAX_HEAD_BYTES + 8000) + b"\r\nConnection: close\r\n\r\n"
    with limited_site(tmp_path, limit=16, seconds=5) as port:
        (client,) = _half_requests(port, 1, head + body)
        client.settimeout(5)
        answer = client.makefile("rb").read()
        client.close()
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # the app never answered it


def test_a_request_head_past_the_cap_is_refused_with_431_and_holds_nobody_up(tmp_path: Path) -> None:
    with (
        limited_site(tmp_path, limit=16, seconds=30) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        # Just under the cap, as a browser with many cookies sends: served.
        cookies = "; ".join(f"c{n}={'v' * 990}" for n in range(30))
        assert http.get("/feeds/all.atom", headers={"Cookie": cookies}).status_code == 200
        # Just past it, sent at once: refused before anything else is read (RFC 6585 §5).
        (client,) = _half_requests(
            port, 1, b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD_BYTES
        )
        client.settimeout(5)
        answer = client.makefile("rb").read()
        client.close()
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert answer.endswith(b"\r\n\r\nrequest header fields too large\n")
        # Tens of megabytes of header: the connection is cut early and other readers are served meanwhile.
        huge = socket.create_connection(("127.0.0.1", port), timeout=5)
        sent = [0]

        def flood() -> None:
            try:
                huge.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
                while sent[0] < 40 * 2**20:
                    huge.sendall(b"a" * 2**16)
                    sent[0] += 2**16
            except OSError:
                pass

        sender = threading.Thread(target=flood)
        sender.start()
        try:
            slowest = 0.0
            while sender.is_alive():
                started = time.monotonic()
                assert http.get("/feeds/all.atom").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
            sender.join()
        finally:
            huge.close()
    assert sent[0] < 40 * 2**20, "the whole head was read"
    assert slowest < 1, f"a feed request waited {slowest:.2f} s"
