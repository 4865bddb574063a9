"""Retention: two years of daily digests on a fixed clock; the ledger, sign-ups and outbox stay bounded.

Each simulated day runs the real path of a digest's emails: the digest is saved
with one ledger row per subscriber (``Store.save_digest``) and sent by the send
loop (``delivery.deliver``) into an outbox folder; one more address signs up and
never confirms; then ``retention.prune`` runs, as the service does each night.
The outbox files get the simulated day as their modification time (the
filesystem's clock, as the store's is ``now``).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from digest.config import Config, RetentionConfig
from digest.config_checks import load_config
from digest.errors import ConfigError
from digest.mail.compose import DigestEmailMaker
from digest.mail.delivery import Retry, deliver
from digest.mail.subscribers import personal_links
from digest.mail.transports import OutboxMailer
from digest.publish.digests import build_digest
from digest.service.metrics import Metrics
from digest.service.retention import prune
from digest.service.runner import Runner
from digest.store.database import Store
from digest.store.records import DigestRecord, Subscriber, SubscriberStatus
from digest.types import Article, Entry, Section

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = 2 * 365
READERS = 1  # gets every email (rendered and written to the outbox)
ELSEWHERE = 5  # subscribed to a section with nothing in it: their rows are "skipped"
KEEP = RetentionConfig(deliveries_days=30, signups_days=10, outbox_days=14, dry_run_days=7)
START = date(2024, 1, 1)


def entry_from_row(day: date, seen: datetime) -> Entry:
    published = datetime.combine(day, time(6), tzinfo=SHANGHAI)
    uid = f"u{day:%Y%m%d}"
    return Entry(
        uid=uid,
        tag=f"tag:test,2024:article/{day}/{uid}",
        article=Article(title=f"{day}的要闻", body="正文。"),
        section=Section("要闻", "yaowen"),
        issue_date=day,
        published=published,
        updated=published,
        first_seen=seen,
        source=f"{day}_01.txt",
        position=1000,
    )


def _one_day(config: Config, store: Store, day: date) -> datetime:
    """The digest of ``day`` made and sent at 07:00 local; returns that instant."""
    until = datetime.combine(day, time(7), tzinfo=SHANGHAI)
    since = until - timedelta(days=1)
    store.upsert_entries([entry_from_row(day, since + timedelta(hours=1))])
    digest = build_digest(store.entries_first_seen(since, until), day, since, until)
    recipients = [s.email for s in store.subscribers()]
    record = DigestRecord(day, since, until, until, digest.count)
    assert store.save_digest(record, recipients)
    maker = DigestEmailMaker(digest, config=config, site_url="http://127.0.0.1:8080/", now=until)
    report = deliver(
        store,
        OutboxMailer(config.paths.data / "outbox"),
        maker,
        record,
        links=personal_links(config, until, store),
        retry=Retry(timedelta(seconds=60), timedelta(hours=24)),
        skip_empty=True,
        now=until,
        clock=lambda: until,
    )
    assert (report.sent, report.skipped) == (READERS, ELSEWHERE)
    return until


def _counts(store: Store) -> dict[str, int]:
    with store._engine.connect() as conn:
        return {
            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("deliveries", "delivery_counts", "subscribers", "notices", "articles")
        }


def _sizes(store: Store) -> tuple[int, int] | None:
    """SQLite: bytes of the file in use (pages less free pages, what VACUUM would leave), and of
    the ledger's pages (table and indexes, from the ``dbstat`` table of SQLite)."""
    if store._engine.dialect.name != "sqlite":
        return None
    ledger = (
        "SELECT sum(pgsize) FROM dbstat WHERE name IN ('deliveries', 'deliveries_status')"
        " OR name LIKE 'sqlite_autoindex_deliveries_%'"
    )
    with store._engine.connect() as conn:
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
        free = conn.execute(sa.text("PRAGMA freelist_count")).scalar_one()
        size = conn.execute(sa.text("PRAGMA page_size")).scalar_one()
        try:
            ledger_bytes = conn.execute(sa.text(ledger)).scalar_one()
        except sa.exc.OperationalError as exc:
            if "no such table: dbstat" not in str(exc):
                raise
            pytest.skip("this SQLite has no dbstat table")
    return int((pages - free) * size), int(ledger_bytes)


