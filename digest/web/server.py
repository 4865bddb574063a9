"""The ASGI app: serves the published output folder to browsers and feed readers.

Feed readers poll, so every file answers conditional requests (RFC 9110
§13): a strong ETag from the bytes themselves (it stays put while the
publisher rewrites nothing, whatever the mtime does), Last-Modified, and 304
with ETag and Cache-Control but no body.  Bodies are gzipped when the client
allows it; the gzip variant gets its own ETag (``"<hash>-gz"``) because its
bytes differ (RFC 9110 §8.8.3).  What a path's response is and what a request's headers ask for
are worked out in ``digest.web.negotiation``.

Files are read once and kept in memory (``digest.web.filecache``) while a
``stat`` shows they are unchanged, so answering a poll costs a ``stat``; a
file is read from one open descriptor, so a response is always one whole
version of a file, never a mix of two, even while the publisher replaces it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path

from digest.chars import URL_UNSAFE
from digest.errors import ConfigError, DigestError
from digest.language import DEFAULT_LANGUAGE, fixed_words
from digest.publish.layout import GONE_SUFFIX, NOT_FOUND
from digest.publish.moved import moved_location
from digest.web.filecache import DIRECTORY, Directory, FileCache, FileVersion
from digest.web.hosts import HostNames, Refusals, misdirected_page
from digest.web.http import (
    ASGIApp,
    Headers,
    Receive,
    Scope,
    Send,
    lifespan,
    query_fields,
    refuse_method,
    respond,
)
from digest.web.negotiation import (
    ATOM_FOR_BROWSERS,
    FRESH,
    accepts_gzip,
    http_date,
    kind_of,
    not_modified,
    prefers_html,
)

# While ``digest serve`` starts (``digest.service.startup``), /healthz says this, and a client asking for
# a page not published yet is asked to come back after this many seconds (RFC 9110 §10.2.3).
HEALTH_STATUS = "starting"
RETRY_AFTER_SECONDS = 5

HEALTH_PATH = "/healthz"
_LOOPBACK = frozenset(("127.0.0.1", "::1"))
_READ_METHODS = ("GET", "HEAD")
_ALLOW = b"GET, HEAD"
# Feeds also answer CORS preflights: a browser-based reader polling with If-None-Match (not a
# CORS-safelisted header) asks first (Fetch standard, "CORS-preflight fetch").
_FEED_ALLOW = b"GET, HEAD, OPTIONS"
_PREFLIGHT = [
    (b"allow", _FEED_ALLOW),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", _ALLOW),
    (b"access-control-allow-headers", b"If-None-Match, If-Modified-Since"),
    (b"access-control-max-age", b"86400"),  # browsers keep it less (Chromium 2 hours); fewer preflights
]
# So such a reader can see the validators it sends back (ETag is not CORS-safelisted).
_EXPOSE = (b"access-control-expose-headers", b"ETag, Last-Modified")
# Only these request headers matter here; the rest are not even decoded.
_WANTED = frozenset((b"accept", b"accept-encoding", b"if-none-match", b"if-modified-since", b"host"))
# What a page not published yet (or a form) answers while ``digest serve`` starts
# (``digest.service.startup``).
# ``{lang}`` is site.language, a tag ``digest check`` allows only letters, digits and hyphens in.
_STARTING_PAGE = (
    '<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f'<meta http-equiv="refresh" content="{RETRY_AFTER_SECONDS}"><title>正在启动</title></head>\n'
    "<body><h1>正在启动</h1><p>服务正在启动，正在整理报纸内容，请稍候片刻再刷新本页。</p></body></html>\n"
)
_RETRY_AFTER = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())


def create_app(
    output_dir: Path,
    *,
    health: Callable[[], Mapping[str, object]] | None = None,
    hubs: Sequence[str] = (),
    base_url: str = "",
    routes: Mapping[str, ASGIApp] | None = None,
    health_token: str = "",
    starting: Callable[[], bool] | None = None,
    hosts: HostNames | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> ASGIApp:
    """An ASGI app serving ``output_dir``, ``/healthz``, and any extra ``routes``.

    ``hubs`` are WebSub hubs announced on feed responses together with the
    feed's own URL under ``base_url`` (taken from the request when empty).
    ``/healthz`` tells anyone the status; ``/healthz?details`` the whole
    report, to a direct loopback client or one sending ``health_token``.
    ``routes`` maps a path (``/search``) to another ASGI app that handles
    exactly that path, or a prefix ending in ``/`` (``/confirm/``) to one that
    handles every path below it, with any method; a near miss (``/search/x``)
    is no route's (``/search/`` leads to ``/search``), so a proxy's limits on
    the exact path cannot be walked around.  While
    ``starting()`` is true (``digest.service.startup``) the routes and files not
    published yet answer 503 with a "starting" page and ``Retry-After``.
    With ``hosts``, a request naming another host in ``Host`` gets 421, but for the bare
    ``/healthz`` (``digest.web.hosts``: DNS rebinding); None answers any.  The pages the app
    draws itself (the "starting" page, the 421) are in ``language`` (``site.language``).
    """
    for value, key in [*((hub, "feeds.hubs") for hub in hubs), (base_url, "site.base_url")]:
        if URL_UNSAFE.search(value):
            raise ConfigError(key, f"{value!r} is not a plain URL", "remove spaces, line breaks and <>")
    hosts = hosts or HostNames(frozenset(), anything=True)
    base = base_url.rstrip("/")
    app = _App(output_dir, health, tuple(hubs), base, dict(routes or {}), health_token, hosts, language)
    if starting is not None:
        app.starting = starting
    return app


class _App:
    def __init__(
        self,
        output_dir: Path,
        health: Callable[[], Mapping[str, object]] | None,
        hubs: tuple[str, ...],
        base_url: str,
        routes: dict[str, ASGIApp],
        health_token: str,
        hosts: HostNames,
        language: str,
    ) -> None:
        self._root = output_dir
        self._health_token = health_token
        self._health = health
        self._hubs = hubs
        self._base_url = base_url
        self._exact = {path: app for path, app in routes.items() if not path.endswith("/")}
        self._below = [(prefix, app) for prefix, app in routes.items() if prefix.endswith("/")]
        self._files = FileCache(output_dir)
        self.starting: Callable[[], bool] = lambda: False
        # The pages this app draws itself ("starting", 421) speak site.language, their words too.
        self._language = language
        self._starting_page = fixed_words(_STARTING_PAGE, language).replace("{lang}", language).encode()
        self._hosts = hosts
        self._refusals = Refusals(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported ASGI scope type {scope['type']!r}")
        named = [value for name, value in scope["headers"] if name == b"host"]
        if len(named) > 1 or (not named and scope["http_version"] == "1.1"):
            # RFC 9112 §3.2: an HTTP/1.1 request names exactly one host (servers MUST answer 400).
            await respond(send, HTTPStatus.BAD_REQUEST, [], b"bad request: send exactly one Host header\n")
            return
        path: str = scope["path"]
        host = named[0].decode("latin-1") if named else None
        if not self._hosts.admit(host) and not (path == HEALTH_PATH and not _asks_details(scope)):
            await self._misdirected(scope, send, host or "")
            return
        route = self._exact.get(path) or next(
            (app for prefix, app in self._below if path.startswith(prefix)), None
        )
        if route is not None:
            # Forms, search and metrics need the store, which may not be migrated yet.
            await (_starting(send, self._starting_page) if self.starting() else route(scope, receive, send))
            return
        method: str = scope["method"]
        if method not in _READ_METHODS:
            feed = kind_of(path).feed
            if method == "OPTIONS" and feed:
                # RFC 9110 §15.3.5: no Content-Length on a 204.
                await respond(send, HTTPStatus.NO_CONTENT, list(_PREFLIGHT), b"", length=False)
                return
            await refuse_method(send, _FEED_ALLOW if feed else _ALLOW)
        elif path == HEALTH_PATH:
            await self._serve_health(scope, send, head=method == "HEAD")
        else:
            await self._serve_file(scope, send, path, head=method == "HEAD")

    async def _misdirected(self, scope: Scope, send: Send, host: str) -> None:
        """421 for a request naming a host not ours (RFC 9110 §15.5.20), logged once per name."""
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + ("?" + query if query else "")
        self._refusals.note(host, target, (scope.get("client") or ("unknown", 0))[0])
        body = misdirected_page(host, scope.get("scheme", "http"), self._language)
        headers = [(b"cache-control", b"no-store"), (b"content-type", b"text/html; charset=utf-8")]
        await respond(send, HTTPStatus.MISDIRECTED_REQUEST, headers, body)

    async def _serve_health(self, scope: Scope, send: Send, *, head: bool) -> None:
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        details = _asks_details(scope)
        if details and not self._may_see_details(scope):
            body = b'{"error": "details need a direct loopback request or the health.token bearer token"}'
            challenge = [(b"www-authenticate", b'Bearer realm="healthz"')]
            await respond(send, HTTPStatus.UNAUTHORIZED, headers + challenge, body, head=head)
            return
        status = HTTPStatus.OK
        try:
            report = await asyncio.to_thread(self._health) if self._health else {"status": "ok"}
        except DigestError as exc:
            status, report = HTTPStatus.SERVICE_UNAVAILABLE, {"status": "error", "error": str(exc)}
        if report["status"] == HEALTH_STATUS:
            # Not ready yet: health checks (Docker, load balancers) wait; RFC 9110 §15.6.4.
            status = HTTPStatus.SERVICE_UNAVAILABLE
            headers.append(_RETRY_AFTER)
        # The details name the pid, counts and errors (file paths): only for the operator.
        shown = report if details else {"status": report["status"]}
        body = json.dumps(shown, ensure_ascii=False, default=str, sort_keys=True).encode()
        await respond(send, status, headers, body, head=head)

    def _may_see_details(self, scope: Scope) -> bool:
        """A loopback client that no proxy speaks for, or the bearer of ``health.token``."""
        headers = {name.lower(): value for name, value in scope["headers"]}
        if self._health_token:
            given = headers.get(b"authorization", b"").decode("latin-1")
            if hmac.compare_digest(given.encode(), f"Bearer {self._health_token}".encode()):
                return True
        client = (scope.get("client") or ("", 0))[0]
        proxied = b"x-forwarded-for" in headers or b"forwarded" in headers
        return client in _LOOPBACK and not proxied

    async def _find(self, path: str) -> FileVersion | Directory | None:
        # A kept version checked by one stat answers on the event loop; only a read needs a thread.
        found: FileVersion | Directory | None = self._files.get(path)
        if found is None:
            found = await asyncio.to_thread(self._files.load, path)
        return found

    async def _serve_file(self, scope: Scope, send: Send, path: str, *, head: bool) -> None:
        # A withdrawal notice is only ever served in place of the page it stands for.
        found = None if path.endswith(GONE_SUFFIX) else await self._find(path)
        if found is DIRECTORY:
            query = scope.get("query_string", b"")
            location = path.encode() + b"/" + (b"?" + query if query else b"")
            await respond(send, HTTPStatus.MOVED_PERMANENTLY, [(b"location", location)], b"")
            return
        if not isinstance(found, FileVersion):
            gone = None if path.endswith(GONE_SUFFIX) else await self._find(path + GONE_SUFFIX)
            if isinstance(gone, FileVersion):
                # RFC 9110 §15.5.11: withdrawn on purpose and for good; readers should drop the link.
                kind = kind_of(path)
                notice = [(b"content-type", kind.content_type), (b"cache-control", FRESH), *kind.policy]
                await respond(send, HTTPStatus.GONE, notice, gone.body, head=head)
                return
            if self.starting():
                await _starting(send, self._starting_page, head=head)
                return
            moved = await self._page_for(path)
            if moved:
                # A URL typed without its .html, or with a slash too many: lead to the page itself.
                query = scope.get("query_string", b"")
                location = moved.encode() + (b"?" + query if query else b"")
                await respond(send, HTTPStatus.MOVED_PERMANENTLY, [(b"location", location)], b"")
                return
            await self._not_found(send, head=head)
            return
        kind = kind_of(path)
        heir = moved_location(found.body) if kind.article else None
        if heir is not None:
            # A re-read merged this article into another (``publish.moved``): RFC 9110 §15.4.2, so
            # browsers, crawlers and shared links go on to it.  Not cached for good: a later re-read
            # may bring the article back.
            onward = [(b"location", heir.encode()), (b"cache-control", FRESH)]
            await respond(send, HTTPStatus.MOVED_PERMANENTLY, onward, b"", head=head)
            return
        request = _request_headers(scope)
        zipped = kind.compressible and accepts_gzip(request.get("accept-encoding", ""))
        etag = found.digest + "-gz" if zipped else found.digest
        content_type = kind.content_type
        if kind.atom and prefers_html(request.get("accept", "")):
            content_type = ATOM_FOR_BROWSERS
        headers: Headers = [(b"content-type", content_type), *kind.policy]
        if kind.atom:
            headers.append((b"vary", b"Accept, Accept-Encoding"))
        elif kind.compressible:
            headers.append((b"vary", b"Accept-Encoding"))
        if kind.feed:
            # Browser-based readers fetch feeds from their own origin; feeds are public anyway.
            headers += [(b"access-control-allow-origin", b"*"), _EXPOSE]
        if zipped:
            headers.append((b"content-encoding", b"gzip"))
        headers += [
            (b"etag", f'"{etag}"'.encode()),
            (b"last-modified", http_date(found.mtime)),
            (b"cache-control", kind.cache_control),
        ]
        if kind.live_feed and self._hubs:
            headers += self._websub_links(scope, request, path)
        if not_modified(request, etag, found.mtime):
            # RFC 9110 §15.4.5: a 304 repeats the validators and caching headers, without a body.
            kept = [(k, v) for k, v in headers if k not in (b"content-type", b"content-encoding")]
            await respond(send, HTTPStatus.NOT_MODIFIED, kept, b"", head=True, length=False)
            return
        body = found.body
        if zipped:
            kept_gzip = self._files.gzipped(path, found)
            if kept_gzip is None:
                kept_gzip = await asyncio.to_thread(self._files.compress, path, found)
            body = kept_gzip
        await respond(send, HTTPStatus.OK, headers, body, head=head)

    async def _page_for(self, path: str) -> str:
        """The page a near miss means ("" for none): ``/sections/x`` and ``/sections/x/`` are
        ``/sections/x.html``, ``/sections/x.html/`` is ``/sections/x.html``, ``/search/`` is the
        route ``/search``."""
        bare = path.rstrip("/")
        if not bare or bare.endswith(GONE_SUFFIX):
            return ""
        if bare != path and bare in self._exact:  # /search/ is /search
            return bare
        candidates = [bare] if bare != path else []
        if not os.path.splitext(bare.rsplit("/", 1)[-1])[1]:
            candidates.append(bare + ".html")
        for candidate in candidates:
            if isinstance(await self._find(candidate), FileVersion):
                return candidate
        return ""

    async def _not_found(self, send: Send, *, head: bool) -> None:
        """404 with the site's own page (``404.html``, in Chinese, with its navigation) when published."""
        page = await self._find("/" + NOT_FOUND)
        if isinstance(page, FileVersion):
            kind = kind_of("/" + NOT_FOUND)
            headers = [(b"content-type", kind.content_type), (b"cache-control", FRESH), *kind.policy]
            await respond(send, HTTPStatus.NOT_FOUND, headers, page.body, head=head)
        else:
            await respond(send, HTTPStatus.NOT_FOUND, [], "找不到这个页面 (not found)\n".encode(), head=head)

    def _websub_links(self, scope: Scope, request: Mapping[str, str], path: str) -> Headers:
        base = self._base_url or _request_origin(scope, request)
        links = [f'<{hub}>; rel="hub"' for hub in self._hubs] + [f'<{base}{path}>; rel="self"']
        return [(b"link", link.encode()) for link in links]


def _request_headers(scope: Scope) -> dict[str, str]:
    """The request headers this app reads (a repeated one joined with commas, RFC 9110 §5.3)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        lowered = raw_name.lower()  # ASGI servers send lower case already; this costs little
        if lowered in _WANTED:
            name, value = lowered.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _request_origin(scope: Scope, request: Mapping[str, str]) -> str:
    host = request.get("host") or "{}:{}".format(*scope["server"])
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def _asks_details(scope: Scope) -> bool:
    """Whether a ``/healthz`` request asks for the whole report (``?details``)."""
    return "details" in query_fields(scope.get("query_string", b""), keep_blank_values=True)


async def _starting(send: Send, page: bytes, *, head: bool = False) -> None:
    """503 with the "starting" page: the previous output has no such file, or the store is not ready."""
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store"), _RETRY_AFTER]
    await respond(send, HTTPStatus.SERVICE_UNAVAILABLE, headers, page, head=head)
