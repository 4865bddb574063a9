"""Subscription emails are claimed before they are sent, as digest copies are: of several senders at
once (a sign-up's own send and the retry job, two instances on one database) exactly one sends each,
a claim left by a dead sender is sent again after ``CLAIM_SECONDS``, and one left past its final "."
is never sent again.  SQLite and PostgreSQL, a real SMTP server on loopback, the real sign-up form.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import httpx
from faulty_smtp import SilentSmtp
from smtp_sink import SmtpSink
from test_server import serving
from test_subscriptions import NOW, OURS, Clock, make_config, settled

from digest.config import Config
from digest.mail.sendrun import SERVER_DOWN_AFTER
from digest.mail.subscribers import CLAIM_SECONDS, send_notices
from digest.mail.transports import SmtpMailer, make_mailer
from digest.service.jobs import retry_deliveries
from digest.store.database import Store
from digest.store.lease import wall_clock
from digest.store.records import DeliveryState, Notice, NoticeKind, Subscriber
from digest.web.subscriptions import create_subscription_app

READER = "reader@example.org"


def _signed_up(store: Store, *emails: str) -> None:
    """Web sign-ups whose confirmation email waits to be sent."""
    for email in emails:
        store.add_subscriber(Subscriber(email, (), False, NOW, source="web"))
        store.queue_notice(email, NoticeKind.CONFIRM, NOW)


def _notice(store: Store, email: str) -> Notice:
    (notice,) = store.notices(email)
    return notice


def _to(sink: SmtpSink) -> Counter[str]:
    return Counter(received.recipients[0] for received in sink.messages)


def test_senders_at_once_send_a_due_notice_once(mailing: Config, store: Store, sink: SmtpSink) -> None:
    """Four senders, each with its own connection pool as another instance would have, start at once
    while the server takes half a second a message: before, each read the notice as due and sent it."""
    sink.delay = 0.5
    _signed_up(store, READER)
    barrier = threading.Barrier(4)
    counts: list[Counter[str]] = []

    def sender() -> None:
        with Store.open(mailing.database_url) as own, closing(SmtpMailer(mailing.smtp, timeout=10)) as mailer:
            barrier.wait()
            counts.append(send_notices(mailing, own, mailer, NOW))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert _to(sink) == {READER: 1}
    assert sum(counts, Counter()) == {DeliveryState.SENT: 1} and len(counts) == 4
    assert _notice(store, READER).status == DeliveryState.SENT


def test_the_retry_job_while_a_sign_ups_own_send_is_under_way_sends_nothing_more(
    tmp_path: Path, database_url: str
) -> None:
    """The retry job runs every minute, whenever a sign-up comes; before, it sent the confirmation the
    sign-up's own send was handing over, and the reader got two."""
    with SmtpSink(delay=1.0) as sink:
        config = make_config(
            tmp_path,
            **{
                "smtp.host": sink.host,
                "smtp.port": sink.port,
                "smtp.security": "none",
                "database.url": database_url,
            },
        )
        with Store.open(config.database_url) as store:
            app = create_subscription_app(
                config, store, lambda: make_mailer(config, config.paths.data), clock=Clock()
            )
            with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
                answer = client.post("/subscribe", data={"email": READER}, headers=OURS)
                assert answer.status_code == 200
                mailer = make_mailer(config, config.paths.data)
                try:
                    retry_deliveries(config, store, mailer, NOW + timedelta(seconds=30))
                finally:
                    mailer.close()
                settled(store)
            assert _notice(store, READER).status == DeliveryState.SENT
    assert _to(sink) == {READER: 1}


