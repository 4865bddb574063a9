"""Datelines, credits, jump notes and page furniture as other dailies print them.

Every page here is made up for the test (fictional places and people).
"""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("note", ["（紧接第一版）", "（续第一版）", "（上接A1版）", "（接第A1版）"])
def test_a_continuation_note_is_no_credit_and_no_text(note: str) -> None:
    page = parse_page(
        f"青石湖畔建起智慧农场\n\n{note}合作社还与县职业学校合作，开设了智能农机操作培训班，"
        "已有六十多名年轻人学成返乡。\n\n小区消防通道不再“卡脖子”\n\n本报讯（记者 林雨晴）连日来，城南街道"
        f"对辖区小区消防通道开展集中整治，清理占道车辆四十余处。\n\n{note}\n"
    )
    first, second = page.articles
    assert first.body.startswith("合作社还与")
    assert first.jumps == (note.strip("（）"),)
    assert [c.name for c in second.credits] == ["林雨晴"]
    assert "接" not in second.body and "续" not in second.body


@pytest.mark.parametrize("note", ["（下转A3版）", "（转第三版）", "（下转3版）"])
def test_a_jump_on_to_another_page_ends_the_story(note: str) -> None:
    page = parse_page(
        "青石湖畔建起智慧农场\n\n本报讯（记者 周远山）合作社今年引入温室传感系统后，蔬菜亩产提高了两成，"
        f"用工减少三分之一。{note}\n\n城东新桥昨日正式通车，市民出行更加便捷，沿线交通压力明显缓解。（林雨晴）\n"
    )
    first, second = page.articles
    assert first.body.endswith("三分之一。")
    assert first.jumps == (note.strip("（）"),)
    assert second.body.startswith("城东新桥")


@pytest.mark.parametrize(
    ("dateline", "authors"),
    [
        ("本报青石12月2日电　记者周远山　通讯员林雨晴　", ["周远山", "林雨晴"]),
        ("本报讯 记者钱明亮 实习生孙小雨 报道　", ["钱明亮", "孙小雨"]),
        ("本报讯　本报记者 周远山 林雨晴　", ["周远山", "林雨晴"]),
    ],
)
def test_a_credit_after_a_dateline_parted_from_the_text_by_a_space(dateline: str, authors: list[str]) -> None:
    page = parse_page(
        "老城区供水管网改造完工\n\n"
        f"{dateline}历时八个月，老城区供水管网改造工程日前全面完工，一万两千多户居民告别了水压不足的烦恼。\n"
    )
    (article,) = page.articles
    assert [c.name for c in article.credits] == authors
    assert article.body.startswith("历时八个月")


@pytest.mark.parametrize(
    "opening",
    [
        "本报讯 记者从市统计局获悉",
        "新华社北京12月2日电 记者 12月2日从市统计局获悉",
        "本报讯 记者周远山近日从市统计局获悉",
    ],
)
def test_a_sentence_about_the_reporter_after_a_dateline_stays_text(opening: str) -> None:
    page = parse_page(f"前三季度工业增长\n\n{opening}，前三季度全市规模以上工业增加值同比增长百分之六。\n")
    (article,) = page.articles
    assert article.credits == ()
    assert article.body.startswith("记者")


@pytest.mark.parametrize(
    "folio", ["东岭日报 | 2026.12.03 | 05", "05｜2026-12-03｜东岭日报", "东岭日报  2026/12/03  05"]
)
def test_a_folio_dated_with_dots_or_dashes_is_furniture(folio: str) -> None:
    page = parse_page(
        f"{folio}\n经济\n\n牧区冬储饲草充足\n\n□ 本报记者 巴特尔 文/图\n"
        "入冬以来，草原各嘎查陆续完成冬储饲草收购，牧民家家户户的草棚都堆得满满当当。\n"
    )
    (article,) = page.articles
    assert article.title == "牧区冬储饲草充足"
    assert article.section == "经济"
    assert "2026" in page.dropped[0]


def test_a_dotted_date_inside_the_text_stays_text() -> None:
    page = parse_page(
        "新规实施\n\n本报讯 新规自\n2026.12.03 起施行\n，市民办理业务可以全程网上提交材料，不用再跑窗口。\n"
    )
    (article,) = page.articles
    assert "2026.12.03" in article.body


@pytest.mark.parametrize(
    "editors", ["责任编辑：孙晓梅　版式：陈晨", "执行编辑 孙晓梅 审校 王磊", "排版：陈晨", "美术编辑 陈晨"]
)
def test_an_editors_line_under_the_last_sentence_is_no_part_of_the_text(editors: str) -> None:
    page = parse_page(
        "社区食堂开进老街巷\n\n本报讯（记者 钱明亮）家住老城区的王奶奶今年七十八岁，以前最发愁的就\n"
        "是一日三餐，儿女都在外地工作，自己做饭又怕忘了关火。\n街道负责人表示，年底前还将在另外三个社\n"
        f"区开设同类食堂。\n{editors}\n"
    )
    (article,) = page.articles
    assert article.body.endswith("同类食堂。")
    assert [c.name for c in article.credits] == ["钱明亮"]


def test_a_wrapped_line_opening_with_an_editors_title_stays_text() -> None:
    page = parse_page(
        "新书首发\n\n本报讯 这部小说的责任\n编辑 周远山 林雨晴\n"
        "介绍，书稿前后修改了七遍，历时三年才最终定稿。\n"
    )
    (article,) = page.articles
    assert article.body.startswith("这部小说的责任编辑 周远山 林雨晴介绍，")


_COMMENTARY = (
    "夜市的热闹，是一座城市活力的写照。但烟火气不能以牺牲环境和秩序为代价，管理部门既要放得开，也要管得住。\n"
    "统一配备油烟净化设备、规范摊位摆放，这些细节做好了，夜市才能红火得更久、走得更远。\n"
)


def test_a_name_alone_under_a_commentary_headline_signs_it() -> None:
    page = parse_page(f"短评\n\n让夜市烟火气更持久\n\n林雨晴\n\n{_COMMENTARY}")
    (article,) = page.articles
    assert article.title == "让夜市烟火气更持久"
    assert article.subtitle is None
    assert [c.name for c in article.credits] == ["林雨晴"]


def test_a_column_named_commentators_article_is_no_byline() -> None:
    page = parse_page(f"评论员文章\n\n以实干担当书写发展新篇\n\n本报评论员\n\n{_COMMENTARY}")
    (article,) = page.articles
    assert article.section == "评论员文章"
    assert article.title == "以实干担当书写发展新篇"
    assert article.credits == ()


@pytest.mark.parametrize("number", ["（一）", "一、", "1."])
def test_a_numbered_part_heading_stays_a_paragraph_of_its_story(number: str) -> None:
    page = parse_page(
        "全市部署冬季安全生产工作\n\n本报讯（记者 周远山）12月2日，全市冬季安全生产工作会议召开。"
        f"会议对下一阶段重点工作作出部署，要求各地各部门切实扛起责任。\n\n{number}压实安全生产责任\n\n"
        "安全生产责任要压实到岗到人，主要负责人要亲自研究部署，做到守土有责、守土尽责，层层传导压力。\n"
    )
    (article,) = page.articles
    assert article.title == "全市部署冬季安全生产工作"
    assert article.body.split("\n\n")[1] == f"{number}压实安全生产责任"
