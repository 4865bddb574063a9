"""Pages printed in traditional characters (Hong Kong, Taiwan, Macau) are read by the same conventions
as mainland pages (本報訊, 記者, 編者按, 責任編輯, 下轉第6版), and their articles keep the characters
printed.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

from digest.config import ParserConfig
from digest.paper.conventions import conventions_for
from digest.paper.parse import articles_text, parse_page
from digest.paper.variants import TO_SIMPLIFIED, Folding
from digest.types import Page

SIMPLIFIED = """港湾晨报　2026年3月2日　星期一　第3版　本埠新闻

# 海港边的旧仓库改成社区图书馆

本报讯（记者 林晓岚 通讯员 周远）闲置多年的三号仓库昨日起作为社区图书馆开放，首批藏书两万册，周末也开放。

附近居民说，孩子放学后终于有了安静读书的地方。图书馆还开设了旧报纸阅览角，收藏本埠五十年来的报纸。（下转第6版）

# 渡轮码头新增夜班航线

本报讯 记者 陈嘉文 报道　为方便夜归市民，渡轮公司宣布自下月起增开两条夜班航线，末班船延至凌晨一点。

公司负责人表示，新航线试行三个月后再作评估。

编者按：城市更新不只是拆旧建新，也在于让旧空间重新服务街坊。

责任编辑：周文　版式：李安
"""

# The same page as a Hong Kong paper prints it (説, 裏) ...
HONG_KONG = """港灣晨報　2026年3月2日　星期一　第3版　本埠新聞

# 海港邊的舊倉庫改成社區圖書館

本報訊（記者 林曉嵐 通訊員 周遠）閒置多年的三號倉庫昨日起作為社區圖書館開放，首批藏書兩萬冊，週末也開放。

附近居民説，孩子放學後終於有了安靜讀書的地方。圖書館還開設了舊報紙閲覽角，收藏本埠五十年來的報紙。（下轉第6版）

# 渡輪碼頭新增夜班航線

本報訊 記者 陳嘉文 報道　為方便夜歸市民，渡輪公司宣佈自下月起增開兩條夜班航線，末班船延至凌晨一點。

公司負責人表示，新航線試行三個月後再作評估。

編者按：城市更新不只是拆舊建新，也在於讓舊空間重新服務街坊。

責任編輯：周文　版式：李安
"""
# ... and as a Taiwanese one (說, 閱).
TAIWAN = HONG_KONG.replace("説", "說").replace("閲", "閱")


def shape(page: Page) -> list[tuple[object, ...]]:
    """What the parser made of a page, apart from the characters: how many of each field."""
    return [
        (
            bool(a.title),
            bool(a.section),
            [len(c.name) for c in a.credits],
            a.body.count("\n\n"),
            len(a.body),
            len(a.notes),
            len(a.jumps),
            bool(a.dateline),
        )
        for a in page.articles
    ]


@pytest.mark.parametrize("text", [HONG_KONG, TAIWAN])
def test_a_traditional_page_is_read_as_its_simplified_twin_is(text: str) -> None:
    simplified, traditional = parse_page(SIMPLIFIED, "p.txt"), parse_page(text, "p.txt")
    assert shape(traditional) == shape(simplified)
    first, second = traditional.articles
    assert first.title == "海港邊的舊倉庫改成社區圖書館" and first.section == "本埠新聞"
    assert [(c.name, c.role) for c in first.credits] == [("林曉嵐", "記者"), ("周遠", "通訊員")]
    assert first.dateline == "本報訊（記者 林曉嵐 通訊員 周遠）"
    assert first.jumps == ("下轉第6版",)
    assert first.body.startswith("閒置多年的三號倉庫") and first.body.endswith("收藏本埠五十年來的報紙。")
    assert second.title == "渡輪碼頭新增夜班航線"
    assert [(c.name, c.role) for c in second.credits] == [("陳嘉文", "記者 報道")]
    assert second.notes == ("編者按：城市更新不只是拆舊建新，也在於讓舊空間重新服務街坊。",)
    assert "責任編輯" not in articles_text(traditional.articles)
    assert any(line.startswith("責任編輯：周文") for line in traditional.dropped)
    assert traditional.name == "p.txt"


def test_the_articles_keep_every_character_as_printed() -> None:
    page = parse_page(HONG_KONG, "p.txt")
    printed = set(HONG_KONG)
    out = articles_text(page.articles) + "".join(page.dropped)
    assert set(out) - printed <= {" ", "\n"}
    assert not {char for char in out if char in TO_SIMPLIFIED.values()} - printed


def test_a_page_printing_both_forms_of_a_character_keeps_both() -> None:
    # 报 quoted in a mainland paper's name beside the page's own 報: that pair is left alone, the rest
    # of the page is still read by its words.
    text = HONG_KONG.replace("收藏本埠五十年來的報紙", "收藏本埠及《东岭日报》五十年來的報紙")
    page = parse_page(text, "p.txt")
    assert "《东岭日报》五十年來的報紙" in page.articles[0].body
    assert [(c.name, c.role) for c in page.articles[0].credits] == [("林曉嵐", "記者"), ("周遠", "通訊員")]


def test_a_simplified_page_quoting_a_traditional_name_is_read_unfolded() -> None:
    text = SIMPLIFIED.replace("林晓岚", "於曉嵐")
    assert Folding.of(text) is None
    page = parse_page(text, "p.txt")
    assert shape(page) == shape(parse_page(SIMPLIFIED, "p.txt"))
    assert [c.name for c in page.articles[0].credits] == ["於曉嵐", "周远"]


def test_a_parser_word_written_in_traditional_characters_is_known_on_both_kinds_of_page() -> None:
    conventions = conventions_for(ParserConfig(roles=("播報員",)))
    for text, role in ((HONG_KONG, "播報員"), (SIMPLIFIED, "播报员")):
        page = parse_page(
            text.replace("通訊員" if text is HONG_KONG else "通讯员", role), "p.txt", conventions
        )
        assert [c.role for c in page.articles[0].credits] == ["記者" if text is HONG_KONG else "记者", role]


def test_an_agency_dateline_in_traditional_characters_gives_its_place_date_and_reporter() -> None:
    page = parse_page(
        "# 海港邊的舊倉庫改成社區圖書館\n\n新華社香港3月2日電（記者 林曉嵐）閒置多年的三號倉庫昨日起"
        "作為社區圖書館開放。附近居民說，孩子放學後終於有了安靜讀書的地方。\n",
        "p.txt",
    )
    (article,) = page.articles
    assert (article.dateline, article.place, article.date) == (
        "新華社香港3月2日電（記者 林曉嵐）",
        "香港",
        "03-02",
    )
    assert [(c.name, c.role) for c in article.credits] == [("林曉嵐", "記者")]
    assert article.body.startswith("閒置多年")