def test_a_dead_senders_claim_is_sent_again_once_it_is_old_and_a_live_one_is_left_alone(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """A sender killed between its claim and its final "." leaves the notice ``claimed``: nothing
    else may send it while that sender could still be handing it over, and everything may after."""
    fresh, dead = "fresh@example.org", "dead@example.org"
    _signed_up(store, fresh, dead)
    now = wall_clock()
    assert store.claim_notice(_notice(store, fresh), "elsewhere:101:a", now)
    assert store.claim_notice(
        _notice(store, dead), "elsewhere:102:b", now - timedelta(seconds=CLAIM_SECONDS + 1)
    )
    with closing(SmtpMailer(mailing.smtp, timeout=10)) as mailer:
        assert send_notices(mailing, store, mailer, NOW) == {DeliveryState.SENT: 1}
        assert _to(sink) == {dead: 1}
        assert _notice(store, fresh).status == DeliveryState.CLAIMED  # its sender may be at work
        assert _notice(store, dead).status == DeliveryState.SENT
        assert send_notices(mailing, store, mailer, NOW) == {}  # nothing twice
    assert _to(sink) == {dead: 1}


def test_a_notice_left_past_its_point_of_no_return_is_unknown_and_never_sent_again(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    _signed_up(store, READER)
    gone = "elsewhere:103:c"
    assert store.claim_notice(_notice(store, READER), gone, wall_clock() - timedelta(minutes=10))
    assert store.commit_notice(_notice(store, READER), gone)  # killed between its commit and the "."
    with closing(SmtpMailer(mailing.smtp, timeout=10)) as mailer:
        assert send_notices(mailing, store, mailer, NOW) == {}
        assert send_notices(mailing, store, mailer, NOW + timedelta(days=1)) == {}
    notice = _notice(store, READER)
    assert notice.status == DeliveryState.UNKNOWN and "never send it twice" in (notice.last_error or "")
    assert sink.messages == []


def test_a_sender_that_lost_its_claim_changes_nothing(store: Store) -> None:
    """A sender so slow its claim was taken for a dead one's: its commit and its outcome are refused,
    whatever the sender that took over did."""
    _signed_up(store, READER)
    slow, fast = "here:1:slow", "here:2:fast"
    assert store.claim_notice(_notice(store, READER), slow, wall_clock() - timedelta(minutes=3))
    assert not store.claim_notice(_notice(store, READER), fast, wall_clock())  # claimed: not waiting
    assert store.recover_notices(wall_clock() - timedelta(seconds=CLAIM_SECONDS), "gone") == (1, 0)
    assert store.claim_notice(_notice(store, READER), fast, wall_clock())
    assert not store.commit_notice(_notice(store, READER), slow)  # abandoned before its "."
    assert store.commit_notice(_notice(store, READER), fast)
    assert not store.mark_notice(_notice(store, READER), DeliveryState.FAILED, NOW, "late", claim=slow)
    assert store.mark_notice(_notice(store, READER), DeliveryState.SENT, NOW, claim=fast)
    assert _notice(store, READER).status == DeliveryState.SENT
    # A sign-up asking again later queues a new one; a notice in flight would have been left alone.
    store.queue_notice(READER, NoticeKind.CONFIRM, NOW + timedelta(minutes=20))
    assert _notice(store, READER).status == DeliveryState.PENDING
    assert store.claim_notice(_notice(store, READER), slow, wall_clock())
    store.queue_notice(READER, NoticeKind.CONFIRM, NOW + timedelta(minutes=40))
    assert _notice(store, READER).status == DeliveryState.CLAIMED


# --- the retry job's loop heeds a request to stop and a server that seems down --------------------------


def test_the_retry_job_stops_between_two_subscription_emails(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """SIGTERM while the retry job sends waiting confirmations: before, it went on through all of them
    whatever ``stopping()`` said; now it stops between two, and the rest wait for its next run."""
    waiting = [f"r{n}@example.org" for n in range(5)]
    _signed_up(store, *waiting)
    with closing(SmtpMailer(mailing.smtp, timeout=10)) as mailer:
        retry_deliveries(mailing, store, mailer, NOW, stopping=lambda: len(sink.messages) >= 2)
        assert _to(sink) == {waiting[0]: 1, waiting[1]: 1}
        assert [_notice(store, email).status for email in waiting[2:]] == [DeliveryState.PENDING] * 3
        retry_deliveries(mailing, store, mailer, NOW + timedelta(minutes=1))
    assert _to(sink) == dict.fromkeys(waiting, 1)


def test_the_retry_job_puts_subscription_emails_off_once_the_server_seems_down(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """A mail server that takes connections and never answers: before, the retry job tried it once per
    waiting email, each for the mailer's whole timeout (30 s in ``digest serve``), holding the job lock
    over ingest and publish; now three failures in a row put the rest off to the same retry."""
    waiting = [f"r{n}@example.org" for n in range(6)]
    _signed_up(store, *waiting)
    with SilentSmtp() as silent:
        down = dataclasses.replace(
            mailing, smtp=dataclasses.replace(mailing.smtp, host=silent.host, port=silent.port)
        )
        with closing(SmtpMailer(down.smtp, timeout=1)) as mailer:
            retry_deliveries(down, store, mailer, NOW)
        tried = silent.connections
    assert tried == SERVER_DOWN_AFTER
    retry_at = NOW + timedelta(seconds=mailing.digest.retry_seconds)
    notices = [_notice(store, email) for email in waiting]
    assert [n.status for n in notices] == [DeliveryState.FAILED] * 3 + [DeliveryState.PENDING] * 3
    assert {n.next_attempt_at for n in notices} == {retry_at}
    assert all("seemed down" in (n.last_error or "") for n in notices[3:])
    assert store.due_notices(NOW) == []
    with closing(SmtpMailer(mailing.smtp, timeout=10)) as mailer:
        retry_deliveries(mailing, store, mailer, retry_at)  # the server is back
    assert _to(sink) == dict.fromkeys(waiting, 1)
