"""Limits on HTTP connections, so slow or idle clients cannot take every file descriptor.

uvicorn times out idle keep-alive connections but not a client that sends
its request headers slowly, and it accepts connections until the process
runs out of descriptors: under systemd's default of 1,024, a thousand
clients trickling headers made every feed request fail and the ingest job
die with "Too many open files".  The HTTP protocol here adds:

- a header timeout: a request's headers must be complete ``HEADER_SECONDS``
  after its first byte (or after the connection opened), else the
  connection is closed (the "slowloris" defence of RFC 9112 §9.5's
  "a server can close idle connections");
- a connection limit, half the descriptors the process may open (the
  other half stays for the database, page files and worker pipes): past it,
  the connection that has waited longest without a complete request is
  closed to make room, so clients that do send their request get through.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 10.0  # from a request's first byte (or the connection) to its last header
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this
FLOOR = 64  # connections allowed however low the descriptor limit


def connection_limit() -> int:
    """Half the descriptors this process may open (``RLIMIT_NOFILE``, systemd's ``LimitNOFILE=``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 32768
    return max(FLOOR, soft // 2)


def limited_protocol(limit: int, header_seconds: float = HEADER_SECONDS) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a header timeout and at most ``limit`` open connections."""
    # Connections without a request under way, the longest waiting first (a dict keeps order).
    idle: dict[Limited, None] = {}

    class Limited(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            while len(self.connections) > limit and idle:
                oldest = next(iter(idle))
                del idle[oldest]
                oldest.transport.close()
                self.connections.discard(oldest)  # its descriptor is freed; connection_lost follows
            self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            idle.pop(self, None)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._timer is None:
                self._await_headers()

        def on_headers_complete(self) -> None:
            self._stop_timer()
            idle.pop(self, None)
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                idle[self] = None  # kept alive, waiting for the next request: first to go

        def _await_headers(self) -> None:
            idle[self] = None
            self._timer = self.loop.call_later(header_seconds, self._too_slow)

        def _stop_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            idle.pop(self, None)
            self.transport.close()

    return Limited


def server_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` options that apply these limits."""
    return {"http": limited_protocol(connection_limit()), "timeout_keep_alive": KEEP_ALIVE_SECONDS}
