"""Choosing a digest's window and articles, and summarising article text."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.publish.digests import (
    back_issues,
    build_digest,
    digest_window,
    select_sections,
    story_summary,
    summary,
)
from digest.types import DEFAULT_SECTION, Article, Entry, Section

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEWS = Section("要闻", "yao-wen")
LOCAL = Section("社会速评", "she-hui-su-ping")
VIEWS = Section("众观", "zhong-guan")


def entry(
    uid: str, section: Section, seen: datetime, position: int, issue: date = date(2024, 11, 27)
) -> Entry:
    stamp = datetime(issue.year, issue.month, issue.day, tzinfo=SHANGHAI)
    return Entry(
        uid=uid,
        tag=f"tag:test,2024:article/{issue}/{uid}",
        article=Article(title=f"标题{uid}", body="正文。"),
        section=section,
        issue_date=issue,
        published=stamp,
        updated=stamp,
        first_seen=seen,
        source="page.txt",
        position=position,
    )


# --- digest_window ----------------------------------------------------------------


def test_window_without_previous_digest_is_the_day_before() -> None:
    since, until = digest_window(date(2024, 11, 27), time(7, 0), SHANGHAI, None)
    assert until == datetime(2024, 11, 27, 7, 0, tzinfo=SHANGHAI)
    assert since == datetime(2024, 11, 26, 7, 0, tzinfo=SHANGHAI)
    assert until.astimezone(UTC) == datetime(2024, 11, 26, 23, 0, tzinfo=UTC)


def test_window_starts_where_the_previous_digest_stopped() -> None:
    previous = datetime(2024, 11, 24, 23, 0, tzinfo=UTC)  # three days of downtime
    since, until = digest_window(date(2024, 11, 27), time(7, 0), SHANGHAI, previous)
    assert since == previous
    assert until - since == timedelta(days=2)


def test_window_never_inverts_when_the_digest_time_moved_earlier() -> None:
    previous = datetime(2024, 11, 27, 9, 0, tzinfo=SHANGHAI)
    since, until = digest_window(date(2024, 11, 27), time(7, 0), SHANGHAI, previous)
    assert since == until


def test_window_over_a_dst_change_keeps_the_wall_clock_time() -> None:
    since, until = digest_window(date(2024, 3, 31), time(7, 0), BERLIN, None)
    assert (since.hour, until.hour) == (7, 7)
    # Aware datetimes sharing a tzinfo subtract as wall times: compare real instants.
    assert until.astimezone(UTC) - since.astimezone(UTC) == timedelta(hours=23)


def test_window_inside_a_dst_gap_is_a_real_instant() -> None:
    _, until = digest_window(date(2024, 3, 31), time(2, 30), BERLIN, None)
    assert until.astimezone(UTC) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_window_rejects_a_naive_previous_end() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        digest_window(date(2024, 11, 27), time(7, 0), SHANGHAI, datetime(2024, 11, 26, 7, 0))


# --- build_digest ----------------------------------------------------------------

SINCE = datetime(2024, 11, 26, 7, 0, tzinfo=SHANGHAI)
UNTIL = datetime(2024, 11, 27, 7, 0, tzinfo=SHANGHAI)


def test_digest_keeps_only_entries_first_seen_in_the_half_open_window() -> None:
    entries = [
        entry("a", NEWS, SINCE, 1),
        entry("b", NEWS, UNTIL, 2),
        entry("c", NEWS, SINCE - timedelta(seconds=1), 3),
        entry("d", NEWS, UNTIL - timedelta(microseconds=1), 4),
    ]
    digest = build_digest(entries, date(2024, 11, 27), SINCE, UNTIL)
    assert [e.uid for _, items in digest.groups for e in items] == ["a", "d"]
    assert (digest.day, digest.since, digest.until, digest.count) == (date(2024, 11, 27), SINCE, UNTIL, 2)


def test_digest_groups_by_issue_then_sections_in_paper_order_and_entries_in_page_order() -> None:
    seen = SINCE + timedelta(hours=1)
    entries = [
        entry("v2", VIEWS, seen, 31),
        entry("l1", LOCAL, seen, 20),
        entry("n2", NEWS, seen, 5),
        entry("v1", VIEWS, seen, 30),
        entry("n1", NEWS, seen, 1),
        entry("l2", LOCAL, seen, 21),
        # An older issue seen late is grouped apart, after the day's own, its date shown.
        entry("old", VIEWS, seen, 99, issue=date(2024, 11, 26)),
    ]
    digest = build_digest(entries, date(2024, 11, 27), SINCE, UNTIL)
    assert [(s.slug, [e.uid for e in items]) for s, items in digest.groups] == [
        ("yao-wen", ["n1", "n2"]),
        ("she-hui-su-ping", ["l1", "l2"]),
        ("zhong-guan", ["v1", "v2"]),
        ("zhong-guan", ["old"]),
    ]
    assert [s.name for s, _ in digest.groups][-1] == f"{VIEWS.name}（11月26日）"
    assert digest.groups[2][0] == VIEWS  # the day's own issue: no date added


def test_a_back_issue_of_another_year_names_its_year() -> None:
    seen = SINCE + timedelta(hours=1)
    other = Section(DEFAULT_SECTION, "qi-ta")
    entries = [
        entry("new-year", NEWS, seen, 1, issue=date(2026, 1, 2)),
        entry("december", other, seen, 2, issue=date(2025, 12, 11)),
    ]
    digest = build_digest(entries, date(2026, 1, 3), SINCE, UNTIL, backfill_days=60)
    assert [s.name for s, _ in digest.groups] == [
        f"{NEWS.name}（1月2日）",
        f"{DEFAULT_SECTION}（2025年12月11日）",
    ]
    # The day after the digest's day, in the next year: its year too.
    late = build_digest(
        [entry("next", NEWS, seen, 1, issue=date(2026, 1, 1))], date(2025, 12, 31), SINCE, UNTIL
    )
    assert [s.name for s, _ in late.groups] == [f"{NEWS.name}（2026年1月1日）"]


def test_pages_of_unknown_number_come_after_the_numbered_ones_and_the_catch_all_last() -> None:
    seen = SINCE + timedelta(hours=1)
    other = Section(DEFAULT_SECTION, "qi-ta")
    entries = [
        entry("misc", other, seen, 0),  # a page of unknown number: position 0 onwards
        entry("local", LOCAL, seen, 1),
        entry("front", NEWS, seen, 1000),  # page 1
        entry("views", VIEWS, seen, 3002),  # page 3
    ]
    digest = build_digest(entries, date(2024, 11, 27), SINCE, UNTIL)
    assert [e.uid for _, items in digest.groups for e in items] == ["front", "views", "local", "misc"]


def test_back_issues_are_left_out_of_the_digest_and_counted() -> None:
    seen = SINCE + timedelta(hours=1)
    entries = [
        entry("today", NEWS, seen, 1),
        entry("two-days", NEWS, seen, 2, issue=date(2024, 11, 25)),
        entry("old-a", NEWS, seen, 3, issue=date(2023, 10, 18)),
        entry("old-b", NEWS, seen, 4, issue=date(2023, 10, 18)),
        entry("older", VIEWS, seen, 5, issue=date(2022, 7, 21)),
    ]
    day = date(2024, 11, 27)
    digest = build_digest(entries, day, SINCE, UNTIL, backfill_days=2)
    assert [e.uid for _, items in digest.groups for e in items] == ["today", "two-days"]
    assert back_issues(entries, day, SINCE, UNTIL, 2) == (2, 3)
    assert build_digest(entries, day, SINCE, UNTIL).count == 5  # no limit given: every issue


def test_empty_digest_has_no_groups() -> None:
    digest = build_digest([entry("a", NEWS, SINCE - timedelta(days=3), 1)], date(2024, 11, 27), SINCE, UNTIL)
    assert digest.groups == ()
    assert digest.count == 0


def test_digest_rejects_naive_bounds() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_digest([], date(2024, 11, 27), SINCE.replace(tzinfo=None), UNTIL)


def test_select_sections_narrows_to_chosen_slugs() -> None:
    seen = SINCE + timedelta(hours=1)
    digest = build_digest([entry("n", NEWS, seen, 1), entry("v", VIEWS, seen, 2)], SINCE.date(), SINCE, UNTIL)
    assert select_sections(digest, None) is digest
    narrowed = select_sections(digest, frozenset({"zhong-guan", "unknown"}))
    assert [s.slug for s, _ in narrowed.groups] == ["zhong-guan"]
    assert (narrowed.day, narrowed.since, narrowed.until) == (digest.day, digest.since, digest.until)
    assert select_sections(digest, frozenset()).count == 0


# --- summary ----------------------------------------------------------------------


def test_a_story_is_summed_up_from_its_own_text_past_an_editors_note() -> None:
    text = ["老街改造完成，今天重新开放。"]
    for note in (
        "编者按 老街是城市的记忆。",
        "编者按：老街是城市的记忆。",
        "【编者按】老街是城市的记忆。",
        "编后 说几句。",
    ):
        assert story_summary([note, *text], []) == "老街改造完成，今天重新开放。"
    # The label on a line of its own, its note under it.
    assert story_summary(["编者按", "老街是城市的记忆。", *text], []) == text[0]
    # A word that merely starts like a label is text.
    assert story_summary(["编后台的灯亮了一夜。"], []) == "编后台的灯亮了一夜。"
    # A photo story: the note left in the body, its pictures' captions set apart.
    captions = ["稻田里，收割机来回穿梭。", "果园里，果农忙着采摘苹果。"]
    assert story_summary(["编者按 秋风起，庄稼熟了。"], captions) == "".join(captions)
    assert story_summary([], captions) == "".join(captions)
    # Nothing but a note: the note, without its label.
    assert story_summary(["编者按 秋风起，庄稼熟了。"], []) == "秋风起，庄稼熟了。"
    assert story_summary([], []) == ""


def test_summary_takes_whole_sentences_up_to_the_limit() -> None:
    text = "第一句话。第二句话！第三句话很长很长很长很长？"
    assert summary(text, 10) == "第一句话。第二句话！"
    assert summary(text, 9) == "第一句话。"
    assert summary(text, 1000) == text


def test_summary_returns_an_overlong_first_sentence_whole() -> None:
    first = "这是一个" * 50 + "。"
    assert summary(first + "短句。", 120) == first


def test_summary_keeps_closing_quotes_with_their_sentence() -> None:
    text = "他说：“我们一定能行！”大家都笑了。"
    assert summary(text, 12) == "他说：“我们一定能行！”"
    assert summary("「好。」『对？』（完）", 8) == "「好。」『对？』"


def test_summary_never_stops_inside_a_quotation() -> None:
    said = "村长说：“路修好了。桥也通了。明年还要修一座小学，让孩子们不再走远路。”"
    text = "小河村的新路今天通车。" + said + "村民们放起了鞭炮。"
    # The quotation does not fit: the summary stops before it, not after its first 。.
    assert summary(text, 30) == "小河村的新路今天通车。"
    # It fits: taken whole, with its closing mark.
    assert summary(text, 50) == "小河村的新路今天通车。" + said
    # A text that opens with a quotation gives it whole, however long, as an overlong first sentence.
    assert summary("“路修好了。桥也通了。”村民们放起了鞭炮。", 8) == "“路修好了。桥也通了。”"
    # A quotation running on into the next paragraph (no closing mark there) ends with its paragraph.
    assert summary("他说：“第一段话。\n\n“第二段话。”\n\n尾声。", 12) == "他说：“第一段话。"


def test_a_quote_or_bracket_never_closed_still_gives_a_short_summary() -> None:
    # A quotation running on for a whole long paragraph, or a （ the page closes with an ASCII ):
    # not the whole paragraph, but sentences up to the limit (half as much again at most).
    running = "他说：“这是第一句。这是第二句。" + "我们还要继续努力工作。" * 20
    assert len(summary(running, 120)) <= 180
    assert summary(running, 120).startswith("他说：“这是第一句。")
    mixed = "记者（通讯员 李四)报道。" + "今天天气很好，大家都出门了。" * 30
    assert len(summary(mixed, 120)) <= 120
    # An ASCII bracket inside a quotation (ISO 9001(2015)) closes itself, not the quotation.
    quoted = "他说：“新标准参照ISO 9001(2015)制定。企业要在年底前完成认证。”随后他介绍了具体安排。"
    assert summary(quoted, 30) == "他说：“新标准参照ISO 9001(2015)制定。企业要在年底前完成认证。”"


def test_summary_treats_a_paragraph_end_as_a_sentence_end() -> None:
    assert summary("　　没有句号的导语\n\n　　第二段。第三句。", 14) == "没有句号的导语　第二段。"


def test_summary_sets_a_crosshead_off_from_the_text_after_it() -> None:
    # A subheading has no closing punctuation: glued as is, it would read as one clause with the text.
    body = "湖畔新开了一家书店。\n周末读者依然很多\n因为免费讲座办得好，附近居民常来。"
    assert summary(body) == "湖畔新开了一家书店。周末读者依然很多　因为免费讲座办得好，附近居民常来。"
    assert summary("标题里有G20\n会议开幕。") == "标题里有G20　会议开幕。"
    assert summary("小标题“钱袋子”\n正文。") == "小标题“钱袋子”　正文。"
    assert summary("Crosshead\nText follows.") == "Crosshead Text follows."


def test_summary_puts_no_space_after_chinese_closing_punctuation() -> None:
    assert summary("校长耐心作答。\n5月13日下午，采访开始。") == "校长耐心作答。5月13日下午，采访开始。"
    assert summary("他说：“行。”\n2024年起实行。") == "他说：“行。”2024年起实行。"
    assert summary("还有很多……\n3天后再议。") == "还有很多……3天后再议。"
    assert summary("导语如下：\n第一条。") == "导语如下：第一条。"
    # Inside a paragraph the spacing stays as written.
    assert summary("第一句。 第二句。") == "第一句。 第二句。"


def test_summary_spaces_latin_sentences_as_written() -> None:
    assert summary("Really?  Yes!\nNext paragraph here!", 13) == "Really? Yes!"
    assert summary("Really? Yes!\nNext!", 100) == "Really? Yes! Next!"


def test_summary_drops_control_characters_and_lone_surrogates() -> None:
    assert summary("坏\x00字\x1b符\ud800。\x85好\ufffe。", 100) == "坏字符。好。"


def test_summary_of_empty_or_blank_text_is_empty() -> None:
    assert summary("") == ""
    assert summary(" \n\u3000\n\t") == ""
    assert summary("。！？") == "。！？"


def test_summary_rejects_a_non_positive_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        summary("好。", 0)


def test_summary_is_fast_on_huge_unpunctuated_text() -> None:
    assert len(summary("字" * 300_000)) == 300_000
    assert summary("字。" * 300_000, 4) == "字。字。"


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_summary_is_a_clean_prefix_of_sentences(text: str, limit: int) -> None:
    result = summary(text, limit)
    assert result == result.strip()
    assert "\n" not in result and "\x00" not in result
    first = summary(text, 1)
    # Never shorter than the first sentence, and longer than the limit only when that is all it holds.
    assert result.startswith(first)
    assert len(result) <= limit or result == first
