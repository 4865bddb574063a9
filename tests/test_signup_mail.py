"""A sign-up's own email, sent after its answer on the forms' threads (``digest.web.subscriptions``):
a relay slow to take the message still gets it, and stopping ``digest serve`` while one is under way
is clean.  Real relays on loopback (``tests/faulty_smtp.py``), the real uvicorn and ``digest serve``.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from faulty_smtp import FaultySmtp
from loopback import wait_for
from smtp_sink import SmtpSink
from test_server import serving
from test_service import ROOT, Serve
from test_subscriptions import NOW, OURS, Clock, make_config, settled

from digest.mail.transports import make_mailer
from digest.service.jobs import retry_deliveries
from digest.store.database import Store
from digest.store.records import DeliveryState
from digest.web.subscriptions import AFTER_SMTP_SECONDS, create_subscription_app, signup_mailer

READER = "reader@example.org"


def test_a_relay_slow_to_answer_the_final_dot_gets_the_confirmation_once(tmp_path: Path) -> None:
    """A relay scanning each message answers the final "." after more than the sign-up's 5 s a step,
    and drops a message whose client hung up meanwhile (a before-queue filter).  Before, the sign-up's
    own send gave up there: the confirmation was ``unknown``, so never sent again, and the relay
    dropped it: the reader got nothing, and nothing would ever retry."""
    with FaultySmtp(seed=0, dot_pause=AFTER_SMTP_SECONDS + 1) as relay:
        config = make_config(
            tmp_path, **{"smtp.host": relay.host, "smtp.port": relay.port, "smtp.security": "none"}
        )
        with Store.open(config.database_url) as store:
            app = create_subscription_app(config, store, lambda: signup_mailer(config), clock=Clock())
            with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
                assert client.post("/subscribe", data={"email": READER}, headers=OURS).status_code == 200
                settled(store, timeout=30)
            app.close()
            (notice,) = store.notices(READER)
        assert (relay.delivered, relay.gone) == ([READER], 0)
    assert notice.status == DeliveryState.SENT, notice.last_error


def test_stopping_serve_while_a_sign_up_email_is_under_way_is_clean(tmp_path: Path) -> None:
    """SIGTERM while a sign-up's email goes to a relay that takes 1.2 s a reply: every step well within
    the 5 s, the whole email about 8 s.  Before, the request awaited the email, so uvicorn's 5 s of grace
    ran out on it: ``ERROR Cancel 1 running task(s)`` and an ``Exception in ASGI application`` traceback
    for a clean stop.  Now the request is over once answered, and the stop waits for the email."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    with FaultySmtp(seed=0, reply_pause=1.2) as relay:
        settings = {
            "DIGEST_SMTP_HOST": relay.host,
            "DIGEST_SMTP_PORT": str(relay.port),
            "DIGEST_SMTP_SECURITY": "none",
        }
        service = Serve(tmp_path, pages, settings=settings)
        answer = service.http.post("/subscribe", data={"email": READER}, headers={"Origin": service.url})
        assert answer.status_code == 200
        with Store.open(f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}") as store:
            wait_for(
                lambda: [n.status for n in store.notices(READER)] == [DeliveryState.CLAIMED],
                10,
                "the sign-up's email to be under way",
            )
            code = service.stop()
            (notice,) = store.notices(READER)
        delivered = relay.copies()
    log = service.log()
    assert code == 0, log
    assert "Traceback" not in log and not [line for line in log.splitlines() if "ERROR" in line], log
    assert notice.status == DeliveryState.SENT and delivered == {READER: 1}, notice


def test_a_sign_up_email_sent_by_the_retry_job_after_smtp_came_back_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SMTP down at the sign-up and at the first retry, then up again.  Before, both failures were
    logged and the success was not, which left an operator reading the log thinking the sign-up stuck."""
    caplog.set_level(logging.INFO, logger="digest")
    sink = SmtpSink()  # its port chosen, nothing listening yet: the server is down
    config = make_config(
        tmp_path,
        **{
            "smtp.host": sink.host,
            "smtp.port": sink.port,
            "smtp.security": "none",
            "digest.retry_seconds": 60,
        },
    )
    with Store.open(config.database_url) as store:
        app = create_subscription_app(config, store, lambda: signup_mailer(config), clock=Clock())
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            assert client.post("/subscribe", data={"email": READER}, headers=OURS).status_code == 200
            settled(store)
        app.close()

        def retry(minutes: int) -> None:
            mailer = make_mailer(config, config.paths.data)
            try:
                retry_deliveries(config, store, mailer, NOW + timedelta(minutes=minutes))
            finally:
                mailer.close()

        retry(2)  # still down: a second failure
        with sink:
            retry(10)
        (notice,) = store.notices(READER)
    assert [m.recipients for m in sink.messages] == [(READER,)]
    lines = [r.getMessage() for r in caplog.records if r.name == "digest.mail.subscribers"]
    assert sum("not delivered, will retry" in line for line in lines) == 2, lines
    sent = [line for line in lines if "waited for a retry sent" in line]
    assert sent == [
        "subscription emails: 1 that waited for a retry sent, after 3 attempts in all (the last error"
        f" before: cannot reach the SMTP server 127.0.0.1:{sink.port}: Connection refused; check smtp.host"
        " and smtp.port and that the server is running)"
    ], lines
    assert notice.status == DeliveryState.SENT and notice.attempts == 3
