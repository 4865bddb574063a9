"""The ASGI app: serves the published output folder to browsers and feed readers.

Feed readers poll, so every file answers conditional requests (RFC 9110
§13): a strong ETag from the bytes themselves (it stays put while the
publisher rewrites nothing, whatever the mtime does), Last-Modified, and 304
with ETag and Cache-Control but no body.  Bodies are gzipped when the client
allows it; the gzip variant gets its own ETag (``"<hash>-gz"``) because its
bytes differ (RFC 9110 §8.8.3).

Files are opened per request: the publisher replaces them with ``os.replace``
while we serve, and reading bytes and metadata from one open descriptor means
a response is always one whole version of a file, never a mix of two.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any

from digest.errors import ConfigError, DigestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

HEALTH_PATH = "/healthz"
_READ_METHODS = ("GET", "HEAD")
_ALLOW = b"GET, HEAD"
# Content types we publish, with whether gzip pays off for them.
_TYPES: dict[str, tuple[str, bool]] = {
    ".atom": ("application/atom+xml; charset=utf-8", True),
    ".opml": ("text/x-opml; charset=utf-8", True),
    ".html": ("text/html; charset=utf-8", True),
    ".css": ("text/css; charset=utf-8", True),
    ".js": ("text/javascript; charset=utf-8", True),
    ".json": ("application/json", True),
    ".xml": ("application/xml; charset=utf-8", True),
    ".txt": ("text/plain; charset=utf-8", True),
    ".svg": ("image/svg+xml", True),
    ".png": ("image/png", False),
    ".jpg": ("image/jpeg", False),
    ".ico": ("image/x-icon", False),
    ".woff2": ("font/woff2", False),
}
_DEFAULT_TYPE = ("application/octet-stream", False)
_FRESH = b"public, max-age=300"
# RFC 5005 archive documents never change once full; the one still filling is named open.atom.
_IMMUTABLE = b"public, max-age=31536000, immutable"
_ARCHIVE_PREFIX = "/feeds/archive/"
_OPEN_ARCHIVE = "/open.atom"
_ETAG = re.compile(r'(?:W/)?"([^"]*)"')
_GZIP_CACHE_ENTRIES = 64


@dataclass(frozen=True)
class _File:
    """One consistent version of a file: bytes and the metadata of the same open descriptor."""

    body: bytes
    digest: str  # content hash, the base of the ETag
    mtime: float


class _Directory:
    """Marker: the path names a folder, so the client should add a trailing slash."""


_DIRECTORY = _Directory()


def create_app(
    output_dir: Path,
    *,
    health: Callable[[], Mapping[str, object]] | None = None,
    hubs: Sequence[str] = (),
    base_url: str = "",
    routes: Mapping[str, ASGIApp] | None = None,
) -> ASGIApp:
    """An ASGI app serving ``output_dir``, ``/healthz``, and any extra ``routes``.

    ``hubs`` are WebSub hubs announced on feed responses together with the
    feed's own URL under ``base_url`` (taken from the request when empty).
    ``routes`` maps a path prefix (``/subscribe``) to another ASGI app that
    handles that path and everything below it, with any method.
    """
    for value, key in [*((hub, "feeds.hubs") for hub in hubs), (base_url, "site.base_url")]:
        if re.search(r"[\x00-\x20<>\x7f]", value):
            raise ConfigError(key, f"{value!r} is not a plain URL", "remove spaces, line breaks and <>")
    return _App(output_dir, health, tuple(hubs), base_url.rstrip("/"), dict(routes or {}))


class _App:
    def __init__(
        self,
        output_dir: Path,
        health: Callable[[], Mapping[str, object]] | None,
        hubs: tuple[str, ...],
        base_url: str,
        routes: dict[str, ASGIApp],
    ) -> None:
        self._root = output_dir
        self._health = health
        self._hubs = hubs
        self._base_url = base_url
        self._routes = routes
        self._gzipped = _GzipCache(_GZIP_CACHE_ENTRIES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported ASGI scope type {scope['type']!r}")
        path: str = scope["path"]
        for prefix, app in self._routes.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                await app(scope, receive, send)
                return
        method: str = scope["method"]
        if method not in _READ_METHODS:
            await _respond(send, HTTPStatus.METHOD_NOT_ALLOWED, [(b"allow", _ALLOW)], b"method not allowed\n")
        elif path == HEALTH_PATH:
            await self._serve_health(send, head=method == "HEAD")
        else:
            await self._serve_file(scope, send, path, head=method == "HEAD")

    async def _serve_health(self, send: Send, *, head: bool) -> None:
        status = HTTPStatus.OK
        try:
            report = await asyncio.to_thread(self._health) if self._health else {"status": "ok"}
        except DigestError as exc:
            status, report = HTTPStatus.SERVICE_UNAVAILABLE, {"status": "error", "error": str(exc)}
        body = json.dumps(report, ensure_ascii=False, default=str, sort_keys=True).encode()
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        await _respond(send, status, headers, body, head=head)

    async def _serve_file(self, scope: Scope, send: Send, path: str, *, head: bool) -> None:
        target = _locate(self._root, path)
        found = await asyncio.to_thread(_read, target) if target else None
        if found is _DIRECTORY:
            query = scope.get("query_string", b"")
            location = path.encode() + b"/" + (b"?" + query if query else b"")
            await _respond(send, HTTPStatus.MOVED_PERMANENTLY, [(b"location", location)], b"")
            return
        if not isinstance(found, _File):
            await _respond(send, HTTPStatus.NOT_FOUND, [], b"not found\n", head=head)
            return
        request = _request_headers(scope)
        name = path + "index.html" if path.endswith("/") else path
        content_type, compressible = _TYPES.get(PurePosixPath(name).suffix.lower(), _DEFAULT_TYPE)
        body, etag = found.body, found.digest
        headers: Headers = [(b"content-type", content_type.encode())]
        if compressible:
            headers.append((b"vary", b"Accept-Encoding"))
            if _accepts_gzip(request.get("accept-encoding", "")):
                body = await asyncio.to_thread(self._gzipped.get, found)
                etag += "-gz"
                headers.append((b"content-encoding", b"gzip"))
        headers += [
            (b"etag", f'"{etag}"'.encode()),
            (b"last-modified", formatdate(found.mtime, usegmt=True).encode()),
            (b"cache-control", _IMMUTABLE if _is_full_archive(path) else _FRESH),
        ]
        if path.endswith(".atom") and self._hubs and not path.startswith(_ARCHIVE_PREFIX):
            headers += self._websub_links(scope, path)
        if _not_modified(request, etag, found.mtime):
            # RFC 9110 §15.4.5: a 304 repeats the validators and caching headers, without a body.
            kept = [(k, v) for k, v in headers if k not in (b"content-type", b"content-encoding")]
            await _respond(send, HTTPStatus.NOT_MODIFIED, kept, b"", head=True, length=False)
            return
        await _respond(send, HTTPStatus.OK, headers, body, head=head)

    def _websub_links(self, scope: Scope, path: str) -> Headers:
        base = self._base_url or _request_origin(scope)
        links = [f'<{hub}>; rel="hub"' for hub in self._hubs] + [f'<{base}{path}>; rel="self"']
        return [(b"link", link.encode()) for link in links]


def _is_full_archive(path: str) -> bool:
    """A full RFC 5005 archive page, which can be cached forever (``feeds.Layout``)."""
    return path.startswith(_ARCHIVE_PREFIX) and not path.endswith(_OPEN_ARCHIVE)


class _GzipCache:
    """Recently gzipped bodies by content hash: compressing a large feed on every poll is waste."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, file: _File) -> bytes:
        with self._lock:
            if file.digest in self._entries:
                self._entries.move_to_end(file.digest)
                return self._entries[file.digest]
        # mtime=0 keeps the gzip bytes (and so the ETag's promise) identical on every build.
        compressed = gzip.compress(file.body, compresslevel=6, mtime=0)
        with self._lock:
            self._entries[file.digest] = compressed
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compressed


