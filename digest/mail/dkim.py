"""DKIM signatures (RFC 6376) on outgoing email, with dkimpy, and the DNS record that publishes the key.

Gmail and Yahoo require DKIM of bulk senders, and RFC 8058 §3 requires the
signature to cover ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` so a
relay cannot swap the one-click link.  A signature is made over the final
bytes of each message (the 8bit form, and again the 7bit form for a server
without 8BITMIME: the body differs), with relaxed header and simple body
canonicalisation, and prepended as the first header.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from digest.config import Config
from digest.errors import ConfigError

# Signed when present (RFC 6376 §5.4.1 recommends these; RFC 8058 §3 requires the two List- ones).
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"mime-version",
    b"content-type",
    b"auto-submitted",
)
_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")  # OID 1.2.840.113549.1.1.1


def dkim_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """A function that prepends a DKIM-Signature to a message's bytes; None when ``[dkim]`` is not set."""
    settings = config.dkim
    if settings.key_file is None:
        return None
    key = _read_key(settings.key_file)
    selector, domain = settings.selector.encode(), settings.domain.encode()

    def sign(data: bytes) -> bytes:
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        present = {line.split(b":", 1)[0].strip().lower() for line in head}
        headers = [name for name in SIGNED_HEADERS if name in present]
        signature: bytes = dkim.sign(data, selector, domain, key, include_headers=headers, linesep=b"\r\n")
        return signature + data

    return sign


def dns_record(config: Config) -> str:
    """The TXT record to publish for ``[dkim]``: ``<selector>._domainkey.<domain>. IN TXT "v=DKIM1; ..."``."""
    settings = config.dkim
    if settings.key_file is None:
        raise ValueError("[dkim] is not configured")
    parsed = parse_pem_private_key(_read_key(settings.key_file))
    rsa_public_key = _der(0x30, _der_int(parsed["modulus"]) + _der_int(parsed["publicExponent"]))
    algorithm = _der(0x30, _der(0x06, _RSA_ENCRYPTION) + _der(0x05, b""))
    info = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_public_key))  # SubjectPublicKeyInfo
    value = f"v=DKIM1; k=rsa; p={base64.b64encode(info).decode()}"
    # A TXT string holds at most 255 bytes (RFC 1035 §3.3.14): split, the resolver joins them.
    chunks = " ".join(f'"{value[i : i + 250]}"' for i in range(0, len(value), 250))
    return f"{settings.selector}._domainkey.{settings.domain}. IN TXT ( {chunks} )"


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            "dkim.key_file", f"cannot read {path} ({exc.strerror})", "let the service user read the key file"
        ) from exc
    try:
        parse_pem_private_key(key)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise ConfigError(
            "dkim.key_file",
            f"{path} is not a PEM RSA private key ({str(exc).splitlines()[0]})",
            "make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem",
        ) from exc
    return key


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _der_int(value: int) -> bytes:
    # One byte more than the bits need keeps the top bit clear: DER integers are signed.
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))
