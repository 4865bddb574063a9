"""Bounces against a real SMTP server on loopback: hard ones counted and suppressed, soft ones retried.

A 5xx at RCPT is the receiving server saying the address does not exist (a
hard bounce); after ``digest.bounce_limit`` of them the address is on the
suppression list and no digest goes to it again.  A 4xx, or a 5xx for the
message's content, is not a bounce of the address.  Mail goes out with
``smtp.return_path`` as its envelope sender, so bounces land apart from
replies.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from smtp_sink import SmtpSink
from test_delivery import copies, make_config, seed
from test_server import serving
from test_subscriptions import settled

from digest.errors import ConfigError
from digest.mail.transports import SmtpMailer, make_mailer
from digest.service.jobs import run_digest
from digest.store.database import Store
from digest.store.records import SubscriberStatus
from digest.web.subscriptions import create_subscription_app

DAY1 = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, after the 07:00 digest
GONE = "reader001@example.org"


def _digest_day(tmp_path: Path, sink: SmtpSink, store: Store, now: datetime, **extra: object) -> None:
    """The digest due at ``now`` sent over SMTP; three subscribers, added on the first day only."""
    # "notice": every day mails everyone (the seeded articles are the same ones each day).
    config = make_config(tmp_path, sink, **{"digest.empty_days": "notice", **extra})
    seed(store, config, now, 0 if store.subscribers(confirmed_only=False) else 3)
    with closing(SmtpMailer(config.smtp)) as mailer:
        run_digest(config, store, mailer, now)


def test_two_hard_bounces_suppress_an_address(tmp_path: Path, sink: SmtpSink, database_url: str) -> None:
    sink.refuse(GONE, 550)
    with Store.open(database_url) as store:
        _digest_day(tmp_path, sink, store, DAY1, **{"database.url": database_url})
        first = store.subscriber(GONE)
        assert first is not None and first.bounces == 1 and first.status is SubscriberStatus.CONFIRMED
        _digest_day(tmp_path, sink, store, DAY1 + timedelta(days=1), **{"database.url": database_url})
        second = store.subscriber(GONE)
        assert second is not None and second.status is SubscriberStatus.BOUNCED and second.bounces == 2
        assert "550" in second.reason and not second.confirmed
        assert second.key != first.key  # the links already sent to it no longer work
        assert GONE not in [s.email for s in store.subscribers()]
        # The third day nobody tries the address again: the sink would have refused it once more.
        refusals_before = sink.count
        _digest_day(tmp_path, sink, store, DAY1 + timedelta(days=2), **{"database.url": database_url})
        assert sink.count == refusals_before + 2
    assert copies(sink)[GONE] == 0 and copies(sink)["reader000@example.org"] == 3


@pytest.mark.parametrize(("code", "stage"), [(450, "rcpt"), (552, "data")])
def test_soft_or_content_refusals_are_not_hard_bounces(
    tmp_path: Path, sink: SmtpSink, code: int, stage: str
) -> None:
    sink.refuse(GONE, code, stage=stage)  # type: ignore[arg-type]
    with Store.open(f"sqlite:///{tmp_path / 'd.sqlite3'}") as store:
        for day in range(3):
            _digest_day(tmp_path, sink, store, DAY1 + timedelta(days=day))
        kept = store.subscriber(GONE)
    assert kept is not None and kept.status is SubscriberStatus.CONFIRMED and kept.bounces == 0


def test_the_bounce_limit_is_configurable(tmp_path: Path, sink: SmtpSink) -> None:
    sink.refuse(GONE, 550)
    with Store.open(f"sqlite:///{tmp_path / 'd.sqlite3'}") as store:
        _digest_day(tmp_path, sink, store, DAY1, **{"digest.bounce_limit": 1})
        assert store.subscriber(GONE).status is SubscriberStatus.BOUNCED  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"digest\.bounce_limit"):
        make_config(tmp_path, **{"digest.bounce_limit": 0})


def test_the_return_path_is_the_envelope_sender_of_digests_and_confirmations(
    tmp_path: Path, sink: SmtpSink
) -> None:
    extra = {"smtp.return_path": "bounces@news.example", "smtp.sender": "报纸摘要 <digest@news.example>"}
    config = make_config(tmp_path, sink, **extra)
    with Store.open(config.database_url) as store:
        seed(store, config, DAY1, 1)
        mailer = SmtpMailer(config.smtp)
        run_digest(config, store, mailer, DAY1)
        mailer.close()
        app = create_subscription_app(config, store, lambda: make_mailer(config, config.paths.data))
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            origin = {"Origin": config.site.base_url.rstrip("/")}
            assert (
                client.post("/subscribe", data={"email": "new@example.org"}, headers=origin).status_code
                == 200
            )
        # The confirmation goes out after the answer, on a thread of its own: tried before it is read.
        # (``app.close`` alone drops an email whose thread has not taken it yet.)
        settled(store)
        app.close()
    digest, confirmation = sink.messages
    for received in (digest, confirmation):
        assert received.sender == "bounces@news.example"
        assert received.message()["From"].addresses[0].addr_spec == "digest@news.example"
    # No mailbox reads unsubscribe requests, so List-Unsubscribe offers only the https link.
    assert str(digest.message()["List-Unsubscribe"]).count("<") == 1
    assert "mailto:" not in str(digest.message()["List-Unsubscribe"])
    for bad in ("Bounces <b@news.example>", "b@news.example\r\nBcc: x@y", "no-at-sign", "=?x?=@news.example"):
        with pytest.raises(ConfigError, match=r"smtp\.return_path"):
            make_config(tmp_path, **{"smtp.return_path": bad})


def test_a_confirmation_refused_for_good_counts_and_answers_the_same(tmp_path: Path, sink: SmtpSink) -> None:
    sink.refuse("nobody@example.org", 550)
    config = make_config(tmp_path, sink)
    with Store.open(config.database_url) as store:
        app = create_subscription_app(config, store, lambda: make_mailer(config, config.paths.data))
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            origin = {"Origin": config.site.base_url.rstrip("/")}
            answer = client.post("/subscribe", data={"email": "nobody@example.org"}, headers=origin)
        settled(store)  # the email is tried after the answer, on a thread of its own
        app.close()
        assert answer.status_code == 200 and "请查收确认邮件" in answer.text
        pending = store.subscriber("nobody@example.org")
        assert pending is not None and pending.bounces == 1 and pending.status is SubscriberStatus.PENDING
