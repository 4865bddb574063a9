"""A sign-up's own email, sent after its answer on the forms' threads (``digest.web.subscriptions``):
a relay slow to take the message still gets it, and stopping ``digest serve`` while one is under way
is clean.  Real relays on loopback (``tests/faulty_smtp.py``), the real uvicorn and ``digest serve``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from faulty_smtp import FaultySmtp
from test_server import serving
from test_service import ROOT, Serve, wait_for
from test_subscriptions import OURS, Clock, make_config, settled

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
