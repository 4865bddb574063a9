"""The delivery ledger against a real SMTP server on loopback: each copy once, never twice, never lost.

The crash test runs ``digest send-digest`` as a real process, kills it with
SIGKILL halfway through 200 subscribers, and runs it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import digest_time_long_past, folders_config
from smtp_sink import HANG_UP, SmtpSink

from digest.config import Config
from digest.config_checks import load_config
from digest.mail.compose import DigestEmailMaker
from digest.mail.delivery import DeliveryReport, Retry, deliver
from digest.mail.subscribers import personal_links
from digest.mail.transports import OutboxMailer, SmtpMailer
from digest.publish.digests import build_digest, digest_window
from digest.service.jobs import catch_up_digest, due_day, retry_deliveries, run_digest
from digest.store.database import Store
from digest.store.records import DigestRecord, Subscriber
from digest.types import Article, Digest, Entry, Section

ROOT = Path(__file__).resolve().parents[1]
NEWS = Section("要闻", "yao-wen")
VIEWS = Section("众观", "zhong-guan")


def make_config(tmp_path: Path, sink: SmtpSink | None = None, **extra: object) -> Config:
    overrides = dict(extra)
    if sink is not None:
        overrides.update({"smtp.host": sink.host, "smtp.port": sink.port, "smtp.security": "none"})
    return folders_config(tmp_path, overrides)


def seed(store: Store, config: Config, now: datetime, subscribers: int) -> date:
    """Three articles first seen inside the window of the digest due at ``now``, and the subscribers."""
    day = due_day(config, now)
    _, until = digest_window(day, config.digest_clock, config.tz, None)
    seen = until - timedelta(hours=2)
    entries = [
        Entry(
            uid=f"u{n}",
            tag=f"tag:test,2024:article/{day}/u{n}",
            article=Article(title=f"第{n}篇的标题", body=f"第{n}篇正文。第二句。", section=section.name),
            section=section,
            issue_date=day,
            published=seen,
            updated=seen,
            first_seen=seen,
            source="page.txt",
            position=n,
        )
        for n, section in enumerate((NEWS, NEWS, VIEWS), start=1)
    ]
    store.upsert_entries(entries)
    for n in range(subscribers):
        store.add_subscriber(Subscriber(f"reader{n:03d}@example.org", (), True, seen))
    return day


def copies(sink: SmtpSink) -> Counter[str]:
    return Counter(m.recipients[0] for m in sink.messages)


def everyone(n: int) -> Counter[str]:
    return Counter({f"reader{i:03d}@example.org": 1 for i in range(n)})


NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, after the 07:00 digest


# --- the crash test ----------------------------------------------------------------------------


def _send_digest(config_file: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "digest.cli", "send-digest", "--config", str(config_file)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _kill_after(process: subprocess.Popen[bytes], sink: SmtpSink, received: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while sink.count < received:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_halfway_through_200_subscribers_then_restart_sends_each_exactly_once(tmp_path: Path) -> None:
    log = tmp_path / "send-digest.log"
    with SmtpSink(delay=0.005) as sink:
        config_file = tmp_path / "config.toml"
        (tmp_path / "pages").mkdir()
        config_file.write_text(
            '[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n'
            f'[schedule]\ndigest_time = "{digest_time_long_past()}"\n'
            f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n',
            encoding="utf-8",
        )
        config = load_config(config_file, {}, {})
        with Store.open(config.database_url) as store:
            day = seed(store, config, datetime.now(UTC), 200)

        for received in (40, 120):  # two crashes, then a run to the end
            _kill_after(_send_digest(config_file, log), sink, received, log)
        assert 120 <= sink.count < 200
        finished = _send_digest(config_file, log)
        assert finished.wait(timeout=120) == 0, log.read_text()

        assert copies(sink) == everyone(200)
        with Store.open(config.database_url) as store:
            rows = store.deliveries(day)
        statuses = Counter(row.status for row in rows)
        # A row a crash left at the point of no return is "unknown" (and its copy did arrive, above).
        assert len(rows) == 200 and set(statuses) <= {"sent", "unknown"}, statuses
        assert statuses["unknown"] <= 2


# --- transient and permanent failures ----------------------------------------------------------


def test_a_server_answering_421_then_recovering_gives_everyone_one_copy(
    tmp_path: Path, sink: SmtpSink
) -> None:
    config = make_config(tmp_path, sink)
    sink.refuse("*", 421, times=5)
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 20)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            first = run_digest(config, store, mailer, NOW)
            # Three 421s in a row: the server is down, the other 17 wait for the same retry time.
            assert (first.delivery.failed, first.delivery.deferred, first.sent) == (3, 17, 0)
            waiting = store.delivery_summary()
            assert waiting.next_attempt_at == NOW + timedelta(seconds=60)
            assert waiting.last_error is not None and "421" in waiting.last_error
            assert retry_deliveries(config, store, mailer, NOW + timedelta(seconds=30)) == []  # not due
            second = run_digest(config, store, mailer, NOW + timedelta(seconds=61))
            assert (second.delivery.failed, second.sent) == (2, 18)
            third = retry_deliveries(config, store, mailer, NOW + timedelta(seconds=61 + 121))
            assert [r.sent for r in third] == [2]
            assert retry_deliveries(config, store, mailer, NOW + timedelta(hours=3)) == []
        rows = store.deliveries(day)
    assert copies(sink) == everyone(20)
    assert {r.status for r in rows} == {"sent"}
    assert sorted(r.attempts for r in rows)[-3:] == [2, 3, 3]


def test_an_unreachable_server_is_retried_with_backoff_until_it_returns(tmp_path: Path) -> None:
    sink = SmtpSink()
    config = make_config(tmp_path, sink)
    with Store.open(config.database_url) as store:
        seed(store, config, NOW, 5)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            down = run_digest(config, store, mailer, NOW)
            assert (down.sent, down.failed) == (0, 5)
            summary = store.delivery_summary()
            assert dict(summary.counts) == {"failed": 3, "pending": 2}
            assert summary.last_error is not None and "cannot reach the SMTP server" in summary.last_error
            later = retry_deliveries(config, store, mailer, NOW + timedelta(minutes=1))
            assert [r.failed for r in later] == [5]
            # The waits double: 1, 2 minutes, ... so the next retry is two minutes after the last.
            assert store.delivery_summary().next_attempt_at == NOW + timedelta(minutes=3)
            with sink:
                back = retry_deliveries(config, store, mailer, NOW + timedelta(minutes=3))
    assert [r.sent for r in back] == [5]
    assert copies(sink) == everyone(5)


def test_a_permanent_refusal_is_recorded_and_the_others_go_on(tmp_path: Path, sink: SmtpSink) -> None:
    config = make_config(tmp_path, sink)
    sink.refuse("reader001@example.org", 550)
    sink.refuse("reader003@example.org", 554, stage="data")
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 5)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            result = run_digest(config, store, mailer, NOW)
            again = run_digest(config, store, mailer, NOW + timedelta(hours=2))
        rows = {r.email: r for r in store.deliveries(day)}
    assert (result.sent, result.refused, result.failed) == (3, 2, 0)
    assert (again.sent, again.refused) == (0, 0)
    assert rows["reader001@example.org"].status == "refused"
    assert "550" in (rows["reader001@example.org"].last_error or "")
    assert rows["reader003@example.org"].status == "refused"
    assert copies(sink) == everyone(5) - Counter(["reader001@example.org", "reader003@example.org"])


def test_a_reply_lost_after_the_final_dot_is_unknown_and_never_resent(tmp_path: Path, sink: SmtpSink) -> None:
    config = make_config(tmp_path, sink)
    sink.refuse("reader002@example.org", HANG_UP, stage="data", times=1)
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 4)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            result = run_digest(config, store, mailer, NOW)
            retry_deliveries(config, store, mailer, NOW + timedelta(hours=1))
        rows = {r.email: r.status for r in store.deliveries(day)}
    assert (result.sent, result.delivery.unknown) == (3, 1)
    assert rows["reader002@example.org"] == "unknown"
    assert copies(sink) == everyone(4)  # it did arrive, once; the others were not disturbed


def test_rows_still_failing_after_retry_hours_expire(tmp_path: Path) -> None:
    config = make_config(tmp_path, SmtpSink(), **{"digest.retry_hours": 2})  # never started: unreachable
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 2)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            run_digest(config, store, mailer, NOW)
            late = retry_deliveries(config, store, mailer, NOW + timedelta(hours=2))
        rows = store.deliveries(day)
    assert late[0].delivery == DeliveryReport(expired=2)
    assert {r.status for r in rows} == {"expired"}
    assert all("cannot reach" in (r.last_error or "") for r in rows)


def made(store: Store, config: Config, day: date) -> tuple[Digest, DigestRecord]:
    """The digest of ``day`` saved with a pending row per subscriber, as the digest job makes it."""
    since, until = digest_window(day, config.digest_clock, config.tz, None)
    digest = build_digest(store.entries_first_seen(since, until), day, since, until)
    record = DigestRecord(day, since, until, NOW, digest.count)
    assert store.save_digest(record, [s.email for s in store.subscribers()])
    return digest, record


def test_two_senders_at_once_never_send_one_copy_twice(tmp_path: Path, sink: SmtpSink) -> None:
    config = make_config(tmp_path, sink)
    sink.delay = 0.002
    reports: list[DeliveryReport] = []
    with Store.open(config.database_url) as store:
        digest, record = made(store, config, seed(store, config, NOW, 60))

        def one_sender() -> None:
            with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
                reports.append(
                    deliver(
                        store,
                        mailer,
                        DigestEmailMaker(digest, config=config, site_url="https://news.example/", now=NOW),
                        record,
                        links=personal_links(config, NOW),
                        retry=Retry(timedelta(minutes=1), timedelta(hours=24)),
                        skip_empty=True,
                        now=NOW,
                    )
                )

        senders = [threading.Thread(target=one_sender) for _ in range(3)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(timeout=60)
    assert copies(sink) == everyone(60)
    assert sum(r.sent for r in reports) == 60 and len(reports) == 3


# --- the point of no return --------------------------------------------------------------------


class Refused(Exception):
    pass


def _refuse() -> None:
    raise Refused


def test_a_commit_that_raises_abandons_the_message_at_the_server(tmp_path: Path, sink: SmtpSink) -> None:
    config = make_config(tmp_path, sink)
    with Store.open(config.database_url) as store:
        digest, _ = made(store, config, seed(store, config, NOW, 0))
    maker = DigestEmailMaker(digest, config=config, site_url="https://news.example/", now=NOW)
    links = personal_links(config, NOW)("a@example.org")
    message = maker.outgoing(
        "a@example.org", unsubscribe_url=links.unsubscribe, unsubscribe_mailto=links.mailto
    )
    mailer = SmtpMailer(config.smtp, timeout=5)
    outbox = OutboxMailer(tmp_path / "outbox")
    try:
        with pytest.raises(Refused):
            mailer.send(message, commit=_refuse)
        with pytest.raises(Refused):
            outbox.send(message, commit=_refuse)
        mailer.send(message)  # the mailer is still usable
    finally:
        mailer.close()
    assert len(sink.messages) == 1
    assert not (tmp_path / "outbox").exists() or list((tmp_path / "outbox").iterdir()) == []


def test_empty_sections_are_skipped_and_leavers_are_not_mailed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    outbox = OutboxMailer(tmp_path / "outbox")
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 3)
        store.add_subscriber(Subscriber("reader000@example.org", ("ti-yu",), True, NOW))  # no sport today
        store.add_subscriber(Subscriber("reader001@example.org", ("zhong-guan",), True, NOW))
        made(store, config, day)
        store.remove_subscriber("reader002@example.org")
        result = run_digest(config, store, outbox, NOW)
        rows = {r.email: (r.status, r.last_error) for r in store.deliveries(day)}
    assert result.delivery == DeliveryReport(sent=1, skipped=2)
    assert rows == {
        "reader000@example.org": ("skipped", "no new article in the chosen sections"),
        "reader001@example.org": ("sent", None),
        "reader002@example.org": ("skipped", "no longer subscribed"),
    }
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    text = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",))
    assert (
        text is not None and "第3篇的标题" in text.get_content() and "第1篇的标题" not in text.get_content()
    )


def test_dry_run_writes_every_email_and_a_test_copy_skips_the_ledger(tmp_path: Path, sink: SmtpSink) -> None:
    config = make_config(tmp_path, sink)
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 3)
        with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
            dry = run_digest(config, store, mailer, NOW, dry_run=True)
            assert dry.written_to == config.paths.data / "dry-run" / day.isoformat()
            assert len(list(dry.written_to.glob("*.eml"))) == 3 and sink.messages == []
            assert store.digest(day) is None
            test = run_digest(config, store, mailer, NOW, to="editor@example.org")
            test_again = run_digest(config, store, mailer, NOW, to="editor@example.org")
        assert store.digest(day) is None and store.deliveries(day) == []
    assert (test.sent, test_again.sent) == (1, 1)
    assert copies(sink) == Counter({"editor@example.org": 2})


def _parts(sink: SmtpSink) -> tuple[str, str]:
    """The plain and HTML text of the last message the sink took."""
    message = sink.messages[-1].message()
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_a_test_copy_links_no_page_that_is_not_there_and_says_it_is_a_test(
    tmp_path: Path, sink: SmtpSink
) -> None:
    """Before, a test copy of a day with nothing new (digest.empty_days = "skip": no page, ever) linked
    its page, a 404, and told the address it got it "because you subscribed"."""
    config = make_config(tmp_path, sink, **{"digest.empty_days": "skip"})
    day = due_day(config, NOW)
    page = f"digests/{day.isoformat()}.html"
    with closing(SmtpMailer(config.smtp, timeout=5)) as mailer, Store.open(config.database_url) as store:
        assert run_digest(config, store, mailer, NOW, to="editor@example.org").sent == 1
        empty = _parts(sink)
        run_digest(config, store, mailer, NOW)  # made: an empty day, skipped, published nowhere
        assert run_digest(config, store, mailer, NOW, to="editor@example.org").sent == 1
        skipped = _parts(sink)
        assert not (config.paths.output / page).exists()
        # A day with articles: its page once made, and the test copy links it then.
        later = NOW + timedelta(days=1)
        seed(store, config, later, 0)
        assert run_digest(config, store, mailer, later, to="editor@example.org").sent == 1
        before_made = _parts(sink)
        dry = run_digest(config, store, mailer, later, dry_run=True, to="editor@example.org")
        run_digest(config, store, mailer, later)
        assert run_digest(config, store, mailer, later, to="editor@example.org").sent == 1
        after_made = _parts(sink)
    for text in (*empty, *skipped, *before_made, *after_made):
        assert "测试邮件" in text and "因为您订阅了" not in text
    for text in (*empty, *skipped, *before_made):
        assert "/digests/" not in text and "网页版" not in text and "在网页上阅读" not in text
    later_page = f"{config.site.base_url.rstrip('/')}/digests/{due_day(config, later).isoformat()}.html"
    assert (config.paths.output / later_page.split("/", 3)[3]).is_file()
    assert f"网页版：{later_page}" in after_made[0] and f'href="{later_page}"' in after_made[1]
    # A dry run shows what the real run sends, which publishes the page first: linked.
    assert dry.written_to is not None
    (eml,) = dry.written_to.glob("*.eml")
    assert f"网页版：{later_page}" in eml.read_text(encoding="utf-8")


def recipients_in(folder: Path) -> list[str]:
    """The To address of every .eml file in ``folder``, sorted."""
    return sorted(
        str(message_from_bytes(p.read_bytes(), policy=policy.default)["To"]) for p in folder.glob("*.eml")
    )


def test_a_dry_run_writes_exactly_what_the_real_run_sends(tmp_path: Path) -> None:
    config = make_config(tmp_path / "day", **{"digest.empty_days": "skip"})
    with Store.open(config.database_url) as store:
        seed(store, config, NOW, 3)
        store.add_subscriber(Subscriber("reader000@example.org", ("ti-yu",), True, NOW))  # no sport today
        first = run_digest(config, store, OutboxMailer(tmp_path / "unused"), NOW, dry_run=True)
        assert first.written_to is not None
        assert (first.sent, first.delivery.skipped) == (2, 1)
        # A later dry run (another Date header, so other file names) replaces the folder's emails.
        store.add_subscriber(Subscriber("reader001@example.org", ("ti-yu",), True, NOW))
        again = run_digest(
            config, store, OutboxMailer(tmp_path / "unused"), NOW + timedelta(minutes=5), dry_run=True
        )
        assert again.written_to == first.written_to and (again.sent, again.delivery.skipped) == (1, 2)
        assert recipients_in(again.written_to) == ["reader002@example.org"]
        real = run_digest(config, store, OutboxMailer(tmp_path / "outbox"), NOW + timedelta(minutes=5))
    assert (real.sent, real.delivery.skipped) == (again.sent, again.delivery.skipped)
    assert recipients_in(tmp_path / "outbox") == recipients_in(again.written_to)

    # A day with nothing new: no "没有新文章" email in the preview when the real run sends none.
    empty = make_config(tmp_path / "empty", **{"digest.empty_days": "skip"})
    with Store.open(empty.database_url) as store:
        for n in range(2):
            store.add_subscriber(Subscriber(f"reader{n:03d}@example.org", (), True, NOW))
        dry = run_digest(empty, store, OutboxMailer(tmp_path / "unused"), NOW, dry_run=True)
        real = run_digest(empty, store, OutboxMailer(tmp_path / "empty-outbox"), NOW)
    assert dry.written_to is not None and dry.written_to.is_dir()
    assert (dry.sent, dry.delivery.skipped, recipients_in(dry.written_to)) == (0, 2, [])
    assert real.sent == 0 and recipients_in(tmp_path / "empty-outbox") == []


def test_a_broken_outbox_is_a_delivery_error_and_the_rows_wait(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the outbox folder should be")
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 2)
        result = run_digest(config, store, OutboxMailer(blocker), NOW)
        rows = store.deliveries(day)
    assert result.failed == 2 and {r.status for r in rows} == {"failed"}
    assert all("writable folder" in (r.last_error or "") for r in rows)


def test_a_digest_missed_while_down_goes_out_once_on_start_up(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    outbox = OutboxMailer(tmp_path / "outbox")
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 3)
        start_up = NOW + timedelta(hours=5)  # the 07:00 cron never ran; the service starts at 14:30
        first = catch_up_digest(config, store, outbox, start_up)
        again = catch_up_digest(config, store, outbox, start_up + timedelta(minutes=1))
        assert first is not None and first.made and first.digest.day == day and first.sent == 3
        assert again is None
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
