"""Credits, jump notes and column tags the layout cuts or sets against a headline.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

from digest.paper.parse import parse_page

# A story in a narrow column: its lines wrapped at about fourteen characters.
_NARROW = (
    "本报讯 青石镇老街改造工程日前全\n部完工，沿街的三十多家店铺陆续\n重新开张，居民们纷纷回到老街。\n\n"
    "镇里还在老街两头修建了停车场，\n方便外地游客前来参观游览。\n"
)


@pytest.mark.parametrize(
    "headline",
    ["## 青石镇老街改造完成 三十多家店铺重新开张", "青石镇老街改造完成店铺开张"],
)
def test_a_jump_note_under_a_headline_is_no_part_of_it(headline: str) -> None:
    page = parse_page(f"{headline}\n（上接第1版）\n\n{_NARROW}")
    article = page.articles[0]
    assert "上接" not in (article.title or "")
    assert article.title == headline.removeprefix("## ")
    assert article.jumps == ("上接第1版",)
    assert article.body.startswith("青石镇老街改造工程")
