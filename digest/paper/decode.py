"""Page file bytes → text: the encodings editorial systems actually export, nothing half-read.

Accepted: UTF-8 (with or without BOM), UTF-16 with a BOM, UTF-16 without a
BOM (recognised by its NUL bytes, which only ASCII characters such as line
breaks and digits produce), GB18030 (a superset of GBK and GB2312), and Big5
(code page 950, or Big5-HKSCS for a file holding Hong Kong characters) where
it can be told from GB18030 with confidence.  ``encoding`` (``ingest.encoding``)
names the legacy encoding instead of detecting it.  Anything else is a
``SourceError`` naming the file, the reason and the fix; the caller skips the
file and keeps it for a retry once it changes.

Telling GB18030 from Big5: most double-byte strings decode both ways, so the
bytes alone cannot say; charset-normalizer judges which reading is text.  A
file it reads as GB18030 is read so, as before Big5 was known (nothing read
before changes), unless the Big5 reading is as plausible to it and preferred:
then the file is refused as ambiguous.  A file is read as Big5 only when
GB18030 reads as noise, every byte is valid Big5, charset-normalizer prefers
Big5, and it holds enough Chinese characters to judge by (a few words of
GBK read as Big5 can pass for text, a page cannot).
"""

from __future__ import annotations

import codecs
import re
import shlex

import charset_normalizer

from digest.chars import BINARY_CONTROLS
from digest.errors import EncodingError, SourceError
from digest.paper.variants import COMMON_SIMPLIFIED, COMMON_TRADITIONAL

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


