"""Search in Chinese: word segmentation, the databases' full-text index, and ``/search`` over HTTP.

The seed pages are ingested into a real SQLite file and a real PostgreSQL
schema; what a search must find is worked out here from the stored articles'
own text, never written down.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import wait_for
from test_server import serving
from test_service import ROOT, Serve, page

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.store import search_index
from digest.store.database import Store
from digest.store.segment import index_words, locate, normalize, words
from digest.types import Entry, Retraction
from digest.web.highlight import Part, mark, snippet
from digest.web.search import MAX_QUERY_CHARS, PAGE_SIZE, PATH, Query, create_search_app, read_query
from digest.web.server import create_app

QUERIES = ("医保", "草原", "乌兰牧骑")


def _headline(entry: Entry) -> str:
    article = entry.article
    return " ".join(part for part in (article.kicker, article.title, article.subtitle) if part)


def _text(entry: Entry) -> str:
    return "\n".join((_headline(entry), " ".join(entry.article.authors), entry.article.body))


@pytest.fixture
def seeded(config: Config, store: Store, seeds: Path, now: datetime) -> Store:
    """The store with the five seed pages ingested."""
    shutil.copytree(seeds, config.paths.source, dirs_exist_ok=True)
    assert ingest(config, store, now).new > 40
    return store


# -- segmentation ------------------------------------------------------------------------------


def test_words_are_cut_the_same_at_index_and_query_time() -> None:
    assert words("医保") == ["医保"]
    assert words("乌兰牧骑队员深入草原") == ["乌兰牧骑", "队员", "深入", "草原"]
    # Punctuation separates; full-width Latin and digits become plain, in lower case.
    assert words("！！，。") == []
    assert words("ＣＯＶＩＤ１９") == words("covid19")


def test_the_index_holds_the_dictionary_words_inside_a_compound() -> None:
    # jieba's own search mode adds two- and three-character pieces only: 呼和浩特 was lost.
    assert {"呼和浩特市", "呼和浩特"} <= set(index_words("安排在呼和浩特市项目部"))
    # A string across two words is not a word of the text: word-aware, not substring, matching.
    assert "医保" not in index_words("就医保障")


# Chinese text with the full-width forms, spaces and compatibility characters NFKC rewrites.
_MIXED = st.text(
    st.sampled_from("医保基金草原乌兰牧骑呼和浩特市，。！？：（）ＡＢＣｘｙｚ１２３　 ﬁ①㎡ｶﾞé\u0301Ａ\u0301")
    | st.characters(codec="utf-8"),
    max_size=40,
)


@given(_MIXED)
def test_the_fast_normalisation_is_nfkc(text: str) -> None:
    assert normalize(text) == unicodedata.normalize("NFKC", text).lower()


@given(st.lists(_MIXED, max_size=4))
@settings(deadline=None)  # the first example loads the dictionary, when no test before this one did
def test_index_words_do_not_depend_on_what_was_indexed_before(texts: list[str]) -> None:
    # Each token's index words are remembered across calls; a text must still get exactly its own.
    first = [index_words(text) for text in texts]
    assert [index_words(text) for text in reversed(texts)] == first[::-1]
    assert first == [_uncached_index_words(text) for text in texts]


def _uncached_index_words(text: str) -> list[str]:
    """The index words worked out from ``words`` and the dictionary alone, with nothing remembered."""
    import rjieba

    found: list[str] = []
    for word in words(text):
        found.append(word)
        if 2 < len(word) <= 8:
            found.extend(
                word[at : at + size]
                for size in range(len(word) - 1, 1, -1)
                for at in range(len(word) - size + 1)
                if rjieba.has_word(word[at : at + size])
            )
    return found


# -- highlighting ------------------------------------------------------------------------------


def test_mark_wraps_every_occurrence_longest_word_first() -> None:
    assert mark("乌兰牧骑的乌兰", ["乌兰", "乌兰牧骑"]) == (
        Part("乌兰牧骑", True),
        Part("的"),
        Part("乌兰", True),
    )
    assert mark("Covid news", ["covid"]) == (Part("Covid", True), Part(" news"))
    assert mark("没有", ["医保"]) == (Part("没有"),)


def test_snippet_shows_the_first_match_in_its_sentence() -> None:
    body = "开头。" * 40 + "医保基金监管加强。" + "结尾。" * 40
    parts = snippet(body, ["医保"], size=60)
    text = "".join(p.text for p in parts)
    assert text.startswith("…") and text.endswith("…") and len(text) == 62
    assert Part("医保", True) in parts
    # No match in the body (a headline hit): the body's opening.
    assert "".join(p.text for p in snippet("第一句。第二句。", ["草原"])) == "第一句。第二句。"


def test_words_printed_full_width_are_marked_where_the_search_found_them() -> None:
    # The query's words come normalised (NFKC, lower case); the paper's text keeps its own forms.
    assert mark("今年是２０２４年，ＡＩ走进课堂。", words("２０２４ ＡＩ")) == (
        Part("今年是"),
        Part("２０２４", True),
        Part("年，"),
        Part("ＡＩ", True),
        Part("走进课堂。"),
    )
    assert mark("用ＡＩ批改作业", words("ai")) == (Part("用"), Part("ＡＩ", True), Part("批改作业"))
    # A character NFKC spells with several (㈠ is "(一)") is marked whole or not at all; 一 is no
    # word of 第一条, which the search would not find for it.
    assert mark("㈠第一条", ["一"]) == (Part("㈠", True), Part("第一条"))
    body = "开头。" * 40 + "学校引入ＡＩ助教。" + "结尾。" * 40
    parts = snippet(body, words("ai"), size=60)
    assert Part("ＡＩ", True) in parts and "".join(p.text for p in parts).startswith("…")


def test_only_the_words_the_search_matched_are_marked() -> None:
    # 和 is a word of its own here, and a character inside 呼和浩特市; 医保 straddles 就医保障.
    text = "居民的就医保障和报销手续，从呼和浩特市来也能办理医保报销。"
    assert mark(text, words("和")) == (
        Part("居民的就医保障"),
        Part("和", True),
        Part("报销手续，从呼和浩特市来也能办理医保报销。"),
    )
    assert [p.text for p in mark(text, words("医保")) if p.marked] == ["医保"]
    # A dictionary word inside a compound is one of its index words: marked, the longest first.
    assert mark("呼和浩特市", words("浩特 呼和浩特")) == (Part("呼和浩特", True), Part("市"))
    assert mark("呼和浩特市", words("浩特")) == (Part("呼和"), Part("浩特", True), Part("市"))
    # The snippet opens at the word the search found, not at the string standing across two words.
    body = "居民的就医保障有了着落。" + "开头。" * 40 + "老人可以就近办理医保报销。" + "结尾。" * 40
    parts = snippet(body, words("医保"), size=60)
    assert [p.text for p in parts if p.marked] == ["医保"] and "办理医保报销" in "".join(
        p.text for p in parts
    )


@given(_MIXED)
@settings(deadline=None)  # the first example loads the dictionary (a tenth of a second or more)
def test_locate_finds_the_text_cut_as_the_index_cuts_it(text: str) -> None:
    # Every index word wanted: each word of the text is found where it stands, cut clause by clause
    # as the whole text is cut.
    folded = normalize(text)
    assert [folded[s:e] for s, e in locate(folded, set(index_words(text)))] == words(text)


@given(_MIXED, st.lists(_MIXED, max_size=3))
@settings(deadline=None)  # as above
def test_marks_are_index_words_of_the_text_that_the_query_holds(text: str, queries: list[str]) -> None:
    wanted = {w for q in queries for w in words(q)}
    held = set(index_words(text)) & wanted
    parts = mark(text, sorted(wanted))
    assert "".join(p.text for p in parts) == text
    marked = [normalize(p.text) for p in parts if p.marked]
    # Each mark is one of those words (a mark may hold a little more: a character folding to several).
    assert all(any(w in m for w in held) for m in marked)
    assert bool(marked) == bool(held)


# -- queries -------------------------------------------------------------------------------------


def test_a_query_is_capped_and_a_bad_page_number_explained() -> None:
    long = read_query(("q=" + "草原" * 100).encode())
    assert isinstance(long, Query) and len(long.text) == MAX_QUERY_CHARS and "太长" in long.notice
    assert read_query(b"q=%E5%8C%BB%E4%BF%9D&page=2") == Query("医保", ("医保",), 2, "")
    for number in ("0", "x", "-1", "99999", "２"):
        problem = read_query(f"q=a&page={number}".encode())
        assert isinstance(problem, str) and "页码" in problem, number
    unsearchable = read_query(b"q=%EF%BC%81%EF%BC%81")
    assert (
        isinstance(unsearchable, Query) and unsearchable.words == () and "没有可以搜索" in unsearchable.notice
    )


# -- the index, on SQLite and PostgreSQL -------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_a_search_finds_exactly_the_articles_holding_the_word_headline_hits_first(
    seeded: Store, query: str
) -> None:
    expected = {e.uid for e in seeded.entries() if query in _text(e)}
    assert expected, f"no seed article holds {query}"
    total, found = seeded.search(words(query), PAGE_SIZE, 0)
    assert total == len(found) == len(expected)
    assert {entry.uid for entry, _ in found} == expected
    flags = [in_headline for _, in_headline in found]
    assert flags == sorted(flags, reverse=True), "a headline hit ranks below a body hit"
    assert flags == [query in _headline(entry) for entry, _ in found]


@pytest.mark.parametrize("query", ["内蒙古", "内蒙古 草原"])
def test_past_the_ranking_limit_results_are_newest_first_headline_hits_still_first(
    seeded: Store, config: Config, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    ranked = seeded.search(words(query), 100, 0)
    # Refilled, the index holds the articles in paper order: newest indexed is newest issue.
    _drop_index(seeded.url)
    with Store.open(config.database_url) as refilled:
        monkeypatch.setattr(search_index, "RANKED", 0)
        total, found = refilled.search(words(query), 100, 0)
        pages = [refilled.search(words(query), 3, offset)[1] for offset in range(0, ranked[0], 3)]
    assert total == 1  # counted up to RANKED + 1: "more than RANKED"
    assert {e.uid for e, _ in found} == {e.uid for e, _ in ranked[1]}
    flags = [in_headline for _, in_headline in found]
    assert flags == sorted(flags, reverse=True)
    for in_headline in (True, False):  # newest issue first within each group
        days = [e.issue_date for e, hit in found if hit is in_headline]
        assert days == sorted(days, reverse=True)
    assert [e.uid for page in pages for e, _ in page] == [e.uid for e, _ in found]


def test_every_word_of_a_query_must_be_in_the_article(seeded: Store) -> None:
    both = {e.uid for e in seeded.entries() if "内蒙古" in _text(e) and "草原" in _text(e)}
    total, found = seeded.search(words("内蒙古 草原"), PAGE_SIZE, 0)
    assert total == len(both) and {e.uid for e, _ in found} == both


def test_retraction_takes_an_article_out_and_restore_brings_it_back(seeded: Store, now: datetime) -> None:
    _, found = seeded.search(["乌兰牧骑"], PAGE_SIZE, 0)
    gone = found[0][0].uid
    assert seeded.retract([gone], Retraction.BY_HAND, now) == 1
    total, after = seeded.search(["乌兰牧骑"], PAGE_SIZE, 0)
    assert total == len(found) - 1 and gone not in {e.uid for e, _ in after}
    assert seeded.restore(gone)
    assert gone in {e.uid for e, _ in seeded.search(["乌兰牧骑"], PAGE_SIZE, 0)[1]}


def test_a_corrected_article_is_found_by_its_new_words_only(seeded: Store, now: datetime) -> None:
    entry = next(e for e, in_headline in seeded.search(["草原"], PAGE_SIZE, 0)[1] if not in_headline)
    body = entry.article.body.replace("草原", "牧场") + "\n\n新增一段：星空露营。"
    corrected = replace(entry, article=replace(entry.article, body=body))
    assert "草原" not in _text(corrected)
    assert seeded.upsert_entries([corrected], now + timedelta(hours=1)).changed == 1
    assert entry.uid in {e.uid for e, _ in seeded.search(["露营"], PAGE_SIZE, 0)[1]}
    assert entry.uid not in {e.uid for e, _ in seeded.search(["草原"], PAGE_SIZE, 0)[1]}


def _drop_index(url: str, *, as_before_search: bool = True) -> None:
    """No search tables at all; ``as_before_search``: the database is then what the version before
    search left (schema revision 0002), which the next open migrates."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE search_docs")
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TABLE search_text")
            conn.exec_driver_sql("DROP TABLE search_heads")
        if as_before_search:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
    engine.dispose()


