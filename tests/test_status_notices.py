"""``digest status``, its ``--json`` and ``/metrics`` show the subscription emails (the ``notices``
ledger: confirmations, "manage" notes, emails about emptied sections) beside the digest copies: how
many wait, failed or are ``unknown``, with the advice an ``unknown`` one needs.  SQLite and PostgreSQL,
``digest status`` run as the operator runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from smtp_sink import SmtpSink
from test_delivery import seed
from test_notice_claims import _notice, _signed_up
from test_subscriptions import NOW

from digest.config import Config
from digest.mail.subscribers import CLAIM_SECONDS, send_notices
from digest.mail.transports import SmtpMailer
from digest.service.jobs import run_digest
from digest.service.leader import SoleLeader
from digest.service.metrics import Metrics
from digest.store.database import Store
from digest.store.lease import wall_clock
from digest.store.records import DeliveryState, NoticeKind, Subscriber


def _status(config: Config, *options: str) -> str:
    """``digest status`` as the operator runs it on ``config``'s folders and database."""
    folders = [f"--{name}={getattr(config.paths, name)}" for name in ("source", "data", "output")]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "digest.cli", "status", *folders, *options],
        env={**environ, "DIGEST_DATABASE_URL": config.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_status_and_metrics_count_subscription_emails_and_explain_unknown_ones(
    config: Config, store: Store
) -> None:
    """A confirmation waiting for a retry, one never tried and one whose sender died past its final
    ".": before, ``digest status`` and the metrics counted digest copies only, so none of them showed."""
    retrying, never, dead = "retrying@example.org", "never@example.org", "dead@example.org"
    _signed_up(store, retrying, never, dead)
    assert store.claim_notice(_notice(store, retrying), "run:1", wall_clock())
    store.mark_notice(
        _notice(store, retrying), DeliveryState.FAILED, NOW, "421 busy", NOW + timedelta(minutes=1), "run:1"
    )
    assert store.claim_notice(_notice(store, dead), "run:2", wall_clock() - timedelta(minutes=5))
    assert store.commit_notice(_notice(store, dead), "run:2")  # then killed before the server's answer
    assert store.recover_notices(wall_clock() - timedelta(seconds=CLAIM_SECONDS), "interrupted") == (0, 1)
    config.paths.data.mkdir(parents=True, exist_ok=True)

    text = _status(config)
    assert "\nsubscription emails: 1 failed, 1 pending, 1 unknown\n" in text
    assert "  last error: 421 busy\n" in text
    assert "  1 unknown: the connection ended after the whole email went out" in text
    assert "look the address up in the mail server's log before sending a copy by hand" in text
    assert json.loads(_status(config, "--json"))["subscription_emails"] == {
        "failed": 1,
        "pending": 1,
        "unknown": 1,
    }
    metrics = Metrics()
    metrics.track(store, SoleLeader())
    scraped = generate_latest(metrics.registry).decode()
    for status in ("failed", "pending", "unknown"):
        assert f'digest_subscription_emails{{status="{status}"}} 1.0\n' in scraped


def test_subscription_emails_failing_for_minutes_make_health_degraded_until_one_goes(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """The mail server answers every sign-up's email 451 for a quarter of an hour: before, ``digest
    status`` and ``/healthz`` said ``errors: none`` all along, while no confirmation went out."""
    with closing(SmtpMailer(mailing.smtp)) as mailer:
        mailing.paths.data.mkdir(parents=True, exist_ok=True)
        sink.refuse("*", 451, times=2)  # the two tries below; then it takes mail again
        early, late, fresh = "early@example.org", "late@example.org", "fresh@example.org"
        _queued(store, early, datetime.now(UTC) - timedelta(minutes=2))
        assert send_notices(mailing, store, mailer, datetime.now(UTC) - timedelta(minutes=2))["failed"] == 1
        shown = json.loads(_status(mailing, "--json"))
        assert (shown["status"], shown["errors"]) == ("ok", [])  # one failure minutes old: a retry may do

        _queued(store, late, datetime.now(UTC) - timedelta(minutes=15))
        assert send_notices(mailing, store, mailer, datetime.now(UTC), email=late)["failed"] == 1
        shown = json.loads(_status(mailing, "--json"))
        assert shown["status"] == "degraded"
        (error,) = shown["errors"]
        assert error.startswith(
            "mail failing: 2 subscription emails not sent for 15 minutes, every try since"
        )
        assert "451" in error and "check the mail server and the [smtp] settings" in error
        assert f"\nerrors: {error}\n" in _status(mailing)

        # The server is back: the next email that goes clears it, before the two waiting are retried.
        _queued(store, fresh, datetime.now(UTC))
        assert send_notices(mailing, store, mailer, datetime.now(UTC), email=fresh)["sent"] == 1
        shown = json.loads(_status(mailing, "--json"))
        assert (shown["status"], shown["errors"]) == ("ok", [])
        assert shown["subscription_emails"] == {"failed": 2, "sent": 1}  # they still wait for their retry


def test_digest_copies_failing_for_minutes_make_health_degraded_until_one_goes(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """The mail server answers every copy of the day's digest 451: before, only subscription emails
    failing so made ``digest status`` and ``/healthz`` say so; the digest copies left them ``ok``."""
    with closing(SmtpMailer(mailing.smtp)) as mailer:
        mailing.paths.data.mkdir(parents=True, exist_ok=True)
        made = datetime.now(UTC) - timedelta(minutes=15)
        day = seed(store, mailing, made, 2)
        sink.refuse("*", 451, times=2)  # the digest's first try of each copy; then it takes mail again
        assert run_digest(mailing, store, mailer, made).failed == 2
        shown = json.loads(_status(mailing, "--json"))
        assert shown["status"] == "degraded"
        (error,) = shown["errors"]
        assert error.startswith("mail failing: 2 digest copies not sent for 15 minutes, every try since")
        assert "451" in error and "check the mail server and the [smtp] settings" in error
        assert f"\nerrors: {error}\n" in _status(mailing)

        # The server is back: the retry sends both, and the report is ``ok`` again.
        assert run_digest(mailing, store, mailer, datetime.now(UTC), day).sent == 2
        shown = json.loads(_status(mailing, "--json"))
        assert (shown["status"], shown["errors"]) == ("ok", [])


def _queued(store: Store, email: str, at: datetime) -> None:
    """A web sign-up of ``email`` at ``at`` whose confirmation waits to be sent."""
    store.add_subscriber(Subscriber(email, (), False, at, source="web"))
    store.queue_notice(email, NoticeKind.CONFIRM, at)
