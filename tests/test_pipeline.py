"""End to end: seed pages → ingest → store → publish → digest → HTTP, and ``digest serve`` as a process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import feedparser
import httpx
import lxml.html
import pytest
from conftest import folders_config
from loopback import free_port, wait_for
from smtp_sink import SmtpSink
from test_server import serving

from digest.config import Config
from digest.errors import NotDueError
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer, SmtpMailer
from digest.publish.layout import NO_ARTICLES
from digest.service.jobs import catch_up_digest, due_day, run_digest, run_publish
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.types import Entry
from digest.web.server import create_app

ROOT = Path(__file__).resolve().parents[1]
# Ingested at noon on 26 November in Shanghai; the digest of the 27th (07:00) covers it.
INGESTED = datetime(2024, 11, 26, 4, 0, tzinfo=UTC)
DAY = date(2024, 11, 27)


def make_config(tmp_path: Path, **extra: object) -> Config:
    # feeds.size: every seed article in the subscription document, none in archives.
    return folders_config(tmp_path, {"feeds.size": 500, **extra})


@pytest.fixture
def seeded(tmp_path: Path, seeds: Path, database_url: str) -> Iterator[tuple[Config, Store]]:
    """The five seed pages ingested into a fresh store (SQLite, then PostgreSQL)."""
    config = make_config(tmp_path, **{"database.url": database_url})
    for page in sorted(seeds.glob("*.txt")):
        target = config.paths.source / page.name
        shutil.copyfile(page, target)
        os.utime(target, (INGESTED.timestamp(), INGESTED.timestamp()))
    with Store.open(config.database_url) as store:
        report = ingest(config, store, INGESTED)
        assert (report.read, report.failed) == (5, 0)
        yield config, store


def titles(entries: list[Entry]) -> list[str]:
    return [e.article.title for e in entries if e.article.title]


def test_seed_pages_reach_feeds_digest_email_and_http(seeded: tuple[Config, Store], now: datetime) -> None:
    config, store = seeded
    store.add_subscriber(Subscriber("reader@example.org", (), True, INGESTED))
    result = run_digest(config, store, OutboxMailer(config.paths.data / "outbox"), now)
    assert (result.made, result.sent, result.failed) == (True, 1, 0)
    entries = store.entries()
    # The digest mails the issues within digest.backfill_days; the back issues are on the site only.
    mailed = [e for _, items in result.digest.groups for e in items]
    assert len(entries) > 20 and 0 < result.digest.count == len(mailed) < len(entries)
    assert all((DAY - e.issue_date).days <= config.digest.backfill_days for e in mailed)
    output = config.paths.output

    everything = feedparser.parse((output / "feeds" / "all.atom").read_bytes())
    assert not everything.bozo, everything.get("bozo_exception")
    assert sorted(e.id for e in everything.entries) == sorted(e.tag for e in entries)
    assert sorted(
        e.title for e in everything.entries if e.id in {x.tag for x in entries if x.article.title}
    ) == (sorted(titles(entries)))
    assert any("内蒙古" in title for title in titles(entries))  # Chinese headlines intact, not mojibake

    sections = {e.section for e in entries}
    assert len(sections) > 1
    for section in sections:
        feed = feedparser.parse((output / "feeds" / f"{section.slug}.atom").read_bytes())
        assert not feed.bozo
        assert {e.id for e in feed.entries} == {e.tag for e in entries if e.section == section}, section

    page = lxml.html.fromstring((output / "digests" / f"{DAY}.html").read_bytes()).text_content()
    for title in titles(mailed):
        assert title in page
    for section, _ in result.digest.groups:
        assert section.name in page

    (eml,) = (config.paths.data / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "reader@example.org"
    assert f"{len(mailed)} 篇" in str(message["Subject"])

    with (
        serving(create_app(output, base_url=config.site.base_url)) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        feed = client.get("/feeds/all.atom")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        assert feed.content == (output / "feeds" / "all.atom").read_bytes()
        assert client.get(f"/digests/{DAY}.html").status_code == 200
        again = client.get("/feeds/all.atom", headers={"If-None-Match": feed.headers["etag"]})
        assert again.status_code == 304


def test_republishing_unchanged_data_writes_nothing(seeded: tuple[Config, Store]) -> None:
    config, store = seeded
    assert run_publish(config, store).written
    assert run_publish(config, store).written == ()


def test_a_recipient_never_gets_a_digest_twice_and_failures_are_retried(
    seeded: tuple[Config, Store], now: datetime
) -> None:
    config, store = seeded
    for email in ("ok@example.org", "gone@example.org", "later@example.org"):
        store.add_subscriber(Subscriber(email, (), True, INGESTED))
    with SmtpSink() as sink:
        sink.refuse("gone@example.org", 550)
        sink.refuse("later@example.org", 421, times=1)
        smtp = config.smtp.__class__(host=sink.host, port=sink.port, security="none")
        with closing(SmtpMailer(smtp, timeout=5)) as mailer:
            first = run_digest(config, store, mailer, now)
            assert (first.sent, first.failed, first.refused) == (1, 1, 1)
            second = run_digest(config, store, mailer, now + timedelta(minutes=5))
            assert (second.made, second.sent, second.failed, second.refused) == (False, 1, 0, 0)
            third = run_digest(config, store, mailer, now + timedelta(minutes=10))
            assert (third.sent, third.failed, third.refused) == (0, 0, 0)
    delivered = sorted(m.recipients[0] for m in sink.messages)
    assert delivered == ["later@example.org", "ok@example.org"]
    statuses = {d.email: (d.status, d.attempts) for d in store.deliveries(DAY)}
    assert statuses == {
        "gone@example.org": ("refused", 1),
        "later@example.org": ("sent", 2),
        "ok@example.org": ("sent", 1),
    }


def test_missed_digest_is_made_once_on_start_up(seeded: tuple[Config, Store], now: datetime) -> None:
    config, store = seeded
    mailer = OutboxMailer(config.paths.data / "outbox")
    assert due_day(config, now) == DAY
    assert due_day(config, datetime(2024, 11, 26, 22, 59, tzinfo=UTC)) == DAY - timedelta(days=1)
    made = catch_up_digest(config, store, mailer, now)
    assert made is not None and made.made and made.digest.day == DAY
    assert catch_up_digest(config, store, mailer, now + timedelta(hours=1)) is None
    # The next day's window starts where this one stopped: nothing is counted twice.
    following = run_digest(config, store, mailer, now + timedelta(days=1))
    assert following.digest.since == made.digest.until and following.digest.count == 0


def test_empty_days_are_recorded_without_email(tmp_path: Path, now: datetime) -> None:
    config = make_config(tmp_path)
    with Store.open(config.database_url) as store:
        store.add_subscriber(Subscriber("reader@example.org", (), True, INGESTED))
        result = run_digest(config, store, OutboxMailer(config.paths.data / "outbox"), now)
        assert result.made and result.digest.count == 0 and result.sent == 0
        assert store.digest(DAY) is not None  # the next digest starts where this one stopped
        assert store.unpublished_digests() == []
    assert not (config.paths.data / "outbox").exists()
    # No email, so no feed entry either (rss2email would mail an empty one) and no page.
    assert not feedparser.parse((config.paths.output / "feeds/digests.atom").read_bytes()).entries
    assert not (config.paths.output / f"digests/{DAY}.html").exists()
    assert f"digests/{DAY}.html" not in (config.paths.output / "digests/index.html").read_text()

    notice = make_config(tmp_path / "notice", **{"digest.empty_days": "notice"})
    with Store.open(notice.database_url) as store:
        store.add_subscriber(Subscriber("reader@example.org", (), True, INGESTED))
        assert run_digest(notice, store, OutboxMailer(notice.paths.data / "outbox"), now).sent == 1
    (eml,) = (notice.paths.data / "outbox").glob("*.eml")
    email = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = email.get_body(("plain",))
    assert text is not None and NO_ARTICLES in text.get_content()
    # The feed entry says what the email said, never nothing; its page is there to link to.
    (entry,) = feedparser.parse((notice.paths.output / "feeds/digests.atom").read_bytes()).entries
    assert entry.content[0].value == f"<p>{NO_ARTICLES}</p>" and entry.link.endswith(f"digests/{DAY}.html")
    (item,) = json.loads((notice.paths.output / "feeds/digests.json").read_text())["items"]
    assert item["content_html"] == f"<p>{NO_ARTICLES}</p>"
    assert (notice.paths.output / f"digests/{DAY}.html").is_file()


def test_a_back_issue_of_last_year_is_labelled_with_its_year(tmp_path: Path) -> None:
    # With a long digest.backfill_days, a December issue exported late reaches January's digest.
    config = make_config(tmp_path, **{"digest.backfill_days": 60})
    pages = {
        "2025-12-11_01.txt": "# 冬至前的集市\n\n本报讯 城北集市年前最后一次开市，摊主摆出了年画。\n",
        "2026-01-02_01.txt": "● 要闻\n\n# 新年第一场雪\n\n本报讯 元旦过后，城区迎来新年第一场雪。\n",
    }
    for name, text in pages.items():
        (config.paths.source / name).write_text(text, encoding="utf-8")
    ingested = datetime(2026, 1, 2, 4, 0, tzinfo=UTC)
    with Store.open(config.database_url) as store:
        assert ingest(config, store, ingested).new == 2
        run_publish(config, store)
        store.add_subscriber(Subscriber("reader@example.org", (), True, ingested))
        result = run_digest(
            config, store, OutboxMailer(config.paths.data / "outbox"), ingested + timedelta(days=1)
        )
    day = date(2026, 1, 3)
    assert [s.name for s, _ in result.digest.groups] == ["要闻（1月2日）", "其他（2025年12月11日）"]
    (eml,) = (config.paths.data / "outbox").glob("*.eml")
    email = message_from_bytes(eml.read_bytes(), policy=policy.default)
    web = lxml.html.fromstring((config.paths.output / f"digests/{day}.html").read_bytes()).text_content()
    (entry,) = feedparser.parse((config.paths.output / "feeds/digests.atom").read_bytes()).entries
    shown = [part.get_content() for part in email.iter_parts()] + [web, entry.content[0].value]
    for text in shown:
        assert "其他（2025年12月11日）" in text and "要闻（1月2日）" in text
        assert "其他（12月11日）" not in text


def test_dry_run_and_a_digest_not_yet_due(seeded: tuple[Config, Store], now: datetime) -> None:
    config, store = seeded
    mailer = OutboxMailer(config.paths.data / "outbox")
    preview = run_digest(config, store, mailer, now, dry_run=True)
    assert preview.digest.count > 0 and not preview.made
    assert store.digest(DAY) is None and not (config.paths.data / "outbox").exists()
    with pytest.raises(NotDueError, match="due at"):
        run_digest(config, store, mailer, now, day=DAY + timedelta(days=1))


# --- digest serve as a process --------------------------------------------------------------------


@pytest.mark.slow
def test_serve_watches_publishes_serves_locks_and_stops_cleanly(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    port = free_port()
    argv = [sys.executable, "-m", "digest.cli", "serve", "--source", pages, "--data", tmp_path / "data"]
    argv += ["--output", tmp_path / "out", "--port", str(port)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ["DIGEST_SITE_BASE_URL"] = f"http://127.0.0.1:{port}"
    environ["DIGEST_INGEST_SETTLE_SECONDS"] = "0.5"  # the pages were copied a moment ago
    process = subprocess.Popen(
        [str(a) for a in argv], cwd=tmp_path, env=environ, stderr=subprocess.PIPE, text=True
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            def up() -> bool:
                assert process.poll() is None, process.communicate()[1]
                try:
                    return client.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(up)
            assert client.get("/healthz?details").json()["articles"] == 7
            assert "青松县首座社区图书馆开馆" in client.get("/feeds/all.atom").text

            # The watcher picks up a new page once it has settled.
            (pages / "2024-11-29_01.txt").write_text(
                "● 要闻\n\n# 示例水库完成冬季检修\n\n正文。\n", encoding="utf-8"
            )
            wait_for(lambda: "示例水库完成冬季检修" in client.get("/feeds/all.atom").text)

            second = subprocess.run(
                [str(a) for a in argv[:-1]] + [str(free_port())],
                cwd=tmp_path,
                env=environ,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert second.returncode == 2
            assert second.stderr.strip().splitlines()[-1].startswith("error: another digest serve (pid ")
            assert "Traceback" not in second.stderr
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
