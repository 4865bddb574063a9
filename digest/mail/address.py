"""Email addresses as headers take them: one address, no line breaks, no encoded words.

Pure, so the configuration check (``smtp.sender``) and the mailer apply the same rule: a sender
``digest check`` passes is one ``send-digest`` accepts."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr

from digest.chars import HEADER_UNSAFE


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
