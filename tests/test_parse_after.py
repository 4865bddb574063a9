"""The parser on pages that print each headline under its story, one convention at a time.

Every page here is made up for the test (fictional places and people).  Stories are parted by
wide gaps (two blank lines), as such pages part them; a headline closes the text above it.
"""

from __future__ import annotations

from digest.paper.parse import parse_page


def test_the_gaps_around_headlines_tell_a_page_printing_them_under_their_stories() -> None:
    # The headlines share no words with the text on either side; the wide gaps under them, none
    # over them, say which story each one closes.
    page = parse_page(
        "本报讯 昨天上午，城东社区组织志愿者为独居老人打扫房间、送去米面。\n\n"
        "志愿者说，这样的活动每月都会举办一次。\n\n邻里守望暖人心\n\n\n"
        "本报讯 近日，白沙乡果农陆续开展春季修剪工作，农技员在田间指导。\n\n"
        "果农说，今年的梨花开得比往年早。\n\n枝头春意闹\n\n\n"
        "本报讯 东岭村的村民们趁着晴好天气，忙着翻耕土地，准备春播。\n\n"
        "村干部说，今年全村计划种植玉米三百亩。\n\n田野好时节\n"
    )
    assert [a.title for a in page.articles] == ["邻里守望暖人心", "枝头春意闹", "田野好时节"]
    assert page.articles[0].body.startswith("昨天上午")
