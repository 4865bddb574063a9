"""Telling a subscriber, once, that a section they chose has no articles any more.

A re-read (a parser upgrade, a corrected page file, a ``parser.non_sections``
word) can file every article of a section under another; the section keeps its
feeds and page (docs/model.md), but whoever chose it for their email would get
nothing from it again, which reads like a run of quiet days.  The daily digest
run tells each of them once: in that day's digest (``deliver``'s ``emptied``),
or, when nothing else of their subscription goes out that day, in a short email
of its own (``NoticeKind.EMPTIED``, sent and retried like the other
subscription emails).  Either way the sections told of are noted in
``section_notices`` at the email's point of no return and forgotten when it
then did not arrive, so the next email tells instead.  A section that has
articles again is forgotten (``Store.forget_refilled_notices``): emptied once
more, it is told again.  The subscription itself is never changed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from digest.config import Config
from digest.mail.compose import DigestEmailMaker
from digest.mail.delivery import skip_reason
from digest.mail.sendrun import SendRun
from digest.mail.subscribers import send_notices
from digest.mail.transports import Mailer
from digest.store.database import Store
from digest.store.records import NoticeKind

log = logging.getLogger(__name__)


def tell_the_unmailed(
    config: Config, store: Store, mailer: Mailer, maker: DigestEmailMaker, now: datetime, run: SendRun
) -> list[str]:
    """Send the email of its own to each subscriber not told yet of an emptied section whom
    ``maker``'s digest does not go to (``skip_reason``); their addresses.

    Called once the day's copies went, with their ``run``: those who got one were told in it, and a
    server the copies found down, or a request to stop, leaves these emails queued for the retry
    job (``send_notices``).  A row of the kind still waiting for a retry keeps waiting; it tells
    what is untold when it goes.
    """
    untold = store.emptied_to_tell()
    skip_empty = config.digest.empty_days == "skip"
    unmailed = [
        subscriber.email
        for subscriber in store.subscribers()
        if subscriber.email in untold and skip_reason(maker, subscriber, skip_empty) is not None
    ]
    if not unmailed:
        return []
    for email in unmailed:
        store.queue_notice(email, NoticeKind.EMPTIED, now, keep_waiting=True)
    sent = send_notices(config, store, mailer, now, kind=NoticeKind.EMPTIED, run=run)
    log.info(
        "%d subscribers get no digest today but chose sections with no articles any more: told so "
        "in an email of their own (%s)",
        len(unmailed),
        ", ".join(f"{n} {status}" for status, n in sorted(sent.items())) or "none sent yet",
    )
    return unmailed
