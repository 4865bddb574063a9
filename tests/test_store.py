"""The store on SQLite and PostgreSQL: upserts keep identity and time, ledgers never send twice."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.errors import StoreError
from digest.store.database import Store
from digest.store.records import DigestRecord, SourceRecord, Subscriber, SubscriberStatus
from digest.store.schema import FEED_ORDER
from digest.store.urls import mask_url, normalize_url
from digest.types import FEED_KEY_FIELDS, Article, Credit, Entry, Kind, Section, feed_key, newest_first

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)


def entry(uid: str, title: str, body: str = "正文。", *, at: datetime = T0, position: int = 0) -> Entry:
    section = Section("要闻", "yao-wen")
    article = Article(
        title=title,
        body=body,
        section="要闻",
        kicker="引题",
        credits=(Credit("某某", "本报记者"),),
        date="11-27",
        place="呼和浩特",
        kind=Kind.INTERVIEW,
        notes=("编辑有话说",),
        jumps=("下转第2版",),
    )
    return Entry(
        uid=uid,
        tag=f"tag:x,2024:article/2024-11-27/{uid}",
        article=article,
        section=section,
        issue_date=date(2024, 11, 27),
        published=datetime(2024, 11, 27, 6, 0, tzinfo=SHANGHAI),
        updated=at,
        first_seen=at,
        source="2024-11-27_01.txt",
        position=position,
    )


def test_entries_round_trip_with_aware_utc_datetimes(store: Store) -> None:
    original = entry("a1", "标题")
    assert store.upsert_entries([original]).new == 1
    (loaded,) = store.entries()
    # The store gives it its place in the feeds: the change sequence of its first version.
    assert loaded == dataclasses.replace(original, published=original.published.astimezone(UTC), feed_seq=1)
    assert loaded.published.tzinfo is UTC and loaded.published == original.published


def test_unchanged_content_keeps_updated_and_changed_content_bumps_it(store: Store) -> None:
    store.upsert_entries([entry("a1", "标题")])
    later = T0 + timedelta(hours=5)
    report = store.upsert_entries([entry("a1", "标题", at=later, position=3)])
    assert (report.new, report.changed, report.unchanged) == (0, 0, 1)
    assert store.entries()[0].updated == T0
    report = store.upsert_entries([entry("a1", "标题", body="更正后的正文。", at=later)])
    assert report.changed == 1
    (loaded,) = store.entries()
    assert loaded.updated == later and loaded.first_seen == T0
    assert loaded.article.body == "更正后的正文。"


def test_one_batch_with_a_stored_a_new_and_a_repeated_identity(store: Store) -> None:
    store.upsert_entries([entry("old", "旧")])
    later = T0 + timedelta(hours=2)
    batch = [
        entry("old", "旧", body="改过的正文。", at=later),
        entry("new", "新"),
        entry("new", "新", body="同一批里后来的正文。", at=later),  # a renamed copy, corrected
        entry("new", "新", body="同一批里后来的正文。", at=later),
    ]
    report = store.upsert_entries(batch)
    assert (report.new, report.changed, report.unchanged) == (1, 2, 1)
    loaded = {e.uid: e for e in store.entries()}
    assert loaded["old"].article.body == "改过的正文。" and loaded["old"].updated == later
    assert loaded["new"].article.body == "同一批里后来的正文。" and loaded["new"].first_seen == T0
    # Never stored before: the batch's last text is its first version, which keeps its own updated.
    assert loaded["new"].updated == T0 and len(loaded) == 2


def test_many_entries_and_sources_in_one_call(store: Store) -> None:
    many = [entry(f"u{n:04d}", f"标题{n}", position=n) for n in range(1200)]  # more than one IN batch
    assert store.upsert_entries(many).new == 1200
    assert store.upsert_entries(many).unchanged == 1200
    records = [SourceRecord(f"p{n}.txt", "h", 1, T0, None, T0) for n in range(1200)]
    store.record_sources(records)
    store.record_sources([dataclasses.replace(records[0], last_error="坏了")])
    assert store.status().sources == 1200
    assert store.status().failed_sources == (("p0.txt", "坏了"),)


def test_entries_in_a_first_seen_window_in_paper_order(store: Store) -> None:
    store.upsert_entries([entry("b", "二", position=2), entry("a", "一", position=1)])
    store.upsert_entries([entry("c", "三", at=T0 + timedelta(days=1))])
    window = store.entries_first_seen(T0, T0 + timedelta(hours=1))
    assert [e.uid for e in window] == ["a", "b"]
    assert [e.uid for e in store.entries_first_seen(T0 + timedelta(hours=1), T0 + timedelta(days=2))] == ["c"]


def test_the_sql_feed_order_is_the_feed_key_and_readers_get_it_newest_first(store: Store) -> None:
    # store.schema.FEED_ORDER mirrors types.FeedKey column for column: the SQL pages and the Python
    # sorts must agree, or archive pages would be cut in one order and filled in the other.
    assert tuple(column.name for column in FEED_ORDER) == FEED_KEY_FIELDS
    one = entry("x", "一", position=3)
    assert feed_key(*(getattr(one, name) for name in FEED_KEY_FIELDS)) == one.feed_key
    # A full archive page's last key (schema.ARCHIVE_LAST_KEY) comes back as it went in.
    store.add_feed_archives("all", [(1, one.feed_key)])
    assert store.feed_archives("all") == [one.feed_key]

    older = dataclasses.replace(entry("d", "四", position=1), issue_date=date(2024, 11, 26))
    store.upsert_entries([entry("b", "二", position=2), entry("a", "一", position=1)])
    store.upsert_entries([older, entry("c", "三")])
    stream = list(store.feed_stream(batch=3))  # read across a batch boundary, which resumes at a key
    assert [e.feed_key for e in stream] == sorted(e.feed_key for e in store.entries())
    assert [e.uid for e in stream] == ["a", "b", "d", "c"]
    # Listed for readers: the latest change first, and in it the newest issue first.
    assert [e.uid for e in sorted(stream, key=lambda e: newest_first(e.feed_key))] == ["c", "d", "a", "b"]


def test_sources_are_remembered_with_their_error(store: Store) -> None:
    assert store.source("p.txt") is None
    record = SourceRecord("p.txt", "ab" * 32, 10, T0, "empty file", T0)
    store.record_source(record)
    assert store.source("p.txt") == record
    store.record_source(dataclasses.replace(record, last_error=None, content_hash="cd" * 32))
    assert store.source("p.txt") == dataclasses.replace(record, last_error=None, content_hash="cd" * 32)
    assert store.status().failed_sources == ()


def test_digest_is_saved_once(store: Store) -> None:
    first = DigestRecord(date(2024, 11, 27), T0 - timedelta(days=1), T0, T0, 3)
    store.save_digest(first)
    store.save_digest(dataclasses.replace(first, count=9))
    assert store.digest(date(2024, 11, 27)) == first
    assert store.digests(before=date(2024, 11, 27)) == []
    assert store.status().latest_digest == date(2024, 11, 27)


def test_delivery_ledger_claims_each_row_once_and_keeps_every_outcome(store: Store) -> None:
    day = date(2024, 11, 27)
    emails = ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
    assert store.save_digest(DigestRecord(day, T0 - timedelta(days=1), T0, T0, 1), emails)
    assert not store.save_digest(DigestRecord(day, T0, T0, T0, 9), ["x@example.org"])  # the first stays
    assert [d.email for d in store.due_deliveries(day, T0)] == emails
    run, other = "h:1:aa", "h:2:bb"
    assert store.claim_delivery(day, "a@example.org", run)
    assert not store.claim_delivery(day, "a@example.org", other)
    assert store.commit_delivery(day, "a@example.org", run)
    assert store.mark_delivery(day, "a@example.org", "sent", T0, claim=run)
    # A late write of another run, or one that expects a waiting row, changes nothing.
    assert not store.mark_delivery(day, "a@example.org", "failed", T0, "451", T0, claim=other)
    assert not store.mark_delivery(day, "a@example.org", "skipped", T0, "gone")
    for email in ("b@example.org", "c@example.org", "d@example.org"):
        assert store.claim_delivery(day, email, run)
    assert not store.commit_delivery(day, "b@example.org", other)
    assert store.mark_delivery(day, "b@example.org", "refused", T0, "550 no such user", claim=run)
    assert store.mark_delivery(day, "c@example.org", "failed", T0, "timeout", T0 + timedelta(minutes=1), run)
    assert store.commit_delivery(day, "d@example.org", run)  # then a crash: left "sending"
    assert store.days_due(T0) == [day]
    assert store.due_deliveries(day, T0) == []  # c waits for its retry time
    assert store.recover_deliveries(day, run, "crashed") == (0, 0)  # our own rows are not recovered
    assert store.recover_deliveries(day, other, "crashed") == (0, 1)
    later = T0 + timedelta(minutes=1)
    assert [(d.email, d.status, d.attempts) for d in store.due_deliveries(day, later)] == [
        ("c@example.org", "failed", 1)
    ]
    store.defer_deliveries(day, ["c@example.org"], T0 + timedelta(hours=1), "server down")
    assert store.days_due(later) == []
    rows = {d.email: d for d in store.deliveries(day)}
    assert rows["a@example.org"].sent_at == T0 and rows["d@example.org"].status == "unknown"
    summary = store.delivery_summary()
    assert dict(summary.counts) == {"failed": 1, "refused": 1, "sent": 1, "unknown": 1}
    assert summary.next_attempt_at == T0 + timedelta(hours=1) and summary.last_error is not None
    assert store.status().pending_deliveries == 1


def test_subscribers(store: Store) -> None:
    assert store.add_subscriber(Subscriber("a@example.org", ("yao-wen",), True, T0))
    assert not store.add_subscriber(Subscriber("a@example.org", (), True, T0))
    store.add_subscriber(Subscriber("z@example.org", (), False, T0))
    (only,) = store.subscribers()
    assert only == Subscriber("a@example.org", (), True, T0, key=only.key) and len(only.key) == 16
    assert len(store.subscribers(confirmed_only=False)) == 2
    assert store.remove_subscriber("a@example.org")
    assert not store.remove_subscriber("a@example.org")


def test_suppressed_addresses_keep_their_row_and_reason_and_get_a_new_key(store: Store) -> None:
    store.add_subscriber(Subscriber("a@example.org", ("yao-wen",), True, T0))
    key = store.subscriber_keys()["a@example.org"]
    later = T0 + timedelta(days=3)
    assert store.set_subscriber_status(
        "a@example.org", SubscriberStatus.UNSUBSCRIBED, "unsubscribe page", later
    )
    left = store.subscriber("a@example.org")
    assert left is not None and left.status is SubscriberStatus.UNSUBSCRIBED and not left.confirmed
    assert (left.reason, left.status_at, left.sections) == ("unsubscribe page", later, ("yao-wen",))
    assert store.subscribers() == [] and store.status().subscribers == 0
    # A new key: no link sent before the address left works after it (tests/test_subscriptions.py).
    assert left.key and left.key != key and store.subscriber_by_key(key) is None
    assert store.subscriber_by_key(left.key) == left and store.subscriber_by_key("nobody") is None
    assert SubscriberStatus.UNSUBSCRIBED.suppressed and not SubscriberStatus.PENDING.suppressed
    assert not store.set_subscriber_status("b@example.org", SubscriberStatus.BOUNCED, "x", later)
    with pytest.raises(ValueError, match="confirmed"):
        Subscriber("a@example.org", (), True, T0, status=SubscriberStatus.BOUNCED)


def test_one_confirmation_is_claimed_per_quiet_period(store: Store) -> None:
    asked = Subscriber("a@example.org", ("yao-wen",), False, T0, source="web")
    wait = timedelta(minutes=10)
    claimed = store.claim_confirmation(asked, T0, wait)
    assert claimed is not None and claimed.confirm_sent_at == T0 and claimed.key
    assert store.claim_confirmation(asked, T0 + timedelta(minutes=9), wait) is None
    again = store.claim_confirmation(asked, T0 + timedelta(minutes=10), wait)
    assert again is not None and again.key == claimed.key and again.created == T0


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'd' / 'x.sqlite3'}") as opened:
        opened.upsert_entries([entry("a", "一")])
    raw = sqlite3.connect(tmp_path / "d" / "x.sqlite3")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_unreachable_database_is_a_store_error_with_masked_password() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://user:hunter2@127.0.0.1:1/none?connect_timeout=2")
    message = str(caught.value)
    assert "hunter2" not in message and "user:***@127.0.0.1:1" in message
    assert "check" in message


def test_unwritable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="file"):
        Store.open(f"sqlite:///{blocker / 'x.sqlite3'}")


def test_url_helpers() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x") == "sqlite:///x"
    assert mask_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


def test_articles_written_straight_to_sqlite_are_stored_as_sqlalchemy_writes_them(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from digest.store.articles import insert_rows
    from digest.store.schema import articles

    east = ZoneInfo("Asia/Shanghai")
    row = {
        "uid": "u1",
        "tag": "tag:x,2024:article/u1",
        "issue_date": date(987, 1, 2),
        "section_name": "要闻",
        "section_slug": "yao-wen",
        "position": 101,
        "title": "标题",
        "kicker": None,
        "subtitle": "",
        "credits": '[["某某", "记者"]]',
        "date": "01-02",
        "place": None,
        "kind": "news",
        "body": "正文\n第二段。",
        "notes": "[]",
        "jumps": "[]",
        "content_hash": "0" * 64,
        "source": "a/b.txt",
        "published": datetime(2024, 11, 27, 6, 0, tzinfo=east),  # not UTC, no microseconds
        "updated": datetime(2024, 11, 26, 23, 59, 59, 5, tzinfo=UTC),
        "first_seen": datetime(2024, 1, 1, tzinfo=east),  # the day before in UTC
        "seq": 2**40,
        "dated_by": "path",
        "retracted": None,
        "retracted_at": None,
        "feed_seq": 7,
        "captions": None,
    }  # successor left out: NULL
    other = {
        **row,
        "uid": "u2",
        "tag": "tag:x,2024:article/u2",
        "retracted_at": datetime(2025, 3, 4, tzinfo=UTC),
    }
    stored = []
    for way in ("sqlalchemy", "driver"):
        path = tmp_path / f"{way}.sqlite3"
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            articles.create(conn)
            if way == "driver":
                insert_rows(conn, [row, other])
            else:
                conn.execute(sa.insert(articles), [row, other])
        engine.dispose()
        with sqlite3.connect(path) as raw:
            names = [column.name for column in articles.c]
            typed = ", ".join(f"{name}, typeof({name})" for name in names)
            stored.append(raw.execute(f"SELECT rowid, {typed} FROM articles ORDER BY rowid").fetchall())
        raw.close()
    assert stored[0] == stored[1]
    assert len(stored[1]) == 2
    with sa.create_engine("sqlite://").connect() as conn, pytest.raises(ValueError, match="naive"):
        insert_rows(conn, [{**row, "updated": datetime(2024, 1, 1)}])


def test_an_articles_content_hash_does_not_move_between_versions() -> None:
    # Stored rows keep the hash they were written with: a hash computed differently for the same
    # text would count every stored article as changed, and move its ``updated``, on the next read.
    from digest.store.articles import content_hash
    from digest.types import Caption

    article = Article(
        title='标题 "引号" \\ 斜线',
        body="正文\n第二段：\u2028 <b>&amp;</b>",
        section="要闻",
        subtitle="副题",
        credits=(Credit("某某", "本报记者"), Credit('X "Y"', "摄")),
        date="11-27",
        place="呼和浩特",
        kind=Kind.INTERVIEW,
        notes=("编辑有话说",),
        jumps=("下转第2版",),
        captions=(Caption("图说", "某摄", 3),),
    )
    assert content_hash(article, Section("要闻", "yao-wen")) == (
        "02eec2efcc7cbc77e1218b30bdccf84e3511cd0afcfef9d360f10403d2dcae8f"
    )
    bare = Article(title="t", body="b", section="s")
    assert content_hash(bare, Section("其他", "qi-ta")) == (
        "5801ef5df4355eedcaf01f2728d6c29bbb44f5e0083555533c6c87a3bbe18a39"
    )
