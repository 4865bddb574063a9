"""Photo captions and short titles, from the page to what readers see.

The parser keeps captions apart from the body (with the credit printed under
or after them) and gives a headline-less article a short title derived from
its first clause; the store keeps captions in their own column; the article
page, the Atom entry and the email show them as captions; and an upgrade from
the parser that left captions in the body keeps every id and URL.  Every
store test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from atomcheck import ATOM, check_atom
from playwright.sync_api import Browser
from test_browser import ARTIFACTS, browser  # noqa: F401 (the system-Chromium fixture, shared)
from test_server import serving

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.paper import builder
from digest.paper.parse import parse_page
from digest.paper.report import article_json
from digest.publish.layout import article_path
from digest.service.jobs import run_digest, run_publish
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.store.urls import normalize_url
from digest.types import Caption, Credit, Entry
from digest.web.server import create_app

# Our own text, laid out as papers print photos: a caption with its credit over the dateline, a
# picture story without a headline, and a story with no picture.
PAGE = """● 要闻

# 新桥通车

图为工人在新桥上做最后的检查。 本报记者 林小河 摄

本报讯（记者 甲乙）11月26日，城东新桥正式通
车。新桥全长一千二百米，连通城东和河西两个片区，
市民出行时间缩短一半。据介绍，新桥于两年前开工，
建设期间克服了汛期施工等困难。

通车当天，不少市民步行上桥参观。家住河西的王女士
说：“以前过河要绕很远，现在十分钟就到了。”


# 河西菜市场改造完成

本报讯（记者 丙丁）经过三个月的改造，河西菜市场
日前重新开业。改造后的市场新增了停车位和无障碍通
道，摊位统一规划，环境整洁明亮，不少老顾客专程回
来看看。


● 图片新闻

市民在新落成的城市书房里阅读。 本报记者 丙丁 摄

