"""A subscriber's life outside HTTP: one spelling of an address, personal links in every email,
subscription notices, bounces, and the daily upkeep of sign-ups and the bounce mailbox.

The digest job and the CLI use these without importing the web app."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial

from email_validator import EmailNotValidError, validate_email

from digest.config import Config
from digest.errors import (
    AddressError,
    DeliveryError,
    HardBounceError,
    PermanentDeliveryError,
    UncertainDeliveryError,
)
from digest.mail.bounces import process_bounce_mailbox
from digest.mail.compose import (
    compose_confirmation_email,
    compose_emptied_email,
    compose_manage_email,
    prepared,
)
from digest.mail.delivery import Links, Retry
from digest.mail.signing import signing_secret
from digest.mail.tokens import Purpose, sign
from digest.mail.transports import Mailer
from digest.publish.layout import CONFIRM_PATH, PREFERENCES_PATH, UNSUBSCRIBE_PATH
from digest.store.database import Store
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
    # A mailto only when a mailbox reads what it receives (the bounce mailbox): else https alone.
    mailto = f"mailto:{config.smtp.return_path}?subject=unsubscribe" if config.bounces.host else ""
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
    config: Config, store: Store, mailer: Mailer, now: datetime, email: str | None = None
) -> Counter[str]:
    """Send the subscription emails due at ``now`` (every address's, or ``email``'s); count the outcomes.

    The same rules as digests: a transient failure waits ``digest.retry_seconds``,
    doubling, and is retried by the service's retry job; a refusal for good is
    not retried (a hard bounce is counted); a confirmation still unsent after
    ``digest.confirm_hours`` expires, as its sign-up does.  The email about emptied sections
    (``digest.mail.emptied``) tells of those not told yet when it goes, and notes them told at
    its point of no return; it is no longer needed once none is left.
    """
    secret = signing_secret(config)
    base = config.site.base_url.rstrip("/")
    retry = Retry(
        first=timedelta(seconds=config.digest.retry_seconds),
        give_up_after=timedelta(hours=config.digest.confirm_hours),
    )
    counts: Counter[str] = Counter()
    for notice in store.due_notices(now, email):
        subscriber = store.subscriber(notice.email)
        told = _untold(store, notice)
        stale = (
            subscriber is None
            or subscriber.state.refuses_mail  # queued before the address bounced or complained
            or (notice.kind is NoticeKind.CONFIRM and subscriber.confirmed)
            or (notice.kind is NoticeKind.EMPTIED and not told)  # told meanwhile, or refilled
        )
        if stale or now >= notice.created + retry.give_up_after:
            why = notice.last_error or "no longer needed"
            store.mark_notice(notice, DeliveryState.EXPIRED, why, now, None)
            counts[DeliveryState.EXPIRED] += 1
            continue
        assert subscriber is not None
        status, error, wait = DeliveryState.SENT, None, None
        slugs = [section.slug for section in told]
        try:
            message = _notice_email(config, secret, base, subscriber, notice.kind, now, told)
            noted = partial(store.record_told, notice.email, slugs, now) if slugs else None
            mailer.send(prepared(message, config), commit=noted)
        except UncertainDeliveryError as exc:
            status, error = DeliveryState.UNKNOWN, str(exc)
        except HardBounceError as exc:
            status, error = DeliveryState.REFUSED, str(exc)
            bounce_recorder(config, store, now)(notice.email, error)
        except PermanentDeliveryError as exc:
            status, error = DeliveryState.REFUSED, str(exc)
        except DeliveryError as exc:
            status, error, wait = DeliveryState.FAILED, str(exc), now + retry.wait(notice.attempts + 1)
            log.warning("%s email to %s not delivered, will retry: %s", notice.kind.value, notice.email, exc)
        if slugs and status not in MAY_HAVE_ARRIVED:
            store.forget_told(notice.email, slugs)  # noted if it reached its commit, but it did not arrive
        store.mark_notice(notice, status, error, now, wait)
        counts[status] += 1
    return counts


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


def subscription_upkeep(config: Config, store: Store, mailer: Mailer, now: datetime) -> None:
    """The retry job's part: send subscription emails whose wait is over, forget expired sign-ups,
    and read the bounce mailbox when there is one."""
    send_notices(config, store, mailer, now)
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