def _valid(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _strict(data: bytes, codec: str, name: str, what: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise SourceError(name, f"{what} but byte {exc.start} is invalid; re-export the page") from exc


# Fewer characters beyond ASCII than this give charset-normalizer too little to tell GB18030 from Big5:
# snippets of a few GBK words pass for Big5 text, a page of either never does (measured on converted
# pages: no GBK snippet of 20 characters or more was taken for Big5).
_MIN_BIG5_CHARS = 32
# Of the characters beyond ASCII of a page, a fifth or more are among the hundred commonest (measured
# on pages in either script); of GBK text read as Big5 hardly one in a hundred, six in a hundred at
# worst: a Big5 reading with fewer than one in ten is no text.
_COMMON_SHARE = 10
# Characters Chinese text hardly prints, which a misread puts in: GB18030 reads the lead bytes of
# Big5's commonest characters (0xA4-0xA8) as kana, Greek, Cyrillic, pinyin's accented letters and
# bopomofo, and Big5 reads GBK's as symbols, small and vertical forms, kana and radicals (0xA1-0xA3,
# 0xC6-0xC8).
_ODD = re.compile(
    "[\u00a7\u00c0-\u024f\u0370-\u04ff\u2150-\u218f\u2500-\u257f\u2e80-\u2fdf\u3040-\u312f\ue000-\uf8ff"
    "\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe6f]"
)
# Big5 as Windows writes it (code page 950, whose mapping of ～ ‧ ￥ and a few marks is the one Taiwanese
# editors type), then Big5-HKSCS, whose Hong Kong characters (lead bytes 0x87-0xA0, 0xC6A1-0xC8FE,
# 0xFA-0xFE) code page 950 lacks.
_BIG5 = ("cp950", "big5hkscs")
# Code page 950 reads 0xC6A1-0xC8FE as kana and symbols (the ETEN extension) where Big5-HKSCS puts
# its own characters; a Windows editor never writes them, so a file holding them is Big5-HKSCS.
_ETEN = frozenset(
    bytes((lead, trail)).decode("cp950", "ignore")
    for lead in range(0xC6, 0xC9)
    for trail in range(0xA1, 0xFF)
) - {""}


def _big5(data: bytes) -> tuple[str, str] | None:
    """The Big5 codec that reads every byte of ``data``, and its text; None when none does."""
    for codec in _BIG5:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "cp950" and not _ETEN.isdisjoint(text) and _valid(data, "big5hkscs"):
            continue
        return codec, text
    return None


def _undecided(name: str, what: str) -> EncodingError:
    """The refusal of a file whose encoding cannot be told with confidence, with the commands that fix it."""
    quoted = shlex.quote(name.rsplit("/", 1)[-1])
    return EncodingError(
        name,
        f"{what}; convert it to UTF-8 in its folder (iconv -f BIG5-HKSCS -t UTF-8 {quoted} > {quoted}.utf8 "
        f"&& mv {quoted}.utf8 {quoted}; -f GB18030 for simplified Chinese), or name its encoding in "
        "ingest.encoding",
    )


def _common(text: str, common: frozenset[str]) -> tuple[int, int]:
    """How many of ``text``'s characters beyond ASCII are among the ``common`` ones, and of how many."""
    chars = [char for char in text if char > "\x7f"]
    return sum(char in common for char in chars), len(chars)


def _legacy(data: bytes, name: str) -> str:
    """GB18030/GBK or Big5 text: the reading charset-normalizer finds to be text, when it is sure."""
    gb = charset_normalizer.from_bytes(data, cp_isolation=["gb18030"]).best()
    big5 = _big5(data)
    if big5 is None:
        if gb is None:
            raise _undecided(name, "is neither UTF-8, UTF-16, GB18030/GBK nor Big5 text")
        return str(gb)
    codec, text = big5
    match = charset_normalizer.from_bytes(data, cp_isolation=["gb18030", codec]).best()
    prefers_gb = match is not None and match.encoding == "gb18030"
    common, chars = _common(text, COMMON_TRADITIONAL)
    if gb is not None:
        # Read as GB18030 before Big5 was known, and still, unless the Big5 reading looks likelier: more
        # common characters, fewer odd ones (in a few words, charset-normalizer's choice says little).
        gb_text = str(gb)
        gb_score = _common(gb_text, COMMON_SIMPLIFIED)[0] - len(_ODD.findall(gb_text))
        if prefers_gb and gb_score >= common - len(_ODD.findall(text)):
            return gb_text
        raise _undecided(name, "reads as GB18030/GBK and as Big5 text alike (too short to tell?)")
    if match is None or prefers_gb or common * _COMMON_SHARE < chars:
        raise _undecided(name, "is neither UTF-8, UTF-16, GB18030/GBK nor Big5 text")
    if chars < _MIN_BIG5_CHARS:
        raise _undecided(name, "may be Big5 text, but is too short to tell from GB18030/GBK")
    return text


def _named(data: bytes, name: str, encoding: str) -> str:
    """``data`` in the encoding ``ingest.encoding`` names, every byte of it, or why not."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = len((data[: exc.start] + b".").splitlines())
        raise EncodingError(
            name,
            f"is not {encoding} text, which ingest.encoding says it is: byte {exc.start} (line {line}) is "
            "invalid; re-export it, or set ingest.encoding to its encoding (empty: detect it)",
        ) from exc


def _decode(data: bytes, name: str, encoding: str) -> str:
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
        stray = _valid(data, "utf-8") and data.count(0) * _UTF16_SKEW < len(data)
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
    if encoding:
        return _named(data, name, encoding)
    return _legacy(data, name)


def decode_page(data: bytes, name: str, encoding: str = "") -> str:
    """Decode one page file's bytes; line breaks become ``\\n``; raises ``SourceError`` with the reason.

    ``encoding`` (``ingest.encoding``): the encoding of a file that has no byte-order mark and is not
    UTF-8 (nor UTF-16); empty: GB18030/GBK or Big5, whichever the bytes show with confidence.
    """
    if not data.strip():
        raise SourceError(name, "empty file")
    text = _decode(data, name, encoding).lstrip("\ufeff")
    controls = len(BINARY_CONTROLS.findall(text))
    if "\x00" in text or controls > len(text) * _MAX_CONTROL_SHARE:
        raise SourceError(name, "holds control characters, not text (a binary file?)")
    text = BINARY_CONTROLS.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SourceError(name, "empty file")
    return text