本报讯 城市书房日前在城西社区开放，藏书两万册，
全天免费开放，周边居民可以凭身份证借阅图书。开放
首日就有三百多名读者前来借书，工作人员说，下一步
还将增加儿童读物和电子阅览设备，方便更多家庭。
"""
NAME = "2024-11-27_01.txt"
FIRST = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)
LATER = FIRST + timedelta(days=1)


def test_a_caption_over_the_dateline_leaves_the_body_with_its_credit() -> None:
    bridge, market, reading = parse_page(PAGE).articles
    assert bridge.captions == (Caption("图为工人在新桥上做最后的检查。", "本报记者 林小河 摄", 0),)
    assert "图为" not in bridge.body and bridge.body.startswith("11月26日")
    assert {"林小河", "甲乙"} <= set(bridge.authors)  # the photographer is credited still
    assert market.captions == ()
    assert reading.title is None and reading.captions[0].text == "市民在新落成的城市书房里阅读。"
    assert reading.printed_body().startswith("市民在新落成的城市书房里阅读。\n\n城市书房日前")


def test_captions_among_the_text_and_a_credit_line_under_one() -> None:
    text = (
        "# 城市书房开放\n\n本报讯 城市书房日前在城西社区开放，藏书两万册，全天免费开放。开放首日就有三百多名"
        "读者前来借书，工作人员说，下一步还将增加儿童读物和电子阅览设备。\n\n图为读者在书房里挑选图书。\n\n"
        "本报记者 丙丁 摄\n\n书房由一处闲置的仓库改建而成，面积六百平方米，设有阅览区、自习区和亲子区，"
        "周边居民步行十分钟即可到达。\n"
    )
    (article,) = parse_page(text).articles
    assert article.captions == (Caption("图为读者在书房里挑选图书。", "本报记者 丙丁 摄", 1),)
    assert article.body.count("\n\n") == 1 and "图为" not in article.body
    assert "丙丁" in article.authors


def test_a_photo_story_made_of_its_captions_keeps_them_as_its_text() -> None:
    text = "# 蓝莓熟了\n\n农户开心地笑了。 本报记者 甲乙 摄\n\n满棚蓝莓郁郁葱葱。 本报记者 甲乙 摄\n"
    (article,) = parse_page(text).articles
    assert article.captions == ()
    assert article.body == "农户开心地笑了。\n\n满棚蓝莓郁郁葱葱。"


def test_a_reporter_credited_by_the_dateline_and_each_caption_is_credited_once_a_role() -> None:
    text = (
        "# 老街夜市开张\n\n夜市入口人头攒动。城东晚报记者 甲乙 摄\n\n"
        "城东网11月26日讯（记者 甲乙）老街夜市开张，摊主们陆续出摊，游客们边走边尝。开张首日就有"
        "三千多名游客前来，不少摊位的小吃一个小时就卖完了，摊主们说生意比去年好得多。\n\n"
        "摊主在烤制糕点。城东晚报记者 甲乙 摄\n\n"
        "夜市将开到明年春节，每天傍晚五点开张，周末还有民乐表演，市民和游客可以乘坐公交前往。\n"
    )
    (article,) = parse_page(text).articles
    assert len(article.captions) == 2
    assert article.credits == (Credit("甲乙", "记者"), Credit("甲乙", "城东晚报记者 摄"))
    assert article.authors == ("甲乙",)


def test_the_jsonl_keeps_title_null_and_gives_the_derived_short_title() -> None:
    reading = article_json(parse_page(PAGE).articles[2])
    assert reading["title"] is None
    assert reading["short_title"] == "城市书房日前在城西社区开放"
    assert reading["captions"] == ["市民在新落成的城市书房里阅读。"]
    assert reading["caption_credits"] == ["本报记者 丙丁 摄"]
    assert article_json(parse_page(PAGE).articles[0])["short_title"] is None


def _entries(store: Store) -> dict[str, Entry]:
    return {e.uid: e for e in store.entries()}


def _publish(config: Config, store: Store, now: datetime) -> None:
    ingest(config, store, now)
    run_publish(config, store)


def test_readers_see_captions_and_a_marked_short_title(config: Config, store: Store) -> None:
    (config.paths.source / NAME).write_text(PAGE, encoding="utf-8")
    _publish(config, store, FIRST)
    stored = sorted(_entries(store).values(), key=lambda e: e.position)
    assert stored[0].article.captions == parse_page(PAGE).articles[0].captions  # the column round trip
    page = (config.paths.output / article_path(stored[0])).read_text(encoding="utf-8")
    assert '<aside class="captions"' in page
    assert "图为工人在新桥上做最后的检查。" in page and "本报记者 林小河 摄" in page
    assert page.index("现在十分钟就到了") < page.index('<aside class="captions"')  # after the text
    untitled = (config.paths.output / article_path(stored[2])).read_text(encoding="utf-8")
    assert '<h1 class="derived"' in untitled and "城市书房日前在城西社区开放</h1>" in untitled
    feed = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    contents = {e.findtext(f"{ATOM}title"): e.findtext(f"{ATOM}content") for e in feed.iter(f"{ATOM}entry")}
    content = contents["新桥通车"]
    assert content.index("现在十分钟就到了") < content.index("图片说明") < content.index("图为工人")
    # One markup for the text (publish/markup.py): from its first paragraph on, the entry's content
    # stands in the page byte for byte, captions and their worded label included.
    text = content[content.index("<p>") :]
    assert "<strong>图片说明</strong>" in text and text in page
    assert "城市书房日前在城西社区开放" in contents
    store.add_subscriber(Subscriber("reader@example.org", (), True, FIRST))
    assert run_digest(config, store, OutboxMailer(config.paths.data / "outbox"), LATER).sent == 1
    (eml,) = (config.paths.data / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None
        assert "图片说明：图为工人在新桥上做最后的检查。（本报记者 林小河 摄）" in part.get_content()


# A photo story whose text is an editors' note (编者按, no colon) over its pictures' captions, and a
# story opening with one.
NOTED = """● 图片新闻

# 河谷秋色

编者按 秋风起，河谷里的庄稼熟了。连日来，本报记者走进河谷各村，记录下农家收获的忙碌与喜悦，
带您一起感受丰收的味道。

稻田里，收割机来回穿梭。 本报记者 林小河 摄

果园里，果农忙着采摘苹果。 本报记者 丙丁 摄


● 要闻

# 老街换新颜

编者按 老街是一座城市的记忆。从今天起，本报推出“老街新事”栏目，讲述老街改造中的故事。

经过半年改造，城西老街日前重新开放。青石板路修补一新，沿街的老字号也陆续开门迎客。

家住老街的张大爷说：“路平了，灯亮了，晚上出来走走也放心。”

