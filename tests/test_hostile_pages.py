"""Hostile page files against a real ``digest serve``: whoever may drop pages into the source folder
may neither publish a file from outside it through a symbolic link (the signing secret, the
database, the outbox's emails) nor stop the service publishing with a page's text.

Markup, header injection and fuzzed requests: tests/test_hostile.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import wait_for
from test_service import ROOT, Serve, page

from digest.paper.titles import LIMIT, short_title

SECRET_MARK = "外泄的机密文字"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``digest serve`` on the example pages, with two links in the source folder when it starts:
    one to the service's own signing secret, one to a page-like file beside the folder."""
    home = tmp_path_factory.mktemp("hostile-pages")
    pages = home / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    outside = home / "outside.txt"
    outside.write_text(page(SECRET_MARK, f"{SECRET_MARK}的正文。"), encoding="utf-8")
    (pages / "2024-11-29_01.txt").symlink_to(outside)
    # Made by ``digest serve`` at its first signing; made here first so the link has a target.
    (home / "data").mkdir()
    secret = home / "data" / "server.secret"
    secret.write_text("s" * 40 + "-this-service-signing-secret\n", encoding="ascii")
    secret.chmod(0o600)
    (pages / "2024-11-29_02.txt").symlink_to(secret)
    # A link to another page of the folder reads that page, as before.
    (pages / "2024-11-30_01.txt").symlink_to(pages / "2024-11-27_01.txt")
    service = Serve(home, pages)
    try:
        yield service
    finally:
        assert service.stop() == 0, service.log()


def _published(out: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in out.rglob("*") if p.suffix in (".html", ".atom", ".json")
    )


@pytest.mark.slow
def test_a_link_out_of_the_source_folder_publishes_nothing_of_its_target(served: Serve) -> None:
    site = _published(served.home / "out")
    assert SECRET_MARK not in site and "this-service-signing-secret" not in site
    assert SECRET_MARK not in served.feed()
    log = served.log()
    for name in ("2024-11-29_01.txt", "2024-11-29_02.txt"):
        assert f"skipped page {name}: is a symbolic link to a file outside the source folder" in log
    assert (served.home / "out" / "issues" / "2024-11-30" / "index.html").is_file()  # the link inside is read


@pytest.mark.slow
def test_a_page_of_opening_brackets_stops_no_later_page(served: Serve) -> None:
    pages = Path(served.folders[1])
    # A headline-less article whose text opens with thousands of brackets (its short title is
    # looked for inside them): the recursion doing that overflowed and failed every publish after.
    hostile = "● 要闻\n\n" + "（" * 5000 + "正文。\n\n第二段。\n"
    for name, text in [("2024-12-01_01.txt", hostile), ("2024-12-02_01.txt", page("括号之后的新页面"))]:
        temporary = pages / f".{name}.part"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(pages / name)
    wait_for(lambda: "括号之后的新页面" in served.feed(), 20, "the page after the hostile one in the feed")
    assert "RecursionError" not in served.log()


def test_a_short_title_inside_any_number_of_brackets_is_found_in_time() -> None:
    # A few brackets are looked inside, as before.
    assert (
        short_title("（（（示例正文的第一句话很长很长很长很长很长很长很长")
        == "示例正文的第一句话很长很长很长很长很长很…"
    )
    assert short_title("（" * 1_000_000) is None
    assert short_title("（" * (LIMIT + 1) + "正文。") is None
