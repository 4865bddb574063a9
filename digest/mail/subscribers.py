"""A subscriber's life outside HTTP: one spelling of an address, personal links in every email,
subscription notices, bounces, and the daily upkeep of sign-ups and the bounce mailbox.

The digest job and the CLI use these without importing the web app."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial

from email_validator import EmailNotValidError, validate_email

from digest.config import Config
from digest.errors import AddressError, DeliveryError
from digest.mail.bounces import process_bounce_mailbox
from digest.mail.compose import (
    compose_confirmation_email,
    compose_emptied_email,
    compose_manage_email,
    prepared,
)
from digest.mail.delivery import Links, Retry
from digest.mail.handover import hand_over
from digest.mail.sendrun import Outage, SendRun
from digest.mail.signing import signing_secret
from digest.mail.tokens import Purpose, sign
from digest.mail.transports import Mailer
from digest.publish.layout import CONFIRM_PATH, PREFERENCES_PATH, UNSUBSCRIBE_PATH
from digest.store.database import Store
from digest.store.lease import new_holder, wall_clock
from digest.store.records import (
    MAY_HAVE_ARRIVED,
    DeliveryState,
    Notice,
    NoticeKind,
    Subscriber,
    SubscriberStatus,
    new_key,
)
from digest.types import Section

log = logging.getLogger(__name__)

# A subscription email claimed this long ago (by the wall clock) whose sender has not finished is a
# dead sender's: one email takes far less (the sign-up's own send gives up on a silent server after
# ``digest.web.subscriptions.AFTER_SMTP_SECONDS`` a step, the service's mailer after 30 s; the reply
# to the final "." is waited for a minute, ``transports.DOT_TIMEOUT``), and a
# live sender that is slower still sends nothing twice: its commit fails once it lost the claim, and
# one past its commit (waiting for the reply to its final ".") writes the answer it gets over the
# ``unknown`` the recovery made of its email.
CLAIM_SECONDS = 120


def normalize_address(text: str) -> str:
    """The address in one spelling (``Reader@X.org`` → ``reader@x.org``); ``AddressError`` otherwise.

    email-validator checks the syntax without any network look-up; it refuses
    line breaks and every other character that could start a new header.
    Only ASCII addresses are taken, because the mail path does not use SMTPUTF8.
    ``=?`` (the start of an RFC 2047 encoded word) is refused anywhere: decoded
    while a header is refolded it can become a line break (CVE-2024-6923).
    """
    if "=?" in text:
        raise AddressError("an address cannot contain =? (it reads as an encoded word)")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from exc
    return (valid.ascii_email or valid.normalized).lower()


def personal_links(config: Config, now: datetime, store: Store | None = None) -> Callable[[str], Links]:
    """A function giving each address its unsubscribe (https, mailto) and preferences links.

    The links carry the subscriber's opaque key from ``store``, never the
    address; an address the store does not know (a test copy) gets a key nobody has.
    """
    secret = signing_secret(config)
    keys = store.subscriber_keys() if store is not None else {}

    def links(email: str) -> Links:
        return _links(config, secret, keys.get(email) or new_key(), now)

    return links


def _links(config: Config, secret: str, key: str, now: datetime) -> Links:
    """The personal links of the subscriber whose key is ``key``, signed at ``now``."""
    base = config.site.base_url.rstrip("/")
    token = sign(secret, Purpose.MANAGE, key, now)
    # A mailto only when a mailbox reads what it receives (the bounce mailbox): else https alone.  Its
    # subject carries the token, as anybody can send that mailbox a mail "from" any address.
    mailto = f"mailto:{config.smtp.return_path}?subject=unsubscribe%20{token}" if config.bounces.host else ""
    return Links(
        unsubscribe=f"{base}{UNSUBSCRIBE_PATH}/{token}",
        mailto=mailto,
        preferences=f"{base}{PREFERENCES_PATH}/{token}",
    )


def queue_confirmation(
    store: Store, email: str, sections: tuple[str, ...], now: datetime, resend_after: timedelta
) -> bool:
    """Queue the email a sign-up of ``email`` calls for (``send_notices`` sends it); False when none.

    An address that bounced or complained is never mailed again (anyone can type an
    address into the form), and one mailed less than ``resend_after`` ago waits.  A
    confirmed subscriber gets a "manage" email instead of a confirmation; a sign-up
    still unconfirmed takes the sections asked for now.
    """
    known = store.subscriber(email)
    if known is not None and known.state.refuses_mail:
        log.info("no email to %s: the address is %s", email, known.state.value)
        return False
    # An unsubscribed address keeps its status until its owner confirms again (fresh consent).
    asked = Subscriber(email, sections, False, now, source="web")
    claimed = store.claim_confirmation(asked, now, resend_after)
    if claimed is None:
        log.info("no email to %s: the last one went out less than %s ago", email, resend_after)
        return False
    kind = NoticeKind.MANAGE if claimed.confirmed else NoticeKind.CONFIRM
    if kind is NoticeKind.CONFIRM and claimed.sections != sections:
        store.add_subscriber(dataclasses.replace(claimed, sections=sections))
    store.queue_notice(email, kind, now)
    return True


def send_notices(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    email: str | None = None,
    kind: NoticeKind | None = None,
    run: SendRun | None = None,
) -> Counter[str]:
    """Send the subscription emails due at ``now`` (every address's or ``email``'s, of every kind or of
    ``kind``); count the outcomes (``deferred``: not tried, the server seemed down).

    The same rules as digests: each email is claimed before it is composed, so of
    several senders at once (a sign-up's own send, the retry job, the daily run, another
    instance) exactly one sends it, and one whose final "." went is never sent again; a
    transient failure waits ``digest.retry_seconds``, doubling, and is retried by the
    service's retry job; a refusal for good is not retried (a hard bounce is counted);
    a confirmation still unsent after ``digest.confirm_hours`` expires, as its sign-up
    does.  A claim older than ``CLAIM_SECONDS`` is a dead sender's: sent again, or
    ``unknown`` if it was past its point of no return.  The email about emptied sections
    (``digest.mail.emptied``) tells of those not told yet when it goes, and notes them told at
    its point of no return; it is no longer needed once none is left.  Between two emails the
    sender heeds ``run`` as the digest's send loop does (``digest.mail.sendrun``): asked to stop,
    it leaves the rest waiting; once the server seems down, the rest wait for the retry.
    """
    resent, interrupted = store.recover_notices(
        wall_clock() - timedelta(seconds=CLAIM_SECONDS),
        "interrupted after the message was handed over; not sent again, to never send it twice",
    )
    if resent or interrupted:
        log.warning(
            "subscription emails: a sender stopped half way; %d it had not finished are sent again, "
            "%d that may have arrived are marked unknown",
            resent,
            interrupted,
        )
    holder = new_holder()
    sender = _NoticeSender(config, store, mailer, now, holder)
    counts: Counter[str] = Counter()

    def put_off(rest: Sequence[Notice], outage: Outage) -> None:
        store.defer_notices(rest, outage.retry_at, outage.reason)
        counts["deferred"] += len(rest)

    run = run or SendRun()
    recovered: list[Notice] = []  # sent now after a try that failed or was put off (it has an error)
    for notice in run.each(store.due_notices(now, email, kind), "subscription emails", put_off):
        # Claimed before anything is read or composed: a sender that lost the race does nothing.
        if not store.claim_notice(notice, holder, wall_clock()):
            continue
        status, error, wait = sender.send(notice)
        if status is None:
            continue  # no longer ours at its point of no return: taken over, or released (commit_telling)
        if not store.mark_notice(notice, status, now, error, wait, claim=holder):
            log.warning(
                "%s email to %s changed under this sender; left as it is", notice.kind.value, notice.email
            )
            continue
        counts[status] += 1
        run.record(status, error, wait)
        if status == DeliveryState.SENT and notice.last_error is not None:
            recovered.append(notice)
    if recovered:
        # Its failure was logged ("not delivered, will retry"); its success is too, so the log
        # does not leave an operator thinking a sign-up is still stuck.
        log.info(
            "subscription emails: %d that waited for a retry sent, after %d attempts in all"
            " (the last error before: %s)",
            len(recovered),
            sum(notice.attempts + 1 for notice in recovered),
            recovered[-1].last_error,
        )
    return counts


class _NoticeSender:
    """Composes and sends the subscription emails one sender claimed."""

    def __init__(self, config: Config, store: Store, mailer: Mailer, now: datetime, holder: str) -> None:
        self._config = config
        self._store = store
        self._mailer = mailer
        self._now = now
        self._holder = holder
        self._secret = signing_secret(config)
        self._base = config.site.base_url.rstrip("/")
        self._retry = Retry(
            first=timedelta(seconds=config.digest.retry_seconds),
            give_up_after=timedelta(hours=config.digest.confirm_hours),
        )

    def send(self, notice: Notice) -> tuple[DeliveryState | None, str | None, datetime | None]:
        """Send one claimed ``notice``, or find it no longer needed: its state (None: no longer
        ours), the error and the time of its retry."""
        store, now = self._store, self._now
        subscriber = store.subscriber(notice.email)
        told = _untold(store, notice)
        stale = (
            subscriber is None
            or subscriber.state.refuses_mail  # queued before the address bounced or complained
            or (notice.kind is NoticeKind.CONFIRM and subscriber.confirmed)
            or (notice.kind is NoticeKind.EMPTIED and not told)  # told meanwhile, or refilled
        )
        if stale or now >= notice.created + self._retry.give_up_after:
            return DeliveryState.EXPIRED, notice.last_error or "no longer needed", None
        assert subscriber is not None
        slugs = [section.slug for section in told]
        handed = hand_over(
            self._mailer,
            lambda: prepared(
                _notice_email(self._config, self._secret, self._base, subscriber, notice.kind, now, told),
                self._config,
            ),
            partial(store.commit_notice, notice, self._holder, slugs, now),
            partial(bounce_recorder(self._config, store, now), notice.email),
        )
        if handed.committed and slugs and handed.outcome not in MAY_HAVE_ARRIVED:
            store.forget_told(notice.email, slugs)  # noted at its commit, but it did not arrive
        if handed.outcome is not DeliveryState.FAILED:
            return handed.outcome, handed.error, None
        log.warning(
            "%s email to %s not delivered, will retry: %s", notice.kind.value, notice.email, handed.error
        )
        return handed.outcome, handed.error, now + self._retry.wait(notice.attempts + 1)


def _untold(store: Store, notice: Notice) -> tuple[Section, ...]:
    """The emptied sections an email about them (``NoticeKind.EMPTIED``) would tell of now."""
    if notice.kind is not NoticeKind.EMPTIED:
        return ()
    return store.emptied_to_tell([notice.email]).get(notice.email, ())


def _notice_email(
    config: Config,
    secret: str,
    base: str,
    subscriber: Subscriber,
    kind: NoticeKind,
    now: datetime,
    told: tuple[Section, ...],
) -> EmailMessage:
    if kind is NoticeKind.CONFIRM:
        token = sign(secret, Purpose.CONFIRM, subscriber.key, now)
        return compose_confirmation_email(
            config=config,
            recipient=subscriber.email,
            confirm_url=f"{base}{CONFIRM_PATH}/{token}",
            hours=config.digest.confirm_hours,
            site_url=base + "/",
            now=now,
        )
    links = _links(config, secret, subscriber.key, now)
    if kind is NoticeKind.EMPTIED:
        return compose_emptied_email(
            config=config,
            recipient=subscriber.email,
            sections=tuple(section.name for section in told),
            preferences_url=links.preferences,
            unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto=links.mailto,
            site_url=base + "/",
            now=now,
        )
    return compose_manage_email(
        config=config,
        recipient=subscriber.email,
        preferences_url=links.preferences,
        unsubscribe_url=links.unsubscribe,
        site_url=base + "/",
        now=now,
    )


def subscription_upkeep(
    config: Config, store: Store, mailer: Mailer, now: datetime, stopping: Callable[[], bool] = lambda: False
) -> None:
    """The retry job's part: send subscription emails whose wait is over (until ``stopping()``),
    forget expired sign-ups, and read the bounce mailbox when there is one."""
    send_notices(config, store, mailer, now, run=SendRun(stopping))
    if config.bounces.host:
        try:
            read = process_bounce_mailbox(config, store, now)
        except DeliveryError as exc:
            log.warning("bounce mailbox not read: %s", exc)
        else:
            if read:
                log.info("bounce mailbox: %s", ", ".join(f"{n} {what}" for what, n in sorted(read.items())))
    gone = store.remove_expired_signups(now - timedelta(hours=config.digest.confirm_hours))
    if gone:
        log.info(
            "%d sign-ups never confirmed within %d h were removed", len(gone), config.digest.confirm_hours
        )


def bounce_recorder(config: Config, store: Store, now: datetime) -> Callable[[str, str], None]:
    """What a hard bounce does: count it, and suppress the address at ``digest.bounce_limit``."""

    def record(email: str, error: str) -> None:
        after = store.record_hard_bounce(email, error, now, config.digest.bounce_limit)
        if after is not None and after.state is SubscriberStatus.BOUNCED:
            log.warning("%s bounced %d times; suppressed: %s", email, after.bounces, error)

    return record
