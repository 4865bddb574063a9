"""Signed, expiring tokens for links and forms: which subscriber a link is for, what it may do, since when.

A token is ``<key>.<issued>.<mac>``: an opaque key (a subscriber's random
link key from the store; never the address, so access logs and anyone shown
a link learn nothing), the issue time in seconds (lower-case hex), and an
HMAC-SHA256 over purpose, issue time, key and an optional binding (a form
token is bound to its form's path), cut to 128 bits.  The purpose and the
binding are inside the MAC but not in the token, so a preferences link
cannot be replayed as a confirmation link, nor one form's token on another.

Every token has exactly one spelling: the time without leading zeros and
the MAC compared as the very text the secret gives (no base64 padding bits
to vary), so no edit of a valid token is valid too.  Tokens are short
enough for ``List-Unsubscribe`` to stay one plain header line (see
PITFALLS: a long URI gets RFC 2047-encoded and one-click breaks).

Message-IDs are signed the same way (``message_id``): a bounce or a complaint
quoting one is about an email we sent to that very address (``sent_to``), not
one anybody could mail to the bounce address.

Pure but for a Message-ID's random part: the secret and the clock come in as arguments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from enum import Enum

from digest.errors import TokenError

_MAC_BYTES = 16
# Matched with ``fullmatch``: ``$`` would also match before a final line break, a second spelling.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# 0.1.0's link tokens: <base64 of the address>.<issued>.<mac> (``from_release_010``).
_RELEASE_010 = re.compile(r"([A-Za-z0-9_-]{4,400})\.[1-9a-f][0-9a-f]{0,11}\.[A-Za-z0-9_-]{22}")
_ADDRESS_LIKE = re.compile(r"[!-~]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SHAPE = re.compile(r"([A-Za-z0-9_-]{1,64})\.([1-9a-f][0-9a-f]{0,11})\.([A-Za-z0-9_-]{22})")
# A token issued this far in the future came from a clock that was wrong; refuse it.
_SKEW = timedelta(minutes=5)
FORM_KEY = "form"  # the key of a form token: what it is for is its binding, the form's path
# A Message-ID ``message_id`` made: the name, a nonce and the MAC of nonce and recipient.
_MESSAGE_ID = re.compile(r"<[a-z]+\.([0-9a-f]{16})\.([A-Za-z0-9_-]{22})@[^<>@\s]+>")


class Purpose(Enum):
    """What a token lets its holder do."""

    CONFIRM = "confirm"  # turn an unconfirmed subscription into a confirmed one
    MANAGE = "manage"  # see and change preferences, unsubscribe
    FORM = "form"  # submit one form (CSRF protection); bound to the form's path
    MESSAGE = "message"  # a Message-ID of an email to one address (``message_id``)


def sign(secret: str, purpose: Purpose, key: str, now: datetime, binding: str = "") -> str:
    """A token binding ``key`` (and ``binding``) to ``purpose``, issued at ``now``."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    if not _KEY.fullmatch(key):
        raise ValueError(f"token key {key!r} must be 1-64 URL-safe characters")
    issued = int(now.timestamp())
    if issued < 1:
        raise ValueError("tokens are issued after 1970")
    return f"{key}.{issued:x}.{_mac(secret, purpose, issued, key, binding)}"


def verify(
    secret: str,
    token: str,
    purpose: Purpose,
    now: datetime,
    max_age: timedelta | None,
    binding: str = "",
) -> str:
    """The key of a valid ``token`` for ``purpose`` (and ``binding``); ``TokenError`` otherwise.

    ``max_age`` None means the token never expires (links in emails people keep).
    The MAC is compared in constant time.
    """
    match = _SHAPE.fullmatch(token)
    if match is None:
        raise TokenError("the link is incomplete or damaged")
    key, issued_hex, mac = match.groups()
    issued = int(issued_hex, 16)
    if not hmac.compare_digest(mac, _mac(secret, purpose, issued, key, binding)):
        raise TokenError("the link is not valid")
    age = now - datetime.fromtimestamp(issued, now.tzinfo)
    if age < -_SKEW:
        raise TokenError("the link was issued in the future")
    if max_age is not None and age > max_age:
        raise TokenError("the link has expired", expired=True)
    return key


def from_release_010(token: str) -> bool:
    """Whether ``token`` has the shape of a link 0.1.0 put in its emails: the subscriber's address in
    base64 where a key is now (never valid today: no key is an address).  Its reader is told the link
    is from before an upgrade, not that they copied it wrong.  Twelve random bytes (a key) decoding
    to an address-like text is a chance of far below one in 2**64."""
    match = _RELEASE_010.fullmatch(token)
    if match is None:
        return False
    try:
        subject = base64.urlsafe_b64decode(match.group(1) + "=" * (-len(match.group(1)) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    return _ADDRESS_LIKE.fullmatch(subject) is not None


def _mac(secret: str, purpose: Purpose, issued: int, key: str, binding: str) -> str:
    message = f"{purpose.value}\n{issued}\n{key}\n{binding}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def message_id(secret: str, name: str, recipient: str, domain: str) -> str:
    """An RFC 5322 Message-ID (``<name.nonce.mac@domain>``) for an email to ``recipient``, which
    ``sent_to`` tells from any other: only this secret makes one, for that address alone."""
    nonce = secrets.token_hex(8)
    return f"<{name}.{nonce}.{_mac(secret, Purpose.MESSAGE, 0, nonce, recipient.lower())}@{domain}>"


def sent_to(secret: str, value: str, recipient: str) -> bool:
    """Whether ``value`` (a quoted Message-ID header) is one ``message_id`` made for ``recipient``."""
    match = _MESSAGE_ID.fullmatch(value.strip())
    if match is None:
        return False
    nonce, mac = match.groups()
    return hmac.compare_digest(mac, _mac(secret, Purpose.MESSAGE, 0, nonce, recipient.lower()))
