"""An oversized form gets its 413 page, in words, whoever sends it: a script or a person in Chromium.

The forms take at most ``MAX_BODY`` (16 KiB).  Before, a bigger sign-up got no answer at all: a
body that arrived in the same read as its request head was counted as head by the connection
limits (``digest.web.limits``) and the connection was closed as a 431 without a word, and a body
still arriving after the 413 was answered ended in a stray 431 and a close while the client was
still sending, which the kernel turns into a reset (Chromium's "connection reset" page).  Now the
413 page goes out at once, the rest of the body is read away, at most ``DRAIN_BYTES``, and the
connection is closed; past that bound it is closed at once, so nobody can make the server read
for ever.

Everything runs against the site and the forms served the way ``digest serve`` serves them
(``digest.web.limits.server_options``), over loopback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from test_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)
from test_server import serving
from test_subscriptions import add_sections, make_config

from digest.mail.transports import OutboxMailer
from digest.store.database import Store
from digest.web.limits import server_options
from digest.web.server import create_app
from digest.web.subscriptions import MAX_BODY, create_subscription_app, subscription_routes

HEADING = "提交的内容太长"
SIZES = {"100KiB": 100 * 1024, "900KiB": 900 * 1024}
ENDLESS = 64 * 2**20  # what a script may promise, and try to send


@dataclass(frozen=True)
class Site:
    url: str
    port: int
    outbox: Path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The published site with the subscription forms, served as ``digest serve`` serves them."""
    config = make_config(tmp_path)
    outbox = tmp_path / "outbox"
    with Store.open(config.database_url) as store:
        add_sections(store)
        forms = create_subscription_app(config, store, lambda: OutboxMailer(outbox))
        app = create_app(config.paths.output, routes=subscription_routes(forms))
        with serving(app, **server_options()) as url:
            yield Site(url, int(url.rsplit(":", 1)[1]), outbox)


def _head(length: int | None, *, close: bool = False, path: str = "/subscribe") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: news.example\r\nOrigin: https://news.example\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    ).encode()


@dataclass
class _Upload:
    """A client sending a request from one thread while the test reads the answer in another."""

    client: socket.socket
    parts: Iterator[bytes]
    sent: int = 0
    error: OSError | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        try:
            for part in self.parts:
                self.client.sendall(part)
                self.sent += len(part)
        except OSError as exc:  # the server closed: a reset or a broken pipe
            self.error = exc

    def finished(self) -> None:
        self.thread.join(20)
        assert not self.thread.is_alive(), "the upload never ended"


def _answer(client: socket.socket) -> tuple[bytes, bytes]:
    """The head and the body of one response read from ``client`` (its ``Content-Length``)."""
    reader = client.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        assert line, f"the connection ended before the answer's head was in: {head!r}"
        head += line
    lines = head.lower().split(b"\r\n")
    (length,) = [line.split(b":")[1] for line in lines if line.startswith(b"content-length:")]
    return head, reader.read(int(length))


def _pieces(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b"email="
    left = total - len(b"email=")
    while left > 0:
        yield b"a" * min(size, left)
        left -= size


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_script_posting_an_oversized_form_gets_the_413_page_and_no_reset(
    site: Site, size: int, close: bool
) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as client:
        upload = _Upload(client, iter([_head(size, close=close), *_pieces(size)]))
        head, body = _answer(client)
        upload.finished()
        assert upload.error is None and upload.sent == len(_head(size, close=close)) + size
        rest = client.recv(65536)  # the server closes, having read the whole body: no reset, no stray bytes
    assert head.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert b"content-type: text/html; charset=utf-8\r\n" in head and b"connection: close\r\n" in head
    page = body.decode()
    assert f"<h1>{HEADING}</h1>" in page and f"{MAX_BODY // 1024} KB" in page
    assert rest == b""
    assert not site.outbox.exists()


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_httpx_posting_an_oversized_form_gets_the_413_page(site: Site, size: int) -> None:
    with httpx.Client(base_url=site.url, timeout=10) as client:
        answer = client.post("/subscribe", content=b"".join(_pieces(size)), headers=dict(_form_headers()))
        after = client.get("/subscribe")  # a new connection, the old one closed cleanly
    assert answer.status_code == 413 and HEADING in answer.text
    assert answer.headers["connection"] == "close"
    assert after.status_code == 200


def _form_headers() -> Iterator[tuple[str, str]]:
    yield "Origin", "https://news.example"
    yield "Content-Type", "application/x-www-form-urlencoded"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_past_the_drain_bound_is_not_read_to_its_end(site: Site, chunked: bool) -> None:
    """64 MiB promised (or streamed in chunks): the server stops reading long before, and closes."""
    pieces = _pieces(ENDLESS)
    if chunked:
        pieces = (b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as client:
        upload = _Upload(client, iter([_head(None if chunked else ENDLESS), *pieces]))
        upload.finished()
    assert upload.error is not None, "the server read all 64 MiB"
    # What the kernel's buffers take on both sides, besides the bounded read, stays far below 64 MiB.
    assert upload.sent < ENDLESS // 4


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_person_pasting_a_huge_text_sees_the_413_page_in_chromium(
    site: Site,
    browser: Browser,  # noqa: F811
    size: int,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(site.url + "/subscribe")
        # A valid-looking address (the field is type=email), as long as a pasted page of text.
        page.get_by_label("电子邮箱").fill("a" * size + "@example.org")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="订阅").click()
        page.wait_for_load_state()
        page.screenshot(path=ARTIFACTS / f"subscription-too-large-{size // 1024}KiB.png", full_page=True)
        assert posted.value.status == 413
        assert page.url == site.url + "/subscribe", "a network error page instead of ours"
        assert page.get_by_role("heading", name=HEADING).is_visible()
        assert "16 KB" in page.inner_text("main")
        page.get_by_role("link", name="返回表单").click()
        assert page.get_by_label("电子邮箱").is_visible()
    finally:
        context.close()
    assert not site.outbox.exists()
