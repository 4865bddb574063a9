"""Issue dates from evidence: file name, page header, the text's datelines and years, the file time last."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.paper.dating import (
    Dating,
    DatingRules,
    date_page,
    from_header,
    from_name,
    keep_or_replace,
    page_from_name,
    pattern_problem,
)
from digest.paper.decode import decode_page
from digest.paper.parse import parse_page
from digest.types import Article, DatedBy

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RULES = DatingRules()


@pytest.mark.parametrize(
    ("name", "expected", "page"),
    [
        ("2024-11-27_01.txt", date(2024, 11, 27), 1),
        ("pages/20241127/a.txt", date(2024, 11, 27), 0),
        ("2024.02.29-3.txt", date(2024, 2, 29), 3),
        ("nmgrb_2024-11-27_12.txt", date(2024, 11, 27), 12),
        ("2023-02-29_01.txt", None, 0),
        ("000_890c401dd53d27b3.txt", None, 0),
        ("page120241127x.txt", None, 0),
        # The day that ends a name is no page number.
        ("2024-11-04.txt", date(2024, 11, 4), 0),
        ("issues/2024_11_27.txt", date(2024, 11, 27), 0),
        ("2024-11-27/a_05.txt", date(2024, 11, 27), 5),
    ],
)
def test_the_file_name_dates_a_page(name: str, expected: date | None, page: int) -> None:
    wanted = Dating(expected, DatedBy.NAME, page) if expected else None
    assert from_name(name, RULES) == wanted


def test_a_configured_pattern_dates_names_the_defaults_miss() -> None:
    rules = DatingRules((r"rb(?P<y>\d{4})(?P<m>\d\d)(?P<d>\d\d)p(?P<p>\d+)",))
    assert from_name("nmrb20241127p05.txt", rules) == Dating(date(2024, 11, 27), DatedBy.NAME, 5)
    assert pattern_problem(r"(?P<y>\d{4})") is not None and "(?P<m>" in str(pattern_problem(r"(?P<y>\d{4})"))
    assert "not a regular expression" in str(pattern_problem("(?P<y>"))


@pytest.mark.parametrize(
    "header",
    [
        "内蒙古日报 2024年11月27日 星期三 第3版",
        "2024年11月27日　星期三　第03版：要闻",
        "内蒙古日报\n2024年 11月 27日 周三\n第3版 要闻",
    ],
)
def test_the_page_header_dates_a_page_and_numbers_it(header: str) -> None:
    assert from_header(header + "\n\n# 标题\n\n正文。\n") == Dating(date(2024, 11, 27), DatedBy.HEADER, 3)


def test_a_full_date_deep_in_the_text_is_no_header() -> None:
    text = "# 标题\n\n" + "正文。\n\n" * 20 + "2020年4月18日 星期六 第1版\n"
    assert from_header(text) is None


def _seed(name: str) -> Dating:
    path = SEEDS / name
    text = decode_page(path.read_bytes(), name)
    return date_page(name, text, parse_page(text, name).articles, NOW, SHANGHAI, RULES)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="needs ../shared/seeds")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 本报11月27日讯 … 11月25日，2024年度…: the year written next to a dated phrase.
        ("001_67d0df928c841226.txt", date(2024, 11, 27)),
        # 1月11日 … 回眸2023 … 2024年: the latest year the page names, not today.
        ("002_963b85495dc4bc2e.txt", date(2024, 1, 11)),
        # 本报10月18日讯 … 2023年第五期: never 2026-10-18.
        ("003_57ace6c6df350a4e.txt", date(2023, 10, 18)),
        ("004_315bd2009427f1c6.txt", date(2026, 4, 12)),
    ],
)
def test_seed_pages_are_dated_from_their_own_text(name: str, expected: date) -> None:
    assert _seed(name) == Dating(expected, DatedBy.TEXT, 0)


def test_a_target_year_is_no_evidence_and_no_year_means_unsure() -> None:
    articles = [Article("a", "x", date="07-21")]
    planned = "本报7月21日讯 到2030年建成。2022年起实施。"
    assert date_page("p.txt", planned, articles, NOW, SHANGHAI, RULES).day == date(2022, 7, 21)
    guessed = date_page("p.txt", "本报7月21日讯 正文。", articles, NOW, SHANGHAI, RULES)
    assert guessed == Dating(date(2026, 7, 21), DatedBy.TEXT_GUESSED_YEAR) and guessed.unsure


def test_the_file_time_is_the_last_resort_and_unsure() -> None:
    evening = datetime(2024, 11, 27, 17, 0, tzinfo=UTC)  # 01:00 on the 28th in Shanghai
    found = date_page("page.txt", "# 标题\n\n正文。\n", [], evening, SHANGHAI, RULES)
    assert found == Dating(date(2024, 11, 28), DatedBy.MTIME) and found.unsure
    # Exported the evening before: a dateline one day ahead of the file is accepted.
    ahead = date_page("p.txt", "", [Article("a", "x", date="11-29")], evening, SHANGHAI, RULES)
    assert ahead.day == date(2024, 11, 29)


def test_a_date_once_given_is_never_re_derived_from_a_file_time() -> None:
    before = Dating(date(2024, 11, 27), DatedBy.MTIME, 2)
    assert keep_or_replace(before, Dating(date(2024, 11, 29), DatedBy.MTIME)) == before
    assert keep_or_replace(before, Dating(date(2024, 12, 1), DatedBy.TEXT_GUESSED_YEAR)) == before
    better = Dating(date(2024, 11, 26), DatedBy.TEXT, 2)
    assert keep_or_replace(before, better) == better
    assert keep_or_replace(None, Dating(date(2024, 11, 29), DatedBy.MTIME)).day == date(2024, 11, 29)


def test_page_from_name() -> None:
    assert page_from_name("2024-11-27_03.txt") == 3
    assert page_from_name("a/b.txt") == 0


def test_a_page_named_by_its_date_alone_takes_its_number_from_the_header_or_none() -> None:
    header = "内蒙古日报 2024年11月04日 星期一 第3版\n\n# 标题\n\n正文。\n"
    assert date_page("2024-11-04.txt", header, [], NOW, SHANGHAI, RULES) == Dating(
        date(2024, 11, 4), DatedBy.NAME, 3
    )
    assert date_page("2024-11-04.txt", "# 标题\n\n正文。\n", [], NOW, SHANGHAI, RULES).page == 0
    # A name without a date still numbers the page.
    assert date_page("page_07.txt", header, [], NOW, SHANGHAI, RULES).page == 3
    assert date_page("page_07.txt", "# 标题\n\n正文。\n", [], NOW, SHANGHAI, RULES).page == 7
