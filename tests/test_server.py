"""The ASGI app served by a real uvicorn on loopback, asked by httpx and raw sockets."""

from __future__ import annotations

import functools
import gzip
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from digest.errors import ConfigError, StoreError
from digest.web import server
from digest.web.filecache import FileCache
from digest.web.http import ASGIApp, Receive, Scope, Send
from digest.web.server import create_app

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    + ("<title>要闻</title>".encode() * 40)
    + b"</feed>\n"
)
HUB = "https://hub.example/"


@contextmanager
def serving(app: ASGIApp, **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn (with ``options`` for ``uvicorn.Config``) on a free loopback port
    in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An output folder shaped like the publisher's, plus a secret just outside it."""
    root = tmp_path / "output"
    files = {
        "index.html": "<!doctype html><title>首页</title>".encode(),
        "feeds/all.atom": FEED,
        "feeds/archive/all/1.atom": FEED,
        "feeds.opml": b'<?xml version="1.0"?><opml version="2.0"/>',
        "sections/index.html": b"<p>sections</p>",
        "sections/yao-wen.html": b"<p>yao-wen</p>",
        "articles/2024-11-27/abc.html": "<h1>文章</h1>".encode(),
        "static/style.css": b"body { margin: 0 }",
        "issues/index.html": "<h1>往期</h1>".encode(),
        "issues/2024-11-27/index.html": "<h1>2024年11月27日</h1>".encode(),
        "digests/2024-11-27.html": "<h1>摘要</h1>".encode(),
        ".index.html.tmp": b"half written",
    }
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (root / "alias.css").symlink_to(root / "static" / "style.css")
    return root


@pytest.fixture(params=["settling", "keeping"])
def keeping(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test as files just written are served (read per request) and as older ones are (kept)."""
    if request.param == "keeping":
        monkeypatch.setattr(server, "FileCache", functools.partial(FileCache, settle_ns=0))
    return bool(request.param == "keeping")


@pytest.fixture
def base(site: Path, keeping: bool) -> Iterator[str]:
    with serving(create_app(site, hubs=(HUB,), base_url="https://news.example/")) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base) as http:
        yield http


def raw_get(base: str, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``target`` byte for byte (httpx would normalise dot segments); return status and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_sites_404_page_answers_unknown_paths_as_html(client: httpx.Client, site: Path) -> None:
    assert client.get("/nope.html").text == "找不到这个页面 (not found)\n"  # before a publish wrote one
    (site / "404.html").write_text("<h1>找不到这个页面</h1>", encoding="utf-8")
    for path in ("/nope.html", "/sections/nope", "/a/b/c/", "/feeds/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.text == "<h1>找不到这个页面</h1>"
    assert client.head("/nope.html").content == b""


def test_html_pages_forbid_scripts_and_framing_and_other_files_need_not(
    client: httpx.Client, site: Path
) -> None:
    """Published pages carry the policy of the pages made per request: hostile text that got past
    escaping would run nothing, and no other site can frame a page (clickjacking)."""
    (site / "404.html").write_text("<h1>找不到这个页面</h1>", encoding="utf-8")
    (site / "articles" / "2024-11-27" / "old.html.gone").write_text("<h1>已撤回</h1>", encoding="utf-8")
    pages = {"/": 200, "/articles/2024-11-27/abc.html": 200, "/nope.html": 404}
    pages["/articles/2024-11-27/old.html"] = 410
    for path, status in pages.items():
        for response in (client.get(path), client.head(path)):
            assert response.status_code == status, path
            policy = response.headers.get("content-security-policy", "")
            assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
            assert response.headers["x-frame-options"] == "DENY", path
            # Not no-referrer: the published sign-up form is checked by its Origin, which that nulls.
            assert "referrer-policy" not in response.headers, path
    for path in ("/feeds/all.atom", "/static/style.css"):
        assert "content-security-policy" not in client.get(path).headers, path
    assert "content-security-policy" in client.get("/", headers={"If-None-Match": "*"}).headers


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/sections/yao-wen", "/sections/yao-wen.html"),
        ("/sections/yao-wen/", "/sections/yao-wen.html"),
        ("/sections/yao-wen.html/", "/sections/yao-wen.html"),
        ("/digests/2024-11-27?from=mail", "/digests/2024-11-27.html?from=mail"),
        ("/issues/2024-11-27", "/issues/2024-11-27/"),
        ("/issues", "/issues/"),
        ("/articles/2024-11-27/abc", "/articles/2024-11-27/abc.html"),
    ],
)
def test_near_miss_urls_redirect_to_their_page(client: httpx.Client, path: str, location: str) -> None:
    response = client.get(path)
    assert response.status_code == 301
    assert response.headers["location"] == location
    assert client.get(location).status_code == 200


def test_a_near_miss_never_leads_outside_the_folder_or_to_a_notice(base: str, site: Path) -> None:
    (site / "articles/2024-11-27/old.html.gone").write_text("撤回", encoding="utf-8")
    for target in ("/leak", "/feeds/..%2f..%2fsecret", "//etc/passwd", "/articles/2024-11-27/old.html.gone/"):
        status, body = raw_get(base, target)
        assert status in (404, 410), target
        assert b"SECRET" not in body


# --- files and content types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "file"),
    [
        ("/", "text/html; charset=utf-8", "index.html"),
        ("/sections/", "text/html; charset=utf-8", "sections/index.html"),
        ("/sections/yao-wen.html", "text/html; charset=utf-8", "sections/yao-wen.html"),
        ("/articles/2024-11-27/abc.html", "text/html; charset=utf-8", "articles/2024-11-27/abc.html"),
        ("/feeds/all.atom", "application/atom+xml; charset=utf-8", "feeds/all.atom"),
        ("/feeds.opml", "text/x-opml; charset=utf-8", "feeds.opml"),
        ("/static/style.css", "text/css; charset=utf-8", "static/style.css"),
        ("/alias.css", "text/css; charset=utf-8", "static/style.css"),
    ],
)
def test_files_are_served_with_their_content_type(
    client: httpx.Client, site: Path, path: str, content_type: str, file: str
) -> None:
    response = client.get(path, headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (site / file).read_bytes()
    assert response.headers["content-length"] == str(len(response.content))


def test_folder_without_slash_redirects_and_missing_files_are_404(client: httpx.Client) -> None:
    response = client.get("/sections?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "/sections/?x=1"
    assert client.get("/feeds/").status_code == 404  # a folder without index.html
    assert client.get("/nope.html").status_code == 404


def test_cache_control_is_short_for_documents_and_immutable_for_archives(client: httpx.Client) -> None:
    assert client.get("/feeds/all.atom").headers["cache-control"] == "public, max-age=300"
    assert client.get("/").headers["cache-control"] == "public, max-age=300"
    archive = client.get("/feeds/archive/all/1.atom").headers["cache-control"]
    assert archive == "public, max-age=31536000, immutable"


def test_head_sends_the_get_headers_without_a_body(base: str, client: httpx.Client) -> None:
    for encoding in ("identity", "gzip"):
        got = client.get("/feeds/all.atom", headers={"accept-encoding": encoding})
        head = client.head("/feeds/all.atom", headers={"accept-encoding": encoding})
        assert head.status_code == 200
        assert head.content == b""
        for name in ("content-type", "content-length", "etag", "last-modified", "cache-control", "vary"):
            assert head.headers[name] == got.headers[name]
    status, body = raw_get(base, "/feeds/all.atom", method="HEAD")
    assert (status, body) == (200, b"")


# --- validators and 304 ------------------------------------------------------------------


def test_etag_is_strong_stable_and_follows_the_bytes(client: httpx.Client, site: Path) -> None:
    first = client.get("/feeds/all.atom", headers={"accept-encoding": "identity"})
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["last-modified"]
    # The publisher rewriting identical bytes (new inode, new mtime) keeps the validator.
    fresh = site / "feeds" / ".all.atom.new"
    fresh.write_bytes(FEED)
    os.utime(fresh, (time.time() + 100, time.time() + 100))
    os.replace(fresh, site / "feeds" / "all.atom")
    assert client.get("/feeds/all.atom", headers={"accept-encoding": "identity"}).headers["etag"] == etag
    (site / "feeds" / "all.atom").write_bytes(FEED + b"\n")
    changed = client.get("/feeds/all.atom", headers={"accept-encoding": "identity"})
    assert changed.headers["etag"] != etag
    assert changed.content == FEED + b"\n"


def test_if_none_match_gives_304_with_validators_and_no_body(client: httpx.Client) -> None:
    first = client.get("/feeds/all.atom", headers={"accept-encoding": "identity"})
    etag = first.headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get("/feeds/all.atom", headers={"if-none-match": value, "accept-encoding": "identity"})
        assert again.status_code == 304, value
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=300"
        assert again.headers["vary"] == "Accept, Accept-Encoding"  # browsers get Atom as XML
        assert "content-encoding" not in again.headers
    stale = client.get("/feeds/all.atom", headers={"if-none-match": '"stale"', "accept-encoding": "identity"})
    assert stale.status_code == 200
    assert stale.content == FEED


def test_a_kept_feed_replaced_with_the_same_size_and_mtime_is_served_new(
    client: httpx.Client, site: Path, keeping: bool
) -> None:
    target = site / "feeds" / "all.atom"
    first = client.get("/feeds/all.atom", headers={"accept-encoding": "gzip"})
    etag = first.headers["etag"]
    assert client.get("/feeds/all.atom", headers={"if-none-match": etag}).status_code == 304
    temp = site / "feeds" / ".all.atom.new"
    temp.write_bytes(FEED.replace(b"<title>", b"<TITLE>", 1))
    os.utime(temp, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns))
    os.replace(temp, target)
    again = client.get("/feeds/all.atom", headers={"if-none-match": etag, "accept-encoding": "gzip"})
    assert again.status_code == 200
    assert again.headers["etag"] != etag
    assert again.content == target.read_bytes()


def test_if_modified_since_gives_304_unless_if_none_match_disagrees(client: httpx.Client) -> None:
    first = client.get("/feeds/all.atom")
    modified = first.headers["last-modified"]
    assert client.get("/feeds/all.atom", headers={"if-modified-since": modified}).status_code == 304
    future = formatdate(time.time() + 3600, usegmt=True)
    assert client.get("/feeds/all.atom", headers={"if-modified-since": future}).status_code == 304
    past = formatdate(time.time() - 3600, usegmt=True)
    assert client.get("/feeds/all.atom", headers={"if-modified-since": past}).status_code == 200
    assert client.get("/feeds/all.atom", headers={"if-modified-since": "garbage"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2), in both directions.
    mismatch = {"if-none-match": '"stale"', "if-modified-since": future}
    assert client.get("/feeds/all.atom", headers=mismatch).status_code == 200
    match = {"if-none-match": first.headers["etag"], "if-modified-since": past}
    assert client.get("/feeds/all.atom", headers=match).status_code == 304


# --- gzip -------------------------------------------------------------------------------------


def test_gzip_variant_has_its_own_etag_and_decodes_to_the_file(base: str) -> None:
    with httpx.Client(base_url=base) as http:
        plain = http.get("/feeds/all.atom", headers={"accept-encoding": "identity"})
        with http.stream("GET", "/feeds/all.atom", headers={"accept-encoding": "gzip"}) as zipped:
            raw = b"".join(zipped.iter_raw())
            headers = zipped.headers
    assert "content-encoding" not in plain.headers
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == plain.headers["vary"] == "Accept, Accept-Encoding"
    assert gzip.decompress(raw) == FEED
    assert len(raw) < len(FEED)
    assert headers["content-length"] == str(len(raw))
    assert headers["etag"] == plain.headers["etag"][:-1] + '-gz"'


@pytest.mark.parametrize(
    ("accept", "zipped"),
    [
        ("gzip, deflate, br", True),
        ("*", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("identity", False),
        ("", False),
        ("gzip;q=bad", False),
    ],
)
def test_accept_encoding_decides_gzip(client: httpx.Client, accept: str, zipped: bool) -> None:
    response = client.get("/feeds/all.atom", headers={"accept-encoding": accept})
    assert (response.headers.get("content-encoding") == "gzip") is zipped
    assert response.content == FEED


def test_conditional_requests_compare_the_variant_sent(client: httpx.Client) -> None:
    zipped = client.get("/feeds/all.atom", headers={"accept-encoding": "gzip"}).headers["etag"]
    again = client.get("/feeds/all.atom", headers={"accept-encoding": "gzip", "if-none-match": zipped})
    assert again.status_code == 304
    assert again.headers["etag"] == zipped
    plain = client.get("/feeds/all.atom", headers={"accept-encoding": "identity", "if-none-match": zipped})
    assert plain.status_code == 200


# --- WebSub ---------------------------------------------------------------------------------


def test_feeds_announce_hub_and_self_on_200_and_304(client: httpx.Client) -> None:
    expected = [f'<{HUB}>; rel="hub"', '<https://news.example/feeds/all.atom>; rel="self"']
    first = client.get("/feeds/all.atom")
    assert first.headers.get_list("link") == expected
    again = client.get("/feeds/all.atom", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers.get_list("link") == expected
    assert "link" not in client.get("/").headers
    assert "link" not in client.get("/feeds/archive/all/1.atom").headers


def test_no_hub_links_without_hubs_and_self_from_the_request_without_base_url(site: Path) -> None:
    with serving(create_app(site)) as url, httpx.Client(base_url=url) as http:
        assert "link" not in http.get("/feeds/all.atom").headers
    with serving(create_app(site, hubs=(HUB,))) as url, httpx.Client(base_url=url) as http:
        links = http.get("/feeds/all.atom").headers.get_list("link")
        assert links[-1] == f'<{url}/feeds/all.atom>; rel="self"'


def test_hub_and_base_url_must_be_plain_urls(site: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.hubs"):
        create_app(site, hubs=("https://hub.example/\r\nSet-Cookie: x=1",))
    with pytest.raises(ConfigError, match=r"site\.base_url"):
        create_app(site, base_url="https://news.example/<x>")


# --- what must not be served -------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/feeds/../../secret.txt",
        "/feeds/%2e%2e/%2e%2e/secret.txt",
        "/feeds/..%2f..%2fsecret.txt",
        "/feeds/..%5c..%5csecret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/leak.txt",
        "/.index.html.tmp",
        "/feeds/./all.atom",
        "/feeds//all.atom",
        "/index.html%00.css",
        "/" + str(Path("/etc/passwd")),
    ],
)
def test_traversal_and_hidden_paths_are_404(base: str, target: str) -> None:
    status, body = raw_get(base, target)
    assert status == 404, target
    assert b"SECRET" not in body and b"root:" not in body


def test_a_fifo_in_the_folder_is_404_and_does_not_hang(client: httpx.Client, site: Path) -> None:
    os.mkfifo(site / "pipe.html")
    assert client.get("/pipe.html", timeout=5).status_code == 404


def test_an_http_1_1_request_needs_exactly_one_host(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")

    def status(head: bytes) -> int:
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(head + b"Connection: close\r\n\r\n")
            return int(conn.makefile("rb").readline().split()[1])

    assert status(b"GET /index.html HTTP/1.1\r\nHost: x\r\n") == 200
    assert status(b"GET /index.html HTTP/1.1\r\n") == 400  # RFC 9112 §3.2
    assert status(b"GET /index.html HTTP/1.1\r\nHost: x\r\nHost: y\r\n") == 400
    assert status(b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: x\r\n") == 400
    assert status(b"GET /index.html HTTP/1.0\r\n") == 200  # HTTP/1.0 had no Host to send
    assert status(b"GET /index.html HTTP/1.0\r\nHost: x\r\nHost: y\r\n") == 400


def test_only_get_and_head_are_allowed(base: str, client: httpx.Client) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        response = client.request(method, "/index.html")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, HEAD"
    assert raw_get(base, "/healthz", method="POST")[0] == 405


def test_feeds_answer_cors_preflights_and_expose_their_validators(client: httpx.Client) -> None:
    """What a browser-based reader's conditional poll (If-None-Match) from its own origin needs."""
    asks = {
        "Origin": "https://reader.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match",
    }
    for path in ("/feeds/all.atom", "/feeds/archive/all/1.atom", "/feeds.opml"):
        preflight = client.options(path, headers=asks)
        assert preflight.status_code == 204 and preflight.content == b"", path
        assert "content-length" not in preflight.headers  # RFC 9110 §8.6: never on a 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert preflight.headers["access-control-allow-methods"] == "GET, HEAD"
        assert preflight.headers["access-control-allow-headers"] == "If-None-Match, If-Modified-Since"
        assert preflight.headers["allow"] == "GET, HEAD, OPTIONS"
        answer = client.get(path, headers={"Origin": "https://reader.example"})
        assert answer.headers["access-control-expose-headers"] == "ETag, Last-Modified", path
        again = client.get(path, headers={"If-None-Match": answer.headers["etag"]})
        assert (
            again.status_code == 304
            and again.headers["access-control-expose-headers"] == "ETag, Last-Modified"
        )
    assert client.post("/feeds/all.atom").headers["allow"] == "GET, HEAD, OPTIONS"
    # Only feeds are for other origins: a page answers neither preflights nor with CORS headers.
    page = client.options("/index.html", headers=asks)
    assert page.status_code == 405 and "access-control-allow-origin" not in page.headers
    assert "access-control-expose-headers" not in client.get("/index.html").headers


# --- health and extra routes ------------------------------------------------------------------


def test_healthz_defaults_to_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"status": "ok"}


def test_healthz_reports_the_callable_and_503_when_it_fails(site: Path) -> None:
    report = {"status": "ok", "articles": 12, "last_publish": "2024-11-27T07:00:00+08:00", "名": "值"}
    failing = True
    problem = "database sqlite:///x is locked; stop the other process"

    def health() -> Mapping[str, object]:
        if failing:
            raise StoreError(problem)
        return report

    with serving(create_app(site, health=health)) as url, httpx.Client(base_url=url) as http:
        down = http.get("/healthz?details")
        assert down.status_code == 503
        assert down.json() == {"status": "error", "error": str(StoreError(problem))}
        assert http.get("/healthz").json() == {"status": "error"}
        failing = False
        up = http.get("/healthz?details")
        assert up.status_code == 200
        assert json.loads(up.content.decode()) == report
        assert http.get("/healthz").json() == {"status": "ok"}  # anyone may ask; only the status


def test_healthz_details_need_a_direct_loopback_request_or_the_token(site: Path) -> None:
    report = {"status": "degraded", "pid": 4242, "errors": ["publish: disk full"]}
    token = "a-health-token-of-some-length"
    with (
        serving(create_app(site, health=lambda: report, health_token=token)) as url,
        httpx.Client(base_url=url) as http,
    ):
        assert http.get("/healthz").json() == {"status": "degraded"}
        assert http.get("/healthz?details").json() == report  # this test runs on the machine itself
        # Behind a proxy every request comes from loopback: the proxy's header says it is not local.
        proxied = http.get("/healthz?details", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 401 and proxied.headers["www-authenticate"].startswith("Bearer")
        assert "4242" not in proxied.text
        wrong = {"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer guess"}
        assert http.get("/healthz?details", headers=wrong).status_code == 401
        right = {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {token}"}
        assert http.get("/healthz?details", headers=right).json() == report


def test_routes_receive_their_path_or_what_is_below_their_prefix_with_any_method(site: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def forms(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"queued"})

    app = create_app(site, routes={"/subscribe": forms, "/confirm/": forms})
    with serving(app) as url, httpx.Client(base_url=url) as http:
        assert http.post("/subscribe").status_code == 202
        assert http.post("/confirm/abc").text == "queued"
        assert http.post("/subscriber").status_code == 405
        # Near misses are no route's, so a proxy's limit on the exact path (nginx's
        # location = /search) cannot be walked around by adding to it.
        assert http.post("/subscribe/").status_code == 405
        for near in ("/subscribe/x", "/subscribe/confirm/abc", "/confirm"):
            assert http.get(near).status_code == 404, near
        # A slash too many leads to the route, like any page's (one cacheable hop).
        slash = http.get("/subscribe/?utm_source=x")
        assert slash.status_code == 301 and slash.headers["location"] == "/subscribe?utm_source=x"
    assert seen == [("POST", "/subscribe"), ("POST", "/confirm/abc")]


# --- files replaced while serving ------------------------------------------------------------


def test_files_replaced_under_load_are_never_torn(client: httpx.Client, site: Path) -> None:
    versions = [FEED, FEED.replace(b"</feed>", b"<id>x</id>" * 5000 + b"</feed>")]
    target = site / "feeds" / "all.atom"
    stop = threading.Event()

    def publish() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            temp = site / "feeds" / f".all.atom.{turn}"
            temp.write_bytes(versions[turn % 2])
            os.replace(temp, target)
            time.sleep(0.001)  # let the server's threads run between replacements

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        seen: dict[bytes, set[str]] = {}
        for _ in range(50):
            response = client.get("/feeds/all.atom", headers={"accept-encoding": "identity"})
            assert response.content in versions
            seen.setdefault(response.content, set()).add(response.headers["etag"])
    finally:
        stop.set()
        publisher.join()
    # Each version always came with one and the same ETag, and the two never shared one.
    assert all(len(etags) == 1 for etags in seen.values())
    assert len({etag for etags in seen.values() for etag in etags}) == len(seen)
