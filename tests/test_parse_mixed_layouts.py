"""The parser on the layout remix's mixes: conventions of one development page combined with
another's (no blank lines under a running head, # headlines with kickers, caption lists glued to
their credit, narrow columns the length of a page).

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

from digest.paper.bylines import is_byline
from digest.paper.conventions import MAINLAND
from digest.paper.lines import _logical_lines
from digest.paper.parse import parse_page

_STORY_A = "本报讯（记者 甲乙）青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处。"
_STORY_B = "本报讯（记者 周远）古桥修缮工程日前完工，将于下月向市民开放。"
_STORY_C = "本报讯（记者 林雨）东岭村的红薯喜获丰收，村民们正忙着采挖装车。"


def _wrapped(text: str, width: int) -> str:
    return "\n".join(text[k : k + width] for k in range(0, len(text), width))


def test_a_column_tag_under_a_running_head_is_its_story_own_on_a_page_without_blank_lines() -> None:
    page = parse_page(
        f"教育教育\n青石镇建成三座口袋公园\n{_STORY_A}\n"
        f"随笔\n古桥修好了\n{_STORY_B}\n东岭村红薯丰收\n{_STORY_C}\n"
    )
    assert [(a.section, a.title) for a in page.articles] == [
        ("教育", "青石镇建成三座口袋公园"),
        ("随笔", "古桥修好了"),
        ("教育", "东岭村红薯丰收"),
    ]


def test_a_name_in_a_headlines_block_is_its_tag_where_section_names_stand_apart() -> None:
    # 民生 alone in its block is the section; 随笔 in the headline's block is that story's tag.
    page = parse_page(
        f"民生\n\n青石镇建成三座口袋公园\n\n{_STORY_A}\n\n随笔\n古桥修好了\n\n{_STORY_B}\n\n"
        f"东岭村红薯丰收\n\n{_STORY_C}\n"
    )
    assert [a.section for a in page.articles] == ["民生", "随笔", "民生"]


def test_a_bracketed_section_under_the_folio_is_a_line_of_its_own() -> None:
    folio = "东岭晚报　2023年12月4日　星期一　第06版：城市周刊"
    lead = _wrapped(
        "近日，青石镇的农户陆续开展春耕备耕工作，整地施肥为春播做准备，田间地头一派繁忙景象。", 26
    )
    page = parse_page(f"{folio}\n【区县】\n{lead}\n本报记者 甲乙 摄\n古桥修好了\n{_STORY_B}\n")
    assert [a.section for a in page.articles] == ["区县", "区县"]
    assert all("区县" not in a.body and "星期一" not in a.body for a in page.articles)


def test_the_folio_line_at_the_top_of_a_page_without_blank_lines_is_no_text() -> None:
    folio = "东岭晚报 2023年12月4日 星期一 第06版：综合新闻"
    text = (
        "近日，青石镇的农户陆续开展春耕备耕工作，整地施肥为春播做准备，"
        "田间地头一派繁忙景象，处处是人勤春早的景象。"
    )
    page = parse_page(f"{folio}\n{_wrapped(text, 20)}\n本报记者 甲乙 摄\n古桥修好了\n{_STORY_B}\n")
    assert page.articles[0].body.startswith("近日")
    assert all("星期一" not in a.body for a in page.articles)


def test_a_short_running_head_under_the_folio_is_the_section() -> None:
    page = parse_page(
        f"东岭晚报 2023年12月4日 星期一 第06版：综合新闻\n体育体育\n青石镇建成三座口袋公园\n{_STORY_A}\n"
    )
    assert page.articles[0].section == "体育"
    assert "体育" not in page.articles[0].body


def test_a_kicker_ending_in_a_dash_over_a_marked_headline_is_part_of_it() -> None:
    page = parse_page(f"社会\n\n市民来信点赞公交司机——\n## “这座城市真温暖”\n\n{_STORY_A}\n")
    (article,) = page.articles
    assert article.section == "社会"
    assert "这座城市真温暖" in (article.title or "")
    assert "市民来信" in f"{article.kicker}{article.title}"
    assert not article.body.startswith("社会")


def test_a_kicker_ending_in_a_colon_over_a_marked_headline_is_no_section() -> None:
    page = parse_page(
        f"要闻\n\n## 青石镇建成口袋公园\n\n{_STORY_A}\n\n水利局：\n## 汛期将至 各地备汛\n\n{_STORY_B}\n"
    )
    assert [a.section for a in page.articles] == ["要闻", "要闻"]
    assert "汛期将至" in (page.articles[1].title or "")
    assert "水利局" in f"{page.articles[1].kicker}{page.articles[1].title}"
    assert "水利局" not in page.articles[0].body


def test_a_bare_word_over_a_bulleted_brief_names_its_roundup() -> None:
    page = parse_page(
        f"## 青石镇建成口袋公园\n\n{_STORY_A}\n\n图片新闻\n\n"
        "△城东新桥昨日正式通车，市民出行更加便捷，沿线交通压力明显缓解。（周远）\n\n"
        "△东岭村红薯喜获丰收，村民们正忙着采挖装车。（林雨）\n"
    )
    assert [(a.section, a.title) for a in page.articles[1:]] == [("图片新闻", None), ("图片新闻", None)]
    assert all("图片新闻" not in a.body for a in page.articles)


def test_a_bare_word_over_an_untitled_photo_on_a_marked_page_names_its_section() -> None:
    # The page marks its headlines with #, so the unmarked word over the caption is no photo title.
    caption = "11月30日，青石湖畔的银杏叶一片金黄，不少市民前来拍照留念。本报记者 林雨 摄\n\n"
    page = parse_page(
        f"## 青石镇建成口袋公园\n\n{_STORY_A}\n\n图片新闻\n\n{caption}## 东岭村红薯丰收\n\n{_STORY_C}\n"
    )
    photo = page.articles[1]
    assert (photo.section, photo.title, photo.authors) == ("图片新闻", None, ("林雨",))
    assert all(
        "图片新闻" not in a.body and "图片新闻" not in "".join(c.text for c in a.captions)
        for a in page.articles
    )
    # A photo's own title is marked there (## 街拍): it stays the title.
    titled = parse_page(f"## 青石镇建成口袋公园\n\n{_STORY_A}\n\n## 街拍\n\n{caption}")
    assert [(a.section, a.title) for a in titled.articles[1:]] == [(None, "街拍")]


def test_names_closing_a_paragraph_over_a_short_line_close_the_story() -> None:
    # Single blank lines only: the names glued to the last sentence sign the story above, so the
    # short line under them opens another story, signed by others.
    page = parse_page(
        "青石镇建成口袋公园\n\n□通讯员 甲乙 丙丁\n\n"
        "本报讯 青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处。\n\n"
        "外地游客点赞古城\n\n昨夜十点，记者在古城汽车站候车大厅遇到了即将回乡的游客老周，他说古城干净又热情。\n\n"
        "老周还提了两条建议，希望古城的夜市能再规范一些。”王星 周远\n\n"
        "东岭村红薯丰收\n\n" + _STORY_C + "\n"
    )
    assert [a.title for a in page.articles] == ["青石镇建成口袋公园", "外地游客点赞古城", "东岭村红薯丰收"]
    assert page.articles[1].authors == ("王星", "周远")


def test_a_long_run_of_text_before_a_role_is_no_outlet() -> None:
    assert not is_byline("青石小学团委书记周萌在活动现场告诉青石网记者，这是学校组")
    assert is_byline("青石报·青石网见习记者 王明")


def test_captions_listed_over_a_credit_in_the_texts_block_stay_captions() -> None:
    page = parse_page(
        "金秋庆丰收 古城迎国庆\n\n城东花坛\n古桥夜景\n湖畔长廊\n南山步道\n西江大桥\n广袤田野一片金黄\n"
        "东岭晚报全媒记者 甲乙 通讯员 丙丁\n"
        "又是一年国庆节，古城处处张灯结彩。\n\n连日来，城管部门在城区摆花布景，悬挂国旗和灯笼，营造节日氛围。\n"
    )
    (article,) = page.articles
    assert article.title == "金秋庆丰收 古城迎国庆"
    assert [c.text for c in article.captions][-1] == "广袤田野一片金黄"
    assert [(c.role, c.name) for c in article.credits] == [("东岭晚报全媒记者", "甲乙"), ("通讯员", "丙丁")]


def test_captions_under_a_one_line_headline_on_a_page_without_blank_lines() -> None:
    # A paragraph to a line and no blank line anywhere: three captions listed right under their
    # headline are no part of it, and the headline is the picture story's.
    para = (
        "青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处，"
        "老人孩子都爱来这里走走看看，傍晚时分尤其热闹。"
    )
    story = (
        "在推进乡村振兴工作中，青石镇坚持农业优先发展，做强核桃和杂粮产业，农民收入稳步增长。 记者 周远 摄"
    )
    page = parse_page(
        f"青石镇建成三座口袋公园\n{_STORY_A}\n" + f"{para}\n" * 40 + "青石镇奏响乡村振兴曲\n"
        f"东岭村大棚里农民忙碌的身影\n南山养猪场仔猪成群\n风景如画的油菜花海\n{story}\n古桥修好了\n{_STORY_B}\n"
    )
    assert [a.title for a in page.articles] == [
        "青石镇建成三座口袋公园",
        "青石镇奏响乡村振兴曲",
        "古桥修好了",
    ]
    assert "仔猪成群" in page.articles[1].body


def test_a_long_line_in_a_page_long_narrow_column_leaves_it_a_column() -> None:
    # A page printed without blank lines in a column of 16, one caption printed whole: the page
    # still has its column, and its lines go on into each other by it.
    text = "青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处，老人孩子都爱来这里。" * 10
    caption = (
        "图为青石镇城东口袋公园里，市民们在新建的健身步道上散步锻炼，孩子们在草坪上追逐嬉戏，一派热闹景象。"
    )
    page = f"青石镇建成三座口袋公园\n{_wrapped(text, 16)}\n{caption}\n{_wrapped(text, 16)}\n"
    lines, *_, width = _logical_lines(page, MAINLAND)
    assert width == 16
    assert text in lines


def test_a_layout_code_after_the_last_sentence_leaves_the_headline_under_it_alone() -> None:
    # Headlines printed under their stories; a code the layout left after the last sentence (②9)
    # ends no sentence of its own: the story is finished, and the line under it is its headline.
    page = parse_page(
        "本报讯（记者 甲乙）青石镇今年新建了三座口袋公园。\n\n居民说：“散步有了好去处，真的很开心！”②9\n\n"
        "青石镇建成口袋公园\n\n\n"
        "本报讯（记者 周远）古桥修缮工程日前完工，将于下月向市民开放。\n\n古桥修缮完工\n"
    )
    assert [a.title for a in page.articles] == ["青石镇建成口袋公园", "古桥修缮完工"]


def test_a_headline_stack_on_a_page_printing_a_paragraph_to_a_line() -> None:
    # No column to measure: three short lines set apart in one block after a finished paragraph,
    # sharing words with the lead under them, are a headline with its kicker and subtitle.
    first = "本报讯（记者 甲乙）青石镇今年新建了三座口袋公园，周边居民散步休闲有了好去处，老人孩子常来。"
    lead = "市民周先生向本报反映：城东有块路牌写错了，青石巷的“石子巷”实际上应该叫“石板巷”，希望能改过来。"
    page = parse_page(
        f"青石镇建成三座口袋公园\n\n{first}\n\n石子巷？石板巷？\n青石巷这条有故事的小巷\n路名到底该叫什么？\n\n{lead}\n"
    )
    assert len(page.articles) == 2
    assert "青石巷这条有故事的小巷" in (page.articles[1].title or "")


def test_a_crosshead_over_the_text_its_story_closes_with_a_writers_credit_stays_in_the_story() -> None:
    # The story names no writers at its top and signs at its end: the credit under the paragraph
    # below the crosshead closes the story the crosshead stands in, no new one.
    blocks = [
        "青石镇流动书车开进村",
        _wrapped("上午九时，一辆装满图书的流动书车驶进了白沙村的文化广场，早早等候的村民们围了上来。", 22),
        _wrapped("镇文化站站长介绍，流动书车每周进村两次，每次带去五百多册图书，还有一批绘本。", 22),
        "少儿读物最抢手",
        _wrapped("记者看到，书车旁的孩子们捧着绘本读得津津有味，不少家长也跟着一起翻看。", 22),
        "本报记者 周远 林雨",
        "古桥修缮完工",
        _wrapped("本报讯 城南古桥修缮工程日前完工，这座建于清代的石拱桥将于下月重新向游人开放。", 22),
    ]
    page = parse_page("\n\n".join(blocks) + "\n")
    assert [a.title for a in page.articles] == ["青石镇流动书车开进村", "古桥修缮完工"]
    assert page.articles[0].authors == ("周远", "林雨")
    assert "少儿读物最抢手" in page.articles[0].body
