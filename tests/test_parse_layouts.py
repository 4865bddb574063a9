"""The parser on layouts that combine conventions in ways the dev pages do not.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

from digest.paper.parse import parse_page


def test_short_doubled_running_head_names_the_section() -> None:
    # A two-character page name printed twice by the page's margin (视点视点), over plain headlines.
    page = parse_page(
        "\n视点视点\n\n青石镇开通夜班公交\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n\n"
        "古桥修缮完工\n\n本报讯(记者 周远)古桥修缮工程日前完工,将于下月开放。\n"
    )
    assert [a.title for a in page.articles] == ["青石镇开通夜班公交", "古桥修缮完工"]
    assert [a.section for a in page.articles] == ["视点", "视点"]
    assert all("视点" not in a.body for a in page.articles)


def test_a_line_of_one_repeated_character_is_no_running_head() -> None:
    page = parse_page("哈哈哈哈\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n")
    assert page.articles[0].section != "哈哈"


def test_video_prompt_under_a_headline_is_neither_headline_nor_text() -> None:
    page = parse_page(
        "青石镇开通夜班公交\n\n扫码看视频\n\n本报讯(记者 甲乙)近日,青石镇开通两条夜班公交线路。\n\n"
        "古桥修缮完工\n\n扫码观看视频\n\n本报讯(记者 周远)古桥修缮工程日前完工,将于下月开放。\n"
    )
    assert [a.title for a in page.articles] == ["青石镇开通夜班公交", "古桥修缮完工"]
    assert all("扫码" not in a.body and "扫码" not in (a.subtitle or "") for a in page.articles)
