"""Page bytes → text for every encoding the editorial systems export; anything else is refused whole."""

from __future__ import annotations

import codecs
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import SourceError
from digest.paper.decode import decode_page

TEXT = "● 要闻\n\n# 草原上的新图书馆开馆\n\n本报3月2日讯（记者 某某）读者排起长队，12岁的小读者说：“真好！”\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-16-be"),
        TEXT.encode("gb18030"),
        TEXT.encode("gbk"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf16le", "utf16be", "gb18030", "gbk"],
)
def test_every_supported_encoding_gives_the_same_text(data: bytes) -> None:
    assert decode_page(data, "p.txt") == TEXT


def test_line_breaks_become_line_feeds() -> None:
    assert decode_page("一\r\n二\r三\n".encode(), "p.txt") == "一\n二\n三\n"


def test_stray_control_characters_are_dropped() -> None:
    assert decode_page(("正文" * 100 + "\x0c\x1a").encode(), "p.txt") == "正文" * 100


def test_seed_pages_decode(seeds: object) -> None:
    from pathlib import Path

    assert isinstance(seeds, Path)
    for path in sorted(seeds.glob("*.txt")):
        text = decode_page(path.read_bytes(), path.name)
        assert "\r" not in text and text.strip()
        assert decode_page(text.encode("gb18030"), path.name) == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n\r\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "is a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "is a JPEG image"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "is a PDF document"),
        (rb"{\rtf1\ansi\ansicpg936 \'d2\'aa\'ce\'c5\par}", "is an RTF document"),
        (b"\n<!DOCTYPE html><html><body>\xe6\x96\x87</body></html>", "is an HTML page"),
        (
            TEXT.encode().replace("读者".encode(), b"\xff" + "读者".encode(), 1),
            "an invalid byte sequence on line 5",
        ),
        (TEXT.encode().replace(b"\n", b"\r")[:-2], "cut short in the middle of a character"),
        ("正文".encode() + b"\x00\x00\x00" + "正文".encode(), "NUL bytes"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfd", "UTF-8 byte-order mark"),
        (bytes(range(0x81, 0xFF)) * 3, "neither UTF-8, UTF-16 nor GB18030"),
        (b"\x01\x02\x03\x04" * 50, "control characters"),
    ],
    ids=[
        "empty",
        "blank",
        "png",
        "jpeg",
        "pdf",
        "rtf",
        "html",
        "bad-bytes",
        "cut",
        "nul-in-utf8",
        "bad-bom",
        "noise",
        "controls",
    ],
)
def test_unreadable_files_are_refused_with_the_name_and_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        decode_page(data, "bad.txt")
    assert caught.value.path == "bad.txt"
    assert reason in caught.value.reason


def test_random_bytes_are_refused() -> None:
    data = os.urandom(4096)
    with pytest.raises(SourceError):
        decode_page(data, "random.txt")


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1))
def test_any_utf8_text_round_trips(text: str) -> None:
    if not text.strip() or text.startswith("\ufeff"):
        return
    assert decode_page(text.encode("utf-8"), "p.txt") == text
