"""Page bytes → text for every encoding the editorial systems export; anything else is refused whole."""

from __future__ import annotations

import codecs
import os

import pytest
from hypothesis import example, given
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
        (bytes(range(0x81, 0xFF)) * 3, "neither UTF-8, UTF-16, GB18030/GBK nor Big5"),
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


# Hypothesis also draws the string constants of the code under test, so it now and then tries one of
# the document openings the decoder refuses (``<!DOCTYPE HTML``): pinned here, that case runs every time.
@example("<!DOCTYPE HTML")
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1))
def test_any_utf8_text_round_trips(text: str) -> None:
    if not text.strip() or text.startswith("\ufeff"):
        return
    data = text.encode("utf-8")
    try:
        decoded = decode_page(data, "p.txt")
    except SourceError as refused:
        # Text opening as a document no page is written in is refused whole, for its opening alone.
        assert "export the page as plain text" in str(refused), refused
        assert decode_page(b"page\n" + data, "p.txt") == "page\n" + text
    else:
        assert decoded == text


# The same invented story in simplified and in traditional characters (a Hong Kong or Taiwanese paper
# prints the second): long enough to judge by, as every real page is.
SIMPLIFIED = (
    "● 本埠新闻\n\n# 海港边的旧仓库改成社区图书馆\n\n本报讯（记者 林晓岚）闲置多年的三号仓库昨日起作为社区"
    "图书馆开放，首批藏书两万册，周末开放到晚上九点。附近居民说，孩子放学后终于有了安静读书的地方。\n\n"
    "编者按：城市更新不只是拆旧建新。\n\n责任编辑：周文\n"
)
TRADITIONAL = (
    "● 本埠新聞\n\n# 海港邊的舊倉庫改成社區圖書館\n\n本報訊（記者 林曉嵐）閒置多年的三號倉庫昨日起作為社區"
    "圖書館開放，首批藏書兩萬冊，週末開放到晚上九點。附近居民說，孩子放學後終於有了安靜讀書的地方。\n\n"
    "編者按：城市更新不只是拆舊建新。\n\n責任編輯：周文\n"
)
# What only Windows' code page 950 writes (～ ‧ in a range and a transliterated name) and what only
# Big5-HKSCS has (Cantonese 嘅 啲, and ① where Hong Kong puts it).
WINDOWS = TRADITIONAL + "開放時間：上午9～12時，講者：瑪麗‧陳\n"
HONG_KONG = TRADITIONAL + "① 街坊話：「呢度啲書好多，係我哋嘅好地方。」\n"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (TRADITIONAL, "big5"),
        (TRADITIONAL, "cp950"),
        (TRADITIONAL, "big5hkscs"),
        (WINDOWS, "cp950"),
        (HONG_KONG, "big5hkscs"),
        (SIMPLIFIED, "gbk"),
        (SIMPLIFIED, "gb18030"),
        (SIMPLIFIED, "utf-8"),
        (SIMPLIFIED, "utf-8-sig"),
        (SIMPLIFIED, "utf-16"),
        (TRADITIONAL, "utf-8"),
        (TRADITIONAL, "utf-16"),
    ],
)
def test_big5_and_the_other_encodings_each_read_back_exactly(text: str, codec: str) -> None:
    assert decode_page(text.encode(codec), "p.txt") == text


def test_gbk_pages_and_their_pieces_are_never_read_as_big5(seeds: object) -> None:
    """Every seed page in GBK, and pieces of every length cut from them, read back exactly or are
    refused: never taken for Big5 (nor Big5 for GBK), which would turn them into other characters."""
    from pathlib import Path

    assert isinstance(seeds, Path)
    pieces = []
    for path in sorted(seeds.glob("*.txt")):
        text = decode_page(path.read_bytes(), path.name)
        pieces.append(text)
        pieces.extend(text[at : at + size] for size in (6, 12, 24, 48, 96) for at in range(0, len(text), 97))
    read = 0
    for piece in pieces:
        try:
            data = piece.encode("gbk")
        except UnicodeEncodeError:
            continue
        try:
            got = decode_page(data, "p.txt")
        except SourceError:
            continue
        assert got == piece.replace("\r", "\n") or not piece.strip()
        read += 1
    assert read > len(pieces) * 0.9


@pytest.mark.parametrize("size", [4, 8, 16, 24, 40, 60, len(TRADITIONAL)])
def test_big5_pieces_are_read_exactly_or_refused_never_misread(size: int) -> None:
    for at in range(0, len(TRADITIONAL) - size + 1, 3):
        piece = TRADITIONAL[at : at + size]
        try:
            got = decode_page(piece.encode("big5"), "p.txt")
        except SourceError as exc:
            assert "iconv -f BIG5-HKSCS -t UTF-8 p.txt > p.txt.utf8" in exc.reason
            continue
        assert got == piece or not piece.strip()


def test_a_big5_file_too_short_to_judge_is_refused_with_the_fix_and_read_once_named() -> None:
    data = "本報訊 海港邊".encode("big5")
    with pytest.raises(SourceError) as caught:
        decode_page(data, "folder/第 3 版.txt")
    assert caught.value.path == "folder/第 3 版.txt"
    assert "iconv -f BIG5-HKSCS -t UTF-8 '第 3 版.txt' > '第 3 版.txt'.utf8" in caught.value.reason
    assert "ingest.encoding" in caught.value.reason
    assert decode_page(data, "p.txt", encoding="big5hkscs") == "本報訊 海港邊"


def test_a_named_encoding_is_used_for_files_that_are_not_utf8() -> None:
    assert decode_page(TRADITIONAL.encode("big5"), "p.txt", encoding="big5") == TRADITIONAL
    assert decode_page(SIMPLIFIED.encode("gbk"), "p.txt", encoding="gbk") == SIMPLIFIED
    # UTF-8 and byte-order marks say what a file is whatever the setting.
    assert decode_page(SIMPLIFIED.encode("utf-8"), "p.txt", encoding="big5") == SIMPLIFIED
    assert decode_page(SIMPLIFIED.encode("utf-16"), "p.txt", encoding="big5") == SIMPLIFIED
    with pytest.raises(SourceError) as caught:
        decode_page(HONG_KONG.encode("big5hkscs"), "p.txt", encoding="big5")
    assert "is not big5 text, which ingest.encoding says it is" in caught.value.reason
