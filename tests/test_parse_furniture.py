"""Datelines, credits, jump notes and page furniture as other dailies print them.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

from digest.paper.parse import parse_page


def test_a_dateline_printing_the_year_is_read() -> None:
    page = parse_page(
        "冬季供暖全面启动\n\n"
        "新华社青州2026年12月2日电（记者马晓东、刘建平）随着气温持续走低，青州市各供热企业"
        "已全部点火运行，全市供暖面积比去年扩大了八十万平方米。\n"
    )
    (article,) = page.articles
    assert article.date == "12-02"
    assert article.place == "青州"
    assert [c.name for c in article.credits] == ["马晓东", "刘建平"]
    assert article.body.startswith("随着气温")
