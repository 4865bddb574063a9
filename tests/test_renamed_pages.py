"""A page file renamed and edited at once is the same printed page: its edit replaces the old page's
articles as an edit in place does, and a genuinely new page never takes an old one's place."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.store.database import Store
from digest.types import Entry, Retraction

OLD = "2024-11-27_03.txt"
# How a page says its date: by its datelines' month and day alone (the year is the file time's), by
# nothing at all (the file time), or by a full page header.
DATELINES = "本报11月27日讯"
HEADS = {
    "datelines": ("", DATELINES),
    "file time": ("", "本报讯"),
    "header": ("西川晚报　2024年11月27日　星期三　第3版：要闻\n\n", DATELINES),
}
FIRST = "城东新桥正式通车，全长一千二百米，连通城东和河西两个片区，市民出行时间缩短一半。"
SECOND = "首家社区食堂在桃源路开门迎客，一荤两素的套餐售价十二元，六十岁以上老人凭卡享受八折优惠。"
SECOND_EDITED = "首家社区食堂在桃源路开门迎客，一荤两素的套餐售价十五元，七十岁以上老人凭卡享受八折优惠。"
THIRD = "市公交集团本月起新增三条夜间公交线路，分别连接火车站、大学城和高新区，末班车延至凌晨一点。"


def _page(head: str, dateline: str, stories: list[tuple[str, str]]) -> str:
    """An invented page: its header, then each story as a headline and a paragraph."""
    return (
        head
        + "● 城事\n\n"
        + "".join(f"# {title}\n\n{dateline}（记者 林一）{body}\n\n" for title, body in stories)
    )


def _put(config: Config, name: str, text: str, when: datetime) -> Path:
    path = config.paths.source / name
    path.write_text(text, encoding="utf-8")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def _live(store: Store) -> dict[str, Entry]:
    return {entry.uid: entry for entry in store.entries() if entry.retracted is None}


@pytest.mark.parametrize("head", HEADS)
def test_a_page_renamed_and_edited_at_once_replaces_its_old_articles_as_an_edit_in_place(
    config: Config, store: Store, now: datetime, head: str
) -> None:
    """Before, ``2024-11-27_03.txt`` renamed ``chengshi.txt`` and edited was a new page (another day
    or page 0): its stories came again as new articles beside the old ones, each twice in a reader."""
    folio, dateline = HEADS[head]
    stories = [("新桥通车", FIRST), ("社区食堂开张", SECOND), ("夜班公交加开", THIRD)]
    _put(config, OLD, _page(folio, dateline, stories), now)
    ingest(config, store, now)
    first = _live(store)
    assert len(first) == 3 and {entry.issue_date for entry in first.values()} == {date(2024, 11, 27)}
    # Saved under a name that says nothing, a year later, one story corrected and one cut.
    (config.paths.source / OLD).unlink()
    edited = [("新桥通车", FIRST), ("社区食堂开张", SECOND_EDITED)]
    _put(config, "chengshi.txt", _page(folio, dateline, edited), now + timedelta(days=400))
    later = now + timedelta(days=1)
    report = ingest(config, store, later)
    ingest(config, store, later + timedelta(minutes=5))  # the old name gone for good: nothing more goes
    assert (report.new, report.changed, report.retracted) == (0, 1, 1)
    live = _live(store)
    assert set(live) < set(first) and [entry.article.title for entry in live.values()] == [
        "新桥通车",
        "社区食堂开张",
    ]
    assert {(e.issue_date, e.position, e.source) for e in live.values()} == {
        (e.issue_date, e.position, "chengshi.txt") for uid, e in first.items() if uid in live
    }
    corrected = next(entry for entry in live.values() if entry.article.title == "社区食堂开张")
    assert "十五元" in corrected.article.body and corrected.updated == later
    (cut,) = [entry for entry in store.entries() if entry.uid not in live]
    assert cut.article.title == "夜班公交加开" and cut.retracted is Retraction.DROPPED
    record = store.source("chengshi.txt")
    assert record is not None and (record.issue_date, record.page) == (date(2024, 11, 27), 3)
    assert store.source(OLD) is None


def test_a_new_page_never_takes_the_place_of_a_gone_one_it_is_not(
    config: Config, store: Store, now: datetime
) -> None:
    """Another page's stories, or the same stories on a page its name or header says is another,
    are new articles: only the gone file's own articles go, once it stays gone."""
    stories = [("新桥通车", FIRST), ("社区食堂开张", SECOND), ("夜班公交加开", THIRD)]
    _put(config, OLD, _page("", DATELINES, stories), now)
    ingest(config, store, now)
    old = set(_live(store))
    (config.paths.source / OLD).unlink()
    others = [("公园改造完工", "人民公园改造工程昨日完工，新增步道三公里、座椅两百张，园内湖水也换了一遍。")]
    _put(config, "gongyuan.txt", _page("", DATELINES, others), now)
    _put(config, "2024-11-28_03.txt", _page("", DATELINES, stories), now)
    fourth = "西川晚报　2024年11月27日　星期三　第4版：要闻\n\n"
    _put(config, "disiban.txt", _page(fourth, DATELINES, stories), now)
    later = now + timedelta(minutes=1)
    report = ingest(config, store, later)
    assert report.new == 1 + 3 + 3
    ingest(config, store, later + timedelta(minutes=5))
    live = _live(store)
    assert not old & set(live) and len(live) == 7
    assert all(e.retracted is Retraction.FILE_GONE for e in store.entries() if e.uid in old)


def test_a_new_page_that_could_be_either_of_two_gone_pages_is_neither(
    config: Config, store: Store, now: datetime
) -> None:
    """The same stories printed on two pages, both files gone: which one the new file is cannot be told,
    so it is a page of its own, and each gone page's articles go once it stays gone."""
    stories = [("新桥通车", FIRST), ("社区食堂开张", SECOND)]
    for name in (OLD, "2024-11-28_05.txt"):
        _put(config, name, _page("", "本报讯", stories), now)
        ingest(config, store, now)
    old = set(_live(store))
    assert len(old) == 4
    for name in (OLD, "2024-11-28_05.txt"):
        (config.paths.source / name).unlink()
    _put(
        config,
        "chengshi.txt",
        _page("", "本报讯", [("新桥通车", FIRST), ("社区食堂开张", SECOND_EDITED)]),
        now,
    )
    later = now + timedelta(minutes=1)
    assert ingest(config, store, later).new == 2
    ingest(config, store, later + timedelta(minutes=5))
    assert not old & set(_live(store)) and len(_live(store)) == 2
