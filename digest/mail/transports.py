"""How a finished email leaves: the ``Mailer`` seam, the outbox folder (the embedded default) and SMTP.

A transport takes an ``Outgoing``: the envelope, the wire bytes for SMTP, and ``message()``, the same
email as an ``EmailMessage`` whose headers and parts an HTTP mail API can read field by field.
``commit`` marks the point of no return, which the delivery ledger relies on (digest.mail.delivery)."""

from __future__ import annotations

import hashlib
import os
import re
import select
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from digest.config import Config, SmtpConfig
from digest.errors import (
    ConfigError,
    DeliveryError,
    HardBounceError,
    PermanentDeliveryError,
    UncertainDeliveryError,
)
from digest.mail.message import Outgoing, wire

_SECURITIES = ("starttls", "tls", "none")
SMTP_TIMEOUT = 30.0  # seconds a step of the SMTP session (connect, each reply) may take
# The reply to the final ".": a relay scanning the message (spam, viruses) answers only once done, and
# one that finds its client gone may drop the message, while our copy is then ``unknown``, never sent
# again.  RFC 5321 §4.5.3.2.6 allows ten minutes; a minute keeps ``digest serve``'s stop, which waits
# for the email under way, within systemd's 120 s (``TimeoutStopSec``).  Every email waits as long: a
# digest copy, bigger than a confirmation, takes a scanning relay longer, not less.
DOT_TIMEOUT = 60.0
_SECURITY_HINT = '"starttls" for port 587, "tls" for port 465, "none" for a local relay'


class Mailer(Protocol):
    """Hands a finished email over for delivery."""

    def send(self, message: EmailMessage | Outgoing, commit: Callable[[], None] | None = None) -> None:
        """Deliver one message (to its one recipient).

        ``commit`` is called at the point of no return: everything but the
        last step is done, and after it the message counts as handed over.
        When ``commit`` raises, the message is abandoned (never delivered) and
        the exception propagates.  Failures: ``DeliveryError`` to retry later,
        ``PermanentDeliveryError`` never, ``UncertainDeliveryError`` when the
        message may have arrived.
        """

    def close(self) -> None:
        """Release connections; the mailer may not be used afterwards."""


class OutboxMailer:
    """Writes each message to ``<folder>/<time>-<recipient>-<hash>.eml``, whole or not at all.

    The embedded default: a digest can be read (and sent by hand) before any
    SMTP server is configured.  The name's time comes from the message's Date
    header, so the same message always lands in the same file.  The point of
    no return is the rename of the finished temporary file.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.last_written: Path | None = None  # the file the last ``send`` wrote

    def send(self, message: EmailMessage | Outgoing, commit: Callable[[], None] | None = None) -> None:
        """Write ``message`` atomically (temporary file, fsync, ``commit``, rename)."""
        email = wire(message)
        data = email.data.replace(b"\r\n", b"\n")  # a file on disk has the platform's line ends
        stamp = email.date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self._folder / f"{stamp}-{_safe_recipient(email.recipient)}-{_short_hash(data)}.eml"
        temp: str | None = None
        try:
            # The file names are the recipients' addresses: the folder is private, like the files.
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self._folder, prefix=".", suffix=".eml.tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if commit is not None:
                commit()
            os.replace(temp, target)
            self.last_written = target
        except OSError as exc:
            raise DeliveryError(
                f"cannot write {target}: {exc.strerror or exc}; check {self._folder} is a writable folder"
            ) from exc
        finally:
            if temp is not None:
                Path(temp).unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to release."""


def _safe_recipient(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9.@+_-]", "_", address)[:64].strip(".") or "unknown"


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