def test_two_years_of_daily_digests_keep_the_database_and_outbox_bounded(
    config: Config, store: Store
) -> None:
    config = dataclasses.replace(config, retention=KEEP)
    start = datetime.combine(START, time(0), tzinfo=SHANGHAI)
    store.add_subscribers(
        [Subscriber(f"reader{n}@example.org", (), True, start, confirmed_at=start) for n in range(READERS)]
        + [
            Subscriber(f"other{n}@example.org", ("tiyu",), True, start, confirmed_at=start)
            for n in range(ELSEWHERE)
        ]
    )
    outbox = config.paths.data / "outbox"
    peak = {"deliveries": 0, "pending": 0, "outbox": 0}
    sizes: dict[int, tuple[int, int] | None] = {}
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        now = _one_day(config, store, day)
        for path in outbox.glob("*.eml"):
            if path.stat().st_mtime > now.timestamp():  # written just now, in real time
                os.utime(path, (now.timestamp(), now.timestamp()))
        store.add_subscriber(Subscriber(f"signup{offset}@example.org", (), False, now, source="import"))
        if offset % 30 == 0:
            folder = config.paths.data / "dry-run" / day.isoformat()
            folder.mkdir(parents=True)
            (folder / "a.eml").write_text("preview")
            os.utime(folder, (now.timestamp(), now.timestamp()))
        prune(config, store, now + timedelta(hours=20))
        pending = len(store.subscribers(confirmed_only=False)) - READERS - ELSEWHERE
        ledger = _counts(store)["deliveries"]
        peak = {
            "deliveries": max(peak["deliveries"], ledger),
            "pending": max(peak["pending"], pending),
            "outbox": max(peak["outbox"], len(list(outbox.glob("*.eml")))),
        }
        if offset + 1 in (365, DAYS):
            sizes[offset + 1] = _sizes(store)

    people = READERS + ELSEWHERE
    # Bounded by the retention periods, not by the two years: without it, 4,380 rows and 730 files.
    assert peak["deliveries"] <= people * (KEEP.deliveries_days + 2)
    assert peak["pending"] <= KEEP.signups_days + 2
    assert peak["outbox"] <= READERS * (KEEP.outbox_days + 2)
    dry_runs = list((config.paths.data / "dry-run").iterdir())
    assert len(dry_runs) <= 1
    # The daily counts survive: every row ever written is still counted, by status.
    assert store.status_counts()["deliveries"] == {"sent": READERS * DAYS, "skipped": ELSEWHERE * DAYS}
    assert _counts(store)["delivery_counts"] <= 2 * DAYS
    summary = dict(store.delivery_summary().counts)
    assert summary == {"sent": READERS * DAYS, "skipped": ELSEWHERE * DAYS}
    year, end = sizes[365], sizes[DAYS]
    if year is not None and end is not None:
        print(f"SQLite bytes in use: {year[0]:,} after one year, {end[0]:,} after two (articles are kept);")
        print(f"  of them the ledger: {year[1]:,} after one year, {end[1]:,} after two")
        # Without retention the second year would add 2,190 more rows (about 300 kB) to the ledger.
        assert end[1] <= year[1] + 8192


def test_prune_keeps_rows_still_being_sent_and_the_suppression_list(config: Config, store: Store) -> None:
    config = dataclasses.replace(config, retention=KEEP)
    now = datetime(2024, 6, 1, 0, 0, tzinfo=SHANGHAI)
    old = now - timedelta(days=60)
    store.add_subscribers(
        [
            Subscriber("gone@example.org", (), False, old, status=SubscriberStatus.UNSUBSCRIBED),
            Subscriber("waiting@example.org", (), False, old, source="import"),
            Subscriber("reader@example.org", (), True, old, confirmed_at=old),
        ]
    )
    day = old.date()
    store.save_digest(DigestRecord(day, old - timedelta(days=1), old, old, 1), ["reader@example.org"])
    dry = prune(config, store, now, dry_run=True)
    assert (dry.deliveries, dry.signups) == (0, 1)  # the row is pending: never folded away
    assert store.subscriber("waiting@example.org") is not None  # a dry run removes nothing
    done = prune(config, store, now)
    assert done.signups == 1 and store.subscriber("waiting@example.org") is None
    assert store.subscriber("gone@example.org") is not None
    assert [d.status for d in store.deliveries(day)] == ["pending"]


def test_retention_settings_are_checked(tmp_path: Path) -> None:
    def load(values: dict[str, object]) -> Config:
        (tmp_path / "pages").mkdir(exist_ok=True)
        folders = {name: tmp_path / name for name in ("paths.data", "paths.output")}
        return load_config(None, {"paths.source": tmp_path / "pages", **folders, **values})

    with pytest.raises(ConfigError, match=r"retention.deliveries_days: 1 days would delete emails still"):
        load({"retention.deliveries_days": 1})
    with pytest.raises(ConfigError, match=r"retention.signups_days: 2 days would delete sign-ups whose"):
        load({"retention.signups_days": 2})
    with pytest.raises(ConfigError, match=r"retention.outbox_days: cannot be negative"):
        load({"retention.outbox_days": -1})
    assert load({"retention.deliveries_days": 0}).retention.deliveries_days == 0


def test_digest_prune_dry_run_prints_what_would_go(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    old = tmp_path / "data" / "outbox" / "20200101T000000Z-a@example.org-x.eml"
    old.parent.mkdir(parents=True)
    old.write_text("old")
    os.utime(old, (0, 0))
    fresh = old.with_name("fresh.eml")
    fresh.write_text("new")
    folders = ["--source", str(tmp_path / "pages"), "--data", str(tmp_path / "data")]
    command = [sys.executable, "-m", "digest.cli", "prune", *folders, "--output", str(tmp_path / "out")]
    shown = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, check=True, timeout=60)
    assert f"would remove {old}" in shown.stdout and "would remove 0 delivery rows" in shown.stdout
    assert old.exists()
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert f"removed {old}" in done.stdout and not old.exists() and fresh.exists()


class Follower:
    """Another instance leads: this one runs no job (``digest.service.leader.Leadership``)."""

    held = False

    def start(self, on_gain: object) -> None:
        return None

    def close(self) -> None:
        return None


def test_the_service_prunes_nightly_only_where_it_leads(config: Config, store: Store) -> None:
    config = dataclasses.replace(config, retention=KEEP)
    old = config.paths.data / "outbox" / "old.eml"
    old.parent.mkdir(parents=True)
    old.write_text("old")
    os.utime(old, (0, 0))
    now = datetime(2024, 6, 1, tzinfo=SHANGHAI)
    mailer = OutboxMailer(old.parent)
    follower = Runner(config, store, mailer, Metrics(), clock=lambda: now, leader=Follower())
    follower.prune()
    assert old.exists()
    leader = Runner(config, store, mailer, Metrics(), clock=lambda: now)
    leader.prune()
    assert not old.exists()
    run = leader.state().runs["prune"]
    assert run.error is None and run.counts["removed"] == 1
