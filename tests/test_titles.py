"""Short titles for headline-less articles (``digest.paper.titles``); properties: test_parse_properties."""

from __future__ import annotations

import pytest

from digest.paper.titles import balanced, short_title


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("城市书房日前在城西社区开放，藏书两万册。", "城市书房日前在城西社区开放"),  # the first clause
        ("新桥通车。市民步行上桥参观。", "新桥通车"),  # a short sentence is title enough
        # Too long a clause: about 20 characters, never inside a quotation.
        ("青年演员王小河在舞台上与他的战马“赤兔”生死相依。", "青年演员王小河在舞台上与他的战马“赤兔”…"),
        ("市民在新落成的“城市书房”里阅读图书和报刊杂志。", "市民在新落成的“城市书房”里阅读图书和报…"),
        ("青年演员王小河在舞台上与他心爱的战马“赤兔”生死相依。", "青年演员王小河在舞台上与他心爱的战马…"),
        # A clause shorter than five characters runs on to the next.
        ("近日，城西社区开放城市书房。", "近日，城西社区开放城市书房"),
        # A text opening with a quotation takes it whole when it fits, else its first clause.
        ("“以前过河要绕很远，现在十分钟就到了。”王女士说。", "“以前过河要绕很远，现在十分钟就到了。”…"),
        ("“以前过河要绕很远很远很远，现在只要十分钟就到了。”王女士说。", "以前过河要绕很远很远很远"),
        # Never inside a number or a Latin word.
        ("2024年度CCER林业碳汇远期交易签约仪式日前在城西举行", "2024年度CCER林业碳汇远期交易签约…"),
        ("", None),
        ("■ ", None),
    ],
)
def test_short_titles(body: str, title: str | None) -> None:
    assert short_title(body) == title
    assert title is None or balanced(title)


def test_balanced() -> None:
    assert balanced("与他的战马“赤兔”") and balanced("无引号")
    assert not balanced("与他的战马“") and not balanced("战马”") and not balanced("《书“名》”")
