"""Bad page files through decoding and parsing: the right result or a clear error, never a crash."""

from __future__ import annotations

import pytest

from digest.errors import SourceError
from digest.paper.decode import decode_page
from digest.paper.parse import parse_page

PAGE = "● 山城\n\n# 新桥通车\n\n本报3月5日讯 (记者 周远)新桥今天通车,\n市民踊跃体验。\n"


@pytest.mark.parametrize(
    "data",
    [
        PAGE.encode("utf-8"),
        b"\xef\xbb\xbf" + PAGE.encode("utf-8"),
        PAGE.encode("gb18030"),
        PAGE.encode("gbk"),
        PAGE.encode("utf-16"),  # with BOM
        PAGE.encode("utf-16-le"),  # without BOM
        PAGE.encode("utf-16-be"),
        PAGE.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "gbk", "utf16-bom", "utf16le", "utf16be", "crlf"],
)
def test_every_encoding_parses_to_the_same_article(data: bytes) -> None:
    (article,) = parse_page(decode_page(data, "p.txt"), "p.txt").articles
    assert (article.section, article.title, article.authors) == ("山城", "新桥通车", ("周远",))
    assert article.body == "新桥今天通车，市民踊跃体验。"


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02\xff" * 64, bytes(range(256)) * 16])
def test_empty_and_binary_files_are_refused_with_the_file_name(data: bytes) -> None:
    with pytest.raises(SourceError) as raised:
        parse_page(decode_page(data, "broken.txt"))
    assert "broken.txt" in str(raised.value)


@pytest.mark.slow
def test_a_fifty_megabyte_page_without_structure_keeps_all_its_text() -> None:
    paragraph = "这是一段没有结构的长文字，用来检查大文件不会让服务崩溃。"
    text = "\n\n".join([paragraph] * (50_000_000 // len(paragraph.encode("utf-8")) // 2)) + "\n"
    text += text
    assert len(text.encode("utf-8")) >= 50_000_000
    (article,) = parse_page(decode_page(text.encode("utf-8"), "big.txt")).articles
    assert article.title is None
    assert article.body.count(paragraph) == text.count(paragraph)
