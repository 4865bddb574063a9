"""The one ASGI response layer: the types, how an answer is sent, and the lifespan handshake.

The file server (``digest.web.server``, the hot path) and the subscription
forms (``digest.web.subscriptions``) both answer through ``respond``, so
every response carries ``X-Content-Type-Options: nosniff`` and an exact
``Content-Length``, and a HEAD gets the headers of its GET with no body
(RFC 9110 §9.3.2).  A form handler that has to stop early raises ``Answer``
with the finished response instead of returning through every caller.

An answer given before the request's body is all in (413) must not be
followed by a close while the client is still sending: the kernel would reset
the connection, and the client (Chromium too) could lose the answer and show
a network error instead.  So ``respond`` can read the rest of the body away
after the answer, at most ``DRAIN_BYTES`` of it, so that nobody can keep the
server reading.

Issue 12 weighed Starlette for the forms; the hand-written layer stayed, as
simpler at equal speed (figures in docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_PLAIN = b"text/plain; charset=utf-8"
# Query fields read from a URL; ours take one or two, a shared link adds tracking ones (utm_*, ...).
MAX_QUERY_FIELDS = 20
# The most of a refused body read away after its answer (a pasted page, a script's megabyte); past
# it the connection is closed even if the client is still sending.
DRAIN_BYTES = 1024 * 1024


class Answer(Exception):
    """A finished response, raised from anywhere in a handler and sent by its app.

    ``drain``: the request's body is not all read yet; its app sends the answer with
    ``respond(drain=receive)``.
    """

    def __init__(
        self, status: HTTPStatus, body: bytes, headers: Headers | None = None, *, drain: bool = False
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.drain = drain


async def respond(
    send: Send,
    status: HTTPStatus,
    headers: Headers,
    body: bytes,
    *,
    head: bool = False,
    length: bool = True,
    drain: Receive | None = None,
) -> None:
    """Send one whole response: ``headers`` plus nosniff, a plain-text type for a bare body, the length.

    ``head`` leaves the body out (a HEAD request, or a 304); ``length=False``
    leaves ``Content-Length`` out, for a 304 whose headers describe the
    representation it stands for, not an empty body (RFC 9110 §15.4.5).
    ``drain`` (the request's ``receive``): the request body is still coming; the
    answer goes out whole at once, then the rest of the body is read from
    ``drain`` and dropped (``DRAIN_BYTES`` at most) before the response ends, so a
    ``Connection: close`` answer closes only once the client has stopped sending.
    """
    extra: Headers = [(b"x-content-type-options", b"nosniff")]
    if body and not any(name == b"content-type" for name, _ in headers):
        extra.append((b"content-type", _PLAIN))
    if length:
        extra.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": int(status), "headers": headers + extra})
    await send({"type": "http.response.body", "body": b"" if head else body, "more_body": drain is not None})
    if drain is not None:
        await _discard_body(drain)
        await send({"type": "http.response.body", "body": b""})


async def _discard_body(receive: Receive) -> None:
    """Read a request body to its end, or until ``DRAIN_BYTES`` of it are read, keeping none."""
    read = 0
    while read <= DRAIN_BYTES:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        read += len(message.get("body", b""))


class BodyTooLarge(Exception):
    """A request body past its limit; ``unread``: the rest of it is still to come, and worth reading
    away after the answer (``respond(drain=...)``)."""

    def __init__(self, unread: bool) -> None:
        super().__init__("request body too large")
        self.unread = unread


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The request body (``headers`` by lower-case name); ``BodyTooLarge`` past ``limit`` bytes.

    A body that ``Content-Length`` declares too long is refused before a byte of it
    is read, one found too long while reading as soon as it is.  Its rest is worth
    reading away unless the client waits for ``100 Continue`` before sending it, or
    it is longer than ``DRAIN_BYTES``: the connection is closed at once then.
    """
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        waiting = headers.get("expect", "").lower() == "100-continue"
        raise BodyTooLarge(unread=not waiting and int(declared) <= limit + DRAIN_BYTES)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Answer(HTTPStatus.BAD_REQUEST, b"")
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(unread=more)
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


async def refuse_method(send: Send, allow: bytes = b"GET, HEAD") -> None:
    """405 Method Not Allowed, with the methods the resource does allow (RFC 9110 §15.5.6)."""
    await respond(send, HTTPStatus.METHOD_NOT_ALLOWED, [(b"allow", allow)], b"method not allowed\n")


def query_fields(query_string: bytes, *, keep_blank_values: bool = False) -> dict[str, list[str]]:
    """The fields of a request's query string (UTF-8), the first ``MAX_QUERY_FIELDS`` only.

    Fields past those are ignored, not refused: a link shared with a tail of tracking
    parameters still opens its page, and the work stays bounded whatever a client sends.
    """
    text = query_string.decode("utf-8", "replace")
    kept = "&".join(text.split("&", MAX_QUERY_FIELDS)[:MAX_QUERY_FIELDS])
    return parse_qs(kept, keep_blank_values=keep_blank_values)


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the ASGI lifespan protocol: nothing to start or stop, so acknowledge both at once."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# What every HTML page carries, published or made per request: no script, no plug-in, styles and
# images only from us, forms post only to us, and no framing (clickjacking on the buttons).  Should
# hostile page text ever get past escaping, it still runs nothing.
PAGE_POLICY = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
]
# What every page made per request carries (forms, search results) besides: never cached, and
# never a Referer with a path.
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    # Tokens live in the URL: a Referer names only our origin, to any site, ours too.  Not
    # no-referrer: under it a browser posts our forms with ``Origin: null``, which any other site
    # can send too (``forms.FormGuard``).
    (b"referrer-policy", b"strict-origin"),
    *PAGE_POLICY,
]
