"""One section printed in two character forms (SQLite and PostgreSQL, the real pipeline and server).

A Big5 page of a Hong Kong or Taiwan supplement prints 經濟 where the paper's other pages print 经济:
one section for a reader, so one feed, one page, one place in the navigation and one choice in the
subscription form, under the form it was first stored under (of two met at once, the one in the
site's script).  A database that gave the two forms sections of their own before keeps both: their
URLs are published.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from test_emptied_sections import site  # noqa: F401 (a fixture)

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.paper.slugs import slugify
from digest.paper.variants import simplified
from digest.publish.layout import feed_path, section_path
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Section

SIMPLIFIED = (
    "● 经济\n\n# 本地菜价回落\n\n本报讯（记者 王小明）随着冬季蔬菜大量上市，本周菜市场多数蔬菜的价格"
    "比上周回落一成左右，菜农说今年的收成比去年好。\n"
)
TRADITIONAL = (
    "● 經濟\n\n# 港口貨運量創新高\n\n本報訊（記者 陳志明）今年前十個月，港口貨櫃吞吐量比去年同期增長"
    "百分之八，創下歷年新高。業界人士說，轉口貿易回暖是這次增長的主要原因。\n"
)


def _put(config: Config, name: str, text: str) -> None:
    """A page file: the traditional page in Big5 bytes, as a Hong Kong editorial system exports it."""
    data = text.encode("big5hkscs") if text is TRADITIONAL else text.encode("utf-8")
    (config.paths.source / name).write_bytes(data)


def _filed(store: Store) -> dict[str, Section]:
    return {entry.article.title: entry.section for entry in store.entries()}


def test_a_big5_page_files_its_traditional_section_name_under_the_simplified_section(
    config: Config,
    store: Store,
    site: str,  # noqa: F811
    now: datetime,
) -> None:
    _put(config, "2024-11-27_03.txt", SIMPLIFIED)
    ingest(config, store, now)
    _put(config, "2024-11-28_03.txt", TRADITIONAL)
    report = ingest(config, store, now + timedelta(hours=1))
    assert (report.failed, report.new) == (0, 1)
    run_publish(config, store)

    economy = Section("经济", "jing-ji")
    assert _filed(store) == {"本地菜价回落": economy, "港口貨運量創新高": economy}
    assert store.sections() == [economy]
    hong_kong = next(e.article for e in store.entries() if e.section == economy and "港口" in e.article.title)
    assert hong_kong.body.startswith("今年前十個月") and hong_kong.section == "经济"

    output = config.paths.output
    assert (output / feed_path("jing-ji")).is_file() and not (output / feed_path("jing-ji-2")).exists()
    listed = (output / section_path(economy)).read_text(encoding="utf-8")
    assert "本地菜价回落" in listed and "港口貨運量創新高" in listed
    feed = httpx.get(f"{site}/{feed_path('jing-ji')}", timeout=10).text
    assert "本地菜价回落" in feed and "港口貨運量創新高" in feed
    form = httpx.get(f"{site}/subscribe", timeout=10).text
    assert form.count('value="jing-ji"') == 1 and "jing-ji-2" not in form and "經濟" not in form


@pytest.mark.parametrize(
    ("language", "first", "second", "name"),
    [("zh-CN", TRADITIONAL, SIMPLIFIED, "经济"), ("zh-TW", SIMPLIFIED, TRADITIONAL, "經濟")],
    ids=["zh-CN", "zh-TW"],
)
def test_two_forms_met_at_once_are_one_section_named_in_the_sites_script(
    config: Config, store: Store, now: datetime, language: str, first: str, second: str, name: str
) -> None:
    """The first ingest of a folder holding both forms: the site's script names the section, whichever
    page comes first."""
    config = dataclasses.replace(config, site=dataclasses.replace(config.site, language=language))
    _put(config, "2024-11-27_03.txt", first)
    _put(config, "2024-11-28_03.txt", second)
    assert ingest(config, store, now).new == 2
    assert set(_filed(store).values()) == {Section(name, "jing-ji")}
    assert store.sections() == [Section(name, "jing-ji")]


def test_forms_a_database_gave_sections_of_their_own_keep_them_until_merged_by_hand(
    config: Config, store: Store, now: datetime
) -> None:
    """Sections stored apart before (by a version that compared names as written) keep their slugs,
    so their feeds and pages stay where readers subscribed to them; docs/model.md's merge (rename
    the stored form, read every page again) files them under one, the other left emptied."""
    as_written = str
    assert store.filed_sections(["经济", "經濟"], slugify, as_written) == {
        "经济": Section("经济", "jing-ji"),
        "經濟": Section("經濟", "jing-ji-2"),
    }
    _put(config, "2024-11-27_03.txt", SIMPLIFIED)
    _put(config, "2024-11-28_03.txt", TRADITIONAL)
    ingest(config, store, now)
    assert _filed(store) == {
        "本地菜价回落": Section("经济", "jing-ji"),
        "港口貨運量創新高": Section("經濟", "jing-ji-2"),
    }

    # The merge docs/model.md gives, with `digest ingest --reparse` as its second step.
    with store._begin() as conn:
        conn.execute(sa.text("UPDATE sections SET name = '經濟（已併入经济）' WHERE slug = 'jing-ji-2'"))
    assert ingest(config, store, now + timedelta(hours=1), reparse=True).changed == 1
    assert set(_filed(store).values()) == {Section("经济", "jing-ji")}
    assert store.emptied_sections() == [Section("經濟（已併入经济）", "jing-ji-2")]


def test_a_form_follows_its_section_to_the_slug_another_process_gave_first(database_url: str) -> None:
    """Two processes storing pages at once: the slug stored first is the one both forms use."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite refuses the second writer outright: no conflict to settle")
    with Store.open(database_url) as mine, Store.open(database_url) as other:

        def make(name: str) -> str:
            other.filed_sections([name], lambda _: "given-elsewhere", simplified)  # the other is first
            return "made-here"

        economy = Section("经济", "given-elsewhere")
        assert mine.filed_sections(["经济", "經濟"], make, simplified) == {"经济": economy, "經濟": economy}


def test_the_gb2312_exceptions_are_exactly_the_characters_t2s_rewrites() -> None:
    """A name GB2312 encodes skips OpenCC unless it holds one of ``T2S_IN_GB2312``: checked over every
    character of GB2312 against OpenCC's own table, so a newer table that rewrites one more fails here."""
    from digest.language import opencc_convert
    from digest.paper.variants import T2S_IN_GB2312

    rewritten = set()
    for first in range(0xB0, 0xF8):
        for second in range(0xA1, 0xFF):
            try:
                char = bytes((first, second)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if opencc_convert(char, "t2s.json") != char:
                rewritten.add(char)
    assert rewritten == T2S_IN_GB2312


def test_a_simplified_name_never_loads_opencc() -> None:
    probe = (
        "import sys; from digest.paper.variants import simplified; "
        "assert simplified('经济') == '经济' and 'opencc' not in sys.modules; "
        "assert simplified('經濟') == '经济' and 'opencc' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).parent.parent)
