"""Limits on HTTP connections, so slow, idle or oversized clients cannot take the server.

uvicorn times out idle keep-alive connections but not a client that sends
its request slowly, it accepts connections until the process runs out of
descriptors, and its httptools parser reads a request head of any size (a
header of tens of megabytes held the event loop for seconds, for everyone):
under systemd's default of 1,024 descriptors, a thousand clients trickling
requests made every feed request fail and the ingest job die with "Too many
open files".  The HTTP protocol here adds:

- a request deadline: a request's headers and body must be complete
  ``REQUEST_SECONDS`` after its first byte (or after the connection opened),
  else the connection is closed (the "slowloris" defence of RFC 9112 §9.5's
  "a server can close idle connections"), whether the client trickles its
  headers or, with a ``Content-Length`` it never fills, its body;
- a cap on the request head: past ``MAX_HEAD_BYTES`` of request line and
  headers, the answer is 431 (RFC 6585 §5) and the connection is closed,
  the request never reaching the app.  Only the head's bytes count (a read
  that also holds a whole body, a big form say, is not a head past the cap):
  a head still coming is counted by the bytes read while it is unfinished, so
  it is refused at most one read past the cap, before the rest is read; a
  head whose end came is counted by what the parser made of it (the URL and
  each header), whether it came in many reads or in one;
- a cap on what is read away after an early answer (a 405 to a POST, a 429
  before the form is read): uvicorn drops the rest of such a body as it comes,
  and past ``DRAIN_BYTES`` of it the connection is closed;
- a connection limit, half the descriptors the process may open (the
  other half stays for the database, page files and worker pipes): past it,
  the connection that has waited longest without a whole request is closed
  to make room, so clients that do send their request get through; when
  every connection has one the app is answering, the newcomer is closed.

uvicorn's own ``limit_concurrency`` does not do the last job: it is checked
only once a request's headers are in, and answers 503 on a connection that
stays open, so trickling clients would still hold every descriptor.
"""

from __future__ import annotations

import asyncio
import resource
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from digest.web.http import DRAIN_BYTES

REQUEST_SECONDS = 10.0  # from a request's first byte (or the connection) to the last byte of its body
MAX_HEAD_BYTES = 32 * 1024  # request line and headers; nginx's default buffers hold as much
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this
FLOOR = 64  # connections allowed however low the descriptor limit


def connection_limit() -> int:
    """Half the descriptors this process may open (``RLIMIT_NOFILE``, systemd's ``LimitNOFILE=``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 32768
    return max(FLOOR, soft // 2)


def limited_protocol(
    limit: int, request_seconds: float = REQUEST_SECONDS, max_head: int = MAX_HEAD_BYTES
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a request deadline, a request-head cap and at most
    ``limit`` open connections."""
    # Connections without a whole request in, the longest waiting first (a dict keeps order).
    waiting: dict[Limited, None] = {}

    class Limited(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None
        _in_head = True  # between two requests, or reading one's request line and headers
        _head_bytes = 0  # bytes received while reading the head under way
        _head_parsed = 0  # the URL and headers of the head under way, as the parser gave them
        _requests_read = 0  # whole requests parsed on this connection
        _dropped = 0  # body bytes of the request under way dropped after its answer
        _refused = False  # answered 431 and closing: what the parser still finds is not served

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            while len(self.connections) > limit and waiting:
                oldest = next(iter(waiting))
                del waiting[oldest]
                oldest.transport.close()
                self.connections.discard(oldest)  # its descriptor is freed; connection_lost follows
            if len(self.connections) > limit:
                # Every other connection holds a whole request the app is answering: this one waits
                # outside (the client may retry) rather than take a descriptor past the limit.
                self.connections.discard(self)
                transport.close()
                return
            self._await_request()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            waiting.pop(self, None)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            requests_read = self._requests_read
            super().data_received(data)
            if self._in_head and self._requests_read == requests_read and not self.transport.is_closing():
                # Counted after parsing, so a head and a body arriving in one read never count as
                # head, nor does a read that ended a request, body and all (the next head's start
                # in it goes uncounted): a head still unfinished is refused at most one read past
                # the cap.  A head that ended is measured by the parser (``on_headers_complete``).
                self._head_bytes += len(data)
                if self._head_bytes > max_head:
                    self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

        def on_message_begin(self) -> None:
            self._dropped = 0
            self._head_parsed = 0
            super().on_message_begin()
            if self._timer is None:
                self._await_request()

        def on_url(self, url: bytes) -> None:
            self._head_parsed += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_parsed += len(name) + len(value) + 4  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            if self._refused:
                return
            if self._head_parsed > max_head:
                # A head past the cap whose end came in the read that brought the rest of it: refused
                # before uvicorn hands it to the app.
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if self._refused:
                return
            if self.cycle.response_complete and not self.transport.is_closing():
                # Answered already: uvicorn drops these bytes as they come; past the bound the client is
                # cut off rather than read for ever.
                self._dropped += len(body)
                if self._dropped > DRAIN_BYTES:
                    self.transport.close()
            super().on_body(body)

        def on_message_complete(self) -> None:
            if self._refused:
                return  # the parser goes on through the read it was given; nobody is served
            self._requests_read += 1
            self._stop_timer()
            waiting.pop(self, None)
            self._in_head = True
            super().on_message_complete()
            if self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
                # Answered before its body was all in (413): it now waits for a next request like
                # any kept-alive connection (uvicorn's keep-alive timer went with the body's bytes).
                self._await_request()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                waiting[self] = None  # kept alive, waiting for the next request: first to go

        def _await_request(self) -> None:
            waiting[self] = None
            self._timer = self.loop.call_later(request_seconds, self._too_slow)

        def _stop_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            waiting.pop(self, None)
            self.transport.close()

        def _refuse(self, status: HTTPStatus) -> None:
            """Answer ``status`` with a one-line body and close, unless a response is under way."""
            self._refused = True
            if self.cycle is None or self.cycle.response_complete:
                body = f"{status.phrase.lower()}\n".encode()
                self.transport.write(
                    b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                    % (status.value, status.phrase.encode(), len(body), body)
                )
            self.transport.close()

    return Limited


def server_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` options that apply these limits."""
    return {"http": limited_protocol(connection_limit()), "timeout_keep_alive": KEEP_ALIVE_SECONDS}
