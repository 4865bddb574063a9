"""Signed, expiring tokens for links and forms: who a link is for, what it may do, since when.

A token is ``<subject>.<issued>.<mac>``: the subject (an email address or a
form's path) in URL-safe base64, the issue time in seconds (hex), and an
HMAC-SHA256 over purpose, issue time and subject with ``server.secret``,
cut to 128 bits.  The purpose is inside the MAC but not in the token, so a
preferences link cannot be replayed as a confirmation link.  Tokens are
short enough for ``List-Unsubscribe`` to stay one plain header line
(see PITFALLS: a long URI gets RFC 2047-encoded and one-click breaks).

Pure: the secret and the clock come in as arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import datetime, timedelta
from enum import Enum

_MAC_BYTES = 16
_SHAPE = re.compile(r"^([A-Za-z0-9_-]{1,400})\.([0-9a-f]{1,12})\.([A-Za-z0-9_-]{22})$")
# A token issued this far in the future came from a clock that was wrong; refuse it.
_SKEW = timedelta(minutes=5)


class Purpose(Enum):
    """What a token lets its holder do."""

    CONFIRM = "confirm"  # turn an unconfirmed subscription into a confirmed one
    MANAGE = "manage"  # see and change preferences, unsubscribe
    FORM = "form"  # submit one form (CSRF protection); the subject is the form's path


class TokenError(ValueError):
    """A token that is malformed, forged, for another purpose, or expired."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        self.expired = expired
        super().__init__(reason)


def sign(secret: str, purpose: Purpose, subject: str, now: datetime) -> str:
    """A token binding ``subject`` to ``purpose``, issued at ``now``."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    issued = int(now.timestamp())
    body = _b64(subject.encode())
    return f"{body}.{issued:x}.{_mac(secret, purpose, issued, subject)}"


def verify(secret: str, token: str, purpose: Purpose, now: datetime, max_age: timedelta | None) -> str:
    """The subject of a valid ``token`` for ``purpose``; ``TokenError`` otherwise.

    ``max_age`` None means the token never expires (links in emails people keep).
    The MAC is compared in constant time.
    """
    match = _SHAPE.match(token)
    if match is None:
        raise TokenError("the link is incomplete or damaged")
    body, issued_hex, mac = match.groups()
    try:
        subject = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise TokenError("the link is incomplete or damaged") from None
    issued = int(issued_hex, 16)
    if not hmac.compare_digest(mac, _mac(secret, purpose, issued, subject)):
        raise TokenError("the link is not valid")
    age = now - datetime.fromtimestamp(issued, now.tzinfo)
    if age < -_SKEW:
        raise TokenError("the link was issued in the future")
    if max_age is not None and age > max_age:
        raise TokenError("the link has expired", expired=True)
    return subject


def _mac(secret: str, purpose: Purpose, issued: int, subject: str) -> str:
    message = f"{purpose.value}\n{issued}\n{subject}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
