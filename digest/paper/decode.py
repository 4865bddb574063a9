"""Page file bytes → text: the encodings editorial systems actually export, nothing half-read.

Accepted: UTF-8 (with or without BOM), UTF-16 with a BOM, UTF-16 without a
BOM (recognised by its NUL bytes, which only ASCII characters such as line
breaks and digits produce), and GB18030 (a superset of GBK and GB2312).
Anything else is a ``SourceError`` naming the file and the reason; the
caller skips the file and keeps it for a retry once it changes.
"""

from __future__ import annotations

import codecs

import charset_normalizer

from digest.chars import BINARY_CONTROLS
from digest.errors import SourceError

# Stray C0 controls (page-break marks, a DOS end-of-file byte) carry no text
# and make feed generators raise; tab, line feed and carriage return stay.
# More controls than this share of the text means it is not text at all.
_MAX_CONTROL_SHARE = 0.01
# How lopsided the zero bytes must be to call a file UTF-16 without a BOM.
_UTF16_SKEW = 4


def _utf16_without_bom(data: bytes) -> str | None:
    """The text if the NUL bytes sit where UTF-16 puts them, else None.

    ASCII characters (line breaks, digits) put their zero byte on one side of
    each pair; a CJK character rarely has a zero byte (only U+xx00), so the
    zeros gather on one side.
    """
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if odd > _UTF16_SKEW * even:
        codec = "utf-16-le"
    elif even > _UTF16_SKEW * odd:
        codec = "utf-16-be"
    else:
        return None
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


# What a file named ``.txt`` turns out to be when an export went wrong: its first bytes name the format.
# Checked first: a PDF or RTF can be all ASCII, and would otherwise be read as a page of gibberish.
_FORMATS = (
    (b"%PDF-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"PK\x03\x04", "a ZIP archive (a .docx or .wps document?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a Word (.doc) or other Office document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
)
# A file that fails to decode as UTF-8 is damaged UTF-8 (not GBK) when this many of its non-ASCII
# characters decode for each invalid sequence: GBK bytes read as UTF-8 give almost nothing but
# invalid sequences.
_UTF8_SHARE = 20


def _format_of(data: bytes) -> str | None:
    """The file format ``data`` opens with, when it is one no page is written in."""
    head = data.removeprefix(codecs.BOM_UTF8)[:16].lstrip().lower()
    return next((what for magic, what in _FORMATS if head.startswith(magic.lower())), None)


def _damaged_utf8(data: bytes, error: UnicodeDecodeError) -> str | None:
    """Why ``data``, UTF-8 text but for a few bytes, is refused (naming where), or None when it is no
    UTF-8 text at all."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for char in text if char > "\x7f" and char != "\ufffd")
    if good < _UTF8_SHARE * bad:
        return None
    if error.end == len(data) and bad == 1:
        return "is UTF-8 text cut short in the middle of a character (a copy that stopped?); re-export it"
    line = len((data[: error.start] + b".").splitlines())  # CR-only line breaks count too
    many = f"{bad} invalid byte sequences, the first" if bad > 1 else "an invalid byte sequence"
    return f"is UTF-8 text but for {many} on line {line} (byte {error.start}); re-export it, or mend the line"


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strict(data: bytes, codec: str, name: str, what: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise SourceError(name, f"{what} but byte {exc.start} is invalid; re-export the page") from exc


def _decode(data: bytes, name: str) -> str:
    kind = _format_of(data)
    if kind is not None:
        raise SourceError(name, f"is {kind}, not a page's text; export the page as plain text")
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8) :], "utf-8", name, "starts with a UTF-8 byte-order mark")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", name, "starts with a UTF-16 byte-order mark")
    if b"\x00" in data:
        # A few NULs in otherwise valid UTF-8 are damage, not UTF-16 (whose ASCII puts a NUL in
        # every other byte); read as UTF-16, such a page would come out as a wall of mojibake.
        stray = _valid_utf8(data) and data.count(0) * _UTF16_SKEW < len(data)
        text = None if stray else _utf16_without_bom(data)
        if text is None:
            raise SourceError(name, "contains NUL bytes and is not UTF-16 text (a binary file?)")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        damaged = _damaged_utf8(data, exc)
        if damaged is not None:
            raise SourceError(name, damaged) from exc
    # GB18030 decodes many byte strings; charset-normalizer judges whether the
    # result reads like text rather than noise.
    match = charset_normalizer.from_bytes(data, cp_isolation=["gb18030"]).best()
    if match is None:
        raise SourceError(name, "is neither UTF-8, UTF-16 nor GB18030/GBK text; re-export it as UTF-8")
    return str(match)


def decode_page(data: bytes, name: str) -> str:
    """Decode one page file's bytes; line breaks become ``\\n``; raises ``SourceError`` with the reason."""
    if not data.strip():
        raise SourceError(name, "empty file")
    text = _decode(data, name).lstrip("\ufeff")
    controls = len(BINARY_CONTROLS.findall(text))
    if "\x00" in text or controls > len(text) * _MAX_CONTROL_SHARE:
        raise SourceError(name, "holds control characters, not text (a binary file?)")
    text = BINARY_CONTROLS.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SourceError(name, "empty file")
    return text