def _locate(root: Path, path: str) -> Path | None:
    """The file a URL path names inside ``root``, or ``None`` when it may not be served.

    Refuses empty, dot and dot-dot segments (``%2e%2e`` arrives decoded), hidden
    names (the publisher's temporary files start with a dot), backslashes and
    NULs, and anything whose real path, symlinks followed, leaves ``root``.
    """
    segments = path.split("/")
    if segments[0] != "":
        return None
    segments = segments[1:]
    if segments[-1] == "":
        segments[-1] = "index.html"
    if any(not s or s.startswith(".") or "\\" in s or "\x00" in s for s in segments):
        return None
    real_root = root.resolve()
    target = real_root.joinpath(*segments).resolve()
    return target if target.is_relative_to(real_root) and target != real_root else None


def _read(target: Path) -> _File | _Directory | None:
    """Read ``target`` whole from one descriptor; ``None`` when it is missing or not a plain file."""
    try:
        # O_NONBLOCK: opening a FIFO someone left in the folder must not hang a worker.
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return _DIRECTORY if (target / "index.html").is_file() else None
        if not stat.S_ISREG(info.st_mode):
            return None
        with open(fd, "rb", closefd=False) as handle:
            body = handle.read()
    finally:
        os.close(fd)
    return _File(body=body, digest=hashlib.blake2b(body, digest_size=12).hexdigest(), mtime=info.st_mtime)


def _request_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _request_origin(scope: Scope) -> str:
    host = _request_headers(scope).get("host") or "{}:{}".format(*scope["server"])
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3), ``q=0`` meaning "not this"."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([^\s;,]*)", params)
        if match:
            try:
                quality = float(match[1])
            except ValueError:
                quality = 0.0
        weights[name.strip().lower()] = quality
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _not_modified(request: Mapping[str, str], etag: str, mtime: float) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison, as §13.1.2 asks for If-None-Match.
        return if_none_match.strip() == "*" or etag in _ETAG.findall(if_none_match)
    if_modified_since = request.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:  # "-0000": HTTP dates are UTC anyway (RFC 9110 §5.6.7)
            since = since.replace(tzinfo=UTC)
        # HTTP dates have whole seconds, so the file's own time is truncated to match.
        return int(mtime) <= since.timestamp()
    return False


async def _respond(
    send: Send,
    status: HTTPStatus,
    headers: Headers,
    body: bytes,
    *,
    head: bool = False,
    length: bool = True,
) -> None:
    extra: Headers = [(b"x-content-type-options", b"nosniff")]
    if body and not any(name == b"content-type" for name, _ in headers):
        extra.append((b"content-type", b"text/plain; charset=utf-8"))
    if length:
        extra.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": int(status), "headers": headers + extra})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
