"""A real SMTP server for tests: aiosmtpd on a free 127.0.0.1 port that records what it accepts.

Use it as a context manager::

    with SmtpSink() as sink:
        mailer = SmtpMailer(SmtpConfig(host=sink.host, port=sink.port, security="none"))
        ...
        assert sink.messages[0].message()["To"] == "reader@example.org"

It can refuse on cue, the way real servers do: ``sink.refuse("x@example.org", 550)`` answers every RCPT
for that address with 550; ``sink.refuse("*", 421, times=1)`` answers the next RCPT, whoever it is for,
with 421 and then recovers.  ``stage="data"`` refuses at the end of DATA instead; code ``HANG_UP``
there takes the message and hangs up without answering (the reply is lost).  ``credentials``
turns on AUTH (PLAIN/LOGIN, allowed without TLS on loopback); ``tls`` (a server ``ssl.SSLContext``)
offers STARTTLS, or with ``implicit_tls=True`` speaks TLS from the first byte (SMTPS).
``delay`` seconds pass between taking a message and answering 250, like a slow server;
``keep=False`` only counts messages (``count``), for runs of many thousands; ``eight_bit = False``
stops announcing 8BITMIME; ``pipelining = True`` announces PIPELINING (RFC 2920), and ``pipelined``
then says, per MAIL, whether the client had already sent the RCPT and DATA behind it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from loopback import free_port

Stage = Literal["rcpt", "data"]
HANG_UP = 0  # a "code" for stage="data": take the message, then close without a reply


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope, the raw bytes, and the client's address (one per connection)."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]
    authenticated_as: str | None
    tls: bool

    def message(self) -> EmailMessage:
        """The message parsed with the modern email policy."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Refusal:
    address: str  # "*" matches every recipient
    code: int
    stage: Stage
    times: int | None  # None: for ever


class SmtpSink:
    """An SMTP server on loopback that records messages and refuses recipients on request."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        delay: float = 0.0,
        keep: bool = True,
    ) -> None:
        self.host = "127.0.0.1"
        # aiosmtpd needs a number up front.
        self.port = free_port()
        self.delay = delay
        self.keep = keep
        self.eight_bit = True  # announce 8BITMIME (RFC 6152); False: a server that takes 7-bit only
        self.pipelining = False  # announce PIPELINING (aiosmtpd reads pipelined commands in order anyway)
        self.pipelined: list[bool] = []
        self.count = 0  # messages taken, kept or not
        self.messages: list[Received] = []
        self.attempts: list[tuple[str, int]] = []  # every (recipient, answer) at RCPT and DATA
        self._credentials = credentials
        self._tls = tls
        self.implicit_tls = implicit_tls
        self._refusals: list[_Refusal] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def refuse(
        self, address: str, code: int = 550, *, times: int | None = None, stage: Stage = "rcpt"
    ) -> None:
        """Answer ``code`` for ``address`` (``"*"``: anyone) at ``stage``, ``times`` times or for ever."""
        with self._lock:
            self._refusals.append(_Refusal(address.lower(), code, stage, times))

    def start(self) -> SmtpSink:
        """Start listening (again, on the same port, after ``stop``)."""
        options: dict[str, Any] = {"server_hostname": "sink.test", "ready_timeout": 10}
        if self._credentials:
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        if self._tls and self.implicit_tls:
            options["ssl_context"] = self._tls
        elif self._tls:
            options["tls_context"] = self._tls
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, address: str, stage: Stage) -> int | None:
        with self._lock:
            for rule in self._refusals:
                if rule.stage == stage and rule.address in ("*", address.lower()) and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    self.attempts.append((address, rule.code))
                    return rule.code
            self.attempts.append((address, 250))
            return None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=(login, password) == self._credentials, handled=False, auth_data=login)


class _Handler:
    """aiosmtpd hooks: consult the sink's refusals, record what gets through."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self._sink.pipelining:
            responses = [*responses[:-1], "250-PIPELINING", responses[-1]]
        if self._sink.eight_bit:
            return responses
        return [line for line in responses if "8BITMIME" not in line]

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # What the client wrote after MAIL and the server has not read yet (aiosmtpd's stream reader).
        self._sink.pipelined.append(b"DATA\r\n" in bytes(server._reader._buffer))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        code = self._sink._answer(address, "rcpt")
        if code is not None:
            return f"{code} {_TEXT.get(code, 'refused')} <{address}>"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        hang_up = False
        for address in envelope.rcpt_tos:
            code = self._sink._answer(address, "data")
            if code == HANG_UP:
                hang_up = True
            elif code is not None:
                return f"{code} {_TEXT.get(code, 'refused')}"
        self._sink.count += 1
        if self._sink.keep:
            self._record(session, envelope)
        if hang_up:
            server.transport.close()
        elif self._sink.delay:
            await asyncio.sleep(self._sink.delay)
        return "250 Message accepted for delivery"

    def _record(self, session: Any, envelope: Any) -> None:
        self._sink.messages.append(
            Received(
                sender=envelope.mail_from,
                recipients=tuple(envelope.rcpt_tos),
                data=envelope.original_content,
                peer=tuple(session.peer[:2]),  # type: ignore[arg-type]
                authenticated_as=session.auth_data if session.authenticated else None,
                # session.ssl is only set by STARTTLS; an SMTPS listener speaks nothing but TLS.
                tls=session.ssl is not None or self._sink.implicit_tls,
            )
        )


_TEXT = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox busy, try again later",
    451: "4.3.0 Local error in processing",
    550: "5.1.1 No such user here",
    552: "5.3.4 Message too big",
    554: "5.7.1 Message rejected",
}
