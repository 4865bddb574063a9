"""A fault-injecting SMTP server for tests: a plain threaded socket server on a free loopback port.

``tests/smtp_sink.py`` (aiosmtpd) reads a whole DATA body before any handler
runs, so it cannot hang up in the middle of one.  This server speaks just
enough SMTP (RFC 5321: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to inject
the faults real relays add:

- ``rcpt_busy``: the share of RCPT commands answered ``451`` (greylisting, a
  full queue);
- ``drop_body``: the share of DATA bodies in whose middle the server closes
  the connection (a relay restarting, a dropped link): it reads part of the
  body, then hangs up without a reply; the message is not delivered;
- ``dot_pause``: seconds between the final "." and its reply (a relay scanning
  the message before it queues it); a message whose client hung up meanwhile
  is dropped, as a before-queue filter does (counted in ``gone``);
- ``reply_pause``: seconds before every reply, the greeting included (a slow
  relay that works: each step well within a client's timeout, the whole
  session not).

Whether a fault hits is decided by a hash of the seed, the recipient and
that recipient's attempt number, not by a shared random stream, so a run
is repeatable however the clients' connections interleave.  ``delivered``
lists the recipient of every message whose final "." it read and answered
with 250.

``SilentSmtp`` is the other kind of broken relay: it takes every TCP
connection and never says a word (a hung server, a firewall that lets the
handshake through); ``connections`` counts those it took.
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from types import TracebackType


class FaultySmtp:
    """An SMTP server on 127.0.0.1 that answers 451 to some RCPTs and hangs up in some bodies."""

    def __init__(
        self,
        *,
        seed: int,
        rcpt_busy: float = 0.0,
        drop_body: float = 0.0,
        dot_pause: float = 0.0,
        reply_pause: float = 0.0,
        greeting: str = "220 faulty.test ESMTP",
    ) -> None:
        self.seed = seed
        self.greeting = greeting
        self.rcpt_busy = rcpt_busy
        self.drop_body = drop_body
        self.dot_pause = dot_pause
        self.reply_pause = reply_pause
        self.delivered: list[str] = []
        self.busy_answers = 0  # 451s given
        self.drops = 0  # bodies cut short
        self.gone = 0  # messages dropped because their client left before the reply to the "."
        self._tries: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Session)
        self._server.owner = self
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-smtp", daemon=True)

    def __enter__(self) -> FaultySmtp:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def copies(self) -> Counter[str]:
        """Messages delivered, by recipient."""
        with self._lock:
            return Counter(self.delivered)

    def hits(self, fault: str, recipient: str, share: float) -> bool:
        """Whether ``fault`` strikes this recipient's next try at it (repeatable for one seed)."""
        with self._lock:
            self._tries[(fault, recipient)] += 1
            attempt = self._tries[(fault, recipient)]
        digest = hashlib.sha256(f"{self.seed}:{fault}:{recipient}:{attempt}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < share

    def record(self, recipient: str) -> None:
        with self._lock:
            self.delivered.append(recipient)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FaultySmtp

    def __init__(self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__(address, handler)
        self.aborted: set[socket.socket] = set()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        if request in self.aborted:  # no FIN first: straight to the reset
            self.aborted.discard(request)
            self.close_request(request)
            return
        super().shutdown_request(request)


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        self._reply(owner.greeting)
        if not owner.greeting.startswith("220"):
            self._refuse_all(closing=owner.greeting.startswith("421"))
            return
        recipient: str | None = None
        while True:
            line = self.rfile.readline(1000)
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply("250-faulty.test", "250 8BITMIME")
            elif verb in (b"HELO", b"NOOP"):
                self._reply("250 ok")
            elif verb == b"MAIL":
                recipient = None
                self._reply("250 ok")
            elif verb == b"RCPT":
                address = line.decode("ascii", "replace").partition(":")[2].strip().strip("<>").lower()
                if owner.hits("rcpt", address, owner.rcpt_busy):
                    with owner._lock:
                        owner.busy_answers += 1
                    self._reply("451 4.3.0 busy, try again later")
                else:
                    recipient = address
                    self._reply("250 ok")
            elif verb == b"DATA":
                if recipient is None:
                    self._reply("503 5.5.1 no valid recipient")
                    continue
                self._reply("354 go ahead")
                if owner.hits("body", recipient, owner.drop_body):
                    self.rfile.readline(1000)  # a line or so of the body, then the link is gone
                    with owner._lock:
                        owner.drops += 1
                    # Abortive, as when the relay's process dies with unread bytes: a reset (RST).
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.server.aborted.add(self.connection)
                    return
                if not self._body() or not self._still_there(owner.dot_pause):
                    return
                owner.record(recipient)
                recipient = None
                self._reply("250 2.0.0 queued")
            elif verb == b"RSET":
                recipient = None
                self._reply("250 ok")
            elif verb == b"QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("500 5.5.2 what?")

    def _refuse_all(self, closing: bool) -> None:
        """After a greeting other than 220: hang up (421), or answer 503 to all but QUIT (554)."""
        while not closing:
            line = self.rfile.readline(1000)
            if not line or line[:4].upper() == b"QUIT":
                if line:
                    self._reply("221 2.0.0 bye")
                return
            self._reply("503 5.5.1 no service")

    def _still_there(self, pause: float) -> bool:
        """Whether the client is still connected after ``pause`` seconds of work on its message."""
        if pause <= 0:
            return True
        time.sleep(pause)
        readable, _, _ = select.select([self.connection], [], [], 0)
        try:
            left = bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:  # reset
            left = True
        if left:
            with self.server.owner._lock:
                self.server.owner.gone += 1
        return not left

    def _body(self) -> bool:
        """Read up to the final "."; False when the client went away first."""
        while True:
            line = self.rfile.readline()
            if not line:
                return False
            if line == b".\r\n":
                return True

    def _reply(self, *lines: str) -> None:
        time.sleep(self.server.owner.reply_pause)
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode("ascii"))


class SilentSmtp:
    """A "mail server" on 127.0.0.1 that accepts connections, holds them open and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-smtp", daemon=True)

    @property
    def connections(self) -> int:
        """Connections taken so far."""
        return len(self._held)

    def __enter__(self) -> SilentSmtp:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self._listener.close()
        for held in self._held:
            held.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            self._held.append(connection)
