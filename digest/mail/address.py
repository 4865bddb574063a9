"""Email addresses as headers take them: one address, no line breaks, no encoded words.

Pure, so the configuration check (``smtp.sender``) and the mailer apply the same rule: a sender
``digest check`` passes is one ``send-digest`` accepts."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr

from digest.chars import HEADER_UNSAFE
from digest.errors import ConfigError, PermanentDeliveryError


def parse_address(text: str) -> Address:
    """One address (``a@b.c`` or ``名字 <a@b.c>``); ``ValueError`` for anything else."""
    if HEADER_UNSAFE.search(text):
        raise ValueError("it contains a line break or control character")
    if "=?" in text.partition("<")[2] or ("<" not in text and "=?" in text):
        raise ValueError("it contains an encoded word (=?), which a mail program could decode into a header")
    name, addr = parseaddr(text)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or len(getaddresses([text])) != 1:
        raise ValueError("expected name@domain")
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, HeaderParseError) as exc:
        raise ValueError(str(exc)) from exc


def recipient_address(recipient: str) -> Address:
    """A recipient's address; one that is not a single address can never be mailed."""
    try:
        return parse_address(recipient)
    except ValueError as exc:
        raise PermanentDeliveryError(f"recipient {recipient!r} is not one email address: {exc}") from exc


def sender_address(sender: str) -> Address:
    """``smtp.sender`` as an address; anything else is the configuration's fault."""
    try:
        return parse_address(sender)
    except ValueError as exc:
        raise ConfigError(
            "smtp.sender",
            f"{sender!r} is not one email address ({exc})",
            'use a form like "报纸摘要 <digest@example.org>"',
        ) from exc
