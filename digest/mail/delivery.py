"""The send loop: one digest to its subscribers through the delivery ledger, each copy once, never twice.

Every (digest, subscriber) pair has one row in the ``deliveries`` table,
written together with the digest (``Store.save_digest``).  A row's status:

``pending``   not tried yet.
``failed``    a transient failure (4xx, server unreachable); tried again at
              ``next_attempt_at``, waiting longer each time (exponential
              backoff from ``digest.retry_seconds``, at most an hour apart).
``claimed``   one run took the row (compare-and-set, before composing the
              message, so a run that lost the race sends nothing) and is
              handing the message over; the server has no final "." yet.
              Only that run's writes change it (its lease name is in
              ``claim``).  Left by a dead run, it is sent again.
``sending``   the point of no return was reached: the server holds the whole
              message and only the final "." (or, for the outbox, the rename)
              is left.
``sent``      the server accepted it (250 after the ".").
``refused``   a permanent 5xx for this address; never retried.
``skipped``   nothing to send: the address unsubscribed, or its sections had
              no article that day (with ``digest.empty_days = "skip"``).
``unknown``   a row left ``sending`` by a crash, or a connection that ended
              in good order after the ".": the copy may well have arrived.
              Never sent again, because the promise is "never twice";
              ``digest status`` counts them and says to look each up in the
              mail server's log before sending one by hand.  A write failure
              or a reset before the server read the "." is ``failed``
              instead (retried): without its "." a server discards an
              unfinished message.
``expired``   still not delivered ``digest.retry_hours`` after the digest
              was made: yesterday's news is not worth sending any more.

One run sends a digest at a time (``digest.store.lease``); every write of a claimed
row names the run that claimed it, so a late run never overwrites a newer
outcome (a ``sent`` never becomes ``failed`` and is sent again).

Between two copies the run heeds a request to stop and a server that seems down
(``digest.mail.sendrun``: three transient failures in a row defer the rest to the
same retry time instead of failing them one by one).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from digest.faults import crash_point
from digest.mail.compose import DigestEmailMaker
from digest.mail.handover import hand_over
from digest.mail.sendrun import Outage, SendRun
from digest.mail.transports import Mailer
from digest.store.database import Store
from digest.store.lease import Lease, describe, wall_clock
from digest.store.records import MAY_HAVE_ARRIVED, Delivery, DeliveryState, DigestRecord, Subscriber
from digest.types import Section

log = logging.getLogger(__name__)

_LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class Retry:
    """How long to wait before each retry, and when to stop trying."""

    first: timedelta  # the wait after the first failure; doubles each time, at most an hour
    give_up_after: timedelta  # counted from the moment the digest was made

    def wait(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        doublings: int = max(0, min(attempts - 1, 20))  # capped: 2**20 waits is far past an hour
        return min(_LONGEST_WAIT, self.first * (1 << doublings))


@dataclass(frozen=True)
class Links:
    """A subscriber's personal links in the email: one-click unsubscribe (https and mailto), preferences."""

    unsubscribe: str
    mailto: str
    preferences: str


@dataclass(frozen=True)
class DeliveryReport:
    """What one run of the send loop did, row by row."""

    sent: int = 0
    failed: int = 0  # retried later
    deferred: int = 0  # not tried: the server was down
    refused: int = 0
    skipped: int = 0
    unknown: int = 0
    expired: int = 0
    busy: str | None = None  # another run holds the send lease: who, and until when


def deliver(
    store: Store,
    mailer: Mailer,
    maker: DigestEmailMaker,
    record: DigestRecord,
    *,
    links: Callable[[str], Links],
    retry: Retry,
    skip_empty: bool,
    now: datetime,
    clock: Callable[[], datetime] = wall_clock,
    run: SendRun | None = None,
    on_hard_bounce: Callable[[str, str], None] | None = None,
    retry_now: bool = False,
    emptied: Mapping[str, tuple[Section, ...]] | None = None,
) -> DeliveryReport:
    """Send every row of ``record``'s digest that is due at ``now``; record each outcome as it happens.

    ``retry_now`` sends the rows waiting for a retry too, before their time: an operator who
    fixed the mail server and runs ``digest send-digest`` again means it to send now.

    ``links`` gives a subscriber's personal links; ``skip_empty`` skips a
    subscriber whose sections hold nothing (the digest itself had articles);
    ``on_hard_bounce(email, error)`` hears of each address refused at RCPT for good.
    ``emptied`` (``Store.emptied_to_tell``): by address, chosen sections that have no articles any
    more; the copy says so, and they are noted as told when it is committed (``digest.mail.emptied``).
    The run holds the digest's send lease (``digest.store.lease``, timed by ``clock``);
    while another run holds it, nothing is sent and ``busy`` says who.  The run stops
    between two messages once ``run`` (``digest.mail.sendrun``; default: one never asked to
    stop) is asked to stop (SIGTERM) or the lease is lost, and defers the rest once ``run``
    finds the server down.  A ``StoreError`` stops the run: the row in hand stays claimed,
    and the next run sends it again or, past the point of no return, makes it ``unknown``;
    nothing is ever sent twice.
    """
    lease = Lease(store, record.day, clock)
    other = lease.take()
    if other is not None:
        log.info("digest day=%s: another run is sending it (%s); nothing sent", record.day, describe(other))
        return DeliveryReport(busy=describe(other))
    try:
        return _deliver(
            store,
            mailer,
            maker,
            record,
            lease,
            links,
            retry,
            skip_empty,
            now,
            run or SendRun(),
            on_hard_bounce,
            retry_now,
            emptied or {},
        )
    finally:
        lease.release()