def test_a_database_without_the_index_gets_it_filled_when_opened(seeded: Store, config: Config) -> None:
    before = seeded.search(["草原"], PAGE_SIZE, 0)
    _drop_index(seeded.url)
    with Store.open(config.database_url) as reopened:
        assert reopened.search(["草原"], PAGE_SIZE, 0) == before


# -- /search over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def site(seeded: Store, config: Config) -> Iterator[str]:
    """A real uvicorn server with the search route mounted, as ``digest serve`` mounts it."""
    config.paths.output.mkdir(parents=True, exist_ok=True)
    with serving(create_app(config.paths.output, routes={PATH: create_search_app(config, seeded)})) as url:
        yield url


def _result_links(html: str) -> list[str]:
    return re.findall(r'<h2><a href="(articles/[^"]+)">', html)


def test_the_results_page_marks_the_words_and_pages_through_every_match(site: str, seeded: Store) -> None:
    answer = httpx.get(site + "/search", params={"q": "乌兰牧骑"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "<mark>乌兰牧骑</mark>" in answer.text and 'role="search"' in answer.text
    assert 'value="乌兰牧骑"' in answer.text  # the form keeps the query
    # 内蒙古 is in more seed articles than one page holds.
    expected = {e.uid for e in seeded.entries() if "内蒙古" in _text(e)}
    assert len(expected) > PAGE_SIZE
    first = httpx.get(site + "/search", params={"q": "内蒙古"}).text
    assert 'href="search?q=%E5%86%85%E8%92%99%E5%8F%A4&amp;page=2"' in first and "下一页" in first
    second = httpx.get(site + "/search", params={"q": "内蒙古", "page": "2"}).text
    links = _result_links(first) + _result_links(second)
    assert len(links) == len(set(links)) == len(expected)
    assert {link.rsplit("/", 1)[1].removesuffix(".html") for link in links} == expected
    past = httpx.get(site + "/search", params={"q": "内蒙古", "page": "3"})
    assert past.status_code == 404 and "没有第 3 页" in past.text


def test_empty_bad_and_hostile_queries_get_a_page_that_says_what_to_do(site: str) -> None:
    empty = httpx.get(site + "/search")
    assert empty.status_code == 200 and "请输入要搜索的词语" in empty.text
    nothing = httpx.get(site + "/search", params={"q": "喵呜喵呜不存在"})
    assert nothing.status_code == 200 and "没有找到" in nothing.text
    # Cut for length and still nothing: the page says both.
    long = httpx.get(site + "/search", params={"q": "喵呜" * 40})
    assert long.status_code == 200 and "太长" in long.text and "没有找到" in long.text
    bad_page = httpx.get(site + "/search", params={"q": "草原", "page": "abc"})
    assert bad_page.status_code == 400 and "页码" in bad_page.text
    hostile = httpx.get(site + "/search", params={"q": '<script>alert(1)</script>"'})
    assert hostile.status_code == 200 and "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text
    assert httpx.post(site + "/search", data={"q": "草原"}).status_code == 405
    # Only /search itself searches: nginx rate-limits exactly that path (location = /search).
    slash = httpx.get(site + "/search/", params={"q": "草原"})
    assert slash.status_code == 301 and slash.headers["location"] == "/search?q=%E8%8D%89%E5%8E%9F"
    assert httpx.get(site + "/search/x", params={"q": "草原"}).status_code == 404
    # A link shared with a tail of tracking parameters still searches (the extra fields are ignored).
    tracked = httpx.get(site + "/search?q=草原&" + "&".join(f"utm{n}=x" for n in range(25)))
    assert tracked.status_code == 200 and "<mark>草原</mark>" in tracked.text
    # Query syntax of either engine is only ever searched for, never obeyed.
    for odd in ("_", "a*", "NEAR", 'x"y', "'", "OR AND NOT", "^", "{headline} : 草原", "草原 -医保", "\x00"):
        answer = httpx.get(site + "/search", params={"q": odd})
        assert answer.status_code == 200 and "搜索" in answer.text, odd


@pytest.mark.slow
def test_digest_serve_finds_a_page_dropped_while_it_runs_and_loses_a_retracted_one(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    served = Serve(tmp_path, pages)
    try:
        assert "没有找到" in served.http.get("/search", params={"q": "马头琴"}).text
        text = page("示例牧区举办马头琴演奏会", "牧民欣赏马头琴。")
        (pages / "2024-11-29_01.txt").write_text(text, encoding="utf-8")

        def found() -> list[str]:
            return _result_links(served.http.get("/search", params={"q": "马头琴"}).text)

        wait_for(found, 20, "the new page's article in the search results")
        [link] = found()
        assert served.run("retract", link.rsplit("/", 1)[1].removesuffix(".html")).returncode == 0
        assert found() == []
    finally:
        assert served.stop() == 0, served.log()


def test_past_the_ranking_limit_the_page_says_more_than_and_still_pages(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "RANKED", 5)
    first = httpx.get(site + "/search", params={"q": "内蒙古"}).text
    assert "找到 5 多 篇" in first and len(_result_links(first)) == PAGE_SIZE and "下一页" in first
    second = httpx.get(site + "/search", params={"q": "内蒙古", "page": "2"})
    assert second.status_code == 200 and set(_result_links(second.text)).isdisjoint(_result_links(first))


def test_a_database_that_fails_gets_a_page_saying_to_try_later(seeded: Store, config: Config) -> None:
    config.paths.output.mkdir(parents=True, exist_ok=True)
    _drop_index(seeded.url, as_before_search=False)  # under the running service: every query now fails
    with serving(create_app(config.paths.output, routes={PATH: create_search_app(config, seeded)})) as url:
        answer = httpx.get(url + "/search", params={"q": "草原"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert "搜索暂时不可用" in answer.text and answer.headers["content-type"].startswith("text/html")
