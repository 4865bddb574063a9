"""The bad-file corpus, generated on demand (nothing binary is committed).

``make_corpus(folder)`` writes every kind of file an export folder has been
seen to hold, or could: empty, binary, a UTF-8 file cut in the middle of a
character, GBK, UTF-16 without a byte-order mark, 50 MB of text, a million
lines, NUL bytes in text, a folder named like a page, a symbolic link loop,
a named pipe, a PDF all in ASCII, UTF-8 with bad bytes inside, one line of
4.5 MB.  Each ``BadFile`` says what ingest must do with it: read it
(``reason`` None: the encodings the service supports), or refuse it with a
reason containing ``reason``; and ``fix`` turns it into a good page, the way
an operator would, to check that a changed file is retried.

Two cases need a live process and live in the tests: a file deleted
between the listing and the read, and a file without read permission (the
tests run as root, whom ``chmod 000`` does not stop; they drop the
capability that lets root read anything, see ``tests/test_bad_files.py``).

Run it to look at the corpus: ``python tests/badfiles.py /tmp/corpus``.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# A well-formed invented page, one article; ``good_page`` varies the headline.
PAGE = "● 要闻\n\n# {title}\n\n本报讯 这是一篇虚构的新闻，用来检查坏文件不会妨碍别的页面。第二句话。\n"


def good_page(title: str) -> str:
    """An invented page with one article headed ``title``."""
    return PAGE.format(title=title)


def _write(data: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(data)

    return make


def _fix(path: Path) -> None:
    """What an operator does: put a good page where the bad one was."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.write_text(good_page(f"修好的{path.stem}"), encoding="utf-8")


def _fifty_megabytes(path: Path) -> None:
    line = ("这是一段没有结构的长文字，用来检查大文件不会让服务崩溃。" * 4 + "\n").encode("utf-8")
    with path.open("wb") as handle:
        for _ in range(50_000_000 // len(line) + 1):
            handle.write(line)


def _million_lines(path: Path) -> None:
    path.write_bytes("行\n".encode() * 1_000_000)  # 4 MB: under the size limit, over the line limit


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "notes.md").write_text("a folder whose name looks like a page", encoding="utf-8")


def _loop(path: Path) -> None:
    os.symlink(path.name, path)  # points at itself: every open fails with ELOOP


def _pipe(path: Path) -> None:
    os.mkfifo(path)  # opening it for reading would wait for a writer for ever


_TEXT = good_page("截断的页面").encode("utf-8")


# A PDF with nothing compressed and no binary comment: every byte ASCII, so valid UTF-8 text.
_ASCII_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def _bad_bytes_inside(path: Path) -> None:
    text = good_page("中间坏了几个字节的页面").encode("utf-8")
    middle = text.index("第二句话".encode())
    path.write_bytes(text[:middle] + b"\xff\xfe" + text[middle:])


def _one_long_line(path: Path) -> None:
    # Under the size limit: 4.5 MB of text with no line break.
    path.write_text("● 要闻\n\n# 没有换行的页面\n\n" + "没有换行的文字，" * 190_000 + "\n", encoding="utf-8")


@dataclass(frozen=True)
class BadFile:
    """One entry of the corpus and what ingest must make of it."""

    name: str
    what: str
    make: Callable[[Path], None]
    reason: str | None  # a part of the reason reported; None: the file is read
    fix: Callable[[Path], None] = _fix


CORPUS = (
    BadFile("2024-11-27_01.txt", "empty", _write(b""), "empty file"),
    BadFile(
        "2024-11-27_02.txt",
        "binary",
        _write(b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(4096)),
        "is a PNG image, not a page's text",
    ),
    BadFile("2024-11-27_03.txt", "truncated UTF-8", _write(_TEXT[:-2]), "re-export it"),
    BadFile("2024-11-27_04.txt", "GBK", _write(good_page("国标编码的页面").encode("gbk")), None),
    BadFile(
        "2024-11-27_05.txt",
        "UTF-16 without BOM",
        _write(good_page("没有字节序标记的页面").encode("utf-16-le")),
        None,
    ),
    BadFile("2024-11-27_06.txt", "50 MB of text", _fifty_megabytes, "more than a page can be"),
    BadFile("2024-11-27_07.txt", "a million lines", _million_lines, "more than a page can have"),
    BadFile(
        "2024-11-27_08.txt",
        "NUL bytes",
        _write(good_page("藏着空字节的页面").encode("utf-8").replace("。".encode(), b"\x00", 1)),
        "NUL bytes",
    ),
    BadFile("2024-11-27_09.txt", "a folder named like a page", _folder, "is a folder"),
    BadFile("2024-11-27_10.txt", "a symbolic link loop", _loop, "symbolic link loop"),
    BadFile("2024-11-27_11.txt", "a named pipe", _pipe, "not a regular file"),
    BadFile("2024-11-27_12.txt", "an all-ASCII PDF", _write(_ASCII_PDF), "is a PDF document"),
    BadFile("2024-11-27_13.txt", "UTF-8 with bad bytes inside", _bad_bytes_inside, "invalid byte sequences"),
    BadFile("2024-11-27_14.txt", "one 4.5 MB line", _one_long_line, "more than a paragraph can be"),
)


def make_corpus(folder: Path) -> list[BadFile]:
    """Write every corpus entry into ``folder`` (created); returns the entries."""
    folder.mkdir(parents=True, exist_ok=True)
    for bad in CORPUS:
        bad.make(folder / bad.name)
    return list(CORPUS)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-pages")
    for bad in make_corpus(target):
        print(f"{target / bad.name}: {bad.what}")