def _deliver(
    store: Store,
    mailer: Mailer,
    maker: DigestEmailMaker,
    record: DigestRecord,
    lease: Lease,
    links: Callable[[str], Links],
    retry: Retry,
    skip_empty: bool,
    now: datetime,
    run: SendRun,
    on_hard_bounce: Callable[[str, str], None] | None,
    retry_now: bool,
    emptied: Mapping[str, tuple[Section, ...]],
) -> DeliveryReport:
    """The send loop of ``deliver``, under the lease."""
    day = record.day
    counts: Counter[str] = Counter()
    resent, interrupted = store.recover_deliveries(
        day,
        lease.holder,
        "interrupted after the message was handed over; not sent again, to never send it twice",
    )
    if resent or interrupted:
        log.warning(
            "digest day=%s: a run was interrupted; %d emails it had not finished are sent again, "
            "%d that may have arrived are marked unknown",
            day,
            resent,
            interrupted,
        )
        counts[DeliveryState.UNKNOWN] += interrupted
    crash_point("delivery.after_recover")
    subscribers = {s.email: s for s in store.subscribers()}
    rows = store.due_deliveries(day, now, retry_now)
    give_up = record.made_at + retry.give_up_after

    def put_off(rest: Sequence[Delivery], outage: Outage) -> None:
        emails = [r.email for r in rest]
        store.defer_deliveries(day, emails, outage.retry_at, outage.reason)
        counts["deferred"] += len(emails)

    def holds() -> str | None:
        return None if lease.keep() else "the send lease went to another run"

    for row in run.each(rows, f"digest day={day}", put_off, holds):
        if now >= give_up:
            store.mark_delivery(day, row.email, DeliveryState.EXPIRED, now, row.last_error or "never tried")
            counts[DeliveryState.EXPIRED] += 1
            continue
        subscriber = subscribers.get(row.email)
        outcome, error = _send_one(
            store,
            mailer,
            maker,
            record,
            subscriber,
            row.email,
            links,
            skip_empty,
            lease.holder,
            emptied.get(row.email, ()),
            now,
            on_hard_bounce,
        )
        if outcome is None:  # another run took the row first
            continue
        if outcome is DeliveryState.SENT:
            crash_point("delivery.after_accept")
        next_attempt = now + retry.wait(row.attempts + 1) if outcome is DeliveryState.FAILED else None
        claim = None if outcome is DeliveryState.SKIPPED else lease.holder
        if not store.mark_delivery(day, row.email, outcome, now, error, next_attempt, claim):
            log.warning("digest day=%s to=%s: the row changed under this run; left as it is", day, row.email)
            continue
        crash_point("delivery.after_mark")
        counts[outcome] += 1
        run.record(outcome, error, next_attempt)
    return DeliveryReport(
        sent=counts[DeliveryState.SENT],
        failed=counts[DeliveryState.FAILED],
        deferred=counts["deferred"],
        refused=counts[DeliveryState.REFUSED],
        skipped=counts[DeliveryState.SKIPPED],
        unknown=counts[DeliveryState.UNKNOWN],
        expired=counts[DeliveryState.EXPIRED],
    )


def skip_reason(maker: DigestEmailMaker, subscriber: Subscriber | None, skip_empty: bool) -> str | None:
    """Why ``deliver`` sends ``subscriber`` no copy of ``maker``'s digest, or None when it sends one.

    ``subscriber`` None: the address left since the digest was made.  With
    ``skip_empty`` (``digest.empty_days = "skip"``) an empty day, or one with
    nothing in the subscriber's sections, sends nothing.  ``send-digest
    --dry-run`` asks the same question, so a preview holds what a real run sends.
    """
    if subscriber is None:
        return "no longer subscribed"
    if skip_empty and maker.count(frozenset(subscriber.sections) or None) == 0:
        return "no new article in the chosen sections"
    return None


def _send_one(
    store: Store,
    mailer: Mailer,
    maker: DigestEmailMaker,
    record: DigestRecord,
    subscriber: Subscriber | None,
    email: str,
    links: Callable[[str], Links],
    skip_empty: bool,
    holder: str,
    told: tuple[Section, ...],
    now: datetime,
    on_hard_bounce: Callable[[str, str], None] | None = None,
) -> tuple[DeliveryState | None, str | None]:
    """Claim, compose and hand over one copy: its ledger state (None: another run took it) and the error.

    ``told``: the emptied sections the copy tells of, noted as told at ``now`` in the commit's
    transaction, and forgotten again when the copy then did not arrive, so the next one tells.
    """
    skipped = skip_reason(maker, subscriber, skip_empty)
    if skipped is not None:
        return DeliveryState.SKIPPED, skipped
    assert subscriber is not None  # skip_reason skips a leaver
    sections = frozenset(subscriber.sections) or None
    # Claimed before the body is composed or sent: a run that lost the race wastes no message.
    if not store.claim_delivery(record.day, email, holder):
        return None, None
    personal = links(email)
    slugs = [section.slug for section in told]

    def commit() -> bool:
        if not store.commit_delivery(record.day, email, holder, slugs, now):
            return False
        crash_point("delivery.after_claim")
        return True

    handed = hand_over(
        mailer,
        lambda: maker.outgoing(
            email,
            unsubscribe_url=personal.unsubscribe,
            unsubscribe_mailto=personal.mailto,
            preferences_url=personal.preferences,
            sections=sections,
            emptied=tuple(section.name for section in told),
        ),
        commit,
        None if on_hard_bounce is None else partial(on_hard_bounce, email),
    )
    if handed.outcome is DeliveryState.FAILED:
        log.warning("digest day=%s to=%s not delivered, will retry: %s", record.day, email, handed.error)
    if handed.committed and slugs and handed.outcome not in MAY_HAVE_ARRIVED:
        store.forget_told(email, slugs)
    return handed.outcome, handed.error
