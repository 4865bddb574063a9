"""Atom ids and ``updated`` through the whole pipeline: what must keep them, and what alone may move them.

Each case ingests the example pages into a real SQLite file, publishes, does
one thing a newsroom does (re-ingest, correct the OCR, rename or copy the
file, rebuild the database, restart), publishes again and compares the
feed readers' view: the ``tag:`` ids and each entry's ``updated``.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from atomcheck import ATOM, check_atom
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.identity import _POSITION_BONUS, SAME, Known, _compared, match, similarity
from digest.ingest.pipeline import ingest
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Article

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "examples" / "pages" / "2024-11-27_01.txt"
FIRST = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)
LATER = FIRST + timedelta(days=3)  # every later step runs at another instant, so a moved date shows


@pytest.fixture
def config(tmp_path: Path) -> Config:
    source = tmp_path / "pages"
    source.mkdir()
    shutil.copyfile(PAGE, source / PAGE.name)
    return load_config(
        None, {"paths.source": source, "paths.data": tmp_path / "data", "paths.output": tmp_path / "out"}, {}
    )


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.open(config.database_url) as opened:
        yield opened


def view(config: Config) -> dict[str, str]:
    """The all-articles feed as a reader keeps it: id → updated."""
    root = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    return {e.findtext(f"{ATOM}id"): e.findtext(f"{ATOM}updated") for e in root.findall(f"{ATOM}entry")}


def step(config: Config, store: Store, now: datetime = LATER) -> dict[str, str]:
    ingest(config, store, now)
    run_publish(config, store)
    return view(config)


@pytest.fixture
def before(config: Config, store: Store) -> dict[str, str]:
    seen = step(config, store, FIRST)
    assert len(seen) >= 3 and all(ident.startswith("tag:") for ident in seen)
    return seen


def test_re_ingesting_the_same_page_changes_nothing(
    config: Config, store: Store, before: dict[str, str]
) -> None:
    page = config.paths.source / PAGE.name
    assert step(config, store) == before  # bytes seen before: skipped
    page.write_bytes(page.read_bytes() + b"\n\n")  # new bytes, same articles: read again
    assert ingest(config, store, LATER).read == 1
    assert run_publish(config, store).written == ()
    assert view(config) == before


def test_a_corrected_ocr_keeps_the_id_and_moves_only_its_updated(
    config: Config, store: Store, before: dict[str, str]
) -> None:
    page = config.paths.source / PAGE.name
    text = page.read_text(encoding="utf-8")
    assert "藏书两万册" in text
    page.write_text(text.replace("藏书两万册", "藏书三万册"), encoding="utf-8")
    after = step(config, store)
    assert after.keys() == before.keys()
    moved = [ident for ident in before if after[ident] != before[ident]]
    assert len(moved) == 1
    assert after[moved[0]] == LATER.astimezone(config.tz).isoformat()


def test_a_renamed_or_copied_page_file_adds_nothing(
    config: Config, store: Store, before: dict[str, str]
) -> None:
    page = config.paths.source / PAGE.name
    page.rename(config.paths.source / "2024-11-27_01 renamed.txt")
    assert step(config, store) == before
    copy = config.paths.source / "backup" / "copy-2024-11-27_01.txt"
    copy.parent.mkdir()
    shutil.copyfile(PAGE, copy)
    assert step(config, store) == before


def test_a_database_rebuilt_from_the_same_folder_gives_the_same_ids(
    config: Config, store: Store, before: dict[str, str]
) -> None:
    store.close()
    shutil.rmtree(config.paths.data)
    shutil.rmtree(config.paths.output)
    with Store.open(config.database_url) as rebuilt:
        after = step(config, rebuilt)
    assert after.keys() == before.keys()


def test_a_restart_republishes_nothing(config: Config, store: Store, before: dict[str, str]) -> None:
    store.close()
    feed = (config.paths.output / "feeds" / "all.atom").stat()
    with Store.open(config.database_url) as reopened:
        ingest(config, reopened, LATER)
        report = run_publish(config, reopened)
    assert report.written == () and not report.full
    assert view(config) == before
    assert (config.paths.output / "feeds" / "all.atom").stat().st_mtime_ns == feed.st_mtime_ns


def test_one_headline_on_two_pages_of_one_day_is_two_articles(
    config: Config, store: Store, before: dict[str, str]
) -> None:
    other = config.paths.source / "2024-11-27_05.txt"
    other.write_text(
        "● 体育\n\n# 青松县首座社区图书馆开馆\n\n本报讯 这是另一版上同题的另一篇稿件。\n", encoding="utf-8"
    )
    assert len(step(config, store)) == len(before) + 1


def test_dates_are_the_newspaper_day_in_local_time(config: Config, before: dict[str, str]) -> None:
    root = check_atom((config.paths.output / "feeds" / "all.atom").read_bytes())
    published = {e.findtext(f"{ATOM}published") for e in root.findall(f"{ATOM}entry")}
    assert published == {"2024-11-27T06:00:00+08:00"}  # the morning, never eight hours off
    # A first version's updated is its published: the feed follows from the page alone.
    assert set(before.values()) == published
    assert root.findtext(f"{ATOM}updated") == max(before.values())


# -- matching a re-read page's articles to its previous ones ----------------------------------------


def _best_first(previous: Sequence[Known], fresh: Sequence[Article]) -> list[str | None]:
    """The rule of ``match`` as it reads: every pair scored, taken best first (the oracle)."""
    old = [_compared(known.title, known.body) for known in previous]
    new = [_compared(article.title, article.printed_body()) for article in fresh]
    pairs = []
    for i, text in enumerate(new):
        for j, known in enumerate(previous):
            score = similarity(text, old[j]) + (_POSITION_BONUS if known.index == i else 0.0)
            if score >= SAME:
                pairs.append((-score, abs(known.index - i), i, j))
    found: list[str | None] = [None] * len(fresh)
    taken: set[int] = set()
    for _, _, i, j in sorted(pairs):
        if found[i] is None and j not in taken:
            found[i] = previous[j].uid
            taken.add(j)
    return found


# Few letters, so that texts repeat, nearly repeat or share nothing, as on a re-read page.
_TEXTS = st.text(alphabet="草原牧民春耕", min_size=0, max_size=30)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="草原牧民春耕的了", max_size=80), st.text(alphabet="草原牧民春耕的了", max_size=80))
def test_similarity_is_difflib_s_ratio_wherever_a_pair_can_count(a: str, b: str) -> None:
    # The quick bound (the longest common subsequence, in rapidfuzz) may only drop pairs that
    # could never count: below the lowest score that can, whatever the position bonus.
    exact = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    floor = SAME - _POSITION_BONUS
    if exact >= floor:
        assert similarity(a, b) == exact
    else:
        assert similarity(a, b) < floor


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_TEXTS, _TEXTS, st.integers(0, 5)), max_size=6),
    st.lists(st.tuples(_TEXTS, _TEXTS), max_size=6),
)
def test_matching_takes_the_same_pairs_as_scoring_every_pair_best_first(
    before: list[tuple[str, str, int]], after: list[tuple[str, str]]
) -> None:
    previous = [Known(f"u{n}", title, body, index) for n, (title, body, index) in enumerate(before)]
    fresh = [Article(title=title or None, body=body) for title, body in after]
    assert match(previous, fresh) == _best_first(previous, fresh)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_TEXTS, _TEXTS), min_size=1, max_size=6),
    st.integers(0, 6),
    st.booleans(),
    st.data(),
)
def test_a_page_read_again_with_an_article_added_or_dropped_matches_as_scoring_every_pair(
    page: list[tuple[str, str]], at: int, add: bool, data: st.DataObject
) -> None:
    previous = [Known(f"u{n}", title, body, n) for n, (title, body) in enumerate(page)]
    texts = list(page)
    if add:
        texts.insert(min(at, len(texts)), data.draw(st.tuples(_TEXTS, _TEXTS)))
    else:
        del texts[min(at, len(texts) - 1)]
    fresh = [Article(title=title or None, body=body) for title, body in texts]
    assert match(previous, fresh) == _best_first(previous, fresh)


def test_a_page_read_again_unchanged_or_nearly_is_matched_without_comparing_every_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Eight stories that share no words, as on a printed page.
    words = ["牧民春耕", "草原防火", "铁路通车", "学校开学", "医院义诊", "冬季供暖", "农机下乡", "书展开幕"]
    bodies = [f"{word}，" * 30 + "结束。" for word in words]
    previous = [Known(f"u{n}", f"标题{n}", body, n) for n, body in enumerate(bodies)]
    fresh = [Article(title=f"标题{n}", body=body) for n, body in enumerate(bodies)]
    compared: list[tuple[str, str]] = []
    real = difflib.SequenceMatcher

    def counting(junk: None, a: str, b: str, autojunk: bool = True) -> difflib.SequenceMatcher[str]:
        compared.append((a, b))
        return real(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", counting)
    assert match(previous, fresh) == [known.uid for known in previous]
    assert compared == []  # unchanged: no text compared at all
    fresh[3] = Article(title="标题3", body=bodies[3].replace("结束", "完"))  # an OCR fix
    assert match(previous, fresh) == [known.uid for known in previous]
    assert len(compared) == 1  # only the fixed article, with what stood in its place
    compared.clear()
    added = [Article(title="新增", body="新增的一篇。")]
    added += [Article(title=f"标题{n}", body=body) for n, body in enumerate(bodies)]
    assert match(previous, added) == [None, *(known.uid for known in previous)]
    assert len(compared) <= len(added)  # each place with what stood there, not every pair