本报记者 甲乙
"""


def test_a_summary_is_the_storys_own_text_not_the_editors_note(config: Config, store: Store) -> None:
    (config.paths.source / NAME).write_text(NOTED, encoding="utf-8")
    _publish(config, store, FIRST)
    photo = "稻田里，收割机来回穿梭。果园里，果农忙着采摘苹果。"
    street = (
        "经过半年改造，城西老街日前重新开放。青石板路修补一新，沿街的老字号也陆续开门迎客。"
        "家住老街的张大爷说：“路平了，灯亮了，晚上出来走走也放心。”"
    )
    feed = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    summaries = {e.findtext(f"{ATOM}title"): e.findtext(f"{ATOM}summary") for e in feed.iter(f"{ATOM}entry")}
    assert summaries == {"河谷秋色": photo, "老街换新颜": street}
    for entry in _entries(store).values():
        page = (config.paths.output / article_path(entry)).read_text(encoding="utf-8")
        assert f'<meta name="description" content="{summaries[entry.article.title or ""]}' in page
    store.add_subscriber(Subscriber("reader@example.org", (), True, FIRST))
    assert run_digest(config, store, OutboxMailer(config.paths.data / "outbox"), LATER).sent == 1
    (eml,) = (config.paths.data / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    web = (config.paths.output / "digests" / f"{LATER.date().isoformat()}.html").read_text(encoding="utf-8")
    plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None and html is not None
    lines = "".join(line.strip() for line in plain.get_content().splitlines())  # wrapped, indented
    for text in (lines, html.get_content(), web):
        assert photo in text and street in text and "编者按" not in text


def test_an_upgrade_from_captions_in_the_body_keeps_ids_and_urls(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config.paths.source / NAME).write_text(PAGE, encoding="utf-8")
    with monkeypatch.context() as old, Store.open(config.database_url) as store:
        # The release before: captions stayed in the body, and the table had no captions column.
        old.setattr(builder, "_captions", lambda paras: ())
        old.setattr("digest.ingest.pipeline.PARSER_VERSION", "1")
        old.setattr("digest.ingest.read.PARSER_VERSION", "1")  # both modules compare it
        _publish(config, store, FIRST)
        before = _entries(store)
    engine = sa.create_engine(normalize_url(config.database_url))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE articles DROP COLUMN captions"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))  # that release's schema
    engine.dispose()
    assert all(not e.article.captions for e in before.values())
    assert any(e.article.body.startswith("市民在新落成的城市书房里阅读") for e in before.values())
    pages = {uid: article_path(e) for uid, e in before.items()}
    with Store.open(config.database_url) as store:  # the upgrade adds the column
        _publish(config, store, LATER)  # the stored pages were read by an older parser: read again
        after = _entries(store)
    assert {uid: article_path(e) for uid, e in after.items()} == pages
    assert all((config.paths.output / path).exists() for path in pages.values())
    moved = {uid for uid in after if after[uid].updated != before[uid].updated}
    assert moved == {uid for uid, e in after.items() if e.article.captions} and len(moved) == 2


def test_a_database_rebuilt_with_the_new_parser_gives_the_old_ids(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    (config.paths.source / NAME).write_text(PAGE, encoding="utf-8")
    with monkeypatch.context() as old, Store.open(config.database_url) as store:
        old.setattr(builder, "_captions", lambda paras: ())
        _publish(config, store, FIRST)
        before = set(_entries(store))
    fresh = config.paths.data / "fresh.sqlite3"
    with Store.open(f"sqlite:///{fresh}") as rebuilt:
        ingest(config, rebuilt, LATER)
        assert set(_entries(rebuilt)) == before
        assert any(e.article.captions for e in rebuilt.entries())


@pytest.mark.slow
def test_a_reader_sees_the_captions_under_the_text_and_a_lighter_derived_title(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 (the fixture imported above)
) -> None:
    source = tmp_path / "pages"
    source.mkdir()
    (source / NAME).write_text(PAGE, encoding="utf-8")
    config = load_config(
        None, {"paths.source": source, "paths.data": tmp_path / "data", "paths.output": tmp_path / "out"}, {}
    )
    with Store.open(config.database_url) as store:
        _publish(config, store, FIRST)
        stored = sorted(store.entries(), key=lambda e: e.position)
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(create_app(config.paths.output)) as url:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        try:
            page.goto(f"{url}/{article_path(stored[0])}")
            caption = page.get_by_text("图为工人在新桥上做最后的检查。")
            text = page.get_by_text("现在十分钟就到了", exact=False)
            assert caption.is_visible() and page.get_by_text("（本报记者 林小河 摄）").is_visible()
            below, above = caption.bounding_box(), text.bounding_box()
            assert below is not None and above is not None and below["y"] > above["y"] + above["height"]
            size = caption.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert size < text.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")  # set as a caption
            page.screenshot(path=ARTIFACTS / "article-captions-phone.png", full_page=True)
            page.goto(f"{url}/{article_path(stored[2])}")
            heading = page.locator("h1")
            assert heading.inner_text() == "城市书房日前在城西社区开放"
            assert heading.evaluate("e => getComputedStyle(e).fontWeight") == "400"
        finally:
            page.close()
