"""One email as it goes on the wire: the envelope, CRLF bytes, and the header check that keeps a
recipient's address from adding headers (CVE-2024-6923).

Composition (digest.mail.compose) builds messages; transports (digest.mail.transports) send an
``Outgoing``; this module is what both agree on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime

from digest.errors import PermanentDeliveryError

# Headers set through the registry are folded by the email package; List-Unsubscribe is set
# raw and pre-folded by us, and refold_source="none" keeps the package from re-encoding it
# (Python 3.11 RFC 2047-encodes a long URI, which breaks one-click unsubscribe: RFC 8058).
POLICY = policy.default.clone(refold_source="none")
# On the wire: CRLF line ends; 8bit bodies as they are, or re-encoded (base64) for a server
# that did not announce 8BITMIME.
WIRE_8BIT = POLICY.clone(linesep="\r\n")
WIRE_7BIT = POLICY.clone(linesep="\r\n", cte_type="7bit")
# The top-level headers we write, each once.  A serialised message is checked against this after
# the email package has folded it: CVE-2024-6923 (Python < 3.11.10 and 3.12.5) lets an RFC 2047
# encoded word in an address decode to a line break while a header is refolded, adding a header.
_OUR_HEADERS = frozenset(
    {
        "subject",
        "from",
        "to",
        "date",
        "message-id",
        "auto-submitted",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-language",
    }
)


@dataclass(frozen=True)
class Outgoing:
    """One email ready for the wire: its envelope, and the message with CRLF line ends."""

    sender: str  # the envelope sender (MAIL FROM)
    recipient: str  # the one envelope recipient (RCPT TO)
    date: datetime
    data: bytes  # 8bit parts as they are: for a server that announced 8BITMIME (RFC 6152)
    message: Callable[[], EmailMessage]  # the same email built with the email package
    signer: Callable[[bytes], bytes] | None = None  # DKIM (digest.mail.dkim): ``data`` is signed already

    def seven_bit(self) -> bytes:
        """The message with its 8bit parts in base64, for a server without 8BITMIME (signed anew)."""
        data = self.message().as_bytes(policy=WIRE_7BIT)
        return self.signer(data) if self.signer is not None else data


def wire(message: EmailMessage | Outgoing) -> Outgoing:
    """An email ready for the wire; one built with the email package goes to its one To address."""
    if isinstance(message, Outgoing):
        return message
    recipients = [addr for _, addr in getaddresses([str(h) for h in message.get_all("To", [])])]
    if len(recipients) != 1:
        raise ValueError(f"an email goes to exactly one recipient, not {recipients}")
    header = message["Date"]
    if header is None:
        raise ValueError("the message has no Date header")
    return Outgoing(
        sender=parseaddr(str(message["From"]))[1],
        recipient=recipients[0],
        date=parsedate_to_datetime(str(header)),
        data=checked_headers(message.as_bytes(policy=WIRE_8BIT), recipients[0]),
        message=lambda: message,
    )


def checked_headers(data: bytes, recipient: str) -> bytes:
    """``data`` when its serialised top-level headers are ours, each once, with ``To`` the one recipient.

    Checked after serialising, whatever the Python version (CVE-2024-6923);
    anything else is ``PermanentDeliveryError``: this address cannot be mailed safely.
    """
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    names = [
        line.split(":", 1)[0].strip().lower() for line in head.split("\r\n") if line[:1] not in (" ", "\t")
    ]
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    to = [line[3:] for line in unfolded.split("\r\n") if line.lower().startswith("to:")]
    addresses = [address for _, address in getaddresses(to)]
    if set(names) - _OUR_HEADERS or len(names) != len(set(names)) or addresses != [recipient]:
        raise PermanentDeliveryError(
            f"recipient {recipient!r} changes the email's headers once serialised; not sent"
        )
    return data


URI = re.compile(r"[!#-;=?-~]+")  # printable ASCII without space, quotes, comma, < and >
_MAX_HEADER_LINE = 998  # RFC 5322 §2.1.1
_FOLD_AT = 78


def folded(headers: list[tuple[str, object]]) -> list[tuple[str, str]]:
    """Headers as the email package folds and RFC 2047-encodes them, ready for ``set_raw``."""
    scratch = EmailMessage(policy=POLICY)
    for name, value in headers:
        scratch[name] = value
    return [(name, POLICY.fold(name, value).partition(":")[2].lstrip(" ")) for name, value in scratch.items()]


def list_unsubscribe(https_url: str, mailto: str) -> str:
    """The RFC 2369 List-Unsubscribe value, pre-folded between the two URIs when long.

    ``mailto`` empty: the https URI alone (a mailto nobody reads unsubscribes nobody).
    """
    if not mailto:
        if not https_url.startswith(("https://", "http://")) or not URI.fullmatch(https_url):
            raise ValueError(f"unsubscribe URI {https_url!r} must be a plain https URI")
        return f"<{https_url}>"
    for uri, scheme in ((https_url, ("https://", "http://")), (mailto, ("mailto:",))):
        if not uri.startswith(scheme) or not URI.fullmatch(uri):
            raise ValueError(
                f"unsubscribe URI {uri!r} must be a plain {scheme[0]} URI (percent-encode the rest)"
            )
        if len(uri) + 4 > _MAX_HEADER_LINE - len("List-Unsubscribe: "):
            raise ValueError(f"unsubscribe URI is {len(uri)} characters; keep it short")
    one_line_value = f"<{https_url}>, <{mailto}>"
    if len("List-Unsubscribe: ") + len(one_line_value) <= _FOLD_AT:
        return one_line_value
    return f"<{https_url}>,\n <{mailto}>"


def date_header(now: datetime, tz: tzinfo) -> str:
    """The ``Date`` header of an email sent at ``now``: the newsroom's local time (``tz``,
    ``schedule.timezone``).

    RFC 5322 dates a message in its sender's zone, and mail clients such as mutt show it there: in
    UTC, a digest made at 07:00 in Shanghai would be filed under the evening before its own day.
    """
    return format_datetime(now.astimezone(tz))


def declare_language(message: EmailMessage, tag: str) -> None:
    """Give ``message`` the ``Content-Language`` header (RFC 3282) of ``site.language``, whatever the
    tag: mail clients pick glyph shapes and fonts by it, and screen readers the voice that reads the
    plain-text part, which has no ``lang`` of its own.  Set after the content, which clears it."""
    message["Content-Language"] = tag