class SmtpMailer:
    """Sends through one SMTP connection, reused across ``send`` calls and reopened when it drops.

    Each message goes to exactly one recipient, so a refusal is always about
    that recipient.  The transaction is spelled out (MAIL, RCPT, DATA, body)
    so that ``commit`` runs just before the final ``.``: until then the
    server discards everything if the connection breaks (RFC 5321 §4.1.1.4),
    so a reused connection found dead is replaced and the message tried once
    more; after the ``.`` a broken connection leaves it unknown whether the
    message arrived, and it is never retried.

    ``timeout`` bounds each step (connect, each reply); ``dot_timeout``, when longer, the wait for
    the reply to the final ``.`` alone: a relay scanning the message answers it last, and giving up
    on it there leaves the message ``unknown`` (RFC 5321 §4.5.3.2.6 allows ten minutes).
    """

    def __init__(
        self,
        smtp: SmtpConfig,
        *,
        timeout: float = SMTP_TIMEOUT,
        dot_timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if smtp.security not in _SECURITIES:
            raise ConfigError(
                "smtp.security", f"unknown value {smtp.security!r}", "use starttls, tls or none"
            )
        if not smtp.host:
            raise ConfigError(
                "smtp.host", "is empty", "set the SMTP server's name, or leave SMTP out to use the outbox"
            )
        self._config = smtp
        self._where = f"{smtp.host}:{smtp.port}"
        self._timeout = timeout
        self._dot_timeout = max(timeout, dot_timeout or timeout)
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None

    def send(self, message: EmailMessage | Outgoing, commit: Callable[[], None] | None = None) -> None:
        """Deliver ``message`` to its one recipient."""
        email = wire(message)
        recipient = email.recipient
        reused = self._connection is not None
        try:
            try:
                connection = self._transfer(email)
            except OSError as exc:  # smtplib's errors are OSErrors too
                if not reused or not _stale(exc):
                    raise
                # The idle connection had gone stale; nothing was handed over yet.
                self._drop()
                connection = self._transfer(email)
        except (smtplib.SMTPException, OSError) as exc:
            failure = self._failure(exc, recipient)
            if isinstance(failure, PermanentDeliveryError):
                self._reset()
            else:
                # The session's state is unknown (or the server said 421): start afresh next time.
                self._drop()
            raise failure from exc
        if commit is not None:
            try:
                commit()
            except BaseException:
                self._drop()  # abandons the transaction: the server discards a message without its "."
                raise
        if _spoke_or_hung_up(connection):
            # Looked at after the commit, the last moment before the ".": mid-body a server has
            # nothing to say, so a reply or an end of stream means it gave up on the message, and
            # without the "." it discards it (RFC 5321 §4.1.1.4).
            self._drop()
            raise DeliveryError(
                f"{self._where} closed the connection during the message to {recipient}; will retry"
            )
        try:
            connection.send(b".\r\n")
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()  # the "." was not written: the server never completed the message
            raise DeliveryError(
                f"{self._where} closed the connection before the message to {recipient} ended; will retry"
            ) from exc
        try:
            code, reply = self._final_reply(connection)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if _reset(exc):
                # A reset, not an orderly close: the server's TCP discarded bytes its program never
                # read, and the "." was the last we sent (RFC 1122 §4.2.2.13; RFC 2525 §2.17).
                raise DeliveryError(
                    f"{self._where} reset the connection without reading the end of the message to "
                    f"{recipient}; will retry"
                ) from exc
            raise UncertainDeliveryError(
                f"{self._where} did not confirm the message to {recipient} ({exc or 'connection closed'}); "
                "it may have arrived, so it is not sent again"
            ) from exc
        if code != 250:
            self._drop() if code == 421 else self._reset()
            raise _by_code(code, f"{self._where} rejected the message to {recipient}: {code} {_text(reply)}")

    def _final_reply(self, connection: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the final ".", waited for ``dot_timeout``; the next steps wait ``timeout`` again."""
        sock = connection.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("connection closed")
        sock.settimeout(self._dot_timeout)
        reply = connection.getreply()  # smtplib closes the connection when this fails
        sock.settimeout(self._timeout)
        return reply

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            connection.close()

    def probe(self) -> None:
        """Connect, say EHLO, start TLS and log in as a send would, then QUIT; ``DeliveryError`` says
        what failed and which key to change (``digest check``, and ``serve`` at start-up)."""
        try:
            self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._probe_failure(exc) from exc
        finally:
            self.close()

    def _transfer(self, email: Outgoing) -> smtplib.SMTP:
        """MAIL, RCPT, DATA and the body without its final ``.``, on a (re)used connection."""
        connection = self._connect()
        eight_bit = connection.has_extn("8bitmime")
        data = _dot_stuffed(email.data if eight_bit else email.seven_bit())
        replies = self._envelope(connection, email, eight_bit)
        code, reply = next(replies)
        if code != 250:
            raise _Closing() if code == 421 else smtplib.SMTPSenderRefused(code, reply, email.sender)
        code, reply = next(replies)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({email.recipient: (code, reply)})
        code, reply = next(replies)
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        connection.send(data)
        return connection

    def _envelope(
        self, connection: smtplib.SMTP, email: Outgoing, eight_bit: bool
    ) -> Iterator[tuple[int, bytes]]:
        """The replies to MAIL, RCPT and DATA; each command goes only once the last reply was judged good.

        Unless the server announced PIPELINING (RFC 2920): then the three go
        in one write, one round trip instead of three (a remote relay's
        latency, paid per email), and every reply is read before any is
        judged, so none is left over to be taken for the next command's.
        """
        if not connection.has_extn("pipelining"):
            yield connection.mail(email.sender, ["BODY=8BITMIME"] if eight_bit else [])
            yield connection.rcpt(email.recipient)
            yield connection.docmd("DATA")
            return
        body = " BODY=8BITMIME" if eight_bit else ""
        sender, recipient = smtplib.quoteaddr(email.sender), smtplib.quoteaddr(email.recipient)
        connection.send(f"MAIL FROM:{sender}{body}\r\nRCPT TO:{recipient}\r\nDATA\r\n".encode("ascii"))
        mail, rcpt, start = (connection.getreply() for _ in range(3))
        if start[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            self._drop()  # the server waits for a body that must not come; only hanging up ends that
        yield from (mail, rcpt, start)

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        config = self._config
        # The host goes to the constructor (which connects): STARTTLS checks the certificate against it.
        connection: smtplib.SMTP
        if config.security == "tls":
            connection = smtplib.SMTP_SSL(
                config.host, config.port, timeout=self._timeout, context=self._ssl_context
            )
        else:
            connection = smtplib.SMTP(config.host, config.port, timeout=self._timeout)
        try:
            # The body and its final "." are two writes (the ledger commits between them); with
            # Nagle's algorithm the second waits for the ACK of the first, and delayed ACKs make
            # that tens of milliseconds per message.
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            if config.security == "starttls":
                connection.starttls(context=self._ssl_context)
                connection.ehlo()
            if config.username:
                connection.login(config.username, config.password)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _reset(self) -> None:
        """RSET after a refusal, so the connection can carry the next message."""
        if self._connection is None:
            return
        try:
            self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _probe_failure(self, exc: smtplib.SMTPException | OSError) -> DeliveryError:
        """``_failure`` for an operator checking the settings: where a send says it will retry, what is
        wrong and what to do instead (nothing is retried after a probe)."""
        where = self._where
        if isinstance(exc, smtplib.SMTPConnectError):
            # The greeting (RFC 5321 §3.1, §4.2.1): 4yz is "not now", 5yz "no service for this client".
            if 500 <= exc.smtp_code < 600:
                return DeliveryError(
                    f"{where} refuses this machine: it answered the connection with {_describe(exc)}; "
                    "ask its administrator to let this host send (a block list or its client rules), "
                    "or set smtp.host to a relay that does"
                )
            return DeliveryError(
                f"{where} is not taking connections now: it answered the connection with {_describe(exc)} "
                "(busy, or limiting this machine); if it lasts, ask its administrator or set smtp.host "
                "to another relay"
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return DeliveryError(
                f"{where} closed the connection before the session was set up ({exc or 'no reason given'}); "
                f"check smtp.port and smtp.security ({_SECURITY_HINT}) and that it accepts this machine"
            )
        # Not its subclasses (a refused login, sender, recipient or message), which say what to fix.
        if isinstance(exc, smtplib.SMTPResponseException) and type(exc) in (
            smtplib.SMTPResponseException,
            smtplib.SMTPHeloError,
        ):
            return DeliveryError(
                f"{where} answered {_describe(exc)} while the session was set up (EHLO, STARTTLS); "
                f"check smtp.security ({_SECURITY_HINT})"
            )
        return self._failure(exc, "")

    def _failure(self, exc: smtplib.SMTPException | OSError, recipient: str) -> DeliveryError:
        """Translate an smtplib or socket error into our error, with the server and the fix."""
        where = self._where
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, reply = exc.recipients.get(recipient, (0, b""))
            refusal = _by_code(code, f"{where} refused {recipient}: {code} {_text(reply)}")
            # A permanent refusal of the address at RCPT is a hard bounce (RFC 5321 §4.2.1, e.g. 550 5.1.1).
            return HardBounceError(str(refusal)) if isinstance(refusal, PermanentDeliveryError) else refusal
        if isinstance(exc, smtplib.SMTPDataError):
            return _by_code(exc.smtp_code, f"{where} rejected the message to {recipient}: {_describe(exc)}")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return DeliveryError(
                f"{where} refused the sender {exc.sender}: {_describe(exc)}; check smtp.sender"
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{where} refused the login of {self._config.username!r}: {_describe(exc)}; "
                "check smtp.username and smtp.password (DIGEST_SMTP_PASSWORD)"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return DeliveryError(
                f"{where} does not support what we asked ({exc}); check smtp.security ({_SECURITY_HINT}) "
                "and smtp.username"
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return DeliveryError(f"{where} closed the connection ({exc or 'no reason given'}); will retry")
        if isinstance(exc, smtplib.SMTPResponseException):
            return DeliveryError(f"{where} answered {_describe(exc)}; will retry")
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(
                f"TLS with {where} failed: {exc}; check smtp.security "
                '("tls" for port 465, "starttls" for 587) and that the server certificate is valid'
            )
        if isinstance(exc, OSError):
            return DeliveryError(
                f"cannot reach the SMTP server {where}: {exc.strerror or exc}; "
                "check smtp.host and smtp.port and that the server is running"
            )
        return DeliveryError(f"{where}: {exc}")


class _Closing(smtplib.SMTPResponseException):
    """421 to MAIL: the server is closing the connection (often an idle one it timed out)."""

    def __init__(self) -> None:
        super().__init__(421, "service closing transmission channel")


def _stale(exc: OSError) -> bool:
    """Whether an error before the final "." says the connection is gone rather than "no"."""
    return isinstance(exc, smtplib.SMTPServerDisconnected | _Closing) or not isinstance(
        exc, smtplib.SMTPException
    )


def _spoke_or_hung_up(connection: smtplib.SMTP) -> bool:
    """Whether the server sent anything (a reply, an end of stream, a reset) while it should be
    reading the body; looked at without waiting."""
    sock = connection.sock
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _reset(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it: smtplib hides the socket error) is a connection reset."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionResetError | BrokenPipeError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA body: a leading "." doubled on every line (RFC 5321 §4.5.2), ending in CRLF."""
    # A plain replace: a tenth of the time of a multi-line regex over a 50 KB message.
    data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _by_code(code: int, text: str) -> DeliveryError:
    # RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz transient.
    if 500 <= code < 600:
        return PermanentDeliveryError(text + "; the address will not be tried again")
    return DeliveryError(text + "; will retry")


def _describe(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def smtp_problem(smtp: SmtpConfig, timeout: float = 10.0) -> str | None:
    """Why the SMTP server of ``smtp`` cannot take our mail (unreachable, TLS, login), or None."""
    try:
        SmtpMailer(smtp, timeout=timeout).probe()
    except DeliveryError as exc:
        return str(exc)
    return None


def make_mailer(config: Config, data_dir: Path, *, timeout: float = SMTP_TIMEOUT) -> Mailer:
    """SMTP when ``smtp.host`` is set (``timeout`` seconds a step, ``DOT_TIMEOUT`` for the reply to
    the final "." when longer), else the outbox folder ``<data_dir>/outbox``."""
    if config.smtp.host:
        return SmtpMailer(config.smtp, timeout=timeout, dot_timeout=DOT_TIMEOUT)
    return OutboxMailer(data_dir / "outbox")
